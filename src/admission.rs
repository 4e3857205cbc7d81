//! Admission context: what the cluster's Pod Security Admission would do
//! with a pod spec, from the `pod-security.kubernetes.io/*` labels of its
//! namespace (a Namespace in the rendered output, or `namespaces:` in
//! `.kpsa.yaml`) and the cluster defaults and exemptions of a
//! `PodSecurityConfiguration` (`--admission-config`).
//!
//! Upstream's rules: a missing label takes the default for its mode; a bad
//! `enforce` level is evaluated as `restricted` (fail closed), a bad
//! `audit` / `warn` level as `privileged` (fail open); a bad version as
//! `latest`; an unlabelled `warn` copies a labelled `enforce` that is
//! stricter than the default warn level (and its version, unless
//! `warn-version` is set). Versions are clamped to `--kubernetes-version`.
//! Enforce applies to bare Pods only; a workload's pod template is admitted
//! (with a warning where warn catches it) and its pods are refused when
//! created.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, Node, Pos, Value};
use crate::policy::{PssLevel, Version, VersionSpec};

/// The label prefix.
pub const PREFIX: &str = "pod-security.kubernetes.io/";

/// The three admission modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Audit,
    Warn,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Enforce, Mode::Audit, Mode::Warn];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
            Mode::Warn => "warn",
        }
    }
}

/// A level and version as a label or default gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelVersion {
    pub level: PssLevel,
    pub version: VersionSpec,
}

impl Default for LevelVersion {
    fn default() -> Self {
        LevelVersion {
            level: PssLevel::Privileged,
            version: VersionSpec::Latest,
        }
    }
}

/// Cluster defaults, one per mode (privileged / latest unless configured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaults {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Defaults {
    fn get(&self, m: Mode) -> LevelVersion {
        match m {
            Mode::Enforce => self.enforce,
            Mode::Audit => self.audit,
            Mode::Warn => self.warn,
        }
    }
}

/// What a `PodSecurityConfiguration` exempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exemptions {
    pub namespaces: Vec<String>,
    pub runtime_classes: Vec<String>,
    pub usernames: Vec<String>,
}

/// One mode's effective policy for a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModePolicy {
    pub level: PssLevel,
    pub version: Version,
    /// `latest` was asked for (shown as such in messages).
    pub latest: bool,
}

impl ModePolicy {
    /// `restricted:v1.33` / `baseline:latest`.
    pub fn label(&self) -> String {
        if self.latest {
            format!("{}:latest", self.level.as_str())
        } else {
            format!("{}:{}", self.level.as_str(), self.version)
        }
    }
}

/// A namespace's effective policy, where it came from and what was wrong
/// with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePolicy {
    pub enforce: ModePolicy,
    pub audit: ModePolicy,
    pub warn: ModePolicy,
    pub source: String,
    pub problems: Vec<String>,
}

impl NamespacePolicy {
    pub fn get(&self, m: Mode) -> ModePolicy {
        match m {
            Mode::Enforce => self.enforce,
            Mode::Audit => self.audit,
            Mode::Warn => self.warn,
        }
    }
}

fn parse_level(s: &str) -> Option<PssLevel> {
    match s {
        "privileged" => Some(PssLevel::Privileged),
        "baseline" => Some(PssLevel::Baseline),
        "restricted" => Some(PssLevel::Restricted),
        _ => None,
    }
}

fn rank(l: PssLevel) -> u8 {
    match l {
        PssLevel::Privileged => 0,
        PssLevel::Baseline => 1,
        PssLevel::Restricted => 2,
    }
}

fn resolve(v: VersionSpec, ceiling: Version) -> (Version, bool) {
    match v {
        VersionSpec::Latest => (ceiling, true),
        VersionSpec::Exact(v) => (v.clamp_to(ceiling), false),
    }
}

/// The policy of a namespace from its labels (`enforce`, `enforce-version`,
/// … without the prefix), upstream's way.
pub fn policy(
    labels: &BTreeMap<String, String>,
    defaults: &Defaults,
    ceiling: Version,
    source: String,
) -> NamespacePolicy {
    let mut problems = Vec::new();
    let mut read = |m: Mode| -> (LevelVersion, bool, bool) {
        let d = defaults.get(m);
        let level_label = labels.get(m.as_str());
        let level = match level_label {
            None => d.level,
            Some(s) => parse_level(s).unwrap_or_else(|| {
                let fallback = if m == Mode::Enforce {
                    PssLevel::Restricted
                } else {
                    PssLevel::Privileged
                };
                problems.push(format!(
                    "invalid {PREFIX}{} {s:?}: evaluated as {} like the API server",
                    m.as_str(),
                    fallback.as_str()
                ));
                fallback
            }),
        };
        let version_label = labels.get(&format!("{}-version", m.as_str()));
        let version = match version_label {
            None => d.version,
            Some(s) => s.parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "invalid {PREFIX}{}-version {s:?}: evaluated as latest like the API server",
                    m.as_str()
                ));
                VersionSpec::Latest
            }),
        };
        (
            LevelVersion { level, version },
            level_label.is_some(),
            version_label.is_some(),
        )
    };
    let (enforce, enforce_labelled, _) = read(Mode::Enforce);
    let (audit, _, _) = read(Mode::Audit);
    let (mut warn, warn_labelled, warn_version_labelled) = read(Mode::Warn);
    if !warn_labelled && enforce_labelled && rank(enforce.level) > rank(defaults.warn.level) {
        warn.level = enforce.level;
        if !warn_version_labelled {
            warn.version = enforce.version;
        }
    }
    let mode = |lv: LevelVersion| {
        let (version, latest) = resolve(lv.version, ceiling);
        ModePolicy {
            level: lv.level,
            version,
            latest,
        }
    };
    NamespacePolicy {
        enforce: mode(enforce),
        audit: mode(audit),
        warn: mode(warn),
        source,
        problems,
    }
}

/// Everything known about admission in a run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Labels by namespace, and where they came from.
    pub labels: HashMap<String, (BTreeMap<String, String>, String)>,
    pub defaults: Defaults,
    pub exemptions: Exemptions,
    /// Whether a PodSecurityConfiguration was given: then unlabelled
    /// namespaces get its defaults; otherwise they have no known policy.
    pub has_defaults: bool,
    pub ceiling: Version,
}

impl Context {
    pub fn new(ceiling: Version) -> Self {
        Context {
            labels: HashMap::new(),
            defaults: Defaults::default(),
            exemptions: Exemptions::default(),
            has_defaults: false,
            ceiling,
        }
    }

    /// Whether there is anything to evaluate against.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && !self.has_defaults
    }

    /// The policy of a namespace, if one is known.
    pub fn policy_for(&self, namespace: &str) -> Option<NamespacePolicy> {
        match self.labels.get(namespace) {
            Some((labels, source)) => {
                Some(policy(labels, &self.defaults, self.ceiling, source.clone()))
            }
            None if self.has_defaults => Some(policy(
                &BTreeMap::new(),
                &self.defaults,
                self.ceiling,
                "the admission configuration's defaults".into(),
            )),
            None => None,
        }
    }
}

/// Whether `labels` set a weaker Pod Security level than `floor` for any
/// mode (enforce, audit, warn): a lower level, or no level where the floor
/// has one. Labels are written without the `pod-security.kubernetes.io/`
/// prefix; a value that is not a level counts as the admission controller
/// evaluates it (`restricted` for enforce, `privileged` for audit and warn).
pub fn lowers(floor: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    let rank = |mode: &str, v: Option<&String>| match v.map(String::as_str) {
        None | Some("privileged") => 0,
        Some("baseline") => 1,
        Some("restricted") => 2,
        Some(_) if mode == "enforce" => 2,
        Some(_) => 0,
    };
    ["enforce", "audit", "warn"]
        .iter()
        .any(|m| rank(m, labels.get(*m)) < rank(m, floor.get(*m)))
}

/// The `pod-security.kubernetes.io/*` labels of a Namespace object (prefix removed).
pub fn namespace_labels(object: &Node) -> Option<(String, BTreeMap<String, String>)> {
    let kind = object.get("kind").and_then(Node::scalar_text)?;
    let api = object.get("apiVersion").and_then(Node::scalar_text)?;
    if kind != "Namespace" || api != "v1" {
        return None;
    }
    let name = object
        .path(&["metadata", "name"])
        .and_then(Node::scalar_text)?
        .to_string();
    let mut labels = BTreeMap::new();
    for e in object
        .path(&["metadata", "labels"])
        .map(Node::entries)
        .unwrap_or_default()
    {
        if let Some(k) = e.key.strip_prefix(PREFIX) {
            if let Some(v) = e.value.scalar_text() {
                labels.insert(k.to_string(), v.to_string());
            }
        }
    }
    Some((name, labels))
}

/// An admission configuration that could not be read: file, line and what.
pub type ConfigError = crate::config::ConfigError;

const PSC_GROUP: &str = "pod-security.admission.config.k8s.io/";

/// Read a `PodSecurityConfiguration`, bare or inside an
/// `apiserver.config.k8s.io/v1` `AdmissionConfiguration` (inline or by
/// `path`). Strict like the API server: unknown fields are errors. Returns
/// the defaults, the exemptions and warnings.
pub fn load_config(file: &Path) -> Result<(Defaults, Exemptions, Vec<String>), ConfigError> {
    let err = |pos: Option<Pos>, message: String| ConfigError {
        file: file.to_path_buf(),
        pos,
        message,
        hint: None,
    };
    let text = std::fs::read_to_string(file).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let docs = parse_documents(&text, 1, Limits::default())
        .map_err(|e| err(Some(e.pos), format!("invalid YAML: {}", e.message)))?;
    let Some(root) = docs.into_iter().next() else {
        // An empty file is all defaults.
        return Ok((Defaults::default(), Exemptions::default(), Vec::new()));
    };
    let kind = root.get("kind").and_then(Node::scalar_text).unwrap_or("");
    let api = root
        .get("apiVersion")
        .and_then(Node::scalar_text)
        .unwrap_or("");
    match kind {
        "PodSecurityConfiguration" => psc(&root, file),
        "AdmissionConfiguration" => {
            if !api.starts_with("apiserver.config.k8s.io/") {
                return Err(err(
                    Some(root.pos),
                    format!(
                        "AdmissionConfiguration must be apiserver.config.k8s.io/v1, not {api:?}"
                    ),
                ));
            }
            let plugin = root
                .get("plugins")
                .map(Node::items)
                .unwrap_or_default()
                .iter()
                .find(|p| p.get("name").and_then(Node::scalar_text) == Some("PodSecurity"))
                .ok_or_else(|| {
                    err(
                        Some(root.pos),
                        "the AdmissionConfiguration has no PodSecurity plugin".into(),
                    )
                })?;
            if let Some(c) = plugin.get("configuration") {
                return psc(c, file);
            }
            if let Some(p) = plugin.get("path").and_then(Node::scalar_text) {
                let path = file.parent().unwrap_or(Path::new(".")).join(p);
                return load_config(&path);
            }
            Err(err(
                Some(plugin.pos),
                "the PodSecurity plugin has neither `configuration` nor `path`".into(),
            ))
        }
        _ => Err(err(
            Some(root.pos),
            format!(
                "expected kind PodSecurityConfiguration or AdmissionConfiguration, found {kind:?}"
            ),
        )),
    }
}

fn psc(node: &Node, file: &Path) -> Result<(Defaults, Exemptions, Vec<String>), ConfigError> {
    let err = |pos: Pos, message: String| ConfigError {
        file: file.to_path_buf(),
        pos: Some(pos),
        message,
        hint: None,
    };
    let api = node
        .get("apiVersion")
        .and_then(Node::scalar_text)
        .unwrap_or("");
    let version = api.strip_prefix(PSC_GROUP).unwrap_or("");
    if !matches!(version, "v1" | "v1beta1" | "v1alpha1") {
        return Err(err(
            node.pos,
            format!(
                "PodSecurityConfiguration apiVersion must be {PSC_GROUP}v1, v1beta1 or v1alpha1, not {api:?}"
            ),
        ));
    }
    let known = |n: &Node, keys: &[&str], what: &str| -> Result<(), ConfigError> {
        if let Value::Map(entries) = &n.value {
            for e in entries {
                if !keys.contains(&e.key.as_str()) {
                    return Err(err(
                        e.value.pos,
                        format!(
                            "unknown field {:?} in {what} (known: {})",
                            e.key,
                            keys.join(", ")
                        ),
                    ));
                }
            }
            Ok(())
        } else {
            Err(err(n.pos, format!("{what} must be a mapping")))
        }
    };
    known(
        node,
        &["apiVersion", "kind", "defaults", "exemptions"],
        "PodSecurityConfiguration",
    )?;
    let mut defaults = Defaults::default();
    if let Some(d) = node.get("defaults") {
        known(
            d,
            &[
                "enforce",
                "enforce-version",
                "audit",
                "audit-version",
                "warn",
                "warn-version",
            ],
            "defaults",
        )?;
        for m in Mode::ALL {
            let mut lv = defaults.get(m);
            if let Some(l) = d.get(m.as_str()) {
                let s = l.scalar_text().unwrap_or("");
                lv.level = parse_level(s).ok_or_else(|| {
                    err(
                        l.pos,
                        format!(
                            "defaults.{}: {s:?} is not privileged, baseline or restricted",
                            m.as_str()
                        ),
                    )
                })?;
            }
            if let Some(v) = d.get(&format!("{}-version", m.as_str())) {
                let s = v.scalar_text().unwrap_or("");
                lv.version = s.parse().map_err(|e: String| {
                    err(v.pos, format!("defaults.{}-version: {e}", m.as_str()))
                })?;
            }
            match m {
                Mode::Enforce => defaults.enforce = lv,
                Mode::Audit => defaults.audit = lv,
                Mode::Warn => defaults.warn = lv,
            }
        }
    }
    let mut ex = Exemptions::default();
    let mut warnings = Vec::new();
    if let Some(e) = node.get("exemptions") {
        known(
            e,
            &["usernames", "runtimeClasses", "namespaces"],
            "exemptions",
        )?;
        let list = |key: &str| -> Result<Vec<String>, ConfigError> {
            let mut out: Vec<String> = Vec::new();
            for item in e.get(key).map(Node::items).unwrap_or_default() {
                let s = item
                    .scalar_text()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        err(
                            item.pos,
                            format!("exemptions.{key}: entries must be non-empty strings"),
                        )
                    })?;
                if out.iter().any(|o| o == s) {
                    return Err(err(
                        item.pos,
                        format!("exemptions.{key}: {s:?} is listed twice"),
                    ));
                }
                out.push(s.to_string());
            }
            Ok(out)
        };
        ex.namespaces = list("namespaces")?;
        ex.runtime_classes = list("runtimeClasses")?;
        ex.usernames = list("usernames")?;
        if !ex.usernames.is_empty() {
            warnings.push(format!(
                "{}: exemptions.usernames ({}) are ignored: the requesting user is not known before admission",
                file.display(),
                ex.usernames.join(", ")
            ));
        }
    }
    Ok((defaults, ex, warnings))
}

/// What admission would do with one finding's pod spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Outcome {
    pub namespace: String,
    /// What enforce does, e.g. `rejected at admission (enforce restricted:v1.33)`.
    pub enforce: Option<String>,
    pub audit: Option<String>,
    pub warn: Option<String>,
    /// Enforce refuses it: the bare Pod at admission, or a template's pods
    /// when they are created.
    pub refused: bool,
    /// `namespace` or `runtimeClass` exemption.
    pub exempt: Option<String>,
    /// Where the namespace's policy came from.
    pub source: String,
    /// Invalid labels, evaluated as upstream does.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
}

impl Outcome {
    /// One line for people.
    pub fn describe(&self) -> String {
        if let Some(e) = &self.exempt {
            return format!(
                "namespace {}: exempt from Pod Security Admission ({e})",
                self.namespace
            );
        }
        let parts: Vec<&str> = [&self.enforce, &self.warn, &self.audit]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if parts.is_empty() {
            format!("namespace {}: admitted ({})", self.namespace, self.source)
        } else {
            format!(
                "namespace {}: {} ({})",
                self.namespace,
                parts.join("; "),
                self.source
            )
        }
    }
}

/// Admission's view of one pod spec: its namespace's policy and the checks
/// each mode would object to.
#[derive(Debug, Clone)]
pub struct PodAdmission {
    pub namespace: String,
    pub policy: NamespacePolicy,
    pub exempt: Option<String>,
    pub is_pod: bool,
    /// Per mode that is not privileged: its policy and the failing checks.
    pub failing: Vec<(Mode, ModePolicy, Vec<&'static str>)>,
}

/// Evaluate a pod spec at its namespace's enforce, audit and warn levels
/// and versions (reusing `main` where the version is the same).
pub fn assess(
    ctx: &Context,
    namespace: &str,
    view: &crate::manifest::PodView,
    main: &crate::policy::Evaluation,
    pctx: &crate::policy::Context,
) -> Option<PodAdmission> {
    let policy = ctx.policy_for(namespace)?;
    let runtime_class = view
        .spec
        .get("runtimeClassName")
        .and_then(Node::scalar_text);
    let exempt = if ctx.exemptions.namespaces.iter().any(|n| n == namespace) {
        Some(format!("namespace {namespace} is exempt"))
    } else {
        runtime_class
            .filter(|rc| ctx.exemptions.runtime_classes.iter().any(|e| e == rc))
            .map(|rc| format!("runtimeClass {rc} is exempt"))
    };
    let mut failing = Vec::new();
    if exempt.is_none() {
        for m in Mode::ALL {
            let p = policy.get(m);
            if p.level == PssLevel::Privileged {
                continue;
            }
            let other;
            let e = if p.version == main.version {
                main
            } else {
                other = crate::policy::evaluate(view, p.version, pctx);
                &other
            };
            let active = crate::policy::registry::active_ids(p.level, p.version);
            let ids: Vec<&'static str> = e
                .failures
                .iter()
                .map(|f| f.check.id)
                .filter(|id| active.contains(id))
                .collect();
            failing.push((m, p, ids));
        }
    }
    Some(PodAdmission {
        namespace: namespace.to_string(),
        policy,
        exempt,
        is_pod: view.is_pod,
        failing,
    })
}

impl PodAdmission {
    /// What admission does because of one check (a finding's), or because
    /// of any check (`None`: the pod spec as a whole).
    pub fn outcome(&self, check: Option<&str>) -> Outcome {
        let mut out = Outcome {
            namespace: self.namespace.clone(),
            enforce: None,
            audit: None,
            warn: None,
            refused: false,
            exempt: self.exempt.clone(),
            source: self.policy.source.clone(),
            problems: self.policy.problems.clone(),
        };
        for (m, p, ids) in &self.failing {
            let hit = match check {
                None => !ids.is_empty(),
                Some(c) => covers(ids, c, p.version),
            };
            if !hit {
                continue;
            }
            let text = Some(mode_text(*m, p, self.is_pod));
            match m {
                Mode::Enforce => {
                    out.enforce = text;
                    out.refused = true;
                }
                Mode::Audit => out.audit = text,
                Mode::Warn => out.warn = text,
            }
        }
        out
    }
}

/// Whether a failing check set objects to `check`: it fails itself, or a
/// failing check overrides it at this version (`capabilities_restricted`
/// over `capabilities_baseline`).
fn covers(failing: &[&str], check: &str, version: Version) -> bool {
    failing.contains(&check)
        || failing.iter().any(|id| {
            crate::policy::registry::find(id)
                .and_then(|c| c.variant_at(version))
                .is_some_and(|v| v.overrides.contains(&check))
        })
}

/// The words for one mode that objects to a pod spec.
pub fn mode_text(m: Mode, p: &ModePolicy, is_pod: bool) -> String {
    let label = p.label();
    match (m, is_pod) {
        (Mode::Enforce, true) => format!("rejected at admission (enforce {label})"),
        (Mode::Enforce, false) => format!(
            "the workload is admitted, but its pods are refused when they are created (enforce {label})"
        ),
        (Mode::Warn, _) => format!("the API server returns a warning (warn {label})"),
        (Mode::Audit, _) => format!("recorded in the audit log (audit {label})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn upstream_label_rules() {
        let d = Defaults::default();
        let ceiling = Version::v1(37);
        let p = policy(
            &labels(&[("enforce", "restricted"), ("enforce-version", "v1.30")]),
            &d,
            ceiling,
            "t".into(),
        );
        assert_eq!(p.enforce.label(), "restricted:v1.30");
        // warn copies a stricter enforce, with its version.
        assert_eq!(p.warn.label(), "restricted:v1.30");
        assert_eq!(p.audit.label(), "privileged:latest");
        // Invalid values: enforce fails closed, audit/warn open, version latest.
        let p = policy(
            &labels(&[
                ("enforce", "strict"),
                ("audit", "loose"),
                ("warn-version", "1.30"),
            ]),
            &d,
            ceiling,
            "t".into(),
        );
        assert_eq!(p.enforce.level, PssLevel::Restricted);
        assert_eq!(p.audit.level, PssLevel::Privileged);
        assert!(p.warn.latest);
        assert_eq!(p.problems.len(), 3);
        // Versions above --kubernetes-version are clamped to it.
        let p = policy(
            &labels(&[("enforce", "baseline"), ("enforce-version", "v1.36")]),
            &d,
            Version::v1(30),
            "t".into(),
        );
        assert_eq!(p.enforce.version, Version::v1(30));
        let p = policy(
            &labels(&[("enforce", "baseline")]),
            &d,
            Version::v1(30),
            "t".into(),
        );
        assert_eq!(
            (p.enforce.version, p.enforce.latest),
            (Version::v1(30), true)
        );
        // A labelled warn wins.
        let p = policy(
            &labels(&[("enforce", "restricted"), ("warn", "baseline")]),
            &d,
            ceiling,
            "t".into(),
        );
        assert_eq!(p.warn.level, PssLevel::Baseline);
    }
}
