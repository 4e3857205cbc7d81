//! `seLinuxOptions` (baseline; v1.0, and v1.31 which allows `container_engine_t`).
//!
//! Setting the SELinux type is restricted, and setting a custom SELinux user
//! or role option is forbidden.
//!
//! Restricted fields: `seLinuxOptions.type` of the pod and of every container
//! (allowed: undefined, `""`, `container_t`, `container_init_t`,
//! `container_kvm_t`, and from v1.31 `container_engine_t`);
//! `seLinuxOptions.user` and `.role` (allowed: undefined, `""`).
//! `seLinuxOptions.level` is not restricted.

use crate::policy::message::{join_quote, pluralize, setters, sorted_set};
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const TYPE: u8 = 0;
const USER: u8 = 1;
const ROLE: u8 = 2;

const TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const TYPES_1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

pub static CHECK: Check = Check {
    id: "seLinuxOptions",
    tier: Tier::Baseline,
    variants: &[
        Variant {
            since: Version::v1(0),
            eval: |p, _| eval(p, TYPES_1_0),
            overrides: &[],
        },
        Variant {
            since: Version::v1(31),
            eval: |p, _| eval(p, TYPES_1_31),
            overrides: &[],
        },
    ],
    reason: |_| "seLinuxOptions".to_string(),
    detail,
    doc: Doc {
        summary: "Pods and containers must not choose a custom SELinux user, role or an unusual type.",
        looks_at: "`securityContext.seLinuxOptions` of the pod and of every container: `type` may be unset, \
`container_t`, `container_init_t`, `container_kvm_t` (and `container_engine_t` from policy v1.31); `user` \
and `role` must be unset.",
        why: "The SELinux type decides what the process may touch on the node. A custom type such as \
`spc_t` (super-privileged container) switches the confinement off.",
        example: "spec:\n  securityContext:\n    seLinuxOptions:\n      type: spc_t\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  securityContext:\n    seLinuxOptions:\n      level: \"s0:c123,c456\"\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod, allowed: &[&str]) -> Vec<Offense> {
    let mut out = Vec::new();
    let spec = pod.spec();
    let mut subjects = vec![(Subject::Pod, spec, "spec".to_string())];
    subjects.extend(
        pod.containers()
            .iter()
            .map(|c| (Subject::Container(c.name.clone()), c.node, c.path.clone())),
    );
    for (subject, node, path) in subjects {
        if pod
            .object(node, &["securityContext", "seLinuxOptions"])
            .value
            .is_none()
        {
            continue;
        }
        let t = pod.string(node, &path, &["securityContext", "seLinuxOptions", "type"]);
        let value = t.value.unwrap_or("");
        if !allowed.contains(&value) {
            let field = format!("{path}.securityContext.seLinuxOptions.type");
            out.push(
                Offense::new(subject.clone(), field, t.pos, vec![value.to_string()]).part(TYPE),
            );
        }
        for (key, part) in [("user", USER), ("role", ROLE)] {
            let f = pod.string(node, &path, &["securityContext", "seLinuxOptions", key]);
            if let Some(v) = f.value.filter(|v| !v.is_empty()) {
                let field = format!("{path}.securityContext.seLinuxOptions.{key}");
                out.push(
                    Offense::new(subject.clone(), field, f.pos, vec![v.to_string()]).part(part),
                );
            }
        }
    }
    out
}

fn detail(offenses: &[&Offense]) -> String {
    let mut data = Vec::new();
    let types = sorted_set(
        offenses
            .iter()
            .filter(|o| o.part == TYPE)
            .flat_map(|o| &o.values),
    );
    if !types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if offenses.iter().any(|o| o.part == USER) {
        data.push("user may not be set".to_string());
    }
    if offenses.iter().any(|o| o.part == ROLE) {
        data.push("role may not be set".to_string());
    }
    format!(
        "{} set forbidden securityContext.seLinuxOptions: {}",
        setters(offenses),
        data.join("; ")
    )
}
