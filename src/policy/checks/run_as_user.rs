//! `runAsUser` (restricted; v1.23, and v1.35 which skips pods with `hostUsers: false`).
//!
//! Containers must not set runAsUser: 0.
//!
//! Restricted fields: `spec.securityContext.runAsUser` and the same field of
//! every container. Allowed values: non-zero, undefined. From v1.35 pods in a
//! user namespace (`spec.hostUsers: false`) are exempt.

use crate::policy::message::setters;
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "runAsUser",
    tier: Tier::Restricted,
    variants: &[
        Variant {
            since: Version::v1(23),
            eval: |p, _| eval(p),
            overrides: &[],
        },
        Variant {
            since: Version::v1(35),
            eval: |p, _| p.unless_user_namespace(eval),
            overrides: &[],
        },
    ],
    reason: |_| "runAsUser=0".to_string(),
    detail: |offenses| format!("{} must not set runAsUser=0", setters(offenses)),
    doc: Doc {
        summary: "Pods and containers must not run as UID 0.",
        looks_at: "`securityContext.runAsUser` of the pod and of every container (allowed: unset or non-zero). \
From policy v1.23; pods with `hostUsers: false` are exempt from v1.35.",
        why: "UID 0 in the container is UID 0 on the node unless a user namespace maps it; any escape or \
writable host mount then acts as root.",
        example: "spec:\n  securityContext:\n    runAsUser: 0\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  securityContext:\n    runAsUser: 10001\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod) -> Vec<Offense> {
    let mut subjects = vec![(Subject::Pod, pod.spec(), "spec".to_string())];
    subjects.extend(
        pod.containers()
            .iter()
            .map(|c| (Subject::Container(c.name.clone()), c.node, c.path.clone())),
    );
    subjects
        .into_iter()
        .filter_map(|(subject, node, path)| {
            let f = pod.int(node, &path, &["securityContext", "runAsUser"]);
            (f.value == Some(0)).then(|| {
                Offense::new(
                    subject,
                    format!("{path}.securityContext.runAsUser"),
                    f.pos,
                    Vec::new(),
                )
            })
        })
        .collect()
}
