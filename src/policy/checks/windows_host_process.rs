//! `windowsHostProcess` (baseline, all versions).
//!
//! Pod and containers must not set `securityContext.windowsOptions.hostProcess` to true.
//!
//! Restricted fields: `spec.securityContext.windowsOptions.hostProcess` and
//! the same field of every container. Allowed values: undefined, `false`.

use crate::policy::message::setters;
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "windowsHostProcess",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "hostProcess".to_string(),
    detail: |offenses| {
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters(offenses)
        )
    },
    doc: Doc {
        summary: "Windows pods must not run as host processes.",
        looks_at: "`securityContext.windowsOptions.hostProcess` of the pod and of every container (allowed: \
unset or `false`).",
        why: "A HostProcess container runs directly on the Windows node, outside any container \
isolation, with the node's file system and network.",
        example: "spec:\n  hostNetwork: true\n  securityContext:\n    windowsOptions:\n      hostProcess: true\n  containers:\n  - name: app\n    image: mcr.microsoft.com/windows/nanoserver\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: mcr.microsoft.com/windows/nanoserver\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let mut subjects = vec![(Subject::Pod, pod.spec(), "spec".to_string())];
    subjects.extend(
        pod.containers()
            .iter()
            .map(|c| (Subject::Container(c.name.clone()), c.node, c.path.clone())),
    );
    subjects
        .into_iter()
        .filter_map(|(subject, node, path)| {
            let f = pod.bool(
                node,
                &path,
                &["securityContext", "windowsOptions", "hostProcess"],
            );
            (f.value == Some(true)).then(|| {
                Offense::new(
                    subject,
                    format!("{path}.securityContext.windowsOptions.hostProcess"),
                    f.pos,
                    Vec::new(),
                )
            })
        })
        .collect()
}
