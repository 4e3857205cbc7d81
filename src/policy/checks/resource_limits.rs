//! `resourceLimits` (hardened, OWASP Kubernetes Top 10 K01).
//!
//! Containers should declare CPU and memory limits.
//!
//! Fields: `resources.limits.cpu` and `resources.limits.memory` of every init
//! container and container (ephemeral containers cannot have resources).

use crate::policy::message::{container_names, containers_phrase, sorted_set};
use crate::policy::pod::ContainerKind;
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "resourceLimits",
    tier: Tier::Hardened,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "resource limits".to_string(),
    detail: |offenses| {
        let missing: Vec<String> = sorted_set(offenses.iter().flat_map(|o| &o.values))
            .into_iter()
            .map(|k| format!("resources.limits.{k}"))
            .collect();
        format!(
            "{} must set {}",
            containers_phrase(&container_names(offenses)),
            missing.join(", ")
        )
    },
    doc: Doc {
        summary: "Containers must set CPU and memory limits.",
        looks_at: "`resources.limits.cpu` and `resources.limits.memory` of every init container and container.",
        why: "Without limits one compromised or runaway container can starve the node's other workloads of \
CPU and memory (denial of service), and cryptominers run unbounded.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    resources:\n      limits:\n        cpu: 500m\n        memory: 256Mi\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let mut out = Vec::new();
    for c in pod
        .containers()
        .iter()
        .filter(|c| c.kind != ContainerKind::Ephemeral)
    {
        let limits = pod.object(c.node, &["resources", "limits"]);
        let missing: Vec<String> = ["cpu", "memory"]
            .into_iter()
            .filter(|k| {
                limits
                    .value
                    .and_then(|l| l.get(k))
                    .is_none_or(|v| v.is_null())
            })
            .map(str::to_string)
            .collect();
        if !missing.is_empty() {
            let field = format!("{}.resources.limits", c.path);
            out.push(Offense::new(
                Subject::Container(c.name.clone()),
                field,
                limits.pos,
                missing,
            ));
        }
    }
    out
}
