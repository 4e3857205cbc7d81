//! Markdown through handlebars templates: `summary.md.hbs` (a pull request
//! summary) and `comment.md.hbs` (one inline finding), built in from
//! `templates/` and overridable with `--template NAME=PATH`. The context
//! each template receives is documented in `docs/templates.md`.
//!
//! A summary stays under 65,536 characters (GitHub's and GitLab's comment
//! limit): the least severe findings are left out first, with a note saying
//! how many.

use std::collections::BTreeMap;
use std::path::PathBuf;

use handlebars::Handlebars;
use serde::Serialize;

use super::{Item, View};
use crate::diff::Status;
use crate::policy::{PssLevel, Severity, registry};

/// The built-in templates.
pub const SUMMARY: &str = include_str!("../../templates/summary.md.hbs");
pub const COMMENT: &str = include_str!("../../templates/comment.md.hbs");
/// The template names `--template` accepts.
pub const NAMES: [&str; 2] = ["summary", "comment"];
/// Most characters in one comment body.
pub const MAX_CHARS: usize = 65_536;
/// A workload's findings fold into `<details>` above this many.
const FOLD_AT: usize = 5;
/// The marker a publisher finds its summary comment by.
pub const SUMMARY_MARKER: &str = "<!-- kpsa:summary -->";

/// Templates by name, with the user's overrides.
pub struct Templates {
    hb: Handlebars<'static>,
}

impl Templates {
    /// The built-in templates, then each `(name, path)` override.
    pub fn new(overrides: &[(String, PathBuf)]) -> Result<Self, String> {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        hb.set_strict_mode(false);
        let mut add = |name: &str, text: &str, from: &str| {
            hb.register_template_string(name, text)
                .map_err(|e| format!("template {name} ({from}): {e}"))
        };
        add("summary", SUMMARY, "built in")?;
        add("comment", COMMENT, "built in")?;
        for (name, path) in overrides {
            if !NAMES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown template {name:?}; the templates are {}",
                    NAMES.join(", ")
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("template {name}: cannot read {}: {e}", path.display()))?;
            add(name, &text, &path.display().to_string())?;
        }
        Ok(Templates { hb })
    }

    /// Render `name` with `ctx`, every string from the input escaped first
    /// (see [`escaped_context`]): built-in and user templates alike get
    /// only safe values.
    fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String, String> {
        let value = serde_json::to_value(ctx).map_err(|e| format!("template {name}: {e}"))?;
        self.hb
            .render(name, &escaped_context(value, false))
            .map_err(|e| format!("template {name}: {e}"))
    }
}

/// Context keys whose strings are kpsa's own text (markers, icons, check
/// ids and documentation, settings, links built from `--link-base`): not
/// escaped. Every other string in a template context came from the input.
const TRUSTED_KEYS: [&str; 16] = [
    "marker",
    "icon",
    "why",
    "fix",
    "summary",
    "id",
    "check",
    "headline",
    "truncated",
    "level",
    "fail_on",
    "command",
    "severity",
    "tier",
    "breaks",
    "link",
];

/// The template context with [`escape::markdown`] applied to every string
/// that is not under a [`TRUSTED_KEYS`] key.
fn escaped_context(v: serde_json::Value, trusted: bool) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if !trusted => Value::String(super::escape::markdown(&s, false)),
        Value::Array(a) => {
            Value::Array(a.into_iter().map(|x| escaped_context(x, trusted)).collect())
        }
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| {
                    let t = TRUSTED_KEYS.contains(&k.as_str());
                    (k, escaped_context(x, t))
                })
                .collect(),
        ),
        other => other,
    }
}

/// A repository path in a URL: everything but unreserved characters and
/// `/` percent-encoded.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One finding in a template.
#[derive(Serialize, Clone)]
pub struct FindingCtx {
    pub check: &'static str,
    pub severity: &'static str,
    pub tier: &'static str,
    /// What the finding breaks: `PSS baseline`, `PSS restricted`, `OWASP K01 hardening`.
    pub breaks: &'static str,
    /// 🔴 high, 🟠 medium, 🔵 low.
    pub icon: &'static str,
    pub message: String,
    /// `Deployment shop/web`.
    pub workload: String,
    pub container: Option<String>,
    pub target: String,
    pub field: String,
    /// `path:line` where the finding is shown (the changed line in `diff`).
    pub location: String,
    pub path: String,
    pub line: u32,
    /// A link to the line, with `--link-base`.
    pub link: Option<String>,
    /// Where the field is written, when that is not `location`.
    pub written_elsewhere: bool,
    pub written_at: String,
    /// `diff`: on a changed line.
    pub attributed: bool,
    pub base_unavailable: bool,
    pub fingerprint: String,
    /// What the namespace's Pod Security Admission would do, when known.
    pub admission: Option<String>,
    /// Why the check matters, and the fixed example (YAML).
    pub why: &'static str,
    pub fix: &'static str,
}

fn icon(s: Severity) -> &'static str {
    match s {
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
    }
}

/// The template view of one finding.
pub fn finding_ctx(item: &Item, link_base: Option<&str>) -> FindingCtx {
    let f = item.finding;
    let at = item.shown_at();
    let doc = registry::find(f.check).map(|c| &c.doc);
    FindingCtx {
        check: f.check,
        severity: f.severity.as_str(),
        tier: f.tier.as_str(),
        breaks: match f.tier {
            crate::policy::Tier::Baseline => "PSS baseline",
            crate::policy::Tier::Restricted => "PSS restricted",
            crate::policy::Tier::Hardened => "OWASP K01 hardening",
        },
        icon: icon(f.severity),
        message: f.message.clone(),
        workload: f.object.display(),
        container: f.container.clone(),
        target: f.target.clone(),
        field: f.field.clone(),
        location: format!("{}:{}", at.path, at.line),
        link: link_base.map(|b| {
            format!(
                "{}/{}#L{}",
                b.trim_end_matches('/'),
                url_path(&at.path),
                at.line
            )
        }),
        written_elsewhere: at.path != f.location.path || at.line != f.location.line,
        written_at: format!("{}:{}", f.location.path, f.location.line),
        path: at.path,
        line: at.line,
        attributed: item.attributed.is_some(),
        base_unavailable: item.base_unavailable,
        fingerprint: f.fingerprint.clone(),
        admission: f.admission.as_ref().map(|a| a.describe()),
        why: doc.map_or("", |d| d.why),
        fix: doc.map_or("", |d| d.fix),
    }
}

#[derive(Serialize, Clone)]
struct Counts {
    high: usize,
    medium: usize,
    low: usize,
    total: usize,
}

#[derive(Serialize)]
struct Group {
    workload: String,
    target: String,
    count: usize,
    fold: bool,
    findings: Vec<FindingCtx>,
}

#[derive(Serialize)]
struct TransitionCtx {
    object: String,
    target: String,
    before: Option<&'static str>,
    after: Option<&'static str>,
    worse: bool,
}

#[derive(Serialize, Clone)]
struct FixCtx {
    id: &'static str,
    summary: &'static str,
    fix: &'static str,
}

#[derive(Serialize)]
struct ErrorCtx {
    at: String,
    message: String,
}

#[derive(Serialize)]
struct ConfigCtx {
    setting: String,
    base: Option<String>,
    head: Option<String>,
    /// False: the head's value is not in force (needs review).
    applied: bool,
}

/// The context of `summary.md.hbs` (documented in `docs/templates.md`).
#[derive(Serialize)]
struct SummaryCtx {
    marker: &'static str,
    command: &'static str,
    diff: bool,
    passed: bool,
    headline: String,
    kubernetes_version: String,
    level: &'static str,
    fail_on: &'static str,
    base_commit: Option<String>,
    head_commit: Option<String>,
    counts: Counts,
    fixed: usize,
    unchanged: usize,
    /// Suppressed or accepted findings, not listed.
    suppressed: usize,
    unattributed: usize,
    config_changes: Vec<ConfigCtx>,
    transitions: Vec<TransitionCtx>,
    groups: Vec<Group>,
    fixes: Vec<FixCtx>,
    fixed_findings: Vec<FindingCtx>,
    errors: Vec<ErrorCtx>,
    truncated: Option<String>,
}

/// The pull-request summary: headline, transitions, counts, findings by
/// workload, fixes, fixed findings, errors.
pub fn summary(
    view: &View,
    templates: &Templates,
    link_base: Option<&str>,
) -> Result<String, String> {
    summary_within(view, templates, link_base, MAX_CHARS)
}

/// [`summary`] in at most `max_chars` characters (a publisher adds its own
/// lines to the comment).
pub fn summary_within(
    view: &View,
    templates: &Templates,
    link_base: Option<&str>,
    max_chars: usize,
) -> Result<String, String> {
    let diff = view.diff.is_some();
    // What the summary lists: new findings in diff, every finding in scan.
    let mut shown: Vec<&Item> = view
        .items
        .iter()
        .filter(|i| i.gateable() && !i.finding.waived())
        .collect();
    let suppressed = view
        .items
        .iter()
        .filter(|i| i.gateable() && i.finding.waived())
        .count();
    shown.sort_by(|a, b| {
        (
            a.finding.tier,
            a.finding.object.display(),
            &a.finding.location,
            a.finding.check,
        )
            .cmp(&(
                b.finding.tier,
                b.finding.object.display(),
                &b.finding.location,
                b.finding.check,
            ))
    });
    let total = shown.len();
    let gated = view.gated().len();
    let count = |s: Severity| shown.iter().filter(|i| i.finding.severity == s).count();
    let counts = Counts {
        high: count(Severity::High),
        medium: count(Severity::Medium),
        low: count(Severity::Low),
        total,
    };
    let fail_on = view.run.gate_name();
    let what = if diff { "new finding" } else { "finding" };
    let headline = match (view.errors.is_empty(), gated) {
        (false, _) => format!(
            "{} error(s): some targets could not be rendered or read",
            view.errors.len()
        ),
        (true, 0) if total == 0 => format!("no {what}s"),
        (true, 0) => format!("{total} {what}(s), none at or above the `{fail_on}` gate"),
        (true, g) => format!("{g} {what}(s) at or above the `{fail_on}` gate"),
    };
    let status = |s| view.items.iter().filter(|i| i.status == Some(s)).count();
    let mut fixes: Vec<FixCtx> = Vec::new();
    for i in &shown {
        if !fixes.iter().any(|f| f.id == i.finding.check) {
            if let Some(c) = registry::find(i.finding.check) {
                fixes.push(FixCtx {
                    id: c.id,
                    summary: c.doc.summary,
                    fix: c.doc.fix,
                });
            }
        }
    }
    let make = |limit: usize| -> SummaryCtx {
        let mut groups: Vec<Group> = Vec::new();
        let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
        for i in shown.iter().take(limit) {
            let k = (i.finding.target.clone(), i.finding.object.display());
            let at = *index.entry(k.clone()).or_insert_with(|| {
                groups.push(Group {
                    workload: k.1.clone(),
                    target: k.0.clone(),
                    count: 0,
                    fold: false,
                    findings: Vec::new(),
                });
                groups.len() - 1
            });
            groups[at].findings.push(finding_ctx(i, link_base));
        }
        for g in &mut groups {
            g.count = g.findings.len();
            g.fold = g.count > FOLD_AT;
        }
        SummaryCtx {
            marker: SUMMARY_MARKER,
            command: view.run.command,
            diff,
            passed: view.errors.is_empty() && gated == 0,
            headline: headline.clone(),
            kubernetes_version: view.run.version_label.clone(),
            level: view.run.level.as_str(),
            fail_on,
            base_commit: view.diff.as_ref().map(|d| d.base_commit.chars().take(12).collect()),
            head_commit: view
                .diff
                .as_ref()
                .and_then(|d| d.head_commit.map(|h| h.chars().take(12).collect())),
            counts: counts.clone(),
            fixed: status(Status::Fixed),
            unchanged: status(Status::Unchanged),
            suppressed,
            unattributed: if diff {
                shown.iter().filter(|i| i.attributed.is_none()).count()
            } else {
                0
            },
            config_changes: view
                .diff
                .as_ref()
                .map(|d| {
                    d.config_changes
                        .iter()
                        .map(|c| ConfigCtx {
                            setting: c.setting.clone(),
                            base: c.base.clone(),
                            head: c.head.clone(),
                            applied: c.applied,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            transitions: view
                .transitions
                .iter()
                .map(|t| TransitionCtx {
                    object: t.object.display(),
                    target: t.target.clone(),
                    before: t.before.map(PssLevel::as_str),
                    after: t.after.map(PssLevel::as_str),
                    worse: t.is_worse(),
                })
                .collect(),
            groups,
            fixes: fixes.clone(),
            fixed_findings: view
                .items
                .iter()
                .filter(|i| i.status == Some(Status::Fixed))
                .take(limit)
                .map(|i| finding_ctx(i, None))
                .collect(),
            errors: view
                .errors
                .iter()
                .map(|e| ErrorCtx {
                    at: match e.line {
                        Some(l) => format!("{}:{l}", e.path),
                        None => e.path.clone(),
                    },
                    message: e.message.replace('\n', " "),
                })
                .collect(),
            truncated: (limit < total).then(|| {
                format!(
                    "{} of {total} findings are not shown: a comment holds at most {MAX_CHARS} characters. \
                     The JSON, SARIF and Code Quality reports hold all of them.",
                    total - limit
                )
            }),
        }
    };
    let mut limit = total.max(status(Status::Fixed));
    loop {
        let text = templates.render("summary", &make(limit))?;
        if text.chars().count() <= max_chars {
            return Ok(text);
        }
        if limit == 0 {
            let cut: String = text.chars().take(max_chars - 200).collect();
            return Ok(format!(
                "{cut}\n\n> The summary was cut at {} characters; the JSON report holds everything.\n",
                max_chars - 200
            ));
        }
        limit = limit * 4 / 5;
    }
}

/// The context of `comment.md.hbs`.
#[derive(Serialize)]
struct CommentCtx {
    marker: String,
    finding: FindingCtx,
}

/// One inline comment for a finding. Its marker carries the fingerprint,
/// so a publisher can tell which findings it already commented on.
pub fn comment(item: &Item, templates: &Templates) -> Result<String, String> {
    let ctx = CommentCtx {
        marker: format!("<!-- kpsa:finding {} -->", item.finding.fingerprint),
        finding: finding_ctx(item, None),
    };
    templates.render("comment", &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Location};
    use crate::manifest::ObjectRef;
    use crate::policy::Tier;

    #[test]
    fn an_inline_comment_names_the_finding_and_its_fix() {
        let f = Finding {
            check: "privileged",
            tier: Tier::Baseline,
            severity: Severity::High,
            target: "web-prod".into(),
            object: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("prod".into()),
                name: "web".into(),
            },
            container: Some("app".into()),
            field: "spec.template.spec.containers[name=app].securityContext.privileged".into(),
            message: "privileged (container \"app\" must not set securityContext.privileged=true)"
                .into(),
            location: Location {
                path: "charts/web/templates/deployment.yaml".into(),
                line: 25,
                column: 11,
            },
            rendered: None,
            admission: None,
            suppression: None,
            accepted: false,
            namespace: String::new(),
            fingerprint: "kpsa/v1:0123456789abcdef0123456789abcdef".into(),
            origin: None,
            values: Vec::new(),
            unless_service_account: None,
        };
        let a = crate::diff::Attributed {
            path: "charts/web/values-prod.yaml".into(),
            line: 6,
            column: 3,
            via: "values",
            through: Vec::new(),
        };
        let item = Item {
            finding: &f,
            status: Some(Status::New),
            attributed: Some(&a),
            base_unavailable: false,
        };
        let t = Templates::new(&[]).unwrap();
        let c = comment(&item, &t).unwrap();
        assert!(c.starts_with("<!-- kpsa:finding kpsa/v1:0123456789abcdef0123456789abcdef -->\n🔴 **kpsa `privileged`** (high · breaks PSS baseline): privileged (container &quot;app&quot;"), "{c}");
        assert!(
            c.contains(
                "Deployment prod/web, container <code>app</code> · target <code>web-prod</code>"
            ),
            "{c}"
        );
        assert!(
            c.contains("written at <code>charts/web/templates/deployment.yaml:25</code>"),
            "{c}"
        );
        assert!(c.contains("privileged: false"), "the fix: {c}");
    }
}
