//! `hostPathVolumes` (baseline, all versions).
//!
//! HostPath volumes must be forbidden.
//!
//! Restricted field: `spec.volumes[*].hostPath`. Allowed values: undefined.

use crate::policy::message::{join_quote, pluralize, values};
use crate::policy::pod::{volume_name, volume_path};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "hostPathVolumes",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "hostPath volumes".to_string(),
    detail: |offenses| {
        let names = values(offenses);
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        )
    },
    doc: Doc {
        summary: "Pods must not mount directories of the node with `hostPath` volumes.",
        looks_at: "`spec.volumes[*].hostPath` (allowed: unset).",
        why: "A hostPath volume gives the container the node's files: the container runtime socket, \
kubelet credentials, other pods' data. It is the shortest path from a container to the node.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n  volumes:\n  - name: data\n    hostPath:\n      path: /var/lib/data\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: data\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let Some(volumes) = pod.spec().get("volumes") else {
        return Vec::new();
    };
    volumes
        .items()
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let host = pod.object(v, &["hostPath"]).value?;
            let field = format!("{}.hostPath", volume_path(v, i));
            Some(Offense::new(
                Subject::Pod,
                field,
                host.pos,
                vec![volume_name(v)],
            ))
        })
        .collect()
}
