//! Plan: what to render. Targets come from the config, from the command
//! line, or from discovery in the repository tree.
//!
//! Discovery finds the roots a repository deploys: every chart that is not a
//! dependency of another chart in the tree, every kustomization no other
//! kustomization uses, and the plain manifests outside both (one target per
//! directory). It honours `.gitignore` and never follows a symlink out of
//! the repository. Each target knows its input paths, so a later stage can
//! tell whether a change touched it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::config::{HelmSpec, SourceSpec, TargetSpec};
use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, Node};
use crate::tree::{Disk, EntryKind, Tree};

/// One thing to render and evaluate.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name in the config, else its path relative to the repository root.
    pub id: String,
    pub source: Source,
    /// Why it is a target, for `kpsa targets`.
    pub reason: String,
    /// Files and directories whose change can change its output (absolute).
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum Source {
    Helm(Box<HelmTarget>),
    Kustomize { dir: PathBuf },
    Manifests { files: Vec<PathBuf> },
    Stdin,
}

/// A chart with the release settings `helm template` gets.
#[derive(Debug, Clone)]
pub struct HelmTarget {
    pub spec: HelmSpec,
    pub chart: Chart,
}

/// What kpsa reads from a `Chart.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub dir: PathBuf,
    pub name: String,
    pub library: bool,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone)]
pub struct Dependency {
    pub name: String,
    pub alias: Option<String>,
    pub repository: String,
    /// The line of the entry in `Chart.yaml`.
    pub line: u32,
}

impl Dependency {
    /// The directory of a `file://` dependency.
    pub fn local_dir(&self, chart_dir: &Path) -> Option<PathBuf> {
        let rel = self.repository.strip_prefix("file://")?;
        Some(normalize(&chart_dir.join(rel)))
    }
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self.source {
            Source::Helm(_) => "helm",
            Source::Kustomize { .. } => "kustomize",
            Source::Manifests { .. } | Source::Stdin => "manifests",
        }
    }
}

/// Something in the tree that kept a target from being planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub path: String,
    pub line: Option<u32>,
    pub message: String,
    /// The configuration is wrong (exit 2), not an input (exit 3).
    pub config: bool,
}

/// The targets of a run, and what went wrong finding them.
#[derive(Debug, Default)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub errors: Vec<PlanError>,
}

/// The repository root: the nearest directory at or above `start` holding
/// `.git`.
pub fn repo_root(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// A path relative to the root, `/`-separated; the path itself when it is
/// outside.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    if rel.is_absolute() {
        // Outside the root: the absolute path once (joining its components
        // would double the leading `/`, a network path in a SARIF URI).
        return rel.to_string_lossy().into_owned();
    }
    let s = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if s.is_empty() { ".".into() } else { s }
}

/// Read a file of the repository at `root`, as text; None when it cannot
/// be read or when it lies outside the repository or in `.git` (lexically
/// or through symlinks). For paths that come from the input itself
/// (annotations, `# Source:` comments, locations).
pub fn read_inside(root: &Path, path: &Path) -> Option<String> {
    let lexical = normalize(&root.join(path));
    if !inside_repository(root, &lexical) {
        return None;
    }
    let real = std::fs::canonicalize(&lexical).ok()?;
    if !inside_repository(root, &real) {
        return None;
    }
    std::fs::read_to_string(real).ok()
}

/// Remove `.` and `..` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn read_yaml(t: &dyn Tree, path: &Path) -> Result<Node, PlanError> {
    let err = |line, message: String| PlanError {
        config: false,
        path: path.display().to_string(),
        line,
        message,
    };
    let text = t
        .read_string(path)
        .map_err(|e| err(None, format!("cannot read: {e}")))?;
    let docs = parse_documents(&text, 1, Limits::default())
        .map_err(|e| err(Some(e.pos.line), format!("invalid YAML: {}", e.message)))?;
    docs.into_iter()
        .next()
        .ok_or_else(|| err(None, "the file is empty".into()))
}

/// Read a chart's `Chart.yaml` on disk.
pub fn read_chart(dir: &Path) -> Result<Chart, PlanError> {
    read_chart_in(&disk(dir), dir)
}

/// A disk tree for functions that read a real directory.
fn disk(dir: &Path) -> Disk {
    Disk {
        root: dir.to_path_buf(),
    }
}

/// Read a chart's `Chart.yaml` in a tree.
pub fn read_chart_in(t: &dyn Tree, dir: &Path) -> Result<Chart, PlanError> {
    let file = dir.join("Chart.yaml");
    let node = read_yaml(t, &file)?;
    let text = |n: &Node, k: &str| n.get(k).and_then(Node::scalar_text).map(str::to_string);
    let dependencies = node
        .get("dependencies")
        .map(|d| d.items())
        .unwrap_or_default()
        .iter()
        .map(|d| Dependency {
            name: text(d, "name").unwrap_or_default(),
            alias: text(d, "alias"),
            repository: text(d, "repository").unwrap_or_default(),
            line: d.pos.line,
        })
        .collect();
    Ok(Chart {
        dir: dir.to_path_buf(),
        name: text(&node, "name").ok_or_else(|| PlanError {
            config: false,
            path: file.display().to_string(),
            line: Some(node.pos.line),
            message: "Chart.yaml has no `name`".into(),
        })?,
        library: text(&node, "type").as_deref() == Some("library"),
        dependencies,
    })
}

/// The file names kustomize accepts, in its order of preference.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

pub fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    kustomization_file_in(&disk(dir), dir)
}

pub fn kustomization_file_in(t: &dyn Tree, dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| t.is_file(p))
}

/// What one kustomization refers to: directories (other kustomizations)
/// and files (resources, patches, generator inputs), all local.
#[derive(Debug, Default)]
pub struct KustomizationRefs {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
    /// Remote resources (git or HTTP URLs, `host/org/repo//path` forms,
    /// and names that are no local path but look like a host), with the
    /// line they are on.
    pub remote: Vec<(String, u32)>,
}

/// Whether a `resources:` entry is (or would be fetched as) remote.
fn looks_remote(t: &dyn Tree, dir: &Path, s: &str) -> bool {
    if s.contains("://") || s.starts_with("git@") || s.contains("?ref=") || s.contains("//") {
        return true;
    }
    let local = normalize(&dir.join(s));
    if t.is_dir(&local) || t.is_file(&local) {
        return false;
    }
    // Kustomize tries a missing local path as a remote one: `github.com/x/y`.
    s.split('/').next().is_some_and(|host| {
        host.contains('.')
            && host != "."
            && host != ".."
            && !host.ends_with(".yaml")
            && !host.ends_with(".yml")
    })
}

pub fn kustomization_refs(t: &dyn Tree, dir: &Path) -> Result<KustomizationRefs, PlanError> {
    let mut refs = KustomizationRefs::default();
    let Some(file) = kustomization_file_in(t, dir) else {
        return Ok(refs);
    };
    let node = read_yaml(t, &file)?;
    for key in ["resources", "bases", "components"] {
        for item in node.get(key).map(Node::items).unwrap_or_default() {
            if let Some(s) = item.scalar_text().filter(|s| looks_remote(t, dir, s)) {
                refs.remote.push((s.to_string(), item.pos.line));
            }
        }
    }
    let mut add = |s: &str| {
        if s.contains("://") || s.starts_with("github.com/") || s.contains("?ref=") {
            return;
        }
        let p = normalize(&dir.join(s));
        if t.is_dir(&p) {
            refs.dirs.push(p);
        } else {
            refs.files.push(p);
        }
    };
    for key in [
        "resources",
        "bases",
        "components",
        "patchesStrategicMerge",
        "crds",
    ] {
        for item in node.get(key).map(Node::items).unwrap_or_default() {
            if let Some(s) = item.scalar_text() {
                add(s);
            }
        }
    }
    for key in ["patches", "patchesJson6902"] {
        for item in node.get(key).map(Node::items).unwrap_or_default() {
            if let Some(s) = item.get("path").and_then(Node::scalar_text) {
                add(s);
            }
        }
    }
    for key in ["configMapGenerator", "secretGenerator"] {
        for item in node.get(key).map(Node::items).unwrap_or_default() {
            for list in ["files", "envs"] {
                for f in item.get(list).map(Node::items).unwrap_or_default() {
                    if let Some(s) = f.scalar_text() {
                        add(s.rsplit('=').next().unwrap_or(s));
                    }
                }
            }
        }
    }
    Ok(refs)
}

/// Inputs of a chart: its directory, its values files and its `file://`
/// dependencies, transitively.
fn helm_inputs(t: &dyn Tree, chart: &Chart, spec: &HelmSpec) -> Vec<PathBuf> {
    let mut inputs = vec![chart.dir.clone()];
    inputs.extend(spec.values.iter().cloned());
    for d in local_dependencies(t, chart) {
        inputs.push(d.dir);
        if d.chart.is_err() {
            // What it reads is unknown: everything may be an input.
            inputs.push(t.root().to_path_buf());
        }
    }
    inputs
}

/// A `file://` dependency of a chart or of one of its dependencies.
#[derive(Debug, Clone)]
pub struct LocalDependency {
    pub dependency: Dependency,
    /// The chart that names it.
    pub parent: String,
    pub dir: PathBuf,
    /// Its own `Chart.yaml`, read.
    pub chart: Result<Chart, PlanError>,
}

/// Every `file://` dependency of a chart, transitively, each once.
pub fn local_dependencies(t: &dyn Tree, chart: &Chart) -> Vec<LocalDependency> {
    let mut out = Vec::new();
    let mut queue = vec![chart.clone()];
    let mut seen = BTreeSet::new();
    while let Some(c) = queue.pop() {
        for d in &c.dependencies {
            let Some(dir) = d.local_dir(&c.dir) else {
                continue;
            };
            if !seen.insert(dir.clone()) {
                continue;
            }
            let sub = read_chart_in(t, &dir);
            if let Ok(s) = &sub {
                queue.push(s.clone());
            }
            out.push(LocalDependency {
                dependency: d.clone(),
                parent: c.name.clone(),
                dir,
                chart: sub,
            });
        }
    }
    out
}

/// Inputs of a kustomization: its directory and everything it refers to,
/// transitively.
fn kustomize_inputs(t: &dyn Tree, dir: &Path) -> Vec<PathBuf> {
    let mut inputs = Vec::new();
    let mut queue = vec![dir.to_path_buf()];
    let mut seen = BTreeSet::new();
    while let Some(d) = queue.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        inputs.push(d.clone());
        match kustomization_refs(t, &d) {
            Ok(refs) => {
                inputs.extend(refs.files);
                queue.extend(refs.dirs);
            }
            // What it reads is unknown: everything may be an input.
            Err(_) => inputs.push(t.root().to_path_buf()),
        }
    }
    inputs
}

/// Refuse a target whose directories hold a symlink that points outside
/// the repository or into `.git`: Helm and Kustomize follow links, and
/// `.Files.Get` would put what they point at (a CI checkout's
/// `.git/config`, with its credentials) into the report.
fn check_links(t: &dyn Tree, dirs: &[PathBuf]) -> Result<(), PlanError> {
    let root = t.root();
    for d in dirs {
        if !t.is_dir(d) {
            continue;
        }
        for (link, target) in t.links(d) {
            if !inside_repository(root, &target) {
                return Err(PlanError {
                    config: false,
                    path: relative(root, &link),
                    line: None,
                    message: format!(
                        "symlink points outside the repository or into .git (to {}); refusing to render a target that holds it",
                        target.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Whether `path` (resolved) is under `root` (as given or canonical) and
/// not in its `.git`.
pub fn inside_repository(root: &Path, path: &Path) -> bool {
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    [root, real_root.as_path()]
        .iter()
        .any(|base| path.starts_with(base) && !path.starts_with(base.join(".git")))
}

/// A Helm target for a chart directory.
pub fn helm_target(
    t: &dyn Tree,
    id: Option<String>,
    spec: HelmSpec,
    reason: String,
) -> Result<Target, PlanError> {
    let root = t.root();
    let chart = read_chart_in(t, &spec.chart)?;
    if chart.library {
        return Err(PlanError {
            config: false,
            path: relative(root, &spec.chart.join("Chart.yaml")),
            line: None,
            message:
                "a library chart cannot be rendered on its own; name a chart that depends on it"
                    .into(),
        });
    }
    let inputs = helm_inputs(t, &chart, &spec);
    check_links(t, &inputs)?;
    Ok(Target {
        id: id.unwrap_or_else(|| relative(root, &spec.chart)),
        source: Source::Helm(Box::new(HelmTarget { spec, chart })),
        reason,
        inputs,
    })
}

pub fn kustomize_target(
    t: &dyn Tree,
    id: Option<String>,
    dir: PathBuf,
    reason: String,
) -> Result<Target, PlanError> {
    let root = t.root();
    if kustomization_file_in(t, &dir).is_none() {
        return Err(PlanError {
            config: false,
            path: relative(root, &dir),
            line: None,
            message: format!("no {} here", KUSTOMIZATION_FILES.join(" / ")),
        });
    }
    let inputs = kustomize_inputs(t, &dir);
    check_links(t, &inputs)?;
    Ok(Target {
        id: id.unwrap_or_else(|| relative(root, &dir)),
        inputs,
        source: Source::Kustomize { dir },
        reason,
    })
}

/// Targets from the config.
pub fn from_config(t: &dyn Tree, specs: &[TargetSpec], config_file: &Path) -> Plan {
    let root = t.root();
    let mut plan = Plan::default();
    let config_name = relative(root, config_file);
    for spec in specs {
        let reason = format!("configured at {config_name}:{}", spec.line);
        let made = match &spec.source {
            SourceSpec::Helm(h) => helm_target(t, spec.name.clone(), h.clone(), reason),
            SourceSpec::Kustomize { path } => {
                kustomize_target(t, spec.name.clone(), normalize(path), reason)
            }
            SourceSpec::Manifests { paths } => {
                let base = config_file.parent().unwrap_or(root);
                let files = expand_globs(t, base, paths, &mut plan.errors);
                if files.is_empty() {
                    plan.errors.push(PlanError {
                        config: true,
                        path: config_name.clone(),
                        line: Some(spec.line),
                        message: format!(
                            "no file matches the manifest paths {} (relative to {})",
                            paths.join(", "),
                            relative(root, base)
                        ),
                    });
                    continue;
                }
                Ok(Target {
                    id: spec.name.clone().unwrap_or_else(|| {
                        paths
                            .iter()
                            .map(|p| relative(root, &normalize(&base.join(p))))
                            .collect::<Vec<_>>()
                            .join(",")
                    }),
                    inputs: files.clone(),
                    source: Source::Manifests { files },
                    reason,
                })
            }
        };
        match made {
            Ok(t) => plan.targets.push(t),
            Err(e) => plan.errors.push(e),
        }
    }
    plan
}

/// Files matching the patterns (relative to `base`; `**` crosses
/// directories), in the repository's walk order.
fn expand_globs(
    t: &dyn Tree,
    base: &Path,
    patterns: &[String],
    errors: &mut Vec<PlanError>,
) -> Vec<PathBuf> {
    let mut builder = globset::GlobSetBuilder::new();
    for p in patterns {
        let full = normalize(&base.join(p));
        match globset::GlobBuilder::new(&full.to_string_lossy())
            .literal_separator(true)
            .build()
        {
            Ok(g) => {
                builder.add(g);
            }
            Err(e) => errors.push(PlanError {
                config: true,
                path: p.clone(),
                line: None,
                message: format!("invalid glob: {e}"),
            }),
        }
    }
    let Ok(set) = builder.build() else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in t.walk(t.root()) {
        match &entry.kind {
            EntryKind::File if set.is_match(&entry.path) => files.push(entry.path),
            EntryKind::Unreadable(why) => errors.push(unreadable(t.root(), &entry.path, why)),
            _ => {}
        }
    }
    files
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// A directory or file discovery could not read: an input error (exit 3).
fn unreadable(root: &Path, path: &Path, why: &str) -> PlanError {
    PlanError {
        config: false,
        path: relative(root, path),
        line: None,
        message: format!("cannot be read, so what it holds is not scanned: {why}"),
    }
}

/// Discover the targets under `dir` (inside the repository at `root`).
pub fn discover(t: &dyn Tree, dir: &Path) -> Plan {
    let root = t.root();
    let mut plan = Plan::default();
    let entries = t.walk(dir);
    let mut chart_dirs = Vec::new();
    let mut kustomize_dirs = Vec::new();
    let mut yaml_files = Vec::new();
    for e in &entries {
        let name = e.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let EntryKind::Unreadable(why) = &e.kind {
            plan.errors.push(unreadable(root, &e.path, why));
            continue;
        }
        if let EntryKind::Symlink(real) = &e.kind {
            if is_yaml(&e.path) {
                match real {
                    real if real.starts_with(root) && t.is_file(real) => {
                        yaml_files.push(e.path.clone())
                    }
                    real if !real.starts_with(root) => plan.errors.push(PlanError {
                        config: false,
                        path: relative(root, &e.path),
                        line: None,
                        message: format!(
                            "symlink leaves the repository (to {}); not read",
                            real.display()
                        ),
                    }),
                    _ => {}
                }
            }
            continue;
        }
        if e.kind != EntryKind::File {
            continue;
        }
        let parent = e.path.parent().unwrap_or(root).to_path_buf();
        if name == "Chart.yaml" {
            chart_dirs.push(parent);
        } else if KUSTOMIZATION_FILES.contains(&name) {
            kustomize_dirs.push(parent);
        } else if is_yaml(&e.path) && name != crate::config::FILE_NAME {
            // kpsa's own config is not deployed; every other YAML file is.
            yaml_files.push(e.path.clone());
        }
    }

    // Charts: drop those inside another chart (its `charts/`) and those a
    // chart in the tree names as a `file://` dependency.
    let mut charts = BTreeMap::new();
    for d in &chart_dirs {
        match read_chart_in(t, d) {
            Ok(c) => {
                charts.insert(d.clone(), c);
            }
            Err(mut e) => {
                e.path = relative(root, Path::new(&e.path));
                plan.errors.push(e);
            }
        }
    }
    let mut dependency_of: BTreeSet<PathBuf> = BTreeSet::new();
    for c in charts.values() {
        for d in &c.dependencies {
            if let Some(dep) = d.local_dir(&c.dir) {
                dependency_of.insert(dep);
            }
        }
    }
    // Containment through each path's ancestors in a set: O(depth · log n)
    // per path, not a comparison with every other chart (monorepos hold
    // thousands).
    let chart_set: BTreeSet<&Path> = chart_dirs.iter().map(PathBuf::as_path).collect();
    let kustomize_set: BTreeSet<&Path> = kustomize_dirs.iter().map(PathBuf::as_path).collect();
    for (d, c) in &charts {
        if within(d, &chart_set, false) {
            continue;
        }
        if dependency_of.contains(d) || c.library {
            continue;
        }
        let spec = HelmSpec {
            chart: d.clone(),
            release: Some(release_name(&c.name)),
            ..HelmSpec::default()
        };
        match helm_target(
            t,
            None,
            spec,
            "Chart.yaml that no other chart here depends on".into(),
        ) {
            Ok(t) => plan.targets.push(t),
            Err(e) => plan.errors.push(e),
        }
    }

    // Kustomizations: the roots are those no other kustomization refers to.
    let mut used: BTreeSet<PathBuf> = BTreeSet::new();
    let mut claimed: BTreeSet<PathBuf> = BTreeSet::new();
    for d in &kustomize_dirs {
        match kustomization_refs(t, d) {
            Ok(refs) => {
                used.extend(refs.dirs);
                claimed.extend(refs.files);
            }
            Err(mut e) => {
                e.path = relative(root, Path::new(&e.path));
                plan.errors.push(e);
            }
        }
    }
    for d in &kustomize_dirs {
        if used.contains(d) || within(d, &chart_set, true) {
            continue;
        }
        match kustomize_target(
            t,
            None,
            d.clone(),
            "kustomization that no other kustomization uses".into(),
        ) {
            Ok(t) => plan.targets.push(t),
            Err(e) => plan.errors.push(e),
        }
    }

    // Plain manifests: YAML outside charts and kustomizations, one target per directory.
    let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in yaml_files {
        let owned = within(&f, &chart_set, false)
            || within(&f, &kustomize_set, false)
            || claimed.contains(&f);
        if !owned {
            by_dir
                .entry(f.parent().unwrap_or(root).to_path_buf())
                .or_default()
                .push(f);
        }
    }
    for (d, files) in by_dir {
        plan.targets.push(Target {
            id: relative(root, &d),
            inputs: files.clone(),
            source: Source::Manifests { files },
            reason: "YAML files outside charts and kustomizations".into(),
        });
    }
    plan
}

/// Whether `path` lies in one of `dirs` (or is one, with `itself`).
fn within(path: &Path, dirs: &BTreeSet<&Path>, itself: bool) -> bool {
    path.ancestors()
        .skip(usize::from(!itself))
        .any(|a| dirs.contains(a))
}

/// A release name Helm accepts, from a chart name (discovery renders each
/// chart as a release named after it).
pub fn release_name(chart: &str) -> String {
    let mut s: String = chart
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(53);
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "release-name".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_a_directory_by_its_ancestors() {
        let dirs: BTreeSet<&Path> = [Path::new("/r/charts/web"), Path::new("/r/k")].into();
        assert!(within(Path::new("/r/charts/web/charts/sub"), &dirs, false));
        assert!(
            !within(Path::new("/r/charts/web"), &dirs, false),
            "not inside itself"
        );
        assert!(within(Path::new("/r/charts/web"), &dirs, true));
        assert!(
            !within(Path::new("/r/charts/webapp/x.yaml"), &dirs, false),
            "a name prefix is not a parent"
        );
        assert!(within(Path::new("/r/k/a/b.yaml"), &dirs, false));
    }

    #[test]
    fn paths_outside_the_root_keep_one_leading_slash() {
        let root = Path::new("/repo");
        assert_eq!(relative(root, Path::new("/repo/charts/web")), "charts/web");
        assert_eq!(relative(root, Path::new("/repo")), ".");
        assert_eq!(
            relative(root, Path::new("/tmp/x/pod.yaml")),
            "/tmp/x/pod.yaml"
        );
    }

    #[test]
    fn normalize_and_relative() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(
            relative(Path::new("/r"), Path::new("/r/x/y.yaml")),
            "x/y.yaml"
        );
        assert_eq!(relative(Path::new("/r"), Path::new("/r")), ".");
        assert_eq!(release_name("My_Chart"), "my-chart");
    }
}
