//! `seccompProfile_baseline` (baseline; v1.0 annotations, v1.19 fields).
//!
//! If seccomp profiles are specified, only runtime default and localhost
//! profiles are allowed.
//!
//! v1.0–v1.18: `metadata.annotations['seccomp.security.alpha.kubernetes.io/pod']`
//! and `['container.seccomp.security.alpha.kubernetes.io/<container>']` for
//! existing containers (allowed: `runtime/default`, `docker/default`,
//! `localhost/*`, undefined).
//! v1.19+: `seccompProfile.type` of the pod and of every container (allowed:
//! `RuntimeDefault`, `Localhost`, undefined); the annotations are ignored.

use crate::policy::message::{join_quote, pluralize, setters, sorted_set};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const FIELD: u8 = 0;
const ANNOTATION: u8 = 1;
const POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const CONTAINER_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";

pub static CHECK: Check = Check {
    id: "seccompProfile_baseline",
    tier: Tier::Baseline,
    variants: &[
        Variant {
            since: Version::v1(0),
            eval: annotations,
            overrides: &[],
        },
        Variant {
            since: Version::v1(19),
            eval: |p, _| explicit_bad_types(p),
            overrides: &[],
        },
    ],
    reason: |_| "seccompProfile".to_string(),
    detail,
    doc: Doc {
        summary: "Seccomp must not be switched off (`Unconfined`).",
        looks_at: "From policy v1.19: `securityContext.seccompProfile.type` of the pod and of every container \
(allowed: `RuntimeDefault`, `Localhost`, unset). Up to v1.18: the annotations \
`seccomp.security.alpha.kubernetes.io/pod` and `container.seccomp.security.alpha.kubernetes.io/<container>` \
(allowed: `runtime/default`, `docker/default`, `localhost/<profile>`).",
        why: "Seccomp filters the system calls a container may make; `Unconfined` exposes the whole kernel \
interface, including the calls most container escapes use.",
        example: "spec:\n  securityContext:\n    seccompProfile:\n      type: Unconfined\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

pub fn valid_type(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

fn valid_annotation(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

fn annotations(pod: &Pod, _: &Context) -> Vec<Offense> {
    let ann = pod.annotations();
    let mut out = Vec::new();
    let mut check = |subject: Subject, key: String| {
        if let Some((_, value, pos)) = ann.iter().find(|(k, _, _)| *k == key) {
            if !valid_annotation(value) {
                let field = format!("metadata.annotations[{key}]");
                out.push(
                    Offense::new(subject, field, *pos, vec![format!("{key}={value:?}")])
                        .part(ANNOTATION),
                );
            }
        }
    };
    check(Subject::Pod, POD_ANNOTATION.to_string());
    for c in pod.containers() {
        check(
            Subject::Container(c.name.clone()),
            format!("{CONTAINER_ANNOTATION}{}", c.name),
        );
    }
    out
}

/// Pod and containers that set `seccompProfile.type` to a bad value
/// (shared with `seccompProfile_restricted`).
pub fn explicit_bad_types(pod: &Pod) -> Vec<Offense> {
    let mut out = Vec::new();
    let mut subjects = vec![(Subject::Pod, pod.spec(), "spec".to_string())];
    subjects.extend(
        pod.containers()
            .iter()
            .map(|c| (Subject::Container(c.name.clone()), c.node, c.path.clone())),
    );
    for (subject, node, path) in subjects {
        if pod
            .object(node, &["securityContext", "seccompProfile"])
            .value
            .is_none()
        {
            continue;
        }
        let t = pod.string(node, &path, &["securityContext", "seccompProfile", "type"]);
        let value = t.value.unwrap_or("");
        if !valid_type(value) {
            let field = format!("{path}.securityContext.seccompProfile.type");
            out.push(Offense::new(subject, field, t.pos, vec![value.to_string()]).part(FIELD));
        }
    }
    out
}

/// Shared with `seccompProfile_restricted` for explicit bad values.
pub fn explicit_detail(offenses: &[&Offense]) -> String {
    format!(
        "{} must not set securityContext.seccompProfile.type to {}",
        setters(offenses),
        join_quote(&sorted_set(offenses.iter().flat_map(|o| &o.values)))
    )
}

fn detail(offenses: &[&Offense]) -> String {
    if offenses.iter().any(|o| o.part == ANNOTATION) {
        let values = sorted_set(offenses.iter().flat_map(|o| &o.values));
        return format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", values.len()),
            values.join(", ")
        );
    }
    explicit_detail(offenses)
}
