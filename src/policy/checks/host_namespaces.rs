//! `hostNamespaces` (baseline, all versions).
//!
//! Sharing the host namespaces must be disallowed.
//!
//! Restricted fields: `spec.hostNetwork`, `spec.hostPID`, `spec.hostIPC`.
//! Allowed values: undefined, `false`.

use crate::policy::message::values;
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "hostNamespaces",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "host namespaces".to_string(),
    detail: |offenses| values(offenses).join(", "),
    doc: Doc {
        summary: "Pods must not share the node's network, process or IPC namespace.",
        looks_at: "`spec.hostNetwork`, `spec.hostPID` and `spec.hostIPC` (allowed: unset or `false`).",
        why: "`hostNetwork` lets a pod sniff and bind the node's interfaces and reach services bound to \
localhost; `hostPID` lets it see and signal every process on the node; `hostIPC` exposes the \
node's shared memory.",
        example: "spec:\n  hostNetwork: true\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let spec = pod.spec();
    ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter_map(|key| {
            let f = pod.bool(spec, "spec", &[key]);
            (f.value == Some(true)).then(|| {
                Offense::new(
                    Subject::Pod,
                    format!("spec.{key}"),
                    f.pos,
                    vec![format!("{key}=true")],
                )
            })
        })
        .collect()
}
