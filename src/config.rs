//! `.kpsa.yaml`: what to render and how to judge it.
//!
//! The file is read with kpsa's own position-aware YAML reader, so every
//! error names the file, line and column, and unknown keys get a "did you
//! mean" hint. Paths in the file are relative to the file's directory.
//! The contract is documented in `docs/config.md` and
//! `docs/kpsa-config.schema.json`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, Node, PodTemplateKind, Pos, Value};
use crate::policy::{Tier, VersionSpec};

/// The file name searched for.
pub const FILE_NAME: &str = ".kpsa.yaml";

/// The settings of one `.kpsa.yaml`. `None` means "not set here".
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    pub level: Option<Tier>,
    pub kubernetes_version: Option<VersionSpec>,
    /// `Some(None)` is `fail-on: never` (or `enforced`, with `fail_on_enforced`).
    pub fail_on: Option<Option<Tier>>,
    /// `fail-on: enforced`.
    pub fail_on_enforced: bool,
    pub render_timeout: Option<Duration>,
    pub jobs: Option<usize>,
    pub targets: Vec<TargetSpec>,
    pub pod_templates: Vec<PodTemplateKind>,
    /// Pod Security labels of namespaces that live elsewhere (keys without
    /// the `pod-security.kubernetes.io/` prefix), with the line they are on.
    pub namespaces:
        std::collections::BTreeMap<String, (std::collections::BTreeMap<String, String>, u32)>,
    /// A `PodSecurityConfiguration` for cluster defaults and exemptions.
    pub admission_config: Option<PathBuf>,
    /// Accepted findings, by pattern.
    pub exemptions: Vec<Exemption>,
}

/// An exemption: findings it matches are suppressed (with its reason,
/// until its expiry). Unset patterns match everything; patterns are globs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exemption {
    pub target: Option<String>,
    pub namespace: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub container: Option<String>,
    pub check: Option<String>,
    pub reason: Option<String>,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub until: Option<String>,
    /// Where it is, for messages.
    pub line: u32,
}

/// A target as written in the config; paths are already joined to the
/// config file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub name: Option<String>,
    /// The line of the target in the config, for `kpsa targets`.
    pub line: u32,
    pub source: SourceSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Helm(HelmSpec),
    Kustomize { path: PathBuf },
    Manifests { paths: Vec<String> },
}

/// A Helm release: everything `helm template` is told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmSpec {
    pub chart: PathBuf,
    pub values: Vec<PathBuf>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub release: Option<String>,
    pub namespace: Option<String>,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    pub include_crds: bool,
}

/// A configuration error, with where and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.pos {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Find `.kpsa.yaml` from `start` upward, stopping at the repository root
/// (the first directory holding `.git`). Outside a repository only `start`
/// itself is searched.
pub fn find(start: &Path, repo_root: Option<&Path>) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        match repo_root {
            Some(root) if d != root && d.starts_with(root) => dir = d.parent(),
            _ => return None,
        }
    }
    None
}

/// Read and check a config file.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
        file: file.to_path_buf(),
        pos: None,
        message: format!("cannot read: {e}"),
        hint: None,
    })?;
    parse(&text, file)
}

/// Check config text; `file` names it in errors and anchors relative paths.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let r = Reader { file };
    let docs = parse_documents(text, 1, Limits::default()).map_err(|e| ConfigError {
        file: file.to_path_buf(),
        pos: Some(e.pos),
        message: format!("invalid YAML: {}", e.message),
        hint: None,
    })?;
    let root = match docs.as_slice() {
        [root] => root,
        [] => return Err(r.err(None, "the file is empty", Some(MINIMAL))),
        [_, second, ..] => {
            return Err(r.err(Some(second.pos), "a config holds one YAML document", None));
        }
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut config = Config {
        file: file.to_path_buf(),
        ..Config::default()
    };
    let entries = r.map(root, "the config")?;
    for e in entries {
        if let Some(flag) = REMOVED_PROGRAM_KEYS
            .iter()
            .find(|(k, _)| *k == e.key)
            .map(|(_, f)| f)
        {
            return Err(r.err(
                Some(e.value.pos),
                &format!(
                    "`{}` is no longer read from the config: a repository must not name the programs kpsa runs",
                    e.key
                ),
                Some(flag),
            ));
        }
    }
    r.known_keys(
        entries,
        "the config",
        &[
            "version",
            "level",
            "kubernetes-version",
            "fail-on",
            "render-timeout",
            "jobs",
            "targets",
            "pod-templates",
            "namespaces",
            "admission-config",
            "exemptions",
        ],
    )?;
    match root.get("version") {
        None => return Err(r.err(Some(root.pos), "`version` is missing", Some(MINIMAL))),
        Some(v) if v.scalar_text() == Some("1") => {}
        Some(v) => {
            return Err(r.err(
                Some(v.pos),
                &format!("unsupported config version {}", v.describe()),
                Some("this kpsa reads `version: 1`"),
            ));
        }
    }
    for e in entries {
        let v = &e.value;
        match e.key.as_str() {
            "level" => config.level = Some(r.tier(v, "level", false)?.expect("not never")),
            "fail-on" => {
                if v.scalar_text() == Some("enforced") {
                    config.fail_on = Some(None);
                    config.fail_on_enforced = true;
                } else {
                    config.fail_on = Some(r.tier(v, "fail-on", true)?);
                }
            }
            "admission-config" => {
                config.admission_config = Some(dir.join(r.string(v, "admission-config")?))
            }
            "namespaces" => {
                for e in r.map(v, "namespaces")? {
                    let entries = r.map(&e.value, "namespaces.<name>")?;
                    r.known_keys(
                        entries,
                        "a namespace",
                        &[
                            "enforce",
                            "enforce-version",
                            "audit",
                            "audit-version",
                            "warn",
                            "warn-version",
                        ],
                    )?;
                    let mut labels = std::collections::BTreeMap::new();
                    for l in entries {
                        labels.insert(l.key.clone(), r.string(&l.value, &l.key)?);
                    }
                    config
                        .namespaces
                        .insert(e.key.clone(), (labels, e.value.pos.line));
                }
            }
            "exemptions" => {
                for item in r.seq(v, "exemptions")? {
                    config.exemptions.push(r.exemption(item)?);
                }
            }
            "kubernetes-version" => {
                let s = r.string(v, "kubernetes-version")?;
                config.kubernetes_version = Some(s.parse().map_err(|m: String| {
                    r.err(
                        Some(v.pos),
                        &m,
                        Some("for example `kubernetes-version: v1.33`"),
                    )
                })?);
            }
            "render-timeout" => {
                let secs = r.bounded(
                    v,
                    "render-timeout",
                    MAX_RENDER_TIMEOUT_SECS,
                    "seconds (1 hour)",
                )?;
                config.render_timeout = Some(Duration::from_secs(secs));
            }
            "jobs" => {
                config.jobs =
                    Some(r.bounded(v, "jobs", max_jobs() as u64, "(4 × the cores)")? as usize)
            }
            "targets" => {
                for item in r.seq(v, "targets")? {
                    config.targets.push(r.target(item, dir)?);
                }
            }
            "pod-templates" => {
                for item in r.seq(v, "pod-templates")? {
                    config.pod_templates.push(r.pod_template(item)?);
                }
            }
            _ => {}
        }
    }
    let mut names = std::collections::HashMap::new();
    for t in &config.targets {
        if let Some(name) = &t.name {
            if let Some(first) = names.insert(name.clone(), t.line) {
                return Err(r.err(
                    Some(Pos {
                        line: t.line,
                        column: 1,
                    }),
                    &format!("target name {name:?} is used twice (first at line {first})"),
                    Some("target names are the targets' identity; make them unique"),
                ));
            }
        }
    }
    Ok(config)
}

/// Config keys that named programs, and what to use instead.
const REMOVED_PROGRAM_KEYS: [(&str, &str); 2] = [
    (
        "helm",
        "pass `--helm PATH` or set KPSA_HELM in the CI job (else `helm` on PATH); see docs/security.md",
    ),
    (
        "kustomize",
        "pass `--kustomize PATH` or set KPSA_KUSTOMIZE in the CI job (else `kustomize`/`kubectl` on PATH); see docs/security.md",
    ),
];

/// The longest `render-timeout` a config (or flag) may ask for.
pub const MAX_RENDER_TIMEOUT_SECS: u64 = 3600;

/// The most worker threads a config (or flag) may ask for: 4 × the cores.
pub fn max_jobs() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Why `name` is not a DNS-1123 label (lower-case alphanumerics and `-`,
/// starting and ending alphanumeric, at most 63 characters): the rule for
/// namespaces.
pub fn dns1123_label_error(name: &str) -> Option<String> {
    dns1123_error(name, 63, false)
}

/// Why `name` is not a Helm release name: a DNS-1123 subdomain (labels of
/// lower-case alphanumerics and `-`, joined by `.`) of at most 53
/// characters, as `helm install` checks it.
pub fn release_name_error(name: &str) -> Option<String> {
    dns1123_error(name, 53, true)
}

fn dns1123_error(name: &str, max: usize, dots: bool) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > max {
        return Some(format!("it is longer than {max} characters"));
    }
    let labels: Vec<&str> = if dots {
        name.split('.').collect()
    } else {
        vec![name]
    };
    for l in labels {
        let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        if l.is_empty()
            || !l.chars().all(|c| alnum(c) || c == '-')
            || !l.starts_with(alnum)
            || !l.ends_with(alnum)
        {
            return Some(format!(
                "it must consist of lower-case letters, digits and `-`{}, start and end with a letter or digit",
                if dots { " (and `.` between parts)" } else { "" }
            ));
        }
    }
    None
}

/// Check that every path the config names stays inside the repository at
/// `root`: lexically (no `..` out of it, no absolute path elsewhere) and, for
/// paths that exist on disk, after resolving symlinks. A path into `.git`
/// is outside too. The repository under review must not make kpsa read
/// anything else (Argo CD's CVE-2022-24348 is this class of bug).
pub fn confine(config: &Config, root: &Path) -> Result<(), ConfigError> {
    let dir = config.file.parent().unwrap_or(root);
    let mut paths: Vec<(u32, &str, PathBuf)> = Vec::new();
    if let Some(a) = &config.admission_config {
        paths.push((0, "admission-config", a.clone()));
    }
    for t in &config.targets {
        match &t.source {
            SourceSpec::Helm(h) => {
                paths.push((t.line, "helm.chart", h.chart.clone()));
                for v in &h.values {
                    paths.push((t.line, "helm.values", v.clone()));
                }
            }
            SourceSpec::Kustomize { path } => paths.push((t.line, "kustomize.path", path.clone())),
            SourceSpec::Manifests { paths: globs } => {
                for g in globs {
                    paths.push((t.line, "manifests.paths", dir.join(g)));
                }
            }
        }
    }
    for (line, what, p) in paths {
        if let Some(why) = outside(root, &p) {
            return Err(ConfigError {
                file: config.file.clone(),
                pos: (line > 0).then_some(Pos { line, column: 1 }),
                message: format!("`{what}` {} {why}", p.display()),
                hint: Some(
                    "paths in the config must stay inside the repository; a file outside it can only be \
                     named on kpsa's own command line"
                        .into(),
                ),
            });
        }
    }
    Ok(())
}

/// Why `path` is not inside the repository at `root`, if it is not.
pub fn outside(root: &Path, path: &Path) -> Option<String> {
    let lexical = crate::plan::normalize(path);
    let git = root.join(".git");
    if !lexical.starts_with(root) {
        return Some("leaves the repository".into());
    }
    if lexical.starts_with(&git) {
        return Some("is inside .git".into());
    }
    // Resolve symlinks as far as the path exists on disk.
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut existing = lexical.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(p) => existing = p,
            None => return None,
        }
    }
    let real = std::fs::canonicalize(existing).ok()?;
    if !real.starts_with(&real_root) {
        return Some(format!(
            "leaves the repository through a symlink (to {})",
            real.display()
        ));
    }
    if real.starts_with(real_root.join(".git")) {
        return Some("reaches .git through a symlink".into());
    }
    None
}

const MINIMAL: &str = "a minimal config is `version: 1`; see docs/config.md";

struct Reader<'a> {
    file: &'a Path,
}

impl Reader<'_> {
    fn err(&self, pos: Option<Pos>, message: &str, hint: Option<&str>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            pos,
            message: message.to_string(),
            hint: hint.map(str::to_string),
        }
    }

    fn wrong_type(&self, node: &Node, what: &str, expected: &str) -> ConfigError {
        self.err(
            Some(node.pos),
            &format!("`{what}` must be {expected}, found {}", node.describe()),
            None,
        )
    }

    fn map<'n>(
        &self,
        node: &'n Node,
        what: &str,
    ) -> Result<&'n [crate::manifest::Entry], ConfigError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            _ => Err(self.wrong_type(node, what, "a mapping")),
        }
    }

    fn seq<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node], ConfigError> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            _ => Err(self.wrong_type(node, what, "a list")),
        }
    }

    fn string(&self, node: &Node, what: &str) -> Result<String, ConfigError> {
        match &node.value {
            Value::Scalar(s) if !node.is_null() => Ok(s.text.clone()),
            _ => Err(self.wrong_type(node, what, "a string")),
        }
    }

    fn strings(&self, node: &Node, what: &str) -> Result<Vec<String>, ConfigError> {
        self.seq(node, what)?
            .iter()
            .map(|n| self.string(n, what))
            .collect()
    }

    fn bool(&self, node: &Node, what: &str) -> Result<bool, ConfigError> {
        match node.as_bool() {
            Ok(Some(b)) => Ok(b),
            _ => Err(self.wrong_type(node, what, "true or false")),
        }
    }

    fn positive(&self, node: &Node, what: &str) -> Result<u64, ConfigError> {
        match node.as_int() {
            Ok(Some(n)) if n > 0 => Ok(n as u64),
            _ => Err(self.wrong_type(node, what, "a positive whole number")),
        }
    }

    /// A string that must pass `rule` (a DNS-1123 name), else an error.
    fn dns_name(
        &self,
        node: &Node,
        what: &str,
        rule: fn(&str) -> Option<String>,
        expected: &str,
        hint: &str,
    ) -> Result<String, ConfigError> {
        let name = self.string(node, what)?;
        match rule(&name) {
            Some(why) => Err(self.err(
                Some(node.pos),
                &format!("`{what}` {name:?} is not {expected}: {why}"),
                Some(hint),
            )),
            None => Ok(name),
        }
    }

    fn bounded(&self, node: &Node, what: &str, max: u64, unit: &str) -> Result<u64, ConfigError> {
        let n = self.positive(node, what)?;
        if n > max {
            return Err(self.err(
                Some(node.pos),
                &format!("`{what}` is {n}; at most {max} {unit} is allowed"),
                None,
            ));
        }
        Ok(n)
    }

    fn tier(&self, node: &Node, what: &str, never: bool) -> Result<Option<Tier>, ConfigError> {
        let s = self.string(node, what)?;
        match s.as_str() {
            "baseline" => Ok(Some(Tier::Baseline)),
            "restricted" => Ok(Some(Tier::Restricted)),
            "hardened" => Ok(Some(Tier::Hardened)),
            "never" if never => Ok(None),
            _ => Err(self.err(
                Some(node.pos),
                &format!("`{what}` cannot be {s:?}"),
                Some(if never {
                    "one of baseline, restricted, hardened, enforced, never"
                } else {
                    "one of baseline, restricted, hardened"
                }),
            )),
        }
    }

    fn known_keys(
        &self,
        entries: &[crate::manifest::Entry],
        what: &str,
        known: &[&str],
    ) -> Result<(), ConfigError> {
        for e in entries {
            if !known.contains(&e.key.as_str()) {
                let hint = match closest(&e.key, known) {
                    Some(k) => format!("did you mean `{k}`? known keys: {}", known.join(", ")),
                    None => format!("known keys: {}", known.join(", ")),
                };
                return Err(self.err(
                    Some(e.value.pos),
                    &format!("unknown key `{}` in {what}", e.key),
                    Some(&hint),
                ));
            }
        }
        Ok(())
    }

    fn target(&self, node: &Node, dir: &Path) -> Result<TargetSpec, ConfigError> {
        let entries = self.map(node, "targets[]")?;
        self.known_keys(
            entries,
            "a target",
            &["name", "helm", "kustomize", "manifests"],
        )?;
        let name = node
            .get("name")
            .map(|n| self.string(n, "name"))
            .transpose()?;
        let kinds: Vec<&crate::manifest::Entry> = entries
            .iter()
            .filter(|e| matches!(e.key.as_str(), "helm" | "kustomize" | "manifests"))
            .collect();
        let [kind] = kinds.as_slice() else {
            return Err(self.err(
                Some(node.pos),
                "a target has exactly one of `helm`, `kustomize`, `manifests`",
                Some("split it into one target per chart, overlay or set of manifests"),
            ));
        };
        let v = &kind.value;
        let source = match kind.key.as_str() {
            "helm" => SourceSpec::Helm(self.helm(v, dir)?),
            "kustomize" => {
                let entries = self.map(v, "kustomize")?;
                self.known_keys(entries, "kustomize", &["path"])?;
                let path = v
                    .get("path")
                    .ok_or_else(|| self.err(Some(v.pos), "`kustomize.path` is missing", None))?;
                SourceSpec::Kustomize {
                    path: dir.join(self.string(path, "kustomize.path")?),
                }
            }
            _ => {
                let entries = self.map(v, "manifests")?;
                self.known_keys(entries, "manifests", &["paths"])?;
                let paths = v
                    .get("paths")
                    .ok_or_else(|| self.err(Some(v.pos), "`manifests.paths` is missing", None))?;
                SourceSpec::Manifests {
                    paths: self.strings(paths, "manifests.paths")?,
                }
            }
        };
        Ok(TargetSpec {
            name,
            line: node.pos.line,
            source,
        })
    }

    fn helm(&self, node: &Node, dir: &Path) -> Result<HelmSpec, ConfigError> {
        let entries = self.map(node, "helm")?;
        self.known_keys(
            entries,
            "helm",
            &[
                "chart",
                "values",
                "set",
                "set-string",
                "release",
                "namespace",
                "kube-version",
                "api-versions",
                "include-crds",
            ],
        )?;
        let mut spec = HelmSpec::default();
        let chart = node
            .get("chart")
            .ok_or_else(|| self.err(Some(node.pos), "`helm.chart` is missing", None))?;
        spec.chart = dir.join(self.string(chart, "helm.chart")?);
        for e in entries {
            let v = &e.value;
            match e.key.as_str() {
                "values" => {
                    spec.values = self
                        .strings(v, "helm.values")?
                        .into_iter()
                        .map(|p| dir.join(p))
                        .collect()
                }
                "set" => spec.set = self.strings(v, "helm.set")?,
                "set-string" => spec.set_string = self.strings(v, "helm.set-string")?,
                "release" => {
                    spec.release = Some(self.dns_name(
                        v,
                        "helm.release",
                        release_name_error,
                        "a valid release name",
                        "Helm release names are DNS-1123 subdomains of at most 53 characters",
                    )?)
                }
                "namespace" => {
                    spec.namespace = Some(self.dns_name(
                        v,
                        "helm.namespace",
                        dns1123_label_error,
                        "a valid namespace",
                        "namespaces are DNS-1123 labels of at most 63 characters",
                    )?)
                }
                "kube-version" => spec.kube_version = Some(self.string(v, "helm.kube-version")?),
                "api-versions" => spec.api_versions = self.strings(v, "helm.api-versions")?,
                "include-crds" => spec.include_crds = self.bool(v, "helm.include-crds")?,
                _ => {}
            }
        }
        Ok(spec)
    }

    fn exemption(&self, node: &Node) -> Result<Exemption, ConfigError> {
        let entries = self.map(node, "exemptions[]")?;
        self.known_keys(
            entries,
            "an exemption",
            &[
                "target",
                "namespace",
                "kind",
                "name",
                "container",
                "check",
                "reason",
                "until",
            ],
        )?;
        let mut e = Exemption {
            line: node.pos.line,
            ..Exemption::default()
        };
        for x in entries {
            let text = self.string(&x.value, &x.key)?;
            let v = Some(text.clone());
            if matches!(
                x.key.as_str(),
                "target" | "namespace" | "kind" | "name" | "container" | "check"
            ) {
                globset::Glob::new(v.as_deref().unwrap_or_default()).map_err(|g| {
                    self.err(
                        Some(x.value.pos),
                        &format!("`{}` is not a valid glob: {g}", x.key),
                        None,
                    )
                })?;
            }
            match x.key.as_str() {
                "target" => e.target = v,
                "namespace" => e.namespace = v,
                "kind" => e.kind = v,
                "name" => e.name = v,
                "container" => e.container = v,
                "check" => e.check = v,
                "reason" => e.reason = v,
                _ => {
                    let d = text;
                    if crate::suppress::parse_date(&d).is_none() {
                        return Err(self.err(
                            Some(x.value.pos),
                            &format!("`until` must be a date YYYY-MM-DD, not {d:?}"),
                            None,
                        ));
                    }
                    e.until = Some(d);
                }
            }
        }
        Ok(e)
    }

    fn pod_template(&self, node: &Node) -> Result<PodTemplateKind, ConfigError> {
        let entries = self.map(node, "pod-templates[]")?;
        self.known_keys(entries, "a pod template kind", &["group", "kind", "path"])?;
        let field = |key: &str| {
            node.get(key)
                .ok_or_else(|| {
                    self.err(
                        Some(node.pos),
                        &format!("`{key}` is missing"),
                        Some("for example `{group: argoproj.io, kind: Rollout, path: spec.template}`"),
                    )
                })
                .and_then(|n| self.string(n, key))
        };
        let path = field("path")?;
        let keys: Vec<&str> = path.split('.').collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(self.err(
                node.get("path").map(|n| n.pos),
                &format!("`path` {path:?} is not a dotted field path"),
                Some("for example `spec.template`"),
            ));
        }
        Ok(PodTemplateKind::new(
            &field("group")?,
            &field("kind")?,
            &keys,
        ))
    }
}

/// The known key nearest to a misspelt one, if it is near enough.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (crate::policy::registry::edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("/repo/.kpsa.yaml"))
    }

    #[test]
    fn full_config() {
        let c = parse_str(
            "version: 1\nlevel: restricted\nkubernetes-version: v1.30\nfail-on: never\n\
             render-timeout: 30\ntargets:\n- name: web-prod\n  helm:\n    chart: charts/web\n    \
             values: [charts/web/values-prod.yaml]\n    set: [image.tag=2]\n    namespace: prod\n\
             - kustomize: {path: deploy/overlays/prod}\n\
             pod-templates:\n- {group: argoproj.io, kind: Rollout, path: spec.template}\n",
        )
        .unwrap();
        assert_eq!(c.level, Some(Tier::Restricted));
        assert_eq!(c.fail_on, Some(None));
        assert_eq!(c.render_timeout, Some(Duration::from_secs(30)));
        assert_eq!(c.targets.len(), 2);
        let SourceSpec::Helm(h) = &c.targets[0].source else {
            panic!("helm")
        };
        assert_eq!(h.chart, Path::new("/repo/charts/web"));
        assert_eq!(
            h.values,
            vec![PathBuf::from("/repo/charts/web/values-prod.yaml")]
        );
        assert_eq!(h.set, vec!["image.tag=2".to_string()]);
        assert_eq!(c.targets[1].line, 13);
        assert_eq!(c.pod_templates[0].path, vec!["spec", "template"]);
    }

    #[test]
    fn unknown_key_has_line_and_hint() {
        let e = parse_str("version: 1\ntargets:\n- helm:\n    chart: x\n    valuse: [a]\n")
            .unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(5));
        assert!(e.message.contains("unknown key `valuse`"), "{e}");
        assert!(e.hint.unwrap().starts_with("did you mean `values`?"));
    }

    #[test]
    fn wrong_types_and_versions() {
        let e = parse_str("version: 1\njobs: many\n").unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(2));
        assert!(e.message.contains("positive whole number"), "{e}");
        let e = parse_str("version: 2\n").unwrap_err();
        assert!(e.message.contains("unsupported config version"), "{e}");
        let e = parse_str("level: baseline\n").unwrap_err();
        assert!(e.message.contains("`version` is missing"), "{e}");
        let e = parse_str("version: 1\ntargets:\n- name: a\n").unwrap_err();
        assert!(e.message.contains("exactly one of"), "{e}");
        let e = parse_str("version: 1\nkubernetes-version: 1.30\n").unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(2));
        let e = parse_str("version: 1\ntargets:\n- {name: a, manifests: {paths: [x]}}\n- {name: a, manifests: {paths: [y]}}\n").unwrap_err();
        assert!(e.message.contains("used twice"), "{e}");
    }
}
