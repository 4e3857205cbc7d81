//! The accepted-findings file: for adopting kpsa where there is no base
//! commit to compare with (Argo CD, a first rollout). `kpsa accept --write
//! FILE` records today's findings; `kpsa scan --accepted FILE` then reports
//! only findings not in it, and lists entries that no longer occur (stale).
//!
//! Versioned, sorted by fingerprint, one entry per finding, pretty-printed:
//! it diffs well in review. Reasons written by people are kept when the file
//! is written again.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::finding::Finding;

/// The file format version.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub version: u32,
    pub findings: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub check: String,
    pub target: String,
    /// `Deployment shop/web`.
    pub object: String,
    pub container: Option<String>,
    /// Why it is accepted; to be filled in by people.
    pub reason: String,
}

/// What `--accepted` did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    pub file: String,
    /// Findings found in the file.
    pub matched: usize,
    /// Entries no finding matches any more.
    pub stale: Vec<Entry>,
    /// Entries with an empty reason: they accept nothing.
    pub without_reason: Vec<Entry>,
}

fn entry(f: &Finding, reason: String) -> Entry {
    Entry {
        fingerprint: f.fingerprint.clone(),
        check: f.check.to_string(),
        target: f.target.clone(),
        object: f.object.display(),
        container: f.container.clone(),
        reason,
    }
}

/// Read an accepted-findings file.
pub fn load(path: &Path) -> Result<File, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let file: File = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not an accepted-findings file: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if file.version != VERSION {
        return Err(format!(
            "{}: accepted-findings file version {} is not supported (this kpsa reads version {VERSION})",
            path.display(),
            file.version
        ));
    }
    Ok(file)
}

/// The file for these findings (suppressed ones are left out: they are
/// accepted already); reasons of entries already in `previous` are kept.
pub fn build(findings: &[Finding], previous: Option<&File>, reason: &str) -> File {
    let kept: BTreeMap<&str, &str> = previous
        .map(|p| {
            p.findings
                .iter()
                .map(|e| (e.fingerprint.as_str(), e.reason.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut entries: Vec<Entry> = findings
        .iter()
        .filter(|f| !f.suppression.as_ref().is_some_and(|s| s.active))
        .map(|f| {
            entry(
                f,
                kept.get(f.fingerprint.as_str())
                    .map_or(reason.to_string(), |r| r.to_string()),
            )
        })
        .collect();
    entries.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
    File {
        version: VERSION,
        findings: entries,
    }
}

/// The file as written: pretty JSON with a final newline.
pub fn render(file: &File) -> String {
    let mut s = serde_json::to_string_pretty(file).expect("serializes");
    s.push('\n');
    s
}

/// Mark the findings the file accepts; return the counts and stale entries.
pub fn apply(findings: &mut [Finding], file: &File, name: &str) -> Applied {
    let mut seen = std::collections::HashSet::new();
    // An entry needs a reason to accept anything.
    let has_reason = |e: &&Entry| !e.reason.trim().is_empty();
    let wanted: std::collections::HashSet<&str> = file
        .findings
        .iter()
        .filter(has_reason)
        .map(|e| e.fingerprint.as_str())
        .collect();
    let mut matched = 0;
    for f in findings.iter_mut() {
        if wanted.contains(f.fingerprint.as_str()) {
            f.accepted = true;
            matched += 1;
            seen.insert(f.fingerprint.clone());
        }
    }
    Applied {
        file: name.to_string(),
        matched,
        stale: file
            .findings
            .iter()
            .filter(|e| has_reason(e) && !seen.contains(&e.fingerprint))
            .cloned()
            .collect(),
        without_reason: file
            .findings
            .iter()
            .filter(|e| !has_reason(e))
            .cloned()
            .collect(),
    }
}
