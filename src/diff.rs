//! Diff: the findings of two snapshots, classified by fingerprint as `new`,
//! `fixed` or `unchanged`, and the PSS level each workload meets before and
//! after. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use crate::finding::{Finding, Workload};
use crate::manifest::ObjectRef;
use crate::policy::PssLevel;

/// What a change did to a finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    New,
    Fixed,
    Unchanged,
}

/// A changed line a new finding is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(try_from = "AttributedText")]
pub struct Attributed {
    pub path: String,
    pub line: u32,
    /// The column of the line's first non-blank character (the finding's
    /// own column when it is attributed to its own line).
    pub column: u32,
    /// How it was found: `location` (the finding's own line changed),
    /// `values` (a changed values key reaches the field), `kustomization`
    /// (a changed line of the kustomization that applies the patch).
    pub via: crate::finding::Word,
    /// The named templates (helpers) the values key reaches the field
    /// through, outermost first (`values` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub through: Vec<String>,
}

/// An [`Attributed`] as a saved report writes it.
#[derive(serde::Deserialize)]
struct AttributedText {
    path: String,
    line: u32,
    /// Absent in reports written before kpsa wrote it.
    #[serde(default = "first_column")]
    column: u32,
    via: String,
    #[serde(default)]
    through: Vec<String>,
}

fn first_column() -> u32 {
    1
}

impl TryFrom<AttributedText> for Attributed {
    type Error = String;
    fn try_from(a: AttributedText) -> Result<Self, String> {
        Ok(Attributed {
            path: a.path,
            line: a.line,
            column: a.column.max(1),
            via: crate::finding::known(&a.via, &["location", "values", "kustomization"])?,
            through: a.through,
        })
    }
}

/// A finding of either side with its status.
#[derive(Debug, Clone, Serialize)]
pub struct Classified {
    #[serde(flatten)]
    pub finding: Finding,
    pub status: Status,
    pub attributed_location: Option<Attributed>,
    /// The target failed to render on the base side: every finding of its
    /// head side is reported as new.
    pub base_unavailable: bool,
}

/// The PSS level a workload meets before and after the change (None: it
/// does not exist on that side).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Transition {
    pub target: String,
    pub object: ObjectRef,
    pub template: String,
    pub before: Option<PssLevel>,
    pub after: Option<PssLevel>,
}

impl Transition {
    /// A workload that got less secure (or is new and below restricted).
    pub fn is_worse(&self) -> bool {
        match (self.before, self.after) {
            (Some(b), Some(a)) => rank(a) < rank(b),
            (None, Some(a)) => a != PssLevel::Restricted,
            _ => false,
        }
    }
}

fn rank(l: PssLevel) -> u8 {
    match l {
        PssLevel::Privileged => 0,
        PssLevel::Baseline => 1,
        PssLevel::Restricted => 2,
    }
}

/// One side's evaluated targets.
#[derive(Debug, Default)]
pub struct Side<'a> {
    pub findings: &'a [Finding],
    pub workloads: &'a [Workload],
    /// Targets evaluated on this side.
    pub evaluated: BTreeSet<String>,
    /// Targets that failed to render on this side.
    pub failed: BTreeSet<String>,
}

/// Classify by fingerprint. A head finding absent from the base is new
/// (with `base_unavailable` when its target failed on the base side); a
/// base finding absent from the head is fixed, unless its target failed on
/// the head side (then nothing is known); head findings of an existing
/// target that was not evaluated on the base side are unchanged by
/// construction (kpsa skipped it because none of its inputs changed).
/// `added` holds the head targets that do not exist on the base side. A
/// finding the base suppressed (or accepted) and the head does not is new.
pub fn classify(base: &Side, head: &Side, added: &BTreeSet<String>) -> Vec<Classified> {
    // Fingerprint → whether the base suppressed or accepted it.
    let base_fps: std::collections::HashMap<&str, bool> = base
        .findings
        .iter()
        .map(|f| (f.fingerprint.as_str(), f.waived()))
        .collect();
    let head_fps: HashSet<&str> = head
        .findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    let mut out = Vec::new();
    for f in head.findings {
        let base_unavailable = base.failed.contains(&f.target);
        let skipped =
            !base.evaluated.contains(&f.target) && !base_unavailable && !added.contains(&f.target);
        // A finding whose suppression the change removed is new.
        let status = match base_fps.get(f.fingerprint.as_str()) {
            Some(true) if !f.waived() => Status::New,
            Some(_) => Status::Unchanged,
            None if skipped => Status::Unchanged,
            None => Status::New,
        };
        out.push(Classified {
            finding: f.clone(),
            status,
            attributed_location: None,
            base_unavailable,
        });
    }
    for f in base.findings {
        if !head_fps.contains(f.fingerprint.as_str()) && !head.failed.contains(&f.target) {
            out.push(Classified {
                finding: f.clone(),
                status: Status::Fixed,
                attributed_location: None,
                base_unavailable: false,
            });
        }
    }
    out
}

/// Workloads whose level differs between the sides, or that exist on one
/// side only.
pub fn transitions(base: &Side, head: &Side, added: &BTreeSet<String>) -> Vec<Transition> {
    type Key = (String, String, String, String, String);
    let key = |w: &Workload| -> Key {
        (
            w.target.clone(),
            w.object.kind.clone(),
            w.object.namespace.clone().unwrap_or_default(),
            w.object.name.clone(),
            w.template.clone(),
        )
    };
    let before: BTreeMap<Key, &Workload> = base.workloads.iter().map(|w| (key(w), w)).collect();
    let after: BTreeMap<Key, &Workload> = head.workloads.iter().map(|w| (key(w), w)).collect();
    let mut out = Vec::new();
    for (k, w) in &after {
        let b = before.get(k).map(|b| b.level);
        let known = base.evaluated.contains(&w.target)
            || added.contains(&w.target)
            || base.failed.contains(&w.target);
        if b == Some(w.level) || !known {
            continue;
        }
        out.push(Transition {
            target: w.target.clone(),
            object: w.object.clone(),
            template: w.template.clone(),
            before: b,
            after: Some(w.level),
        });
    }
    for (k, w) in &before {
        if !after.contains_key(k) && !head.failed.contains(&w.target) {
            out.push(Transition {
                target: w.target.clone(),
                object: w.object.clone(),
                template: w.template.clone(),
                before: Some(w.level),
                after: None,
            });
        }
    }
    out
}
