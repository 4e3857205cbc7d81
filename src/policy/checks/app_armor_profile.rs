//! `appArmorProfile` (baseline, all versions).
//!
//! On supported hosts the `RuntimeDefault` AppArmor profile applies by
//! default; the baseline level forbids overriding or disabling it.
//!
//! Restricted fields: `spec.securityContext.appArmorProfile.type`,
//! `spec.{initContainers,containers,ephemeralContainers}[*].securityContext.appArmorProfile.type`
//! (allowed: `RuntimeDefault`, `Localhost`, undefined), and the annotations
//! `metadata.annotations['container.apparmor.security.beta.kubernetes.io/*']`
//! (allowed: `runtime/default`, `localhost/*`, empty, undefined).

use crate::policy::message::{containers_phrase, join_quote, pluralize, sorted_set};
use crate::policy::{Check, Context, Doc, Offense, Pod, Subject, Tier, Variant, Version};

const PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
const POD: u8 = 0;
const CONTAINER: u8 = 1;
const ANNOTATION: u8 = 2;

pub static CHECK: Check = Check {
    id: "appArmorProfile",
    tier: Tier::Baseline,
    variants: &[Variant {
        since: Version::v1(0),
        eval,
        overrides: &[],
    }],
    reason,
    detail,
    doc: Doc {
        summary: "AppArmor must not be disabled or overridden with an arbitrary profile.",
        looks_at: "`securityContext.appArmorProfile.type` of the pod and of every container \
(allowed: `RuntimeDefault`, `Localhost`, unset) and the legacy annotations \
`container.apparmor.security.beta.kubernetes.io/<container>` (allowed: `runtime/default`, \
`localhost/<profile>`, empty).",
        why: "An `Unconfined` profile removes the mandatory access control that confines a \
compromised process to the files and capabilities the runtime expects it to use.",
        example: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      appArmorProfile:\n        type: Unconfined\n",
        fix: "spec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      appArmorProfile:\n        type: RuntimeDefault\n",
    },
};

fn allowed_type(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

fn allowed_annotation(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

fn eval(pod: &Pod, _: &Context) -> Vec<Offense> {
    let mut out = Vec::new();
    let spec = pod.spec();
    if pod
        .object(spec, &["securityContext", "appArmorProfile"])
        .value
        .is_some()
    {
        let t = pod.string(
            spec,
            "spec",
            &["securityContext", "appArmorProfile", "type"],
        );
        let value = t.value.unwrap_or("");
        if !allowed_type(value) {
            let field = "spec.securityContext.appArmorProfile.type".to_string();
            out.push(Offense::new(Subject::Pod, field, t.pos, vec![value.to_string()]).part(POD));
        }
    }
    for c in pod.containers() {
        if pod
            .object(c.node, &["securityContext", "appArmorProfile"])
            .value
            .is_none()
        {
            continue;
        }
        let t = pod.string(
            c.node,
            &c.path,
            &["securityContext", "appArmorProfile", "type"],
        );
        let value = t.value.unwrap_or("");
        if !allowed_type(value) {
            let field = format!("{}.securityContext.appArmorProfile.type", c.path);
            out.push(
                Offense::new(
                    Subject::Container(c.name.clone()),
                    field,
                    t.pos,
                    vec![value.to_string()],
                )
                .part(CONTAINER),
            );
        }
    }
    for (key, value, pos) in pod.annotations() {
        if key.starts_with(PREFIX) && !allowed_annotation(value) {
            let field = format!("metadata.annotations[{key}]");
            out.push(
                Offense::new(Subject::Pod, field, pos, vec![format!("{key}={value:?}")])
                    .part(ANNOTATION),
            );
        }
    }
    out
}

fn bad_values(offenses: &[&Offense]) -> Vec<String> {
    let types = sorted_set(
        offenses
            .iter()
            .filter(|o| o.part != ANNOTATION)
            .flat_map(|o| &o.values),
    );
    let annotations = sorted_set(
        offenses
            .iter()
            .filter(|o| o.part == ANNOTATION)
            .flat_map(|o| &o.values),
    );
    types.into_iter().chain(annotations).collect()
}

fn reason(offenses: &[&Offense]) -> String {
    pluralize(
        "forbidden AppArmor profile",
        "forbidden AppArmor profiles",
        bad_values(offenses).len(),
    )
    .to_string()
}

fn detail(offenses: &[&Offense]) -> String {
    let mut setters = Vec::new();
    if offenses.iter().any(|o| o.part == POD) {
        setters.push("pod".to_string());
    }
    let containers: Vec<&Offense> = offenses
        .iter()
        .copied()
        .filter(|o| o.part == CONTAINER)
        .collect();
    let names = crate::policy::message::container_names(&containers);
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let annotations = offenses.iter().filter(|o| o.part == ANNOTATION).count();
    if annotations > 0 {
        setters.push(pluralize("annotation", "annotations", annotations).to_string());
    }
    format!(
        "{} must not set AppArmor profile type to {}",
        setters.join(" and "),
        join_quote(&bad_values(offenses))
    )
}
