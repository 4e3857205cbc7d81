//! `readOnlyRootFilesystem` (hardened, OWASP Kubernetes Top 10 K01).
//!
//! Containers should run with a read-only root filesystem.
//!
//! Field: `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.readOnlyRootFilesystem`.
//! Allowed value: `true` (it must be set).

use crate::policy::message::{container_names, containers_phrase};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "readOnlyRootFilesystem",
    tier: Tier::Hardened,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "readOnlyRootFilesystem != true".to_string(),
    detail: |offenses| {
        format!(
            "{} must set securityContext.readOnlyRootFilesystem=true",
            containers_phrase(&container_names(offenses))
        )
    },
    doc: Doc {
        summary: "Containers must mount their root filesystem read-only.",
        looks_at: "`securityContext.readOnlyRootFilesystem` of every container (must be `true`).",
        why: "A writable root filesystem lets an attacker drop tools and binaries into the container, \
modify the application, or persist between process restarts. Write to an `emptyDir` where the application \
needs scratch space.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      readOnlyRootFilesystem: true\n    volumeMounts:\n    - name: tmp\n      mountPath: /tmp\n  volumes:\n  - name: tmp\n    emptyDir: {}\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    pod.containers()
        .iter()
        .filter_map(|c| {
            let f = pod.bool(
                c.node,
                &c.path,
                &["securityContext", "readOnlyRootFilesystem"],
            );
            (f.value != Some(true)).then(|| {
                let field = format!("{}.securityContext.readOnlyRootFilesystem", c.path);
                Offense::new(Subject::Container(c.name.clone()), field, f.pos, Vec::new())
            })
        })
        .collect()
}
