//! `restrictedVolumes` (restricted, all versions). Overrides `hostPathVolumes`.
//!
//! Besides forbidding hostPath volumes, the restricted level limits inline
//! volume sources to `configMap`, `csi`, `downwardAPI`, `emptyDir`,
//! `ephemeral`, `image`, `persistentVolumeClaim`, `projected` and `secret`.
//!
//! Restricted fields: every other source under `spec.volumes[*]` (`hostPath`,
//! `nfs`, `gitRepo`, `iscsi`, …). A volume with no source at all is an
//! `emptyDir`: the API server defaults it so before admission.

use crate::policy::message::{join_quote, pluralize, sorted_set, values};
use crate::policy::pod::{
    RESTRICTED_ALLOWED_SOURCES as ALLOWED, volume_name, volume_path, volume_source,
};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "restrictedVolumes",
    tier: Tier::Restricted,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &["hostPathVolumes"],
    }],
    reason: |_| "restricted volume types".to_string(),
    detail,
    doc: Doc {
        summary: "Pods may use only ephemeral, projected and claim-based volume types.",
        looks_at: "The source of every `spec.volumes[*]`. Allowed: `configMap`, `csi`, `downwardAPI`, \
`emptyDir`, `ephemeral`, `image`, `persistentVolumeClaim`, `projected`, `secret`.",
        why: "Inline sources such as `nfs`, `iscsi` or `gitRepo` make the node mount remote storage or run \
git on the pod's behalf, outside the control of PersistentVolume policy.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n  volumes:\n  - name: share\n    nfs:\n      server: nfs.example.com\n      path: /exports\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n  volumes:\n  - name: share\n    persistentVolumeClaim:\n      claimName: share\n",
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
            let source = volume_source(v);
            if ALLOWED.contains(&source) {
                return None;
            }
            let pos = v.get(source).map_or(v.pos, |n| n.pos);
            Some(Offense::new(
                Subject::Pod,
                format!("{}.{source}", volume_path(v, i)),
                pos,
                vec![volume_name(v)],
            ))
        })
        .collect()
}

fn detail(offenses: &[&Offense]) -> String {
    let names = values(offenses);
    let types = sorted_set(
        offenses
            .iter()
            .map(|o| o.field.rsplit('.').next().unwrap_or("unknown").to_string())
            .collect::<Vec<_>>()
            .iter(),
    );
    format!(
        "{} {} {} {} {}",
        pluralize("volume", "volumes", names.len()),
        join_quote(&names),
        pluralize("uses", "use", names.len()),
        pluralize(
            "restricted volume type",
            "restricted volume types",
            types.len()
        ),
        join_quote(&types)
    )
}
