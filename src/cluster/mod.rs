//! `kpsa cluster check`: would this cluster's Pod Security Admission
//! refuse any of these pods?
//!
//! Admission decides with things a repository cannot show: the live
//! `pod-security.kubernetes.io/*` labels of each namespace, the cluster's
//! version (a pinned `enforce-version` newer than the cluster is evaluated
//! at the cluster's version, as upstream does) and the API server's
//! `PodSecurityConfiguration` (defaults for unlabelled namespaces and
//! exemptions; not readable through the API, so it is given as a file).
//! A Namespace among the manifests wins over the live one: the sync is
//! about to apply it.

pub mod kube;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::admission::{Context, Defaults, Exemptions};
use crate::finding::Workload;
use crate::policy::{Tier, Version};
use crate::scan::{Input, InputError, RenderedInput, ScanOptions, scan};

/// One manifest stream to check.
pub struct Manifests {
    pub name: String,
    pub text: String,
}

/// What the cluster says, and what the platform says about its defaults.
pub struct Live {
    /// The cluster's Kubernetes version, as a policy version.
    pub version: Version,
    /// Labels of the namespaces that exist (prefix removed); a namespace
    /// that does not exist is absent.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub defaults: Defaults,
    pub exemptions: Exemptions,
}

/// The verdict.
pub struct Checked {
    pub workloads: Vec<Workload>,
    pub errors: Vec<InputError>,
    /// Namespaces the manifests define (their labels were used).
    pub defined: BTreeSet<String>,
}

fn inputs(manifests: &[Manifests], namespace: &str) -> Vec<Input> {
    manifests
        .iter()
        .map(|m| {
            Input::Rendered(RenderedInput {
                target: m.name.clone(),
                name: m.name.clone(),
                text: m.text.clone(),
                kustomize: false,
                namespace: Some(namespace.to_string()),
            })
        })
        .collect()
}

fn options(version: Version, ctx: Context) -> ScanOptions {
    let mut opts = ScanOptions::new(Tier::Restricted, version, version.to_string());
    opts.admission = Some(Arc::new(ctx));
    opts
}

/// The namespaces the pods land in (objects without one land in
/// `namespace`), and the namespaces the manifests define.
pub fn namespaces(
    manifests: &[Manifests],
    namespace: &str,
) -> (BTreeSet<String>, BTreeSet<String>, Vec<InputError>) {
    let mut ctx = Context::new(Version::newest());
    ctx.has_defaults = true;
    let result = scan(
        &inputs(manifests, namespace),
        &options(Version::newest(), ctx),
    );
    let used = result
        .workloads
        .iter()
        .filter_map(|w| w.admission.as_ref().map(|a| a.namespace.clone()))
        .collect();
    let defined = result.namespace_labels.keys().cloned().collect();
    (used, defined, result.errors)
}

/// Evaluate every pod spec with the live labels and version.
pub fn check(manifests: &[Manifests], namespace: &str, live: &Live) -> Checked {
    let mut ctx = Context::new(live.version);
    ctx.has_defaults = true;
    ctx.defaults = live.defaults;
    ctx.exemptions = live.exemptions.clone();
    for (ns, labels) in &live.namespaces {
        ctx.labels.insert(
            ns.clone(),
            (labels.clone(), format!("namespace {ns} in the cluster")),
        );
    }
    let result = scan(&inputs(manifests, namespace), &options(live.version, ctx));
    Checked {
        defined: result.namespace_labels.keys().cloned().collect(),
        workloads: result.workloads,
        errors: result.errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PssLevel;

    fn live(ns: &[(&str, &[(&str, &str)])]) -> Live {
        Live {
            version: Version::v1(30),
            namespaces: ns
                .iter()
                .map(|(n, l)| {
                    (
                        n.to_string(),
                        l.iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    )
                })
                .collect(),
            defaults: Defaults::default(),
            exemptions: Exemptions::default(),
        }
    }

    const PRIVILEGED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: x\n        securityContext: {privileged: true}\n";

    fn manifests(text: &str) -> Vec<Manifests> {
        vec![Manifests {
            name: "m.yaml".into(),
            text: text.into(),
        }]
    }

    #[test]
    fn live_labels_decide_and_a_namespace_in_the_manifests_wins() {
        let m = manifests(PRIVILEGED);
        let c = check(&m, "shop", &live(&[("shop", &[("enforce", "baseline")])]));
        assert!(c.workloads[0].admission.as_ref().unwrap().refused);
        let c = check(&m, "shop", &live(&[("shop", &[("warn", "baseline")])]));
        let a = c.workloads[0].admission.as_ref().unwrap();
        assert!(!a.refused);
        assert!(a.warn.is_some());
        let with_ns = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {{pod-security.kubernetes.io/enforce: privileged}}\n---\n{PRIVILEGED}"
        );
        let c = check(
            &manifests(&with_ns),
            "shop",
            &live(&[("shop", &[("enforce", "baseline")])]),
        );
        assert!(!c.workloads[0].admission.as_ref().unwrap().refused);
        assert!(c.defined.contains("shop"));
    }

    #[test]
    fn unknown_namespaces_take_the_defaults() {
        let m = manifests(PRIVILEGED);
        let c = check(&m, "new", &live(&[]));
        assert!(!c.workloads[0].admission.as_ref().unwrap().refused);
        let mut l = live(&[]);
        l.defaults.enforce.level = PssLevel::Baseline;
        let c = check(&m, "new", &l);
        assert!(c.workloads[0].admission.as_ref().unwrap().refused);
        let (used, defined, errors) = namespaces(&m, "new");
        assert_eq!(used.into_iter().collect::<Vec<_>>(), ["new"]);
        assert!(defined.is_empty() && errors.is_empty());
    }
}
