//! `seccompProfile_restricted` (restricted; v1.19, and v1.25 which exempts
//! Windows pods). Overrides `seccompProfile_baseline`.
//!
//! Seccomp profiles must be specified, and only runtime default and localhost
//! profiles are allowed.
//!
//! Restricted fields: `seccompProfile.type` of the pod and of every container.
//! Allowed values: `RuntimeDefault`, `Localhost`; containers may leave it
//! unset when the pod sets an allowed type.

use super::seccomp_profile_baseline::{explicit_bad_types, explicit_detail, valid_type};
use crate::policy::message::{container_names, containers_phrase};
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const EXPLICIT: u8 = 0;
const IMPLICIT: u8 = 1;

pub static CHECK: Check = Check {
    id: "seccompProfile_restricted",
    tier: Tier::Restricted,
    variants: &[
        Variant {
            since: Version::v1(19),
            eval: |p, _| eval(p),
            overrides: &["seccompProfile_baseline"],
        },
        Variant {
            since: Version::v1(25),
            eval: |p, _| if p.is_windows() { Vec::new() } else { eval(p) },
            overrides: &["seccompProfile_baseline"],
        },
    ],
    reason: |_| "seccompProfile".to_string(),
    detail,
    doc: Doc {
        summary: "Pods must run with the runtime's default seccomp profile or a localhost profile.",
        looks_at: "`securityContext.seccompProfile.type` of the pod (then containers may leave it unset) or of \
every container: `RuntimeDefault` or `Localhost`. From policy v1.19; Windows pods are exempt from v1.25.",
        why: "Without a profile, containers run with seccomp disabled on most runtimes, exposing every \
system call of the kernel.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod) -> Vec<Offense> {
    let mut out = explicit_bad_types(pod);
    let pod_set = pod.string(
        pod.spec(),
        "spec",
        &["securityContext", "seccompProfile", "type"],
    );
    let pod_valid = pod
        .object(pod.spec(), &["securityContext", "seccompProfile"])
        .value
        .is_some()
        && valid_type(pod_set.value.unwrap_or(""));
    if !pod_valid {
        for c in pod.containers() {
            let own = pod.object(c.node, &["securityContext", "seccompProfile"]);
            if own.value.is_none() {
                let field = format!("{}.securityContext.seccompProfile.type", c.path);
                out.push(
                    Offense::new(
                        Subject::Container(c.name.clone()),
                        field,
                        own.pos,
                        Vec::new(),
                    )
                    .part(IMPLICIT),
                );
            }
        }
    }
    out
}

fn detail(offenses: &[&Offense]) -> String {
    let explicit: Vec<&Offense> = offenses
        .iter()
        .copied()
        .filter(|o| o.part == EXPLICIT)
        .collect();
    if !explicit.is_empty() {
        return explicit_detail(&explicit);
    }
    format!(
        "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
        containers_phrase(&container_names(offenses))
    )
}
