//! The JSON report: a versioned contract (`schema_version`), described in
//! `docs/json-output.md` and `docs/kpsa-report.schema.json`.

use serde::Serialize;

use super::RunInfo;
use crate::finding::{Finding, Workload};
use crate::scan::{InputError, ScanResult, Stats};

/// Bump on any incompatible change of the JSON report.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    summary: Summary<'a>,
    findings: &'a [Finding],
    workloads: &'a [Workload],
    errors: &'a [InputError],
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
    level: &'a str,
    fail_on: &'a str,
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
            level: run.level.as_str(),
            fail_on: run.gate_name(),
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
        findings: &result.findings,
        workloads: &result.workloads,
        errors: &result.errors,
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
    targets: TargetCounts,
    summary: DiffSummary<'a>,
    transitions: &'a [crate::diff::Transition],
    configuration_changes: &'a [crate::compare::ConfigChange],
    findings: &'a [crate::diff::Classified],
    workloads: &'a [Workload],
    errors: &'a [InputError],
    warnings: &'a [String],
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
        findings: &o.findings,
        workloads: &o.workloads,
        errors: &o.errors,
        warnings: &o.warnings,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}
