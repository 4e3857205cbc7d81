//! `privileged` (baseline, all versions).
//!
//! Privileged Pods disable most security mechanisms and must be disallowed.
//!
//! Restricted field: `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.privileged`.
//! Allowed values: undefined, `false`.

use crate::policy::message::{container_names, containers_phrase};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "privileged",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "privileged".to_string(),
    detail: |offenses| {
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&container_names(offenses))
        )
    },
    doc: Doc {
        summary: "Containers must not run privileged.",
        looks_at: "`securityContext.privileged` of every container (allowed: unset or `false`).",
        why: "A privileged container has every capability and every device of the node, and no seccomp, \
AppArmor or SELinux confinement: it is root on the node in all but name.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      privileged: true\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      privileged: false\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    pod.containers()
        .iter()
        .filter_map(|c| {
            let f = pod.bool(c.node, &c.path, &["securityContext", "privileged"]);
            (f.value == Some(true)).then(|| {
                let field = format!("{}.securityContext.privileged", c.path);
                Offense::new(Subject::Container(c.name.clone()), field, f.pos, Vec::new())
            })
        })
        .collect()
}
