//! Reading a saved JSON report (`--format json`) back: the input of
//! publishing, merging shards and rendering other formats later. A saved
//! report may come from another job, even a fork's, so it is untrusted
//! data: it must be exactly a version this kpsa knows and match that
//! version's schema (`docs/kpsa-report.schema.json`), or it is refused
//! with a clear error.

use std::sync::OnceLock;

/// The report versions this kpsa reads.
pub const KNOWN_VERSIONS: [u64; 1] = [super::json::SCHEMA_VERSION as u64];

/// Most bytes of a saved report read.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

const SCHEMA: &str = include_str!("../../docs/kpsa-report.schema.json");

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema compiles")
    })
}

/// Check a saved report's text; `name` names it in errors. Returns the
/// report as JSON when it is a known version that matches its schema.
pub fn read(text: &str, name: &str) -> Result<serde_json::Value, String> {
    if text.len() > MAX_BYTES {
        return Err(format!(
            "{name}: the report is larger than {MAX_BYTES} bytes; kpsa does not read it"
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "{name}:{}:{}: not a kpsa JSON report: {e}",
            e.line(),
            e.column()
        )
    })?;
    let version = value
        .get("schema_version")
        .ok_or_else(|| format!("{name}: not a kpsa JSON report (no schema_version)"))?;
    match version.as_u64() {
        Some(v) if KNOWN_VERSIONS.contains(&v) => {}
        _ => {
            let by = value
                .pointer("/tool/version")
                .and_then(|v| v.as_str())
                .map(|v| format!(" (written by kpsa {v})"))
                .unwrap_or_default();
            return Err(format!(
                "{name}: report schema_version {version}{by} is not one this kpsa {} reads ({}); \
                 produce the report with this kpsa version",
                env!("CARGO_PKG_VERSION"),
                KNOWN_VERSIONS
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "{name}: the report does not match the schema of version {version}:\n{}",
            errors.join("\n")
        ));
    }
    Ok(value)
}

/// A saved report, read back into kpsa's own result types: what
/// `kpsa report` renders in any format (and what publishing and merging
/// start from).
#[derive(Debug, serde::Deserialize)]
pub struct Saved {
    pub command: String,
    pub kubernetes_version: String,
    pub kubernetes_version_label: String,
    pub level: crate::policy::Tier,
    pub fail_on: String,
    pub settings_digest: String,
    pub shard: Option<super::Shard>,
    pub plan: SavedPlan,
    pub summary: SavedSummary,
    pub findings: Vec<SavedFinding>,
    pub workloads: Vec<crate::finding::Workload>,
    pub errors: Vec<crate::scan::InputError>,
    pub warnings: Vec<String>,
    #[serde(default)]
    pub accepted: Option<crate::accepted::Applied>,
    #[serde(default)]
    pub base_commit: Option<String>,
    #[serde(default)]
    pub head_commit: Option<String>,
    #[serde(default)]
    pub merge_base: bool,
    #[serde(default)]
    pub include_unchanged: bool,
    #[serde(default)]
    pub targets: Option<SavedTargets>,
    #[serde(default)]
    pub transitions: Vec<crate::diff::Transition>,
    #[serde(default)]
    pub configuration_changes: Vec<crate::compare::ConfigChange>,
}

/// The targets a saved run planned and evaluated.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SavedPlan {
    pub targets: Vec<String>,
    pub evaluated: Vec<String>,
}

/// The counts a saved report carries (the rest of its summary is
/// recomputed from its findings).
#[derive(Debug, serde::Deserialize)]
pub struct SavedSummary {
    #[serde(flatten)]
    pub stats: crate::scan::Stats,
}

/// `diff`: targets rendered, skipped and written on each side.
#[derive(Debug, serde::Deserialize)]
pub struct SavedTargets {
    pub rendered: crate::compare::Counts,
    pub skipped: crate::compare::Counts,
    pub materialized: crate::compare::Counts,
}

/// One finding of a saved report, with its `diff` fields and source text.
#[derive(Debug, serde::Deserialize)]
pub struct SavedFinding {
    #[serde(flatten)]
    pub finding: crate::finding::Finding,
    #[serde(default)]
    pub status: Option<crate::diff::Status>,
    #[serde(default)]
    pub attributed_location: Option<crate::diff::Attributed>,
    #[serde(default)]
    pub base_unavailable: bool,
    pub source: Option<String>,
    #[serde(default)]
    pub attributed_source: Option<String>,
}

/// Read, check and load a saved report (see [`read`]).
pub fn load(text: &str, name: &str) -> Result<Saved, String> {
    // Checked as a JSON tree, then read again into kpsa's types: the tree
    // is dropped first, so the peak is the larger of the two, not both.
    drop(read(text, name)?);
    serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))
}

impl Saved {
    /// What the saved run was asked to do, for the reports to state. Its
    /// source lines stand in for the repository, which need not be here.
    pub fn run_info(&self, show_suppressed: bool) -> Result<super::RunInfo, String> {
        use crate::policy::{Tier, VersionSpec};
        let command = match self.command.as_str() {
            "scan" => "scan",
            "diff" => "diff",
            other => return Err(format!("unknown command {other:?} in the report")),
        };
        let spec: VersionSpec = self.kubernetes_version.parse()?;
        let (fail_on, gate_enforced) = match self.fail_on.as_str() {
            "baseline" => (Some(Tier::Baseline), false),
            "restricted" => (Some(Tier::Restricted), false),
            "hardened" => (Some(Tier::Hardened), false),
            "enforced" => (None, true),
            "never" => (None, false),
            other => return Err(format!("unknown gate {other:?} in the report")),
        };
        let mut lines = std::collections::HashMap::new();
        for f in &self.findings {
            if let Some(s) = &f.source {
                let l = &f.finding.location;
                lines.insert((l.path.clone(), l.line), s.clone());
            }
            if let (Some(a), Some(s)) = (&f.attributed_location, &f.attributed_source) {
                lines.insert((a.path.clone(), a.line), s.clone());
            }
        }
        Ok(super::RunInfo {
            settings_digest: self.settings_digest.clone(),
            shard: self.shard,
            planned: self.plan.targets.clone(),
            evaluated: self.plan.evaluated.clone(),
            warnings: if command == "scan" {
                self.warnings.clone()
            } else {
                Vec::new()
            },
            command,
            kubernetes_version: spec.resolve(),
            version_label: self.kubernetes_version_label.clone(),
            level: self.level,
            fail_on,
            gate_enforced,
            root: std::path::PathBuf::new(),
            show_suppressed,
            saved_lines: std::sync::Arc::new(lines),
        })
    }

    /// A `scan` report's result.
    pub fn into_scan(self) -> crate::scan::ScanResult {
        crate::scan::ScanResult {
            findings: self.findings.into_iter().map(|f| f.finding).collect(),
            workloads: self.workloads,
            errors: self.errors,
            stats: self.summary.stats,
            accepted: self.accepted,
            ..Default::default()
        }
    }

    /// A `diff` report's outcome.
    pub fn into_outcome(self) -> crate::compare::Outcome {
        let targets = self.targets.unwrap_or(SavedTargets {
            rendered: Default::default(),
            skipped: Default::default(),
            materialized: Default::default(),
        });
        crate::compare::Outcome {
            base_commit: self.base_commit.unwrap_or_default(),
            head_commit: self.head_commit,
            merge_base: self.merge_base,
            include_unchanged: self.include_unchanged,
            findings: self
                .findings
                .into_iter()
                .map(|f| crate::diff::Classified {
                    finding: f.finding,
                    status: f.status.unwrap_or(crate::diff::Status::New),
                    attributed_location: f.attributed_location,
                    base_unavailable: f.base_unavailable,
                })
                .collect(),
            transitions: self.transitions,
            config_changes: self.configuration_changes,
            rendered: targets.rendered,
            skipped: targets.skipped,
            materialized: targets.materialized,
            errors: self.errors,
            warnings: self.warnings,
            stats: self.summary.stats,
            workloads: self.workloads,
            ..Default::default()
        }
    }
}
