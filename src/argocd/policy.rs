//! Whose policy judges an application in Argo CD.
//!
//! The platform team's configuration (a `.kpsa.yaml`-format file mounted
//! into the sidecar and passed as `--config`) is the policy. The
//! repository's own `.kpsa.yaml` is written by the people it judges, so it
//! may only tighten it:
//!
//! | key | from the repository |
//! | --- | --- |
//! | `level` | taken when stricter (more checks) |
//! | `fail-on` | taken when stricter (fails on more); `enforced` / `never` never loosen a tier gate |
//! | `pod-templates` | added (more pod specs are checked) |
//! | `namespaces` | taken where they do not lower the platform's labels for that namespace |
//! | `exemptions`, `admission-config` | ignored (they waive findings or set cluster defaults) |
//! | `targets`, `render-timeout`, `jobs`, `kubernetes-version` | ignored (the plugin renders the application directory as Argo CD does, within Argo CD's timeouts, at `KUBE_VERSION`) |
//!
//! Every ignored key is named in a warning on standard error, so the
//! application team sees why its setting had no effect.

use crate::config::Config;

/// The platform's policy with the repository's tightenings, and a warning
/// for every repository setting that was not taken.
pub fn tighten(platform: Option<Config>, repo: Option<&Config>) -> (Config, Vec<String>) {
    let mut out = platform.unwrap_or_default();
    let mut warnings = Vec::new();
    let Some(repo) = repo else {
        return (out, warnings);
    };
    let file = repo.file.display().to_string();
    let mut ignored = |key: &str, why: &str| {
        warnings.push(format!(
            "{file}: `{key}` is ignored in Argo CD: {why} (the platform's policy decides; a repository may only tighten it)"
        ));
    };

    if let Some(level) = repo.level {
        match out.level {
            Some(p) if level < p => ignored("level", "it is looser than the platform's"),
            _ => out.level = Some(level),
        }
    }

    // The gate: `Some(Some(tier))` fails on findings of that tier or a
    // more severe one, so a later tier fails on more.
    let platform_gate = out.fail_on.unwrap_or(Some(crate::policy::Tier::Restricted));
    match repo.fail_on {
        None => {}
        Some(None) => {
            if repo.fail_on_enforced {
                if out.fail_on.is_none() || platform_gate.is_some() {
                    ignored(
                        "fail-on",
                        "`enforced` fails on fewer findings than the platform's gate",
                    );
                }
            } else {
                ignored("fail-on", "`never` would let every finding through");
            }
        }
        Some(Some(tier)) => match platform_gate {
            Some(p) if tier < p => ignored(
                "fail-on",
                "it fails on fewer findings than the platform's gate",
            ),
            _ => out.fail_on = Some(Some(tier)),
        },
    }

    for kind in &repo.pod_templates {
        if !out.pod_templates.contains(kind) {
            out.pod_templates.push(kind.clone());
        }
    }

    let mut ignored_labels = Vec::new();
    for (ns, (labels, line)) in &repo.namespaces {
        let floor = out
            .namespaces
            .get(ns)
            .map(|(l, _)| l.clone())
            .unwrap_or_default();
        if crate::admission::lowers(&floor, labels) {
            ignored_labels.push(format!(
                "{file}:{line}: the labels of namespace {ns} are ignored in Argo CD: they are looser than the platform's"
            ));
        } else {
            out.namespaces.insert(ns.clone(), (labels.clone(), *line));
        }
    }

    if !repo.exemptions.is_empty() {
        ignored(
            "exemptions",
            "a repository cannot waive its own findings; ask the platform team for an entry in the mounted accepted-findings file",
        );
    }
    if repo.admission_config.is_some() {
        ignored(
            "admission-config",
            "cluster defaults come from the platform",
        );
    }
    if !repo.targets.is_empty() {
        ignored(
            "targets",
            "the plugin renders the application's directory as Argo CD does",
        );
    }
    if repo.render_timeout.is_some() {
        ignored("render-timeout", "Argo CD's timeouts bound the render");
    }
    if repo.kubernetes_version.is_some() {
        ignored(
            "kubernetes-version",
            "the version comes from the destination cluster (KUBE_VERSION)",
        );
    }
    warnings.append(&mut ignored_labels);
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Tier;

    fn config(text: &str) -> Config {
        crate::config::parse(
            &format!("version: 1\n{text}"),
            std::path::Path::new("/repo/.kpsa.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn a_repository_tightens_but_never_loosens() {
        let platform = config("level: restricted\nfail-on: restricted\n");
        let (c, w) = tighten(
            Some(platform.clone()),
            Some(&config("level: hardened\nfail-on: hardened\n")),
        );
        assert_eq!(c.level, Some(Tier::Hardened));
        assert_eq!(c.fail_on, Some(Some(Tier::Hardened)));
        assert!(w.is_empty(), "{w:?}");

        let (c, w) = tighten(
            Some(platform.clone()),
            Some(&config("level: baseline\nfail-on: never\n")),
        );
        assert_eq!(c.level, Some(Tier::Restricted));
        assert_eq!(c.fail_on, Some(Some(Tier::Restricted)));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("`level` is ignored"), "{w:?}");
        assert!(w[1].contains("`fail-on` is ignored"), "{w:?}");

        let (c, w) = tighten(Some(platform), Some(&config("fail-on: enforced\n")));
        assert_eq!(c.fail_on, Some(Some(Tier::Restricted)));
        assert!(!c.fail_on_enforced);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn waivers_and_cluster_defaults_stay_with_the_platform() {
        let repo = config(
            "exemptions:\n- check: privileged\n  reason: ours\nnamespaces:\n  shop:\n    enforce: privileged\n  other:\n    enforce: restricted\n",
        );
        let platform = config("namespaces:\n  shop:\n    enforce: baseline\n");
        let (c, w) = tighten(Some(platform), Some(&repo));
        assert!(c.exemptions.is_empty());
        assert_eq!(c.namespaces["shop"].0["enforce"], "baseline");
        assert_eq!(c.namespaces["other"].0["enforce"], "restricted");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w.iter().any(|w| w.contains("`exemptions` is ignored")));
        assert!(w.iter().any(|w| w.contains("namespace shop are ignored")));
    }

    #[test]
    fn no_platform_policy_is_the_defaults_tightened() {
        let (c, w) = tighten(None, Some(&config("fail-on: baseline\n")));
        assert_eq!(c.fail_on, None, "baseline is looser than the default gate");
        assert_eq!(w.len(), 1);
    }
}
