//! `procMount` (baseline; v1.0, and v1.35 with user-namespace relief).
//!
//! The default /proc masks reduce attack surface and are required, unless
//! (from v1.35) the pod runs in a user namespace (`hostUsers: false`).
//!
//! Restricted field: `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.procMount`.
//! Allowed values: undefined, `Default`; from v1.35 anything when `spec.hostUsers` is `false`.

use crate::policy::message::{container_names, containers_phrase, join_quote, sorted_set};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "procMount",
    tier: Tier::Baseline,
    variants: &[
        Variant {
            since: Version::v1(0),
            eval: non_default,
            overrides: &[],
        },
        Variant {
            since: Version::v1(35),
            eval: with_user_namespace_relief,
            overrides: &[],
        },
    ],
    reason: |_| "procMount".to_string(),
    detail,
    doc: Doc {
        summary: "Containers must keep the default masking of /proc (except in a user namespace, from v1.35).",
        looks_at: "`securityContext.procMount` of every container (allowed: unset or `Default`; from policy \
v1.35 any value when the pod sets `hostUsers: false`).",
        why: "`Unmasked` exposes kernel interfaces under /proc that the runtime normally hides, such as \
/proc/kcore and /proc/sys, which leak host information or allow changing kernel settings.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      procMount: Unmasked\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      procMount: Default\n",
    },
};

/// Containers that set a procMount other than `Default` (shared with `procMount_restricted`).
pub fn non_default(pod: &Pod, _: &Context) -> Vec<Offense> {
    pod.containers()
        .iter()
        .filter_map(|c| {
            let f = pod.string(c.node, &c.path, &["securityContext", "procMount"]);
            let value = f.value?;
            (value != "Default").then(|| {
                let field = format!("{}.securityContext.procMount", c.path);
                Offense::new(
                    Subject::Container(c.name.clone()),
                    field,
                    f.pos,
                    vec![value.to_string()],
                )
            })
        })
        .collect()
}

fn with_user_namespace_relief(pod: &Pod, ctx: &Context) -> Vec<Offense> {
    if pod.host_users_false() {
        Vec::new()
    } else {
        non_default(pod, ctx)
    }
}

/// Shared with `procMount_restricted`.
pub fn detail(offenses: &[&Offense]) -> String {
    format!(
        "{} must not set securityContext.procMount to {}",
        containers_phrase(&container_names(offenses)),
        join_quote(&sorted_set(offenses.iter().flat_map(|o| &o.values)))
    )
}
