//! The JSON report: a versioned contract (`schema_version`), described in
//! `docs/json-output.md` and `docs/kpsa-report.schema.json`.
//!
//! Version 2 is designed once for what the next work needs: each finding's
//! check `family` and framework ids, the source text of its location (and
//! of its attributed line in `diff`), suppression state with `pending`,
//! warnings in `scan` too, shard identity and a digest of the settings
//! that decide the verdict, and rule metadata, so a saved report can be
//! rendered, merged and published without the repository.

use serde::Serialize;

use super::{RunInfo, Sources};
use crate::finding::{Finding, Workload};
use crate::policy::{FrameworkId, registry};
use crate::scan::{InputError, ScanResult, Stats};

/// Bump on any incompatible change of the JSON report.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    summary: Summary<'a>,
    findings: Vec<FindingOut<'a, Finding>>,
    workloads: &'a [Workload],
    errors: &'a [InputError],
    warnings: &'a [String],
    /// `--accepted FILE`: matches and stale entries.
    accepted: Option<&'a crate::accepted::Applied>,
}

/// What every report starts with.
#[derive(Serialize)]
struct Header<'a> {
    schema_version: u32,
    tool: Tool,
    command: &'a str,
    kubernetes_version: String,
    /// The version as asked for: `latest` or `v1.N` (reports print it).
    kubernetes_version_label: &'a str,
    level: &'a str,
    fail_on: &'a str,
    /// A digest of every setting that decides the verdict.
    settings_digest: &'a str,
    /// Which shard of a split run this is (`kpsa … --shard I/N`); null
    /// for a whole run.
    shard: Option<super::Shard>,
    /// The targets planned and those evaluated.
    plan: Plan<'a>,
    /// The checks the report can refer to, with their metadata.
    rules: Vec<Rule>,
}

/// Every target the run planned (in plan order; every shard plans the
/// same) and those it evaluated.
#[derive(Serialize)]
struct Plan<'a> {
    targets: &'a [String],
    evaluated: &'a [String],
}

/// A rule's metadata, so a saved report explains its findings by itself
/// (rules that are not built in, such as Rego policies, need it).
#[derive(Serialize)]
struct Rule {
    id: &'static str,
    family: &'static str,
    tier: &'static str,
    severity: &'static str,
    summary: &'static str,
    help_uri: String,
    frameworks: Vec<FrameworkId>,
}

impl<'a> Header<'a> {
    fn new(run: &'a RunInfo) -> Self {
        Header {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "kpsa",
                version: env!("CARGO_PKG_VERSION"),
            },
            command: run.command,
            kubernetes_version: run.kubernetes_version.to_string(),
            kubernetes_version_label: &run.version_label,
            level: run.level.as_str(),
            fail_on: run.gate_name(),
            settings_digest: &run.settings_digest,
            shard: run.shard,
            plan: Plan {
                targets: &run.planned,
                evaluated: &run.evaluated,
            },
            rules: registry::CHECKS
                .iter()
                .filter(|c| c.tier <= run.level)
                .map(|c| Rule {
                    id: c.id,
                    family: c.tier.family(),
                    tier: c.tier.as_str(),
                    severity: c.tier.severity().as_str(),
                    summary: c.doc.summary,
                    help_uri: super::help_uri(c.id),
                    frameworks: c.tier.frameworks(),
                })
                .collect(),
        }
    }
}

/// A finding as the report writes it: its fields, its family and
/// framework ids, and the source text of its location line (and, in
/// `diff`, of its attributed line).
#[derive(Serialize)]
struct FindingOut<'a, T: Serialize> {
    #[serde(flatten)]
    inner: &'a T,
    family: &'static str,
    frameworks: Vec<FrameworkId>,
    /// The text of the location's line, when the file can be read.
    source: Option<String>,
    /// `diff`: the text of the attributed line.
    #[serde(skip_serializing_if = "Option::is_none")]
    attributed_source: Option<Option<String>>,
    /// The suppression's state: `active`, `pending` (added by the change
    /// under review), `invalid` (no reason, expired), or null.
    suppression_state: Option<&'static str>,
}

impl<'a, T: Serialize> FindingOut<'a, T> {
    fn new(inner: &'a T, f: &Finding, sources: &mut Sources) -> Self {
        FindingOut {
            inner,
            family: f.tier.family(),
            frameworks: f.tier.frameworks(),
            source: sources.line(&f.location.path, f.location.line),
            attributed_source: None,
            suppression_state: f.suppression.as_ref().map(|s| {
                if s.active {
                    "active"
                } else if s.pending {
                    "pending"
                } else {
                    "invalid"
                }
            }),
        }
    }
}

impl Counts {
    fn of<'f>(findings: impl Iterator<Item = &'f Finding> + Clone) -> Self {
        let count = |t| findings.clone().filter(|f| f.tier == t).count();
        Counts {
            total: findings.clone().count(),
            baseline: count(crate::policy::Tier::Baseline),
            restricted: count(crate::policy::Tier::Restricted),
            hardened: count(crate::policy::Tier::Hardened),
        }
    }
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    stats: &'a Stats,
    findings: Counts,
    /// Findings suppressed (annotation or config) or accepted.
    suppressed: usize,
    gated: usize,
    errors: usize,
}

#[derive(Serialize)]
struct Counts {
    total: usize,
    baseline: usize,
    restricted: usize,
    hardened: usize,
}

/// Write the report to `out` as it serializes, without building it in memory.
pub fn write(
    result: &ScanResult,
    run: &RunInfo,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let report = Report {
        header: Header::new(run),
        summary: Summary {
            stats: &result.stats,
            findings: Counts::of(result.findings.iter().filter(|f| !f.waived())),
            suppressed: result.findings.iter().filter(|f| f.waived()).count(),
            gated: super::gated(result, run),
            errors: result.errors.len(),
        },
        findings: {
            let mut sources = Sources::for_run(run, &run.root, result.stdin_text.as_deref());
            result
                .findings
                .iter()
                .map(|f| FindingOut::new(f, f, &mut sources))
                .collect()
        },
        workloads: &result.workloads,
        errors: &result.errors,
        warnings: &run.warnings,
        accepted: result.accepted.as_ref(),
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct DiffReport<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    base_commit: &'a str,
    /// null: the working tree.
    head_commit: Option<&'a str>,
    merge_base: bool,
    /// `--include-unchanged`: SARIF and Markdown list unchanged findings too.
    include_unchanged: bool,
    targets: TargetCounts,
    summary: DiffSummary<'a>,
    transitions: &'a [crate::diff::Transition],
    configuration_changes: &'a [crate::compare::ConfigChange],
    findings: Vec<FindingOut<'a, crate::diff::Classified>>,
    workloads: &'a [Workload],
    errors: &'a [InputError],
    warnings: Vec<&'a String>,
}

#[derive(Serialize)]
struct TargetCounts {
    rendered: crate::compare::Counts,
    skipped: crate::compare::Counts,
    /// Files written from git objects (0 for the working tree).
    materialized: crate::compare::Counts,
}

#[derive(Serialize)]
struct DiffSummary<'a> {
    #[serde(flatten)]
    stats: &'a Stats,
    /// New findings by tier (not suppressed).
    findings: Counts,
    /// New or unchanged findings that are suppressed.
    suppressed: usize,
    new: usize,
    fixed: usize,
    unchanged: usize,
    /// New findings at or above the gate.
    gated: usize,
    errors: usize,
}

/// The `kpsa diff` report: the scan contract plus status, attribution,
/// commits, transitions, configuration changes and target counts.
pub fn write_diff(
    o: &crate::compare::Outcome,
    run: &RunInfo,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use crate::diff::Status;
    let new: Vec<&Finding> = o
        .findings
        .iter()
        .filter(|c| c.status == Status::New)
        .map(|c| &c.finding)
        .collect();
    let status = |s| o.findings.iter().filter(|c| c.status == s).count();
    let report = DiffReport {
        header: Header::new(run),
        base_commit: &o.base_commit,
        head_commit: o.head_commit.as_deref(),
        merge_base: o.merge_base,
        include_unchanged: o.include_unchanged,
        targets: TargetCounts {
            rendered: o.rendered,
            skipped: o.skipped,
            materialized: o.materialized,
        },
        summary: DiffSummary {
            stats: &o.stats,
            findings: Counts::of(new.iter().copied().filter(|f| !f.waived())),
            suppressed: o
                .findings
                .iter()
                .filter(|c| c.status != Status::Fixed && c.finding.waived())
                .count(),
            new: new.len(),
            fixed: status(Status::Fixed),
            unchanged: status(Status::Unchanged),
            gated: run
                .fail_on
                .map_or(0, |g| new.iter().filter(|f| f.tier <= g).count()),
            errors: o.errors.len(),
        },
        transitions: &o.transitions,
        configuration_changes: &o.config_changes,
        findings: {
            let mut sources = Sources::for_run(run, &o.head_root, None);
            o.findings
                .iter()
                .map(|c| {
                    let mut out = FindingOut::new(c, &c.finding, &mut sources);
                    // A fixed finding's location is in the base: not read here.
                    if c.status == Status::Fixed {
                        out.source = None;
                    }
                    out.attributed_source = Some(
                        c.attributed_location
                            .as_ref()
                            .and_then(|a| sources.line(&a.path, a.line)),
                    );
                    out
                })
                .collect()
        },
        workloads: &o.workloads,
        errors: &o.errors,
        warnings: run.warnings.iter().chain(&o.warnings).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}
