//! `kpsa diff`: two snapshots through the pipeline, rendering only the
//! targets a change touched, then classification and attribution.
//!
//! The base's configuration decides the verdict on both sides (the change
//! under review cannot lower its own gate; `--config-from head` for
//! trusted runs), so the comparison is like for like; every difference
//! between the two sides' configurations is listed, as needing review when
//! it is not applied. Targets are the union of both sides' targets: a
//! change cannot escape by deleting or narrowing its own target, and its new
//! targets are scanned. A suppression the change adds does not suppress
//! unless `--allow-new-suppressions` (docs/security.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::attribute::attribute;
use crate::config::{self, Config, SourceSpec, TargetSpec};
use crate::diff::{Classified, Side, Status, Transition, classify, transitions};
use crate::git::{self, Changes, CommitTree, GitError, Head};
use crate::pipeline::{self, Progress, Timings};
use crate::plan::{self, Plan, Target, relative};
use crate::render::Renderers;
use crate::scan::{InputError, ScanOptions, ScanResult, Stats};
use crate::tree::{Disk, Tree};

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct Request {
    pub spec: String,
    /// The working directory (config search starts here).
    pub cwd: PathBuf,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--config-from base` (the default).
    pub config_from_base: bool,
    /// `--allow-new-suppressions`.
    pub allow_new_suppressions: bool,
    /// `--shard I/N`: evaluate only the targets of this shard.
    pub shard: Option<crate::shard::Shard>,
    /// Files named by flags (`--admission-config`, `--template`): under the
    /// base's policy, one inside the repository is read from the base commit.
    pub flag_files: Vec<PathBuf>,
    /// Render every current target on the head side.
    pub include_unchanged: bool,
    /// Render every target on both sides.
    pub all: bool,
}

/// A setting that differs between the two sides' configurations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConfigChange {
    pub setting: String,
    pub base: Option<String>,
    pub head: Option<String>,
    /// Whether the head's value is in force: false when the base's
    /// configuration decides (the change needs review to apply it).
    pub applied: bool,
}

/// How many targets were evaluated and skipped on each side.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct Counts {
    pub base: usize,
    pub head: usize,
}

/// Everything `kpsa diff` found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub base_commit: String,
    /// The head commit, or None for the working tree.
    pub head_commit: Option<String>,
    pub merge_base: bool,
    pub findings: Vec<Classified>,
    pub transitions: Vec<Transition>,
    pub config_changes: Vec<ConfigChange>,
    pub rendered: Counts,
    pub skipped: Counts,
    /// Files written from git objects for the evaluated targets.
    pub materialized: Counts,
    /// Head-side errors (exit 3).
    pub errors: Vec<InputError>,
    /// Base-side problems: they do not fail the run.
    pub warnings: Vec<String>,
    pub stats: Stats,
    /// The head side's evaluated workloads.
    pub workloads: Vec<crate::finding::Workload>,
    pub timings: Timings,
    /// The head side's root, for code frames.
    pub head_root: PathBuf,
    /// Keeps a head commit's snapshot on disk until the report is written.
    pub keep: Keep,
    /// `--include-unchanged`: the reports list unchanged findings too.
    pub include_unchanged: bool,
    /// Every target of either side, in plan order, and those evaluated
    /// (rendered on either side).
    pub planned: Vec<String>,
    pub evaluated: Vec<String>,
    /// Flag files and where they were read (see [`FlagFiles`]).
    pub flag_files: FlagFiles,
    /// Holds the copies of `flag_files`.
    pub flag_dir: Option<tempfile::TempDir>,
}

/// Holds a snapshot's temporary directory open.
#[derive(Default)]
pub struct Keep(Option<CommitTree>);

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Keep(snapshot)"
        } else {
            "Keep(none)"
        })
    }
}

/// Problems before anything could be compared.
#[derive(Debug)]
pub enum Failure {
    /// Exit 3: git could not give the snapshots.
    Git(GitError),
    /// Exit 2: the configuration is invalid.
    Config(config::ConfigError),
    /// Exit 2: a setting it names is invalid (an admission configuration).
    Settings(String),
}

/// The head snapshot: the working tree, or a commit.
enum HeadTree {
    Work(Disk),
    Commit(CommitTree),
}

impl HeadTree {
    fn tree(&self) -> &dyn Tree {
        match self {
            HeadTree::Work(d) => d,
            HeadTree::Commit(c) => c,
        }
    }
}

/// The settings the configuration decides, to be merged with flags.
/// Returns the scan options, the renderers, the progress style and the
/// number of worker threads (0: all cores).
pub type Settings<'a> = &'a dyn Fn(
    Option<&Config>,
    &FlagFiles,
) -> Result<(ScanOptions, Renderers, Progress, usize), String>;

/// Files named by flags, mapped to where to read them: a file inside the
/// repository, under the base's policy, is a copy of the base commit's.
pub type FlagFiles = BTreeMap<PathBuf, PathBuf>;

/// Run the comparison.
pub fn run(req: &Request, settings: Settings) -> Result<Outcome, Failure> {
    let repo = git::open(&req.cwd).map_err(Failure::Git)?;
    let workdir = repo.workdir().ok_or_else(|| {
        Failure::Git(GitError(
            "a bare repository has no working tree to compare".into(),
        ))
    })?;
    let root = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    let revs = git::resolve(&repo, &req.spec).map_err(Failure::Git)?;
    // The snapshots first: their walks stop at --max-tree-entries, before
    // a diff could enumerate an expanded tree.
    let base_tree = CommitTree::new(&root, revs.base).map_err(Failure::Git)?;
    let head_tree = match revs.head {
        Head::WorkTree => HeadTree::Work(Disk { root: root.clone() }),
        Head::Commit(c) => HeadTree::Commit(CommitTree::new(&root, c).map_err(Failure::Git)?),
    };
    let changes = git::changes(&repo, revs.base, revs.head).map_err(Failure::Git)?;
    let head: &dyn Tree = head_tree.tree();

    // Configuration: one text, read on both sides; the chosen side's text
    // drives both.
    let cwd = std::fs::canonicalize(&req.cwd).unwrap_or_else(|_| req.cwd.clone());
    let rel_cwd = cwd
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    // A `--config` inside the repository is read from the side that decides
    // (the base by default), never from the working tree; one outside it is
    // the caller's own file, read as given.
    let (config_rel, explicit_text) = match &req.config {
        Some(f) => {
            let abs = crate::pipeline::absolute(f);
            let real = std::fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
            match real
                .strip_prefix(&root)
                .or_else(|_| abs.strip_prefix(&root))
            {
                Ok(rel) => (Some(rel.to_path_buf()), None),
                Err(_) => {
                    let text = std::fs::read_to_string(&abs).map_err(|e| {
                        Failure::Config(config::ConfigError {
                            file: abs.clone(),
                            pos: None,
                            message: format!("cannot read: {e}"),
                            hint: None,
                        })
                    })?;
                    (None, Some((abs, text)))
                }
            }
        }
        None if req.config_from_base => (
            find_config(&base_tree, &rel_cwd).or_else(|| find_config(head, &rel_cwd)),
            None,
        ),
        None => (
            find_config(head, &rel_cwd).or_else(|| find_config(&base_tree, &rel_cwd)),
            None,
        ),
    };
    let read_side = |t: &dyn Tree| -> Option<String> {
        config_rel
            .as_ref()
            .and_then(|rel| t.read_string(&t.root().join(rel)).ok())
    };
    let (base_text, head_text) = (read_side(&base_tree), read_side(head));
    let parse_at = |t: &dyn Tree, text: &str| -> Result<Config, Failure> {
        let file = match &config_rel {
            Some(rel) => t.root().join(rel),
            None => explicit_text
                .as_ref()
                .map(|(a, _)| a.clone())
                .unwrap_or_default(),
        };
        let c = config::parse(text, &file).map_err(Failure::Config)?;
        if config_rel.is_some() {
            config::confine(&c, t.root()).map_err(Failure::Config)?;
        }
        Ok(c)
    };
    let chosen: Option<String> = match &explicit_text {
        Some((_, text)) if config_rel.is_none() => Some(text.clone()),
        _ if req.config_from_base => base_text.clone(),
        _ => head_text.clone(),
    };
    let (head_cfg, base_cfg) = match &chosen {
        Some(text) => (
            Some(parse_at(head, text)?),
            Some(parse_at(&base_tree, text)?),
        ),
        None => (None, None),
    };
    // The head's own configuration, for the targets it adds. Under the
    // base's policy a head config that does not parse is listed, not fatal.
    let policy_is_head = !req.config_from_base && explicit_text.is_none();
    let own_head = match (&head_text, policy_is_head) {
        (Some(text), false) => parse_at(head, text).ok(),
        _ => None,
    };
    let config_changes = {
        let side_cfg =
            |t: &dyn Tree, text: &Option<String>| text.as_ref().and_then(|x| parse_at(t, x).ok());
        let mut changes = compare_configs(
            side_cfg(&base_tree, &base_text).as_ref(),
            side_cfg(head, &head_text).as_ref(),
            base_tree.root(),
            head.root(),
            base_text.is_some() != head_text.is_some(),
        );
        if !policy_is_head {
            if let (Some(text), None) = (&head_text, &own_head) {
                if let Err(Failure::Config(e)) = parse_at(head, text) {
                    changes.push(ConfigChange {
                        setting: "config file".into(),
                        base: None,
                        head: Some(format!("invalid: {e}")),
                        applied: false,
                    });
                }
            }
        }
        for c in &mut changes {
            c.applied = policy_is_head;
        }
        changes
    };
    // Under the base's policy, files named by flags that lie inside the
    // repository are the base commit's, and so is the config's admission
    // configuration.
    let mut flag_files = FlagFiles::new();
    let mut flag_dir = None;
    if !policy_is_head {
        for f in &req.flag_files {
            let abs = crate::pipeline::absolute(f);
            let real = std::fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
            let Ok(rel) = real
                .strip_prefix(&root)
                .or_else(|_| abs.strip_prefix(&root))
            else {
                continue;
            };
            let text = base_tree.read(&base_tree.root().join(rel)).map_err(|e| {
                Failure::Settings(format!(
                    "{}: kpsa diff reads a file inside the repository from the base commit, and it is not there: {e}",
                    f.display()
                ))
            })?;
            let dir = match &flag_dir {
                Some(d) => d,
                None => {
                    flag_dir.insert(crate::interrupt::temp_dir("kpsa-flags-").map_err(|e| {
                        Failure::Git(GitError(format!(
                            "cannot create a temporary directory: {e}"
                        )))
                    })?)
                }
            };
            let copy = dir.path().join(format!(
                "{}-{}",
                flag_files.len(),
                rel.file_name().unwrap_or_default().to_string_lossy()
            ));
            std::fs::write(&copy, text).map_err(|e| {
                Failure::Git(GitError(format!("cannot write {}: {e}", copy.display())))
            })?;
            flag_files.insert(f.clone(), copy);
        }
    }
    let policy_cfg = if policy_is_head {
        head_cfg.as_ref()
    } else {
        base_cfg.as_ref()
    };
    // The config's admission configuration is read from the deciding side's
    // snapshot: write it out of git objects there.
    if let Some(a) = policy_cfg.and_then(|c| c.admission_config.as_ref()) {
        let tree = match (&head_tree, policy_is_head) {
            (_, false) => Some(&base_tree),
            (HeadTree::Commit(c), true) => Some(c),
            (HeadTree::Work(_), true) => None,
        };
        if let Some(t) = tree {
            t.materialize(std::slice::from_ref(a))
                .map_err(|e| Failure::Git(GitError(format!("cannot write the snapshot: {e}"))))?;
        }
    }
    let (scan_opts, renderers, progress, jobs) =
        settings(policy_cfg, &flag_files).map_err(Failure::Settings)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Failure::Git(GitError(format!("cannot start worker threads: {e}"))))?;

    // Plan both sides and pair their targets.
    // Each base target carries the id of its head target.
    let (mut head_plan, mut base_plan) = match head_cfg.as_ref().filter(|c| !c.targets.is_empty()) {
        Some(hc) => {
            let bc = base_cfg.as_ref().expect("parsed with the head's");
            plan_configured(head, &base_tree, hc, bc, &changes)
        }
        None => {
            let hp = plan::discover(head, head.root());
            let mut bp = plan::discover(&base_tree, base_tree.root());
            let ids: BTreeMap<String, String> = hp
                .targets
                .iter()
                .map(|t| {
                    (
                        changes.base_path(&t.id).unwrap_or_else(|| t.id.clone()),
                        t.id.clone(),
                    )
                })
                .collect();
            for t in &mut bp.targets {
                if let Some(id) = ids.get(&t.id) {
                    t.id = id.clone();
                }
            }
            (hp, bp)
        }
    };
    // A configured target that names nothing on either side is a
    // configuration error, not an input error.
    if let Some(e) = head_plan.errors.iter().find(|e| e.config) {
        return Err(Failure::Config(config::ConfigError {
            file: PathBuf::from(&e.path),
            pos: e.line.map(|line| crate::manifest::Pos { line, column: 1 }),
            message: e.message.clone(),
            hint: None,
        }));
    }
    // Under the base's policy, targets the head's configuration adds are
    // scanned too (the union of both sides' targets).
    if let Some(own) = own_head.as_ref().filter(|c| !c.targets.is_empty()) {
        let known: BTreeSet<String> = head_plan
            .targets
            .iter()
            .chain(&base_plan.targets)
            .map(|t| t.id.clone())
            .collect();
        // Targets the policy names already are the policy's (their head
        // definition is listed as a change needing review).
        let keep = |c: &Config| Config {
            targets: c
                .targets
                .iter()
                .filter(|t| t.name.as_ref().is_none_or(|n| !known.contains(n)))
                .cloned()
                .collect(),
            ..c.clone()
        };
        let own_base = head_text
            .as_ref()
            .and_then(|t| parse_at(&base_tree, t).ok())
            .unwrap_or_else(|| own.clone());
        let (hp, bp) = plan_configured(head, &base_tree, &keep(own), &keep(&own_base), &changes);
        let extra: BTreeSet<String> = hp
            .targets
            .iter()
            .filter(|t| !known.contains(&t.id))
            .map(|t| t.id.clone())
            .collect();
        head_plan
            .targets
            .extend(hp.targets.into_iter().filter(|t| extra.contains(&t.id)));
        head_plan.errors.extend(hp.errors);
        base_plan
            .targets
            .extend(bp.targets.into_iter().filter(|t| extra.contains(&t.id)));
    }
    // Every target of either side, in plan order; a shard keeps its own.
    let mut planned: Vec<String> = head_plan.targets.iter().map(|t| t.id.clone()).collect();
    for t in &base_plan.targets {
        if !planned.contains(&t.id) {
            planned.push(t.id.clone());
        }
    }
    if let Some(shard) = req.shard {
        head_plan.targets.retain(|t| shard.holds(&t.id));
        base_plan.targets.retain(|t| shard.holds(&t.id));
    }
    let base_targets: Vec<Target> = base_plan.targets;
    let changed: BTreeSet<&str> = changes.paths();
    let touches = |tree_root: &Path, t: &Target| {
        t.inputs.iter().any(|i| {
            let rel = relative(tree_root, i);
            changed
                .iter()
                .any(|c| *c == rel || rel == "." || c.starts_with(&format!("{rel}/")))
        })
    };
    let base_by_id: BTreeMap<&str, &Target> =
        base_targets.iter().map(|t| (t.id.as_str(), t)).collect();
    let head_ids: BTreeSet<&str> = head_plan.targets.iter().map(|t| t.id.as_str()).collect();
    let added: BTreeSet<String> = head_plan
        .targets
        .iter()
        .filter(|t| !base_by_id.contains_key(t.id.as_str()))
        .map(|t| t.id.clone())
        .collect();
    let mut head_run: Vec<Target> = Vec::new();
    let mut base_run: Vec<Target> = Vec::new();
    for t in &head_plan.targets {
        let base = base_by_id.get(t.id.as_str());
        let touched = base.is_none()
            || touches(head.root(), t)
            || base.is_some_and(|b| touches(base_tree.root(), b));
        if touched || req.all || req.include_unchanged {
            head_run.push(t.clone());
        }
        if let Some(b) = base {
            if touched || req.all {
                base_run.push((*b).clone());
            }
        }
    }
    for b in &base_targets {
        if !head_ids.contains(b.id.as_str()) {
            base_run.push(b.clone());
        }
    }
    let rendered = Counts {
        base: base_run.len(),
        head: head_run.len(),
    };
    let skipped = Counts {
        base: base_targets.len() - base_run.len(),
        head: head_plan.targets.len() - head_run.len(),
    };

    // Write out only what the evaluated targets read.
    let inputs = |ts: &[Target]| -> Vec<PathBuf> {
        ts.iter().flat_map(|t| t.inputs.iter().cloned()).collect()
    };
    let mut warnings = Vec::new();
    let mut materialized = Counts::default();
    match base_tree.materialize(&inputs(&base_run)) {
        Ok(n) => materialized.base = n,
        Err(e) => warnings.push(format!("cannot write the base snapshot: {e}")),
    }
    if let HeadTree::Commit(c) = &head_tree {
        materialized.head = c
            .materialize(&inputs(&head_run))
            .map_err(|e| Failure::Git(GitError(format!("cannot write the head snapshot: {e}"))))?;
    }

    // Both sides render at once, sharing the `--jobs` bound; the base is
    // evaluated first so that, under its policy, the head is judged with
    // the base's Namespace labels where the change lowers them.
    let (head_rendered, base_rendered) = pool.install(|| {
        rayon::join(
            || {
                pipeline::render_all(
                    &head_run,
                    &head_plan.errors,
                    &renderers,
                    progress.side("head"),
                    head.root(),
                )
            },
            || {
                pipeline::render_all(
                    &base_run,
                    &[],
                    &renderers,
                    progress.side("base"),
                    base_tree.root(),
                )
            },
        )
    });
    let base_snap =
        pool.install(|| pipeline::evaluate(base_tree.root(), base_rendered, &scan_opts));
    let mut head_opts = scan_opts.clone();
    if !policy_is_head {
        head_opts.label_floor = Some(std::sync::Arc::new(
            base_snap.result.namespace_labels.clone(),
        ));
    }
    let mut head_snap = pool.install(|| pipeline::evaluate(head.root(), head_rendered, &head_opts));
    let failed = |r: &ScanResult| -> BTreeSet<String> {
        r.errors.iter().filter_map(|e| e.target.clone()).collect()
    };
    let base_failed = failed(&base_snap.result);
    for e in &base_snap.result.errors {
        warnings.push(match &e.target {
            Some(t) => format!(
                "target {t} failed to render on the base side; its findings are reported as new (base unavailable): {}",
                crate::render::cause(&e.message)
            ),
            None => format!("base side: {}: {}", e.path, e.message),
        });
    }
    for e in &base_plan.errors {
        warnings.push(format!("base side: {}: {}", e.path, e.message));
    }
    let ids = |ts: &[Target]| -> BTreeSet<String> { ts.iter().map(|t| t.id.clone()).collect() };
    if !req.allow_new_suppressions {
        let judged: BTreeSet<String> = ids(&base_run)
            .into_iter()
            .chain(added.iter().cloned())
            .chain(base_failed.iter().cloned())
            .collect();
        hold_new_suppressions(
            &mut head_snap.result.findings,
            &base_snap.result.findings,
            &judged,
        );
    }
    let base_side = Side {
        findings: &base_snap.result.findings,
        workloads: &base_snap.result.workloads,
        evaluated: ids(&base_run),
        failed: base_failed,
    };
    let head_side = Side {
        findings: &head_snap.result.findings,
        workloads: &head_snap.result.workloads,
        evaluated: ids(&head_run),
        failed: failed(&head_snap.result),
    };
    let mut findings = classify(&base_side, &head_side, &added);
    let head_by_id: BTreeMap<&str, &Target> = head_plan
        .targets
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let mut defines = crate::templates::Cache::default();
    for c in findings.iter_mut().filter(|c| c.status == Status::New) {
        c.attributed_location = attribute(
            &c.finding,
            head_by_id.get(c.finding.target.as_str()).copied(),
            &changes,
            head.root(),
            &mut defines,
        );
    }
    findings.sort_by(|a, b| {
        (a.status, &a.finding.location, a.finding.check).cmp(&(
            b.status,
            &b.finding.location,
            b.finding.check,
        ))
    });
    let transitions = transitions(&base_side, &head_side, &added);
    let mut config_changes = config_changes;
    let labels = |l: &BTreeMap<String, String>| {
        l.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (ns, floor, lowered) in &head_snap.result.lowered_namespaces {
        config_changes.push(ConfigChange {
            setting: format!("namespace {ns}: Pod Security labels"),
            base: Some(labels(floor)),
            head: Some(labels(lowered)),
            applied: false,
        });
    }
    config_changes.extend(suppression_changes(
        &base_snap.result.findings,
        &head_snap.result.findings,
    ));
    let mut timings = head_snap.timings.clone();
    timings.rendered += base_snap.timings.rendered;
    timings.render_wall += base_snap.timings.render_wall;
    // The sides ran at the same time.
    timings.wall = timings.wall.max(base_snap.timings.wall);
    Ok(Outcome {
        base_commit: revs.base.to_string(),
        head_commit: match revs.head {
            Head::Commit(c) => Some(c.to_string()),
            Head::WorkTree => None,
        },
        merge_base: revs.merge_base,
        findings,
        transitions,
        config_changes,
        rendered,
        skipped,
        materialized,
        workloads: head_snap.result.workloads.clone(),
        errors: head_snap.result.errors,
        warnings,
        stats: head_snap.result.stats,
        timings,
        head_root: head.root().to_path_buf(),
        keep: Keep(match head_tree {
            HeadTree::Commit(c) => Some(c),
            HeadTree::Work(_) => None,
        }),
        include_unchanged: req.include_unchanged,
        evaluated: planned
            .iter()
            .filter(|id| head_run.iter().chain(&base_run).any(|t| &t.id == *id))
            .cloned()
            .collect(),
        planned,
        flag_files,
        flag_dir,
    })
}

/// A change cannot approve itself: an annotation suppression on a head
/// finding that the base did not already suppress was added by the change,
/// so it does not suppress (it is `pending`) and the finding counts. Only
/// targets evaluated on the base side (or new, or failed there) are judged:
/// an untouched target's suppressions are the base's own.
fn hold_new_suppressions(
    head: &mut [crate::finding::Finding],
    base: &[crate::finding::Finding],
    judged: &BTreeSet<String>,
) {
    let base_waived: BTreeSet<&str> = base
        .iter()
        .filter(|f| f.waived())
        .map(|f| f.fingerprint.as_str())
        .collect();
    for f in head.iter_mut() {
        if !judged.contains(&f.target) || base_waived.contains(f.fingerprint.as_str()) {
            continue;
        }
        if let Some(s) = f
            .suppression
            .as_mut()
            .filter(|s| s.active && s.by == "annotation")
        {
            s.active = false;
            s.pending = true;
            s.problem = Some(
                "added by this change: it applies once approved (a run with --allow-new-suppressions)"
                    .into(),
            );
        }
    }
}

/// Findings whose suppression the change added or removed: a change must
/// not quietly accept its own findings.
fn suppression_changes(
    base: &[crate::finding::Finding],
    head: &[crate::finding::Finding],
) -> Vec<ConfigChange> {
    let describe = |f: &crate::finding::Finding| -> Option<String> {
        f.suppression
            .as_ref()
            .filter(|s| s.active || s.pending)
            .map(|s| {
                format!(
                    "{}suppressed by {}: {}",
                    if s.pending { "pending: " } else { "" },
                    s.source,
                    s.reason.clone().unwrap_or_default()
                )
            })
    };
    let base_by_fp: BTreeMap<&str, &crate::finding::Finding> =
        base.iter().map(|f| (f.fingerprint.as_str(), f)).collect();
    let mut out = Vec::new();
    for h in head {
        let b = base_by_fp.get(h.fingerprint.as_str());
        let (before, after) = (b.and_then(|b| describe(b)), describe(h));
        if before != after && (b.is_some() || after.is_some()) {
            let who = match &h.container {
                Some(c) => format!("{}, container {c}", h.object.display()),
                None => h.object.display(),
            };
            let pending = h.suppression.as_ref().is_some_and(|s| s.pending);
            out.push(ConfigChange {
                setting: format!("suppression: {} on {who} (target {})", h.check, h.target),
                base: before,
                head: after,
                applied: !pending,
            });
        }
    }
    out
}

/// `.kpsa.yaml` from the working directory up to the root of a tree.
fn find_config(t: &dyn Tree, rel_cwd: &Path) -> Option<PathBuf> {
    let parts: Vec<_> = rel_cwd.components().collect();
    (0..=parts.len()).rev().find_map(|n| {
        let rel: PathBuf = parts[..n]
            .iter()
            .collect::<PathBuf>()
            .join(config::FILE_NAME);
        t.is_file(&t.root().join(&rel)).then_some(rel)
    })
}

/// Plan configured targets on both sides; the base side's paths follow
/// renames, and each base target takes its head target's id.
fn plan_configured(
    head: &dyn Tree,
    base: &dyn Tree,
    hc: &Config,
    bc: &Config,
    changes: &Changes,
) -> (Plan, Plan) {
    let mut hp = Plan::default();
    let mut bp = Plan::default();
    for (hs, bs) in hc.targets.iter().zip(&bc.targets) {
        let hs = &follow_renames_forward(hs, head, changes);
        if !main_path_exists(hs, head) && main_path_exists(bs, base) {
            // The head removed what the target renders: its findings are fixed.
            let b = plan::from_config(base, std::slice::from_ref(bs), &bc.file);
            bp.targets.extend(b.targets);
            continue;
        }
        let h = plan::from_config(head, std::slice::from_ref(hs), &hc.file);
        if h.targets.is_empty() && matches!(hs.source, SourceSpec::Manifests { .. }) {
            // The head removed every file the globs matched: its findings are fixed.
            let mapped = follow_renames(bs, base, changes);
            let b = plan::from_config(base, std::slice::from_ref(&mapped), &bc.file);
            if !b.targets.is_empty() {
                bp.targets.extend(b.targets);
                continue;
            }
        }
        hp.errors.extend(h.errors);
        let Some(ht) = h.targets.into_iter().next() else {
            continue;
        };
        let mapped = follow_renames(bs, base, changes);
        let b = plan::from_config(base, std::slice::from_ref(&mapped), &bc.file);
        if let Some(mut bt) = b.targets.into_iter().next() {
            bt.id = ht.id.clone();
            bp.targets.push(bt);
        }
        hp.targets.push(ht);
    }
    (hp, bp)
}

/// Whether the chart or kustomization a target renders exists in a tree
/// (manifests: always, their globs decide).
fn main_path_exists(spec: &TargetSpec, t: &dyn Tree) -> bool {
    match &spec.source {
        SourceSpec::Helm(h) => t.is_dir(&h.chart),
        SourceSpec::Kustomize { path } => t.is_dir(&plan::normalize(path)),
        SourceSpec::Manifests { .. } => true,
    }
}

/// A target spec (written for the base) with paths the head does not have
/// mapped through the change's renames.
fn follow_renames_forward(spec: &TargetSpec, head: &dyn Tree, changes: &Changes) -> TargetSpec {
    map_spec_paths(spec, head, |rel| changes.head_path(rel))
}

/// A target spec with paths the base does not have mapped through renames.
fn follow_renames(spec: &TargetSpec, base: &dyn Tree, changes: &Changes) -> TargetSpec {
    map_spec_paths(spec, base, |rel| changes.base_path(rel))
}

/// A spec's chart, values and kustomize paths that `t` lacks, mapped by
/// `other` (a path relative to the root → the same path on `t`'s side).
fn map_spec_paths(
    spec: &TargetSpec,
    t: &dyn Tree,
    other: impl Fn(&str) -> Option<String>,
) -> TargetSpec {
    let root = t.root();
    let map = |p: &PathBuf| -> PathBuf {
        if t.is_dir(p) || t.is_file(p) {
            return p.clone();
        }
        other(&relative(root, p))
            .map(|b| root.join(b))
            .unwrap_or_else(|| p.clone())
    };
    let mut s = spec.clone();
    match &mut s.source {
        SourceSpec::Helm(h) => {
            h.chart = map(&h.chart);
            h.values = h.values.iter().map(map).collect();
        }
        SourceSpec::Kustomize { path } => *path = map(path),
        SourceSpec::Manifests { .. } => {}
    }
    s
}

/// Every setting that differs between the base's and the head's config.
fn compare_configs(
    base: Option<&Config>,
    head: Option<&Config>,
    base_root: &Path,
    head_root: &Path,
    presence: bool,
) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    if presence {
        out.push(ConfigChange {
            setting: "config file".into(),
            base: base.map(|c| relative(base_root, &c.file)),
            head: head.map(|c| relative(head_root, &c.file)),
            applied: true,
        });
    }
    let (b, h) = (describe(base, base_root), describe(head, head_root));
    let keys: BTreeSet<&String> = b.keys().chain(h.keys()).collect();
    for k in keys {
        if b.get(k) != h.get(k) {
            out.push(ConfigChange {
                setting: k.clone(),
                base: b.get(k).cloned(),
                head: h.get(k).cloned(),
                applied: true,
            });
        }
    }
    out
}

/// A config as `setting → value` text, paths relative to the tree root.
fn describe(c: Option<&Config>, root: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Some(c) = c else { return m };
    let rel = |p: &Path| relative(root, p);
    if let Some(l) = c.level {
        m.insert("level".into(), l.as_str().into());
    }
    if let Some(v) = c.kubernetes_version {
        m.insert("kubernetes-version".into(), format!("{v:?}"));
    }
    if let Some(f) = c.fail_on {
        m.insert("fail-on".into(), f.map_or("never", |t| t.as_str()).into());
    }
    if let Some(t) = c.render_timeout {
        m.insert("render-timeout".into(), t.as_secs().to_string());
    }
    if let Some(j) = c.jobs {
        m.insert("jobs".into(), j.to_string());
    }
    for (i, e) in c.exemptions.iter().enumerate() {
        let pat = |p: &Option<String>| p.clone().unwrap_or_else(|| "*".into());
        m.insert(
            format!("exemptions[{i}]"),
            format!(
                "target={} namespace={} kind={} name={} container={} check={} reason={} until={}",
                pat(&e.target),
                pat(&e.namespace),
                pat(&e.kind),
                pat(&e.name),
                pat(&e.container),
                pat(&e.check),
                e.reason.as_deref().unwrap_or("-"),
                e.until.as_deref().unwrap_or("-")
            ),
        );
    }
    for (ns, (labels, _)) in &c.namespaces {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        m.insert(format!("namespaces.{ns}"), l.join(" "));
    }
    if let Some(a) = &c.admission_config {
        m.insert("admission-config".into(), rel(a));
    }
    if c.fail_on_enforced {
        m.insert("fail-on".into(), "enforced".into());
    }
    for (i, t) in c.targets.iter().enumerate() {
        let name = t.name.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let what = match &t.source {
            SourceSpec::Helm(h) => format!(
                "helm chart={} values=[{}] set=[{}] set-string=[{}] release={} namespace={} kube-version={} api-versions=[{}] include-crds={}",
                rel(&h.chart),
                h.values
                    .iter()
                    .map(|v| rel(v))
                    .collect::<Vec<_>>()
                    .join(", "),
                h.set.join(", "),
                h.set_string.join(", "),
                h.release.as_deref().unwrap_or("-"),
                h.namespace.as_deref().unwrap_or("-"),
                h.kube_version.as_deref().unwrap_or("-"),
                h.api_versions.join(", "),
                h.include_crds
            ),
            SourceSpec::Kustomize { path } => format!("kustomize path={}", rel(path)),
            SourceSpec::Manifests { paths } => format!("manifests paths=[{}]", paths.join(", ")),
        };
        m.insert(format!("targets.{name}"), what);
    }
    for p in &c.pod_templates {
        m.insert(
            format!("pod-templates.{}/{}", p.group, p.kind),
            p.path.join("."),
        );
    }
    m
}
