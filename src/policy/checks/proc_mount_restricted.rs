//! `procMount_restricted` (restricted, from v1.35). Overrides `procMount`.
//!
//! The restricted level keeps the default /proc masks even for pods in a user
//! namespace, where baseline (from v1.35) relaxes `procMount`.
//!
//! Restricted field: `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.procMount`.
//! Allowed values: undefined, `Default`.

use super::proc_mount;
use crate::policy::{Check, Doc, Tier, Variant, Version};

pub static CHECK: Check = Check {
    id: "procMount_restricted",
    tier: Tier::Restricted,
    variants: &[Variant {
        since: Version::v1(35),
        eval: proc_mount::non_default,
        overrides: &["procMount"],
    }],
    reason: |_| "procMount".to_string(),
    detail: proc_mount::detail,
    doc: Doc {
        summary: "Containers must keep the default masking of /proc, even in a user namespace.",
        looks_at: "`securityContext.procMount` of every container (allowed: unset or `Default`), with no \
user-namespace relief. From policy v1.35, where it replaces `procMount` at the restricted level.",
        why: "User namespaces limit what an unmasked /proc can do, but the restricted level keeps the \
defense in depth: kernel interfaces stay hidden from the workload.",
        example: "spec:\n  hostUsers: false\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      procMount: Unmasked\n",
        fix: "spec:\n  hostUsers: false\n  containers:\n  - name: app\n    image: nginx\n",
    },
};
