//! Report: findings to bytes, for people (text, Markdown) and machines
//! (JSON, SARIF, GitLab Code Quality, JUnit XML).
//!
//! Text and JSON read the scan or diff results directly; the other formats
//! read a [`View`], the same for `scan` and `diff`.

pub mod codequality;
pub mod escape;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod sarif;
pub mod saved;
pub mod text;

use crate::compare::{ConfigChange, Outcome};
use crate::diff::{Attributed, Status, Transition};
use crate::finding::{Finding, Location, Workload};
use crate::policy::registry::CHECKS;
use crate::policy::{Check, Tier, Version};
use crate::scan::{InputError, ScanResult};

/// The project's home page; rule help links point into its documentation.
pub const HOMEPAGE: &str = "https://github.com/kpsa-dev/kpsa";

/// Source lines, read once per file: repository files through
/// [`crate::plan::read_inside`] (never outside the repository), files named
/// on the command line by their absolute path, standard input as read.
pub struct Sources<'a> {
    /// Each file read once: its text and where each line starts (one
    /// allocation per file, not per line: a 50 MB input has 1.4 M lines).
    files: std::collections::HashMap<String, Option<(String, Vec<usize>)>>,
    saved: Option<&'a std::collections::HashMap<(String, u32), String>>,
    stdin: Option<&'a str>,
    /// Relative paths are relative to the repository root.
    root: &'a std::path::Path,
}

impl<'a> Sources<'a> {
    pub fn new(root: &'a std::path::Path, stdin: Option<&'a str>) -> Self {
        Sources {
            files: std::collections::HashMap::new(),
            saved: None,
            stdin,
            root,
        }
    }

    /// The sources of a run: a saved report's lines when it carries them
    /// (`kpsa report`), else the files under `root`.
    pub fn for_run(run: &'a RunInfo, root: &'a std::path::Path, stdin: Option<&'a str>) -> Self {
        let mut s = Sources::new(root, stdin);
        if !run.saved_lines.is_empty() {
            s.saved = Some(&run.saved_lines);
        }
        s
    }

    /// Line `line` (from 1) of `path`, if it can be read.
    pub fn line(&mut self, path: &str, line: u32) -> Option<String> {
        if let Some(saved) = self.saved {
            return saved.get(&(path.to_string(), line)).cloned();
        }
        let stdin = self.stdin;
        let root = self.root;
        let lines = self.files.entry(path.to_string()).or_insert_with(|| {
            let p = std::path::Path::new(path);
            let text = if path == crate::scan::STDIN_NAME {
                stdin.map(str::to_string)
            } else if p.is_absolute() {
                // A file named on the command line, outside the repository.
                std::fs::read_to_string(p).ok()
            } else {
                crate::plan::read_inside(root, p)
            };
            text.map(|t| {
                let starts = std::iter::once(0)
                    .chain(memchr::memchr_iter(b'\n', t.as_bytes()).map(|i| i + 1))
                    .filter(|i| *i < t.len())
                    .collect();
                (t, starts)
            })
        });
        let (text, starts) = lines.as_ref()?;
        let i = line.checked_sub(1)? as usize;
        let start = *starts.get(i)?;
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let l = &text[start..end];
        let l = l.strip_suffix('\n').unwrap_or(l);
        Some(l.strip_suffix('\r').unwrap_or(l).to_string())
    }
}

pub use crate::shard::Shard;

/// Where a check's documentation lives.
pub fn help_uri(id: &str) -> String {
    format!("{HOMEPAGE}/blob/main/docs/checks.md#{}", id.to_lowercase())
}

/// What the run was asked to do, for reports to state.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// A digest of every setting that decides the verdict (see
    /// `cli::settings_digest`), so reports from different settings are told apart.
    pub settings_digest: String,
    /// The shard this run is, when split.
    pub shard: Option<Shard>,
    /// Every target the run planned, in plan order (all shards plan the
    /// same), and those this run evaluated: the merge of shards checks and
    /// orders by them.
    pub planned: Vec<String>,
    pub evaluated: Vec<String>,
    /// Warnings of the run (a version clamped, nothing to scan, …).
    pub warnings: Vec<String>,
    /// Source lines a saved report carries (`kpsa report`), by path and
    /// line: they stand in for the repository's files.
    pub saved_lines: std::sync::Arc<std::collections::HashMap<(String, u32), String>>,
    pub command: &'static str,
    pub kubernetes_version: Version,
    pub version_label: String,
    pub level: Tier,
    pub fail_on: Option<Tier>,
    /// `--fail-on enforced`: fail only on findings the namespace's enforce
    /// mode would refuse.
    pub gate_enforced: bool,
    /// The repository root; locations are relative to it.
    pub root: std::path::PathBuf,
    /// List suppressed and accepted findings in text output.
    pub show_suppressed: bool,
}

impl RunInfo {
    /// Whether a finding is at or above the gate.
    pub fn gates(&self, f: &Finding) -> bool {
        if f.waived() {
            false
        } else if self.gate_enforced {
            f.admission.as_ref().is_some_and(|a| a.refused)
        } else {
            self.fail_on.is_some_and(|g| f.tier <= g)
        }
    }

    /// The gate as `--fail-on` names it.
    pub fn gate_name(&self) -> &'static str {
        if self.gate_enforced {
            "enforced"
        } else {
            self.fail_on.map_or("never", |t| t.as_str())
        }
    }
}

/// Findings at or above the gate.
pub fn gated(result: &ScanResult, run: &RunInfo) -> usize {
    result.findings.iter().filter(|f| run.gates(f)).count()
}

/// A diff's exit code: 3 with head-side errors, 1 with new findings at or
/// above the gate, else 0.
pub fn diff_exit(outcome: &crate::compare::Outcome, run: &RunInfo) -> i32 {
    let gated = outcome
        .findings
        .iter()
        .filter(|c| c.status == crate::diff::Status::New && run.gates(&c.finding))
        .count();
    if !outcome.errors.is_empty() {
        crate::cli::EXIT_INPUT
    } else if gated > 0 {
        crate::cli::EXIT_FINDINGS
    } else {
        crate::cli::EXIT_OK
    }
}

/// One finding as the reports show it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub finding: &'a Finding,
    /// `None` in `scan`.
    pub status: Option<Status>,
    pub attributed: Option<&'a Attributed>,
    pub base_unavailable: bool,
}

impl Item<'_> {
    /// Where the finding is shown: the changed line it is attributed to,
    /// else its location.
    pub fn shown_at(&self) -> Location {
        match self.attributed {
            Some(a) => Location {
                path: a.path.clone(),
                line: a.line,
                column: a.column,
            },
            None => self.finding.location.clone(),
        }
    }

    /// Current: in the head (or the scanned tree).
    pub fn current(&self) -> bool {
        self.status != Some(Status::Fixed)
    }

    /// What the gate looks at: everything in `scan`, new findings in `diff`.
    pub fn gateable(&self) -> bool {
        matches!(self.status, None | Some(Status::New))
    }
}

/// What `kpsa diff` adds to a report.
#[derive(Debug, Clone)]
pub struct DiffMeta<'a> {
    pub base_commit: &'a str,
    pub head_commit: Option<&'a str>,
    pub config_changes: &'a [ConfigChange],
    /// `--include-unchanged`: report every current finding, not only new ones.
    pub include_unchanged: bool,
}

/// The results of a run, as every report format reads them.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub run: &'a RunInfo,
    pub items: Vec<Item<'a>>,
    pub workloads: &'a [Workload],
    pub transitions: &'a [Transition],
    pub errors: &'a [InputError],
    pub warnings: &'a [String],
    pub diff: Option<DiffMeta<'a>>,
}

impl<'a> View<'a> {
    pub fn scan(result: &'a ScanResult, run: &'a RunInfo) -> Self {
        View {
            run,
            items: result
                .findings
                .iter()
                .map(|f| Item {
                    finding: f,
                    status: None,
                    attributed: None,
                    base_unavailable: false,
                })
                .collect(),
            workloads: &result.workloads,
            transitions: &[],
            errors: &result.errors,
            warnings: &[],
            diff: None,
        }
    }

    pub fn diff(o: &'a Outcome, run: &'a RunInfo, include_unchanged: bool) -> Self {
        View {
            run,
            items: o
                .findings
                .iter()
                .map(|c| Item {
                    finding: &c.finding,
                    status: Some(c.status),
                    attributed: c.attributed_location.as_ref(),
                    base_unavailable: c.base_unavailable,
                })
                .collect(),
            workloads: &o.workloads,
            transitions: &o.transitions,
            errors: &o.errors,
            warnings: &o.warnings,
            diff: Some(DiffMeta {
                base_commit: &o.base_commit,
                head_commit: o.head_commit.as_deref(),
                config_changes: &o.config_changes,
                include_unchanged,
            }),
        }
    }

    /// Findings the gate counts that are at or above it.
    pub fn gated(&self) -> Vec<&Item<'a>> {
        self.items
            .iter()
            .filter(|i| i.gateable() && self.run.gates(i.finding))
            .collect()
    }

    /// The checks that ran: every check of the level's tiers in force at the version.
    pub fn checks(&self) -> Vec<&'static Check> {
        CHECKS
            .iter()
            .copied()
            .filter(|c| {
                c.tier <= self.run.level && c.variant_at(self.run.kubernetes_version).is_some()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines_as_str_lines_reads_them() {
        let text = "a: 1\r\nb: 2\n\nlast";
        let mut s = Sources::new(std::path::Path::new("/"), Some(text));
        let got: Vec<Option<String>> = (0..=5)
            .map(|l| s.line(crate::scan::STDIN_NAME, l))
            .collect();
        let want: Vec<Option<String>> = [
            None,
            Some("a: 1"),
            Some("b: 2"),
            Some(""),
            Some("last"),
            None,
        ]
        .into_iter()
        .map(|l| l.map(str::to_string))
        .collect();
        assert_eq!(got, want);
        assert_eq!(text.lines().count(), 4);
    }
}
