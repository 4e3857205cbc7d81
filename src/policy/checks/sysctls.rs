//! `sysctls` (baseline; v1.0, v1.27, v1.29, v1.32, v1.37).
//!
//! Sysctls can disable security mechanisms or affect all containers on a
//! host; only a "safe", namespaced subset is allowed.
//!
//! Restricted field: `spec.securityContext.sysctls[*].name`. Allowed values:
//! `kernel.shm_rmid_forced`, `net.ipv4.ip_local_port_range`,
//! `net.ipv4.tcp_syncookies`, `net.ipv4.ping_group_range`,
//! `net.ipv4.ip_unprivileged_port_start`; from v1.27
//! `net.ipv4.ip_local_reserved_ports`; from v1.29 `net.ipv4.tcp_keepalive_time`,
//! `net.ipv4.tcp_fin_timeout`, `net.ipv4.tcp_keepalive_intvl`,
//! `net.ipv4.tcp_keepalive_probes`; from v1.32 `net.ipv4.tcp_rmem`,
//! `net.ipv4.tcp_wmem`; from v1.37 `net.ipv4.tcp_slow_start_after_idle`,
//! `net.ipv4.tcp_notsent_lowat`.

use crate::policy::message::values;
use crate::policy::{Check, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const V1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const V1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const V1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const V1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
const V1_37: &[&str] = &[
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

pub static CHECK: Check = Check {
    id: "sysctls",
    tier: Tier::Baseline,
    variants: &[
        Variant {
            since: Version::v1(0),
            eval: |p, _| eval(p, &[V1_0]),
            overrides: &[],
        },
        Variant {
            since: Version::v1(27),
            eval: |p, _| eval(p, &[V1_0, V1_27]),
            overrides: &[],
        },
        Variant {
            since: Version::v1(29),
            eval: |p, _| eval(p, &[V1_0, V1_27, V1_29]),
            overrides: &[],
        },
        Variant {
            since: Version::v1(32),
            eval: |p, _| eval(p, &[V1_0, V1_27, V1_29, V1_32]),
            overrides: &[],
        },
        Variant {
            since: Version::v1(37),
            eval: |p, _| eval(p, &[V1_0, V1_27, V1_29, V1_32, V1_37]),
            overrides: &[],
        },
    ],
    reason: |_| "forbidden sysctls".to_string(),
    detail: |offenses| values(offenses).join(", "),
    doc: Doc {
        summary: "Pods may set only the sysctls that are namespaced and isolated from other pods.",
        looks_at: "`spec.securityContext.sysctls[*].name`. Allowed: `kernel.shm_rmid_forced`, \
`net.ipv4.ip_local_port_range`, `net.ipv4.tcp_syncookies`, `net.ipv4.ping_group_range`, \
`net.ipv4.ip_unprivileged_port_start`; from v1.27 `net.ipv4.ip_local_reserved_ports`; from v1.29 \
`net.ipv4.tcp_keepalive_time`, `net.ipv4.tcp_fin_timeout`, `net.ipv4.tcp_keepalive_intvl`, \
`net.ipv4.tcp_keepalive_probes`; from v1.32 `net.ipv4.tcp_rmem`, `net.ipv4.tcp_wmem`; from v1.37 \
`net.ipv4.tcp_slow_start_after_idle`, `net.ipv4.tcp_notsent_lowat`.",
        why: "Other sysctls change kernel behaviour for the whole node or for other pods, and some switch \
off protections (for example `kernel.randomize_va_space`).",
        example: "spec:\n  securityContext:\n    sysctls:\n    - name: kernel.msgmax\n      value: \"65536\"\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  securityContext:\n    sysctls:\n    - name: net.ipv4.ip_local_port_range\n      value: \"1024 65535\"\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod, allowed: &[&[&str]]) -> Vec<Offense> {
    let Some(sysctls) = pod.spec().path(&["securityContext", "sysctls"]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, sysctl) in sysctls.items().iter().enumerate() {
        let name_field = pod.string(
            sysctl,
            &format!("spec.securityContext.sysctls[{i}]"),
            &["name"],
        );
        let name = name_field.value.unwrap_or("");
        if !allowed.iter().any(|set| set.contains(&name)) {
            let field = format!("spec.securityContext.sysctls[name={name}]");
            out.push(Offense::new(
                Subject::Pod,
                field,
                name_field.pos,
                vec![name.to_string()],
            ));
        }
    }
    out
}
