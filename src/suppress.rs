//! Suppressions: findings a team accepted, by annotation on the object or
//! its pod template, or by an exemption in `.kpsa.yaml`.
//!
//! ```yaml
//! metadata:
//!   annotations:
//!     kpsa.io/ignore: "hostNamespaces,debug/privileged"   # <check> or <container>/<check>
//!     kpsa.io/ignore-reason: "node agent, reviewed in SEC-123"
//!     kpsa.io/ignore-until: "2027-03-31"                 # optional, UTC, inclusive
//! ```
//!
//! A suppression without a reason, or past its expiry, does not suppress:
//! the finding stays, and says why. Suppressed findings are never dropped:
//! they are counted, listed with `--show-suppressed`, and written to SARIF
//! as `suppressions`; they do not count for the gate.

use serde::Serialize;

use crate::config::Exemption;
use crate::finding::Finding;
use crate::manifest::Node;

pub const IGNORE: &str = "kpsa.io/ignore";
pub const REASON: &str = "kpsa.io/ignore-reason";
pub const UNTIL: &str = "kpsa.io/ignore-until";

/// A suppression that applies to a finding, and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(try_from = "SuppressionText")]
pub struct Suppression {
    /// `annotation` or `config`.
    pub by: crate::finding::Word,
    pub reason: Option<String>,
    pub until: Option<String>,
    /// Where it is written (`annotation kpsa.io/ignore on Deployment shop/web`, `.kpsa.yaml:14`).
    pub source: String,
    /// It suppresses: it has a reason and has not expired.
    pub active: bool,
    /// Why it does not suppress.
    pub problem: Option<String>,
    /// `kpsa diff`: the change under review added it, so it does not
    /// suppress until someone who may approve it does
    /// (`--allow-new-suppressions`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub pending: bool,
}

/// A [`Suppression`] as a saved report writes it.
#[derive(serde::Deserialize)]
struct SuppressionText {
    by: String,
    reason: Option<String>,
    until: Option<String>,
    source: String,
    active: bool,
    problem: Option<String>,
    #[serde(default)]
    pending: bool,
}

impl TryFrom<SuppressionText> for Suppression {
    type Error = String;
    fn try_from(s: SuppressionText) -> Result<Self, String> {
        Ok(Suppression {
            by: crate::finding::known(&s.by, &["annotation", "config"])?,
            reason: s.reason,
            until: s.until,
            source: s.source,
            active: s.active,
            problem: s.problem,
            pending: s.pending,
        })
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Today, in days since 1970-01-01, UTC.
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    secs.div_euclid(86_400)
}

/// Judge a suppression's reason and expiry.
fn judge(
    by: &'static str,
    reason: Option<String>,
    until: Option<String>,
    source: String,
    today: i64,
) -> Suppression {
    let reason = reason.filter(|r| !r.trim().is_empty());
    let problem = match (&reason, &until) {
        (None, _) => Some(match by {
            "annotation" => format!("no {REASON}: a suppression needs a reason"),
            _ => "no `reason`: a suppression needs a reason".to_string(),
        }),
        (_, Some(u)) => match parse_date(u) {
            None => Some(format!("{u:?} is not a date YYYY-MM-DD")),
            Some(d) if d < today => Some(format!("expired on {u}")),
            Some(_) => None,
        },
        _ => None,
    };
    Suppression {
        by,
        reason,
        until,
        source,
        active: problem.is_none(),
        problem,
        pending: false,
    }
}

/// The `kpsa.io/ignore*` annotations of an object or its pod template.
#[derive(Debug, Clone)]
pub struct AnnotationRule {
    /// `(container, check)`; no container: every subject.
    pub entries: Vec<(Option<String>, String)>,
    pub reason: Option<String>,
    pub until: Option<String>,
    pub source: String,
}

/// Read the rule from the object's and the template's annotations (the
/// template's win where both set a key).
pub fn annotation_rule(
    object: &Node,
    template_metadata: Option<&Node>,
    who: impl FnOnce() -> String,
) -> Option<AnnotationRule> {
    let get = |key: &str| {
        template_metadata
            .and_then(|m| m.path(&["annotations", key]))
            .or_else(|| object.path(&["metadata", "annotations", key]))
            .and_then(Node::scalar_text)
            .map(str::to_string)
    };
    let ignore = get(IGNORE)?;
    let entries = ignore
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match e.split_once('/') {
            Some((c, check)) => (Some(c.to_string()), check.to_string()),
            None => (None, e.to_string()),
        })
        .collect();
    Some(AnnotationRule {
        entries,
        reason: get(REASON),
        until: get(UNTIL),
        source: format!("annotation {IGNORE} on {}", who()),
    })
}

impl AnnotationRule {
    /// The suppression this rule gives a finding, if it names it.
    pub fn apply(&self, f: &Finding, today: i64) -> Option<Suppression> {
        let named = self.entries.iter().any(|(c, check)| {
            check == f.check
                && c.as_ref()
                    .is_none_or(|c| f.container.as_deref() == Some(c.as_str()))
        });
        named.then(|| {
            judge(
                "annotation",
                self.reason.clone(),
                self.until.clone(),
                self.source.clone(),
                today,
            )
        })
    }
}

/// An exemption with its globs compiled once per run (compiling them per
/// finding cost minutes on large repositories).
struct Compiled<'a> {
    exemption: &'a Exemption,
    matchers: [Pattern; 6],
}

/// One field's pattern: unset, or a glob (one that does not compile,
/// which the config reader already refuses, matches nothing).
enum Pattern {
    Any,
    Glob(globset::GlobMatcher),
    Never,
}

impl Pattern {
    fn is_match(&self, v: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Glob(g) => g.is_match(v),
            Pattern::Never => false,
        }
    }
}

impl Compiled<'_> {
    fn new(e: &Exemption) -> Compiled<'_> {
        let m = |p: &Option<String>| match p {
            None => Pattern::Any,
            Some(p) => {
                globset::Glob::new(p).map_or(Pattern::Never, |g| Pattern::Glob(g.compile_matcher()))
            }
        };
        Compiled {
            exemption: e,
            matchers: [
                m(&e.target),
                m(&e.namespace),
                m(&e.kind),
                m(&e.name),
                m(&e.check),
                m(&e.container),
            ],
        }
    }

    fn matches(&self, f: &Finding) -> bool {
        let is = |i: usize, v: &str| self.matchers[i].is_match(v);
        is(0, &f.target)
            && is(1, &f.namespace)
            && is(2, &f.object.kind)
            && is(3, &f.object.name)
            && is(4, f.check)
            && match (&self.matchers[5], &f.container) {
                (Pattern::Any, _) => true,
                (p, Some(c)) => p.is_match(c),
                (_, None) => false,
            }
    }
}

/// Apply the config's exemptions to findings that no annotation
/// suppresses.
pub fn apply_config(
    findings: &mut [Finding],
    exemptions: &[Exemption],
    config_name: &str,
    today: i64,
) {
    if exemptions.is_empty() {
        return;
    }
    let compiled: Vec<Compiled> = exemptions.iter().map(Compiled::new).collect();
    for f in findings.iter_mut() {
        if f.suppression.as_ref().is_some_and(|s| s.active) {
            continue;
        }
        if let Some(c) = compiled.iter().find(|c| c.matches(f)) {
            let e = c.exemption;
            let s = judge(
                "config",
                e.reason.clone(),
                e.until.clone(),
                format!("{config_name}:{}", e.line),
                today,
            );
            if s.active || f.suppression.is_none() {
                f.suppression = Some(Box::new(s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-1-01"), None);
        assert!(today() > parse_date("2026-01-01").unwrap());
    }

    #[test]
    fn reasons_and_expiry() {
        let t = parse_date("2026-06-01").unwrap();
        let s = judge(
            "config",
            Some("ok".into()),
            Some("2026-06-01".into()),
            "x".into(),
            t,
        );
        assert!(s.active, "the last day still counts");
        let s = judge(
            "config",
            Some("ok".into()),
            Some("2026-05-31".into()),
            "x".into(),
            t,
        );
        assert_eq!(s.problem.as_deref(), Some("expired on 2026-05-31"));
        let s = judge("annotation", Some("  ".into()), None, "x".into(), t);
        assert_eq!(
            s.problem.as_deref(),
            Some("no kpsa.io/ignore-reason: a suppression needs a reason")
        );
    }
}
