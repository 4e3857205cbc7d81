//! `capabilities_baseline` (baseline, all versions).
//!
//! Adding capabilities beyond the default set is forbidden.
//!
//! Restricted field: `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.add`.
//! Allowed values: undefined, empty, and only `AUDIT_WRITE`, `CHOWN`,
//! `DAC_OVERRIDE`, `FOWNER`, `FSETID`, `KILL`, `MKNOD`, `NET_BIND_SERVICE`,
//! `SETFCAP`, `SETGID`, `SETPCAP`, `SETUID`, `SYS_CHROOT` (exact spelling;
//! a `CAP_` prefix is not accepted).

use crate::policy::message::{container_names, containers_phrase, join_quote, sorted_set};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub const ALLOWED: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

pub static CHECK: Check = Check {
    id: "capabilities_baseline",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "non-default capabilities".to_string(),
    detail,
    doc: Doc {
        summary: "Containers must not add Linux capabilities beyond the container runtime's default set.",
        looks_at: "`securityContext.capabilities.add` of every container. Allowed: `AUDIT_WRITE`, `CHOWN`, \
`DAC_OVERRIDE`, `FOWNER`, `FSETID`, `KILL`, `MKNOD`, `NET_BIND_SERVICE`, `SETFCAP`, `SETGID`, `SETPCAP`, \
`SETUID`, `SYS_CHROOT`.",
        why: "Capabilities such as `SYS_ADMIN`, `NET_ADMIN` or `SYS_PTRACE` give a container powers that are \
one step from root on the node: mounting filesystems, rewriting the network, reading other processes.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      capabilities:\n        add: [\"NET_ADMIN\", \"SYS_ADMIN\"]\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      capabilities:\n        drop: [\"ALL\"]\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let mut out = Vec::new();
    for c in pod.containers() {
        let add = pod.strings(c.node, &c.path, &["securityContext", "capabilities", "add"]);
        let bad: Vec<String> = add
            .value
            .unwrap_or_default()
            .into_iter()
            .filter(|(cap, _)| !ALLOWED.contains(cap))
            .map(|(cap, _)| cap.to_string())
            .collect();
        if !bad.is_empty() {
            let field = format!("{}.securityContext.capabilities.add", c.path);
            out.push(Offense::new(
                Subject::Container(c.name.clone()),
                field,
                add.pos,
                bad,
            ));
        }
    }
    out
}

fn detail(offenses: &[&Offense]) -> String {
    format!(
        "{} must not include {} in securityContext.capabilities.add",
        containers_phrase(&container_names(offenses)),
        join_quote(&sorted_set(offenses.iter().flat_map(|o| &o.values)))
    )
}
