//! `allowPrivilegeEscalation` (restricted; v1.8, and v1.25 which exempts Windows pods).
//!
//! Privilege escalation (such as via set-user-ID or set-group-ID file mode)
//! must not be allowed.
//!
//! Restricted field: `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.allowPrivilegeEscalation`.
//! Allowed values: `false` (it must be set). From v1.25 pods with
//! `spec.os.name: windows` are exempt.

use crate::policy::message::{container_names, containers_phrase};
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "allowPrivilegeEscalation",
    tier: Tier::Restricted,
    variants: &[
        Variant {
            since: Version::v1(8),
            eval: |p, _| eval(p),
            overrides: &[],
        },
        Variant {
            since: Version::v1(25),
            eval: |p, _| if p.is_windows() { Vec::new() } else { eval(p) },
            overrides: &[],
        },
    ],
    reason: |_| "allowPrivilegeEscalation != false".to_string(),
    detail: |offenses| {
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&container_names(offenses))
        )
    },
    doc: Doc {
        summary: "Containers must set `allowPrivilegeEscalation: false`.",
        looks_at: "`securityContext.allowPrivilegeEscalation` of every container: it must be set to `false` \
(unset fails). From policy v1.8; Windows pods (`spec.os.name: windows`) are exempt from v1.25.",
        why: "Without `no_new_privs`, a process can gain privileges through set-user-ID binaries or file \
capabilities inside the image, turning a foothold into root in the container.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: false\n",
    },
};

fn eval(pod: &Pod) -> Vec<Offense> {
    pod.containers()
        .iter()
        .filter_map(|c| {
            let f = pod.bool(
                c.node,
                &c.path,
                &["securityContext", "allowPrivilegeEscalation"],
            );
            (f.value != Some(false)).then(|| {
                let field = format!("{}.securityContext.allowPrivilegeEscalation", c.path);
                Offense::new(Subject::Container(c.name.clone()), field, f.pos, Vec::new())
            })
        })
        .collect()
}
