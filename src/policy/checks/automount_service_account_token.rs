//! `automountServiceAccountToken` (hardened, OWASP Kubernetes Top 10 K01).
//!
//! Pods should not receive a Kubernetes API token they do not need.
//!
//! Field: `spec.automountServiceAccountToken`. Passes when the pod sets it to
//! `false`, or leaves it unset and the ServiceAccount it runs as
//! (`spec.serviceAccountName`, else `spec.serviceAccount`, else `default`) is
//! in the same input and sets `automountServiceAccountToken: false`.

use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const POD_TRUE: u8 = 0;
const INHERITED: u8 = 1;

pub static CHECK: Check = Check {
    id: "automountServiceAccountToken",
    tier: Tier::Hardened,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason: |_| "automountServiceAccountToken".to_string(),
    detail: |offenses| {
        let mut parts = Vec::new();
        if offenses.iter().any(|o| o.part == POD_TRUE) {
            parts.push("pod must not set automountServiceAccountToken=true".to_string());
        }
        for o in offenses.iter().filter(|o| o.part == INHERITED) {
            let sa = o.values.first().map(String::as_str).unwrap_or("default");
            parts.push(format!(
                "pod or ServiceAccount \"{sa}\" must set automountServiceAccountToken=false"
            ));
        }
        parts.join("; ")
    },
    doc: Doc {
        summary: "Pods must not mount a service-account token unless they need the Kubernetes API.",
        looks_at: "`spec.automountServiceAccountToken` (must be `false`), or, when the pod leaves it unset, \
`automountServiceAccountToken` of the ServiceAccount it runs as, when that ServiceAccount is in the same \
input.",
        why: "Every pod gets a token for its ServiceAccount by default. An attacker in the container can \
use it to talk to the API server with whatever RBAC the account has (OWASP Kubernetes Top 10, K01 and K03).",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n",
        fix: "spec:\n  automountServiceAccountToken: false\n  containers:\n  - name: app\n    image: nginx\n",
    },
};

fn eval(pod: &Pod, ctx: &Context) -> Vec<Offense> {
    let spec = pod.spec();
    let own = pod.bool(spec, "spec", &["automountServiceAccountToken"]);
    let field = "spec.automountServiceAccountToken".to_string();
    match own.value {
        Some(false) => Vec::new(),
        Some(true) => vec![Offense::new(Subject::Pod, field, own.pos, Vec::new()).part(POD_TRUE)],
        None => {
            let name = ["serviceAccountName", "serviceAccount"]
                .into_iter()
                .find_map(|k| {
                    pod.string(spec, "spec", &[k])
                        .value
                        .filter(|s| !s.is_empty())
                })
                .unwrap_or("default")
                .to_string();
            let key = (
                pod.view.object.namespace.clone().unwrap_or_default(),
                name.clone(),
            );
            if ctx.service_accounts.get(&key) == Some(&Some(false)) {
                return Vec::new();
            }
            let mut offense =
                Offense::new(Subject::Pod, field, own.pos, vec![name]).part(INHERITED);
            offense.unless_service_account = Some(key);
            vec![offense]
        }
    }
}
