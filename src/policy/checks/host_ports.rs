//! `hostPorts` (baseline, all versions).
//!
//! HostPorts should be disallowed entirely.
//!
//! Restricted field: `spec.{initContainers,containers,ephemeralContainers}[*].ports[*].hostPort`.
//! Allowed values: undefined, `0`.
//!
//! kpsa does not imitate the API server's defaulting of `hostPort` from
//! `containerPort` for `hostNetwork` pods: since Kubernetes 1.28 it applies to
//! bare Pods only, a defaulted field has no source line, and such a pod
//! already fails `hostNamespaces`.

use crate::policy::message::{container_names, containers_phrase, pluralize};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "hostPorts",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "hostPort".to_string(),
    detail,
    doc: Doc {
        summary: "Containers must not bind ports of the node with `hostPort`.",
        looks_at: "`ports[*].hostPort` of every container (allowed: unset or `0`).",
        why: "A host port bypasses Services and network policies, pins the pod to nodes where the port \
is free, and exposes the container directly on the node's addresses.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n    ports:\n    - containerPort: 80\n      hostPort: 80\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    ports:\n    - containerPort: 80\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let mut out = Vec::new();
    for c in pod.containers() {
        let Some(ports) = c.node.get("ports") else {
            continue;
        };
        for (i, port) in ports.items().iter().enumerate() {
            let path = match (
                port.get("name").and_then(|n| n.scalar_text()),
                port.get("containerPort").and_then(|n| n.scalar_text()),
            ) {
                (Some(name), _) => format!("{}.ports[name={name}]", c.path),
                (None, Some(cp)) => format!("{}.ports[containerPort={cp}]", c.path),
                (None, None) => format!("{}.ports[{i}]", c.path),
            };
            let host = pod.int(port, &path, &["hostPort"]);
            if let Some(p) = host.value.filter(|p| *p != 0) {
                out.push(Offense::new(
                    Subject::Container(c.name.clone()),
                    format!("{path}.hostPort"),
                    host.pos,
                    vec![p.to_string()],
                ));
            }
        }
    }
    out
}

fn detail(offenses: &[&Offense]) -> String {
    let names = container_names(offenses);
    // Upstream keeps the ports in a string set: sorted as text.
    let ports = crate::policy::message::sorted_set(offenses.iter().flat_map(|o| &o.values));
    format!(
        "{} {} {} {}",
        containers_phrase(&names),
        pluralize("uses", "use", names.len()),
        pluralize("hostPort", "hostPorts", ports.len()),
        ports.join(", ")
    )
}
