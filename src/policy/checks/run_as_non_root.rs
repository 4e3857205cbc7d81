//! `runAsNonRoot` (restricted; v1.0, and v1.35 which skips pods with `hostUsers: false`).
//!
//! Containers must be required to run as non-root users.
//!
//! Restricted fields: `spec.securityContext.runAsNonRoot` and the same field
//! of every container. Allowed values: `true`; a container may leave it unset
//! when the pod sets `true`. An explicit `false` anywhere fails. From v1.35
//! pods in a user namespace (`spec.hostUsers: false`) are exempt.

use crate::policy::message::{container_names, containers_phrase, setters};
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const EXPLICIT: u8 = 0;
const IMPLICIT: u8 = 1;

pub static CHECK: Check = Check {
    id: "runAsNonRoot",
    tier: Tier::Restricted,
    variants: &[
        Variant {
            since: Version::v1(0),
            eval: |p, _| eval(p),
            overrides: &[],
        },
        Variant {
            since: Version::v1(35),
            eval: |p, _| p.unless_user_namespace(eval),
            overrides: &[],
        },
    ],
    reason: |_| "runAsNonRoot != true".to_string(),
    detail,
    doc: Doc {
        summary: "Pods must require their containers to run as a non-root user.",
        looks_at: "`securityContext.runAsNonRoot` of the pod and of every container: the pod sets `true` \
(containers may then leave it unset) or every container sets `true`; `false` anywhere fails. From policy \
v1.35 pods with `hostUsers: false` are exempt.",
        why: "`runAsNonRoot: true` makes the kubelet refuse to start a container whose image would run as \
UID 0, so a misbuilt image cannot quietly run as root.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  securityContext:\n    runAsNonRoot: true\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod) -> Vec<Offense> {
    let mut out = Vec::new();
    let pod_field = pod.bool(pod.spec(), "spec", &["securityContext", "runAsNonRoot"]);
    if pod_field.value == Some(false) {
        let field = "spec.securityContext.runAsNonRoot".to_string();
        out.push(Offense::new(Subject::Pod, field, pod_field.pos, Vec::new()).part(EXPLICIT));
    }
    let pod_true = pod_field.value == Some(true);
    for c in pod.containers() {
        let f = pod.bool(c.node, &c.path, &["securityContext", "runAsNonRoot"]);
        let field = format!("{}.securityContext.runAsNonRoot", c.path);
        let subject = Subject::Container(c.name.clone());
        match f.value {
            Some(false) => out.push(Offense::new(subject, field, f.pos, Vec::new()).part(EXPLICIT)),
            None if !pod_true => {
                out.push(Offense::new(subject, field, f.pos, Vec::new()).part(IMPLICIT))
            }
            _ => {}
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
        return format!(
            "{} must not set securityContext.runAsNonRoot=false",
            setters(&explicit)
        );
    }
    format!(
        "pod or {} must set securityContext.runAsNonRoot=true",
        containers_phrase(&container_names(offenses))
    )
}
