//! Findings: a violation placed in its object, file and line, with a stable
//! identity.
//!
//! A finding's fingerprint (`kpsa/v1`) is a hash of what the finding *is*:
//! target, object kind, namespace, name, subject, check, field path written
//! with names (`containers[name=app]`) and the offending values. Never the
//! line number: lines move. Two findings that still collide get an
//! occurrence number, so fingerprints are unique within a run.

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::ObjectRef;
use crate::policy::{PssLevel, ServiceAccountKey, Severity, Subject, Tier};

/// The version prefix of every fingerprint; part of kpsa's output contract.
pub const FINGERPRINT_VERSION: &str = "kpsa/v1";

/// A place in a file, lines and columns counted from 1.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
}

/// A line and column in a target's rendered output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// Where a rendered object came from, as its renderer said: Helm's
/// `# Source:` path or Kustomize's origin path (relative to the wrapper),
/// the kustomizations that transformed it, and the finding's field as a
/// JSON pointer with list positions (for JSON6902 patches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub source: Option<String>,
    pub configured_in: Vec<String>,
    pub pointer: String,
}

/// One offending field of one subject of one object for one check.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Finding {
    #[serde(deserialize_with = "check_id")]
    pub check: CheckId,
    pub tier: Tier,
    pub severity: Severity,
    pub target: String,
    pub object: ObjectRef,
    /// The container at fault, or None when it is the pod.
    pub container: Option<String>,
    /// Field path from the object, with names for list items.
    pub field: String,
    pub message: String,
    /// The source file and line to show: the line that sets the field
    /// where it can be found, else the object's first line.
    pub location: Location,
    /// Where the field is in the target's rendered output (None for plain
    /// manifests, whose location is exact).
    pub rendered: Option<Position>,
    /// What the namespace's Pod Security Admission would do, when known.
    pub admission: Option<Box<crate::admission::Outcome>>,
    /// A suppression that names this finding (it suppresses when `active`).
    pub suppression: Option<Box<crate::suppress::Suppression>>,
    /// In the accepted-findings file (`--accepted`).
    pub accepted: bool,
    pub fingerprint: String,
    /// The namespace admission places the object in (its own, else the
    /// renderer's, else `default`).
    #[serde(skip)]
    pub namespace: String,
    #[serde(skip)]
    pub origin: Option<Box<Origin>>,
    /// Offending values, part of the identity.
    #[serde(skip)]
    pub values: Vec<String>,
    #[serde(skip)]
    pub unless_service_account: Option<ServiceAccountKey>,
}

/// A string that must be one of `allowed` (a saved report's closed
/// vocabularies), as the list's `&'static str`.
pub fn known(s: &str, allowed: &[&'static str]) -> Result<&'static str, String> {
    allowed
        .iter()
        .copied()
        .find(|a| *a == s)
        .ok_or_else(|| format!("{s:?} is not one of {}", allowed.join(", ")))
}

/// A word from a closed vocabulary (a check id, `annotation`…). An alias,
/// so that serde's derive reads such fields through their own functions
/// rather than borrowing them from the input for `'static`.
pub type Word = &'static str;

/// A check's id.
pub type CheckId = Word;

/// Read back a check id: one of the checks this kpsa knows.
fn check_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    crate::policy::registry::find(&s)
        .map(|c| c.id)
        .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a check this kpsa knows")))
}

/// The PSS level a pod spec meets, with upstream's admission messages.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Workload {
    pub target: String,
    pub object: ObjectRef,
    pub location: Location,
    pub rendered: Option<Position>,
    #[serde(skip)]
    pub origin: Option<Box<Origin>>,
    /// Field path from the object to the pod template ("" for a Pod).
    pub template: String,
    /// The strictest level met: `privileged`, `baseline` or `restricted`.
    pub level: PssLevel,
    /// `violates PodSecurity "baseline:v1.37": …`, or null when allowed.
    pub baseline: Option<String>,
    pub restricted: Option<String>,
    /// What the namespace's Pod Security Admission would do, when known.
    pub admission: Option<Box<crate::admission::Outcome>>,
}

impl Finding {
    /// Suppressed or accepted: reported, but not at the gate.
    pub fn waived(&self) -> bool {
        self.accepted || self.suppression.as_ref().is_some_and(|s| s.active)
    }

    fn identity(&self) -> String {
        let subject = match &self.container {
            Some(name) => format!("container:{name}"),
            None => "pod".to_string(),
        };
        let mut values = self.values.clone();
        values.sort();
        [
            FINGERPRINT_VERSION,
            &self.target,
            &self.object.kind,
            self.object.namespace.as_deref().unwrap_or(""),
            &self.object.name,
            &subject,
            self.check,
            &self.field,
            &values.join(","),
        ]
        .join("\u{0}")
    }
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{FINGERPRINT_VERSION}:{hex}")
}

/// Give every finding its fingerprint; collisions get occurrence numbers in
/// the order the findings are given.
pub fn assign_fingerprints(findings: &mut [Finding]) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for f in findings.iter_mut() {
        let identity = f.identity();
        let n = seen.entry(identity.clone()).or_insert(0);
        *n += 1;
        f.fingerprint = if *n == 1 {
            hash(&identity)
        } else {
            hash(&format!("{identity}\u{0}#{n}"))
        };
    }
}

/// The subject of a violation as a finding's `container`.
pub fn container_of(subject: &Subject) -> Option<String> {
    match subject {
        Subject::Pod => None,
        Subject::Container(name) => Some(name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u32, values: &[&str]) -> Finding {
        Finding {
            check: "privileged",
            tier: Tier::Baseline,
            severity: Severity::High,
            target: "deploy.yaml".into(),
            object: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: None,
                name: "web".into(),
            },
            container: Some("app".into()),
            field: "spec.template.spec.containers[name=app].securityContext.privileged".into(),
            message: String::new(),
            location: Location {
                path: "deploy.yaml".into(),
                line,
                column: 1,
            },
            rendered: None,
            origin: None,
            admission: None,
            suppression: None,
            accepted: false,
            namespace: String::new(),
            fingerprint: String::new(),
            values: values.iter().map(|s| s.to_string()).collect(),
            unless_service_account: None,
        }
    }

    #[test]
    fn fingerprints_ignore_lines_and_value_order() {
        let mut a = [finding(10, &["B", "A"])];
        let mut b = [finding(99, &["A", "B"])];
        assign_fingerprints(&mut a);
        assign_fingerprints(&mut b);
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert!(a[0].fingerprint.starts_with("kpsa/v1:"));
    }

    #[test]
    fn collisions_get_distinct_fingerprints() {
        let mut both = [finding(1, &[]), finding(2, &[])];
        assign_fingerprints(&mut both);
        assert_ne!(both[0].fingerprint, both[1].fingerprint);
    }
}
