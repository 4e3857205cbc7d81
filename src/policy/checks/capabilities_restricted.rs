//! `capabilities_restricted` (restricted; v1.22, and v1.25 which exempts Windows pods).
//! Overrides `capabilities_baseline`.
//!
//! Containers must drop ALL, and may only add NET_BIND_SERVICE.
//!
//! Restricted fields: `securityContext.capabilities.drop` of every container
//! (must include `ALL`; a container without `capabilities` fails) and
//! `securityContext.capabilities.add` (allowed: undefined, empty,
//! `NET_BIND_SERVICE`).

use crate::policy::message::{container_names, containers_phrase, join_quote, sorted_set};
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const DROP: u8 = 0;
const ADD: u8 = 1;

pub static CHECK: Check = Check {
    id: "capabilities_restricted",
    tier: Tier::Restricted,
    variants: &[
        Variant {
            since: Version::v1(22),
            eval: |p, _| eval(p),
            overrides: &["capabilities_baseline"],
        },
        Variant {
            since: Version::v1(25),
            eval: |p, _| if p.is_windows() { Vec::new() } else { eval(p) },
            overrides: &["capabilities_baseline"],
        },
    ],
    reason: |_| "unrestricted capabilities".to_string(),
    detail,
    doc: Doc {
        summary: "Containers must drop ALL capabilities and may add back only NET_BIND_SERVICE.",
        looks_at: "`securityContext.capabilities.drop` of every container must contain `ALL`, and \
`securityContext.capabilities.add` may contain only `NET_BIND_SERVICE`. From policy v1.22; Windows pods are \
exempt from v1.25.",
        why: "The runtime's default capability set still includes powers most applications never need \
(`NET_RAW` for spoofed packets, `CHOWN`, `SETUID`…); dropping them all shrinks what an attacker inherits.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      capabilities:\n        drop: [\"ALL\"]\n        add: [\"NET_BIND_SERVICE\"]\n",
    },
};

fn eval(pod: &Pod) -> Vec<Offense> {
    let mut out = Vec::new();
    for c in pod.containers() {
        let subject = Subject::Container(c.name.clone());
        let drop_field = format!("{}.securityContext.capabilities.drop", c.path);
        let caps = pod.object(c.node, &["securityContext", "capabilities"]);
        if caps.value.is_none() {
            out.push(Offense::new(subject, drop_field, caps.pos, Vec::new()).part(DROP));
            continue;
        }
        let drop = pod.strings(
            c.node,
            &c.path,
            &["securityContext", "capabilities", "drop"],
        );
        if !drop
            .value
            .unwrap_or_default()
            .iter()
            .any(|(cap, _)| *cap == "ALL")
        {
            out.push(Offense::new(subject.clone(), drop_field, drop.pos, Vec::new()).part(DROP));
        }
        let add = pod.strings(c.node, &c.path, &["securityContext", "capabilities", "add"]);
        let bad: Vec<String> = add
            .value
            .unwrap_or_default()
            .into_iter()
            .filter(|(cap, _)| *cap != "NET_BIND_SERVICE")
            .map(|(cap, _)| cap.to_string())
            .collect();
        if !bad.is_empty() {
            let field = format!("{}.securityContext.capabilities.add", c.path);
            out.push(Offense::new(subject, field, add.pos, bad).part(ADD));
        }
    }
    out
}

fn detail(offenses: &[&Offense]) -> String {
    let mut parts = Vec::new();
    let drop: Vec<&Offense> = offenses
        .iter()
        .copied()
        .filter(|o| o.part == DROP)
        .collect();
    if !drop.is_empty() {
        parts.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&container_names(&drop))
        ));
    }
    let add: Vec<&Offense> = offenses.iter().copied().filter(|o| o.part == ADD).collect();
    if !add.is_empty() {
        parts.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&container_names(&add)),
            join_quote(&sorted_set(add.iter().flat_map(|o| &o.values)))
        ));
    }
    parts.join("; ")
}
