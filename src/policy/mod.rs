//! Evaluate: pod specs against the Pod Security Standards, exactly as the Pod
//! Security Admission controller decides them, plus kpsa's OWASP K01
//! hardening checks. No I/O happens here.
//!
//! Every check lives in its own file under [`checks`], opens with the spec it
//! enforces, and returns [`Offense`]s: one per offending field of one subject.
//! The [`registry`] knows which checks run at which level and version,
//! including the restricted checks that override baseline ones.

pub mod checks;
pub mod message;
pub mod pod;
pub mod registry;
pub mod version;

use std::collections::HashMap;

use serde::Serialize;

use crate::manifest::{PodView, Pos};
pub use pod::{FieldTypeError, Pod};
pub use version::{NEWEST_MINOR, Version, VersionSpec};

/// The tier of a check, which is also the tier of its findings.
/// `--level` runs the checks of a tier and of every tier before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Pod Security Standards, baseline: breaking it leaves the pod Privileged.
    Baseline,
    /// Pod Security Standards, restricted: breaking it leaves the pod at Baseline.
    Restricted,
    /// OWASP Kubernetes Top 10 K01 hardening beyond the Pod Security Standards.
    Hardened,
}

/// A framework id a check maps to (`pod-security-standards` `baseline`,
/// `owasp-kubernetes-top-10` 2025 `K01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FrameworkId {
    pub framework: &'static str,
    /// The edition, for frameworks that have them (the PSS levels are
    /// versioned by the Kubernetes version the report states).
    pub version: Option<&'static str>,
    pub id: &'static str,
}

/// The OWASP Kubernetes Top Ten (2025) item every pod-spec check belongs
/// to: K01, Insecure Workload Configurations.
pub const OWASP_K01: FrameworkId = FrameworkId {
    framework: "owasp-kubernetes-top-10",
    version: Some("2025"),
    id: "K01",
};

impl Tier {
    /// The check family: `pss` for the Pod Security Standards levels, `k01`
    /// for kpsa's OWASP K01 hardening beyond them.
    pub fn family(self) -> &'static str {
        match self {
            Tier::Baseline | Tier::Restricted => "pss",
            Tier::Hardened => "k01",
        }
    }

    /// The framework ids of a check of this tier.
    pub fn frameworks(self) -> Vec<FrameworkId> {
        let pss = |id| FrameworkId {
            framework: "pod-security-standards",
            version: None,
            id,
        };
        match self {
            Tier::Baseline => vec![pss("baseline"), OWASP_K01],
            Tier::Restricted => vec![pss("restricted"), OWASP_K01],
            Tier::Hardened => vec![OWASP_K01],
        }
    }

    pub const ALL: [Tier; 3] = [Tier::Baseline, Tier::Restricted, Tier::Hardened];

    pub fn severity(self) -> Severity {
        match self {
            Tier::Baseline => Severity::High,
            Tier::Restricted => Severity::Medium,
            Tier::Hardened => Severity::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Baseline => "baseline",
            Tier::Restricted => "restricted",
            Tier::Hardened => "hardened",
        }
    }
}

/// How bad a finding is, following the PSS levels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// A Pod Security Standards level, as in namespace labels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PssLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl PssLevel {
    /// The strictest level a pod spec meets, given its verdicts at baseline
    /// and restricted.
    pub fn met(baseline: &Verdict, restricted: &Verdict) -> PssLevel {
        if !baseline.allowed {
            PssLevel::Privileged
        } else if !restricted.allowed {
            PssLevel::Baseline
        } else {
            PssLevel::Restricted
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PssLevel::Privileged => "privileged",
            PssLevel::Baseline => "baseline",
            PssLevel::Restricted => "restricted",
        }
    }
}

/// Who is at fault: the pod as a whole, or one container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Pod,
    Container(String),
}

/// A ServiceAccount named by a pod: (namespace or "", name).
pub type ServiceAccountKey = (String, String);

/// One offending field of one subject, as a check reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offense {
    pub subject: Subject,
    /// Field path relative to the pod template, with names for list items:
    /// `spec.containers[name=app].securityContext.privileged`.
    pub field: String,
    /// The field, or the nearest existing parent when it is missing.
    pub pos: Pos,
    /// Which sentence of the check's detail this offense belongs to.
    pub part: u8,
    /// The offending values (capabilities, ports, profile types, …).
    pub values: Vec<String>,
    /// Set when the offense goes away if this ServiceAccount, once known,
    /// sets `automountServiceAccountToken: false`.
    pub unless_service_account: Option<ServiceAccountKey>,
}

impl Offense {
    pub fn new(subject: Subject, field: String, pos: Pos, values: Vec<String>) -> Offense {
        Offense {
            subject,
            field,
            pos,
            part: 0,
            values,
            unless_service_account: None,
        }
    }

    pub fn part(mut self, part: u8) -> Offense {
        self.part = part;
        self
    }
}

/// What other objects of the same input say, for checks that look beyond the pod.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `automountServiceAccountToken` of each ServiceAccount in the input.
    pub service_accounts: HashMap<ServiceAccountKey, Option<bool>>,
}

/// The text `kpsa explain` prints and `docs/checks.md` is generated from.
#[derive(Debug)]
pub struct Doc {
    /// One line: what the check enforces.
    pub summary: &'static str,
    /// The fields it reads and the values it allows.
    pub looks_at: &'static str,
    /// Why a violation matters.
    pub why: &'static str,
    /// A pod spec that fails.
    pub example: &'static str,
    /// The same spec, fixed.
    pub fix: &'static str,
}

/// One behaviour of a check, in force from `since` until the next variant.
pub struct Variant {
    pub since: Version,
    pub eval: fn(&Pod, &Context) -> Vec<Offense>,
    /// Baseline checks this (restricted) variant replaces at restricted.
    pub overrides: &'static [&'static str],
}

/// A check: identity, tier, versioned behaviour, wording and documentation.
pub struct Check {
    pub id: &'static str,
    pub tier: Tier,
    pub variants: &'static [Variant],
    /// Upstream's short reason for these offenses (`privileged`, …).
    pub reason: fn(&[&Offense]) -> String,
    /// Upstream's detail naming who and what (`container "a" must not …`).
    pub detail: fn(&[&Offense]) -> String,
    pub doc: Doc,
}

impl Check {
    /// The variant in force at `version`, if the check exists yet.
    pub fn variant_at(&self, version: Version) -> Option<&Variant> {
        self.variants.iter().rev().find(|v| v.since <= version)
    }

    /// `reason (detail)`, as upstream aggregates a failed check.
    pub fn message(&self, offenses: &[&Offense]) -> String {
        let detail = (self.detail)(offenses);
        let reason = (self.reason)(offenses);
        if detail.is_empty() {
            reason
        } else {
            format!("{reason} ({detail})")
        }
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("id", &self.id)
            .field("tier", &self.tier)
            .finish()
    }
}

/// A check that failed for a pod, with all its offenses.
#[derive(Debug)]
pub struct Failure {
    pub check: &'static Check,
    pub offenses: Vec<Offense>,
}

/// A reportable problem: one offense, placed in its tier and worded alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub check: &'static str,
    pub tier: Tier,
    pub subject: Subject,
    pub field: String,
    pub pos: Pos,
    pub values: Vec<String>,
    pub message: String,
    pub unless_service_account: Option<ServiceAccountKey>,
}

/// The outcome for one pod at one PSS level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// `reason (detail)` of each failed check, in upstream report order.
    pub messages: Vec<String>,
}

impl Verdict {
    /// `violates PodSecurity "<level>:<version>": …`, or None when allowed.
    pub fn admission_message(&self, level: PssLevel, version_label: &str) -> Option<String> {
        (!self.allowed).then(|| {
            format!(
                "violates PodSecurity \"{}:{}\": {}",
                level.as_str(),
                version_label,
                self.messages.join(", ")
            )
        })
    }
}

/// Everything the checks found for one pod spec at one version.
#[derive(Debug)]
pub struct Evaluation {
    pub version: Version,
    pub failures: Vec<Failure>,
    pub errors: Vec<FieldTypeError>,
}

/// Run every check in force at `version` (all tiers) on one pod spec.
pub fn evaluate(view: &PodView, version: Version, ctx: &Context) -> Evaluation {
    let pod = Pod::new(view);
    let mut failures = Vec::new();
    for check in registry::CHECKS {
        let Some(variant) = check.variant_at(version) else {
            continue;
        };
        let offenses = (variant.eval)(&pod, ctx);
        if !offenses.is_empty() {
            failures.push(Failure { check, offenses });
        }
    }
    Evaluation {
        version,
        failures,
        errors: pod.take_errors(),
    }
}

impl Evaluation {
    /// Upstream's decision at a PSS level: only the checks of that level's
    /// set at this version count, overridden baseline checks excluded.
    pub fn verdict(&self, level: PssLevel) -> Verdict {
        let active = registry::active_ids(level, self.version);
        let messages: Vec<String> = self
            .failures
            .iter()
            .filter(|f| active.contains(&f.check.id))
            .map(|f| f.check.message(&f.offenses.iter().collect::<Vec<_>>()))
            .collect();
        Verdict {
            allowed: messages.is_empty(),
            messages,
        }
    }

    /// Findings-to-be up to `tier`: one per offense. A field that breaks a
    /// baseline check is reported once, as baseline, even where a restricted
    /// check overrides that baseline check; the restricted check then reports
    /// only what the baseline one did not.
    pub fn violations(&self, tier: Tier) -> Vec<Violation> {
        let mut out = Vec::new();
        for failure in &self.failures {
            let check = failure.check;
            if check.tier > tier {
                continue;
            }
            let overridden: Vec<&Failure> = check
                .variant_at(self.version)
                .map(|v| v.overrides)
                .unwrap_or(&[])
                .iter()
                .filter_map(|id| self.failures.iter().find(|f| f.check.id == *id))
                .collect();
            for offense in &failure.offenses {
                let mut offense = offense.clone();
                if let Some(covered) = overridden
                    .iter()
                    .flat_map(|f| f.offenses.iter())
                    .find(|b| b.subject == offense.subject && b.field == offense.field)
                {
                    offense.values.retain(|v| !covered.values.contains(v));
                    if offense.values.is_empty() {
                        continue;
                    }
                }
                let message = check.message(&[&offense]);
                out.push(Violation {
                    check: check.id,
                    tier: check.tier,
                    subject: offense.subject,
                    field: offense.field,
                    pos: offense.pos,
                    values: offense.values,
                    message,
                    unless_service_account: offense.unless_service_account,
                });
            }
        }
        out
    }
}
