//! What Argo CD tells a config-management plugin, read into one value.
//!
//! The repo server runs `generate` in the application's source directory
//! with the build environment (`ARGOCD_APP_NAME`, `ARGOCD_APP_NAMESPACE`,
//! `ARGOCD_APP_REVISION`, `ARGOCD_APP_SOURCE_PATH`, `KUBE_VERSION`,
//! `KUBE_API_VERSIONS`), the Application's `spec.source.plugin.env` as
//! `ARGOCD_ENV_*`, its parameters as `ARGOCD_APP_PARAMETERS` (JSON) and
//! `PARAM_*`, and `ARGOCD_EXEC_TIMEOUT`
//! (`argoproj/argo-cd:reposerver/repository/repository.go`, `newEnv`,
//! `getPluginEnvs`; `docs/operator-manual/config-management-plugins.md`).
//!
//! The Application spec is written by application teams, so it is as
//! untrusted as the repository: kpsa reads a fixed list of settings from
//! it and refuses any other `ARGOCD_ENV_KPSA_*` key or parameter, so a
//! typo or a setting from a newer kpsa is an error, never silently ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::policy::{Version, VersionSpec};

/// The `ARGOCD_ENV_KPSA_*` keys an Application may set (after the prefix).
pub const ENV_KEYS: [(&str, &str); 3] = [
    (
        "KPSA_VALUES",
        "comma-separated Helm values files, relative to the application directory",
    ),
    (
        "KPSA_SET",
        "Helm --set entries (`a=1,b.c=x`, as helm parses them)",
    ),
    (
        "KPSA_PRESYNC_HOOK",
        "`true` appends the PreSync hook that checks the live cluster (`false` by default)",
    ),
];

/// The plugin parameters (`spec.source.plugin.parameters`) an Application
/// may set: the same settings as parameters, as `plugin.yaml` announces them.
pub const PARAMETERS: [&str; 3] = ["kpsa-values", "kpsa-set", "kpsa-presync-hook"];

/// Argo CD's default `ARGOCD_EXEC_TIMEOUT`.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(90);

/// The Kubernetes version of the destination cluster, as Argo CD gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    /// As given (`1.30.2`, `v1.30.2+k3s1`): Helm's `--kube-version`.
    pub raw: String,
    /// The policy version its minor maps to (clamped to the newest known).
    pub policy: Version,
}

/// One application's render request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEnv {
    pub name: String,
    /// The destination namespace (objects without one land there).
    pub namespace: String,
    pub revision: Option<String>,
    /// The application's path inside the repository (`""` for the root).
    pub source_path: String,
    pub kube_version: Option<KubeVersion>,
    pub api_versions: Vec<String>,
    /// Values files, relative to the application directory.
    pub values: Vec<String>,
    /// `--set` entries.
    pub set: Vec<String>,
    pub presync_hook: bool,
    /// `ARGOCD_EXEC_TIMEOUT`, or its default.
    pub exec_timeout: Duration,
    pub warnings: Vec<String>,
}

fn get<'a>(vars: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    vars.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Read the environment of one `generate` call.
pub fn read(vars: &BTreeMap<String, String>) -> Result<AppEnv, String> {
    let name = get(vars, "ARGOCD_APP_NAME")
        .ok_or("ARGOCD_APP_NAME is not set: `kpsa argocd generate` runs as the generate command of a config-management plugin, where Argo CD sets it")?
        .to_string();
    let namespace = get(vars, "ARGOCD_APP_NAMESPACE")
        .ok_or("ARGOCD_APP_NAMESPACE is not set (the application's destination namespace)")?
        .to_string();
    if let Some(why) = crate::config::dns1123_label_error(&namespace) {
        return Err(format!(
            "ARGOCD_APP_NAMESPACE {namespace:?} is not a namespace: {why}"
        ));
    }
    let mut warnings = Vec::new();
    let kube_version = match get(vars, "KUBE_VERSION") {
        None => None,
        Some(raw) => {
            let (policy, warning) = kube_version(raw)?;
            warnings.extend(warning);
            Some(KubeVersion {
                raw: raw.to_string(),
                policy,
            })
        }
    };
    let api_versions = get(vars, "KUBE_API_VERSIONS")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let exec_timeout = match get(vars, "ARGOCD_EXEC_TIMEOUT") {
        None => DEFAULT_EXEC_TIMEOUT,
        Some(t) => go_duration(t)
            .map_err(|e| format!("ARGOCD_EXEC_TIMEOUT {t:?} is not a duration: {e}"))?,
    };

    // Settings: ARGOCD_ENV_KPSA_* …
    let mut settings: BTreeMap<&str, String> = BTreeMap::new();
    for (key, value) in vars {
        let Some(k) = key.strip_prefix("ARGOCD_ENV_") else {
            continue;
        };
        if !k.starts_with("KPSA_") {
            continue;
        }
        match ENV_KEYS.iter().find(|(known, _)| *known == k) {
            Some((known, _)) => {
                settings.insert(known, value.clone());
            }
            None => {
                return Err(format!(
                    "ARGOCD_ENV_{k} is not a kpsa plugin setting; the settings are {}",
                    ENV_KEYS
                        .iter()
                        .map(|(k, _)| format!("ARGOCD_ENV_{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    // … and the same settings as parameters.
    let mut values: Vec<String> = split_list(settings.get("KPSA_VALUES"));
    let mut set: Vec<String> = settings
        .get("KPSA_SET")
        .filter(|s| !s.trim().is_empty())
        .map(|s| vec![s.trim().to_string()])
        .unwrap_or_default();
    let mut hook_text = settings.get("KPSA_PRESYNC_HOOK").cloned();
    if let Some(json) = get(vars, "ARGOCD_APP_PARAMETERS") {
        let params: Vec<Parameter> = serde_json::from_str(json)
            .map_err(|e| format!("ARGOCD_APP_PARAMETERS is not Argo CD's parameter list: {e}"))?;
        for p in params {
            let both = |env: &str| {
                format!(
                    "the parameter {} and ARGOCD_ENV_{env} are both set; use one",
                    p.name
                )
            };
            match p.name.as_str() {
                "kpsa-values" => {
                    if settings.contains_key("KPSA_VALUES") {
                        return Err(both("KPSA_VALUES"));
                    }
                    values = match (p.array, p.string) {
                        (Some(a), _) => a,
                        (None, Some(s)) => split_list(Some(&s)),
                        (None, None) => Vec::new(),
                    };
                }
                "kpsa-set" => {
                    if settings.contains_key("KPSA_SET") {
                        return Err(both("KPSA_SET"));
                    }
                    set = match (p.map, p.array, p.string) {
                        (Some(m), _, _) => m.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
                        (None, Some(a), _) => a,
                        (None, None, Some(s)) => vec![s],
                        _ => Vec::new(),
                    };
                }
                "kpsa-presync-hook" => {
                    if settings.contains_key("KPSA_PRESYNC_HOOK") {
                        return Err(both("KPSA_PRESYNC_HOOK"));
                    }
                    hook_text = p.string;
                }
                other => {
                    return Err(format!(
                        "the plugin parameter {other:?} is not a kpsa setting; the parameters are {}",
                        PARAMETERS.join(", ")
                    ));
                }
            }
        }
    }
    let presync_hook = match hook_text.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(format!(
                "the PreSync hook setting is {other:?}: expected `true` or `false`"
            ));
        }
    };
    for v in &values {
        if v.contains('\0') {
            return Err("a values file name holds a NUL byte".into());
        }
    }
    Ok(AppEnv {
        name,
        namespace,
        revision: get(vars, "ARGOCD_APP_REVISION").map(str::to_string),
        source_path: vars
            .get("ARGOCD_APP_SOURCE_PATH")
            .cloned()
            .unwrap_or_default(),
        kube_version,
        api_versions,
        values,
        set,
        presync_hook,
        exec_timeout,
        warnings,
    })
}

/// One entry of `ARGOCD_APP_PARAMETERS`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameter {
    name: String,
    string: Option<String>,
    array: Option<Vec<String>>,
    map: Option<BTreeMap<String, String>>,
}

fn split_list(s: Option<&String>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// The policy version of `KUBE_VERSION` ([`Version::of_release`]),
/// clamped to the newest kpsa knows, with a warning when it was.
pub fn kube_version(raw: &str) -> Result<(Version, Option<String>), String> {
    let requested = Version::of_release(raw).ok_or_else(|| {
        format!(
            "KUBE_VERSION {raw:?} is not a Kubernetes version (expected `1.30.2` or `v1.30.2+k3s1`)"
        )
    })?;
    let warning = requested
        .beyond_newest()
        .map(|w| format!("KUBE_VERSION {raw}: {w}"));
    Ok((VersionSpec::Exact(requested).resolve(), warning))
}

/// A Go `time.ParseDuration` string: `90s`, `1m30s`, `2h`, `1.5m`, `300ms`.
pub fn go_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err("empty".into());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("{:?} is not a number", &rest[..n]))?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err("a number without a unit".into()),
            u => return Err(format!("unknown unit {u:?}")),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    if !total.is_finite() || total > 1e9 {
        return Err("out of range".into());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = [
            ("ARGOCD_APP_NAME", "shop"),
            ("ARGOCD_APP_NAMESPACE", "shop-prod"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, val) in pairs {
            v.insert(k.to_string(), val.to_string());
        }
        v
    }

    #[test]
    fn kube_versions_map_to_their_minor() {
        for (raw, minor) in [
            ("1.30.2", 30),
            ("v1.30.2", 30),
            ("v1.30.2+k3s1", 30),
            ("1.29.6-eks-db838b0", 29),
            ("v1.25", 25),
            ("v1.31.0-gke.1000", 31),
        ] {
            let (v, w) = kube_version(raw).unwrap();
            assert_eq!(v, Version::v1(minor), "{raw}");
            assert!(w.is_none(), "{raw}");
        }
        let (v, w) = kube_version("1.99.0").unwrap();
        assert_eq!(v, Version::newest());
        assert!(w.unwrap().contains("evaluating v1.99 as"));
        for bad in ["2.0.0", "1", "latest", "v1.x", "", "1.100000.0"] {
            assert!(kube_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(go_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(go_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(go_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(go_duration("0").unwrap(), Duration::ZERO);
        for bad in ["90", "s", "1x", "", "-1s"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_listed_settings_are_read() {
        let e = read(&vars(&[
            ("ARGOCD_ENV_KPSA_VALUES", "values.yaml, values-prod.yaml"),
            ("ARGOCD_ENV_KPSA_SET", "image.tag=1.2,replicas=2"),
            ("ARGOCD_ENV_KPSA_PRESYNC_HOOK", "true"),
            ("ARGOCD_ENV_OTHER_TOOL", "ignored: not ours"),
            ("KUBE_VERSION", "v1.30.2+k3s1"),
            ("KUBE_API_VERSIONS", "v1,apps/v1,batch/v1"),
            ("ARGOCD_EXEC_TIMEOUT", "2m"),
        ]))
        .unwrap();
        assert_eq!(e.values, ["values.yaml", "values-prod.yaml"]);
        assert_eq!(e.set, ["image.tag=1.2,replicas=2"]);
        assert!(e.presync_hook);
        assert_eq!(e.kube_version.unwrap().policy, Version::v1(30));
        assert_eq!(e.api_versions, ["v1", "apps/v1", "batch/v1"]);
        assert_eq!(e.exec_timeout, Duration::from_secs(120));

        let err = read(&vars(&[("ARGOCD_ENV_KPSA_LEVEL", "baseline")])).unwrap_err();
        assert!(
            err.contains("ARGOCD_ENV_KPSA_LEVEL is not a kpsa plugin setting"),
            "{err}"
        );
        let err = read(&vars(&[("ARGOCD_ENV_KPSA_PRESYNC_HOOK", "yes")])).unwrap_err();
        assert!(err.contains("expected `true` or `false`"), "{err}");
    }

    #[test]
    fn parameters_are_the_same_settings() {
        let e = read(&vars(&[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"kpsa-values","array":["a.yaml","b.yaml"]},{"name":"kpsa-set","map":{"x":"1"}},{"name":"kpsa-presync-hook","string":"false"}]"#,
        )]))
        .unwrap();
        assert_eq!(e.values, ["a.yaml", "b.yaml"]);
        assert_eq!(e.set, ["x=1"]);
        assert!(!e.presync_hook);
        let err = read(&vars(&[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"kpsa-fail-on","string":"never"}]"#,
        )]))
        .unwrap_err();
        assert!(
            err.contains("\"kpsa-fail-on\" is not a kpsa setting"),
            "{err}"
        );
        let err = read(&vars(&[
            ("ARGOCD_ENV_KPSA_VALUES", "a.yaml"),
            (
                "ARGOCD_APP_PARAMETERS",
                r#"[{"name":"kpsa-values","array":["b.yaml"]}]"#,
            ),
        ]))
        .unwrap_err();
        assert!(err.contains("both set"), "{err}");
    }

    #[test]
    fn the_app_must_be_named() {
        let mut v = vars(&[]);
        v.remove("ARGOCD_APP_NAME");
        assert!(read(&v).unwrap_err().contains("ARGOCD_APP_NAME is not set"));
        let v = vars(&[("ARGOCD_APP_NAMESPACE", "Not_A_Namespace")]);
        assert!(read(&v).unwrap_err().contains("is not a namespace"));
    }
}
