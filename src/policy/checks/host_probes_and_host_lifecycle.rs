//! `hostProbesAndHostLifecycle` (baseline, from v1.34).
//!
//! The `host` field of probes and lifecycle handlers is restricted.
//!
//! Restricted fields, on every container: `{livenessProbe,readinessProbe,startupProbe}.{httpGet,tcpSocket}.host`
//! and `lifecycle.{postStart,preStop}.{httpGet,tcpSocket}.host`. Allowed values: undefined, `""`.

use crate::policy::message::{containers_phrase, join_quote, pluralize, sorted_set};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "hostProbesAndHostLifecycle",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(34),
        eval,
        overrides: &[],
    }],
    reason: |_| "probe or lifecycle host".to_string(),
    detail,
    doc: Doc {
        summary: "Probes and lifecycle handlers must not send the kubelet to another host.",
        looks_at: "`host` of `httpGet` and `tcpSocket` in `livenessProbe`, `readinessProbe`, `startupProbe`, \
`lifecycle.postStart` and `lifecycle.preStop` of every container (allowed: unset or empty). From policy v1.34.",
        why: "The kubelet runs probes from the node. A probe host lets a pod make the kubelet connect to \
any address the node can reach: a server-side request forgery from the node's network position.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n    livenessProbe:\n      httpGet:\n        host: 169.254.169.254\n        path: /\n        port: 80\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    livenessProbe:\n      httpGet:\n        path: /\n        port: 80\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let mut out = Vec::new();
    let handlers: [&[&str]; 5] = [
        &["livenessProbe"],
        &["readinessProbe"],
        &["startupProbe"],
        &["lifecycle", "postStart"],
        &["lifecycle", "preStop"],
    ];
    for c in pod.containers() {
        for handler in handlers {
            for kind in ["httpGet", "tcpSocket"] {
                let keys: Vec<&str> = handler.iter().copied().chain([kind, "host"]).collect();
                let host = pod.string(c.node, &c.path, &keys);
                if let Some(h) = host.value.filter(|h| !h.is_empty()) {
                    let field = format!("{}.{}", c.path, keys.join("."));
                    out.push(Offense::new(
                        Subject::Container(c.name.clone()),
                        field,
                        host.pos,
                        vec![h.to_string()],
                    ));
                }
            }
        }
    }
    out
}

fn detail(offenses: &[&Offense]) -> String {
    // Upstream keeps containers and hosts in sets: both sorted.
    let names: Vec<String> = sorted_set(offenses.iter().filter_map(|o| match &o.subject {
        Subject::Container(n) => Some(n),
        Subject::Pod => None,
    }));
    let hosts = sorted_set(offenses.iter().flat_map(|o| &o.values));
    format!(
        "{} {} {} {}",
        containers_phrase(&names),
        pluralize("uses", "use", names.len()),
        pluralize(
            "probe or lifecycle host",
            "probe or lifecycle hosts",
            hosts.len()
        ),
        join_quote(&hosts)
    )
}
