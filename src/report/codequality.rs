//! GitLab Code Quality (`artifacts:reports:codequality`): a JSON array of
//! Code Climate issues.
//!
//! It always holds every current finding (all of the head's in `kpsa
//! diff`): GitLab itself compares the merge request's report with the
//! target branch's to show what is new and what is fixed, so a report of
//! only new findings would make every old one look fixed. Suppressed and
//! accepted findings are left out: the team accepted them.

use serde::Serialize;

use super::View;
use crate::policy::Tier;

#[derive(Serialize)]
struct Issue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    check_name: &'a str,
    description: String,
    content: Content,
    categories: [&'static str; 1],
    fingerprint: std::borrow::Cow<'a, str>,
    severity: &'static str,
    location: IssueLocation<'a>,
    engine_name: &'static str,
}

#[derive(Serialize)]
struct Content {
    body: String,
}

#[derive(Serialize)]
struct IssueLocation<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

/// The severity GitLab shows: baseline critical, restricted major, hardened minor.
pub fn severity(tier: Tier) -> &'static str {
    match tier {
        Tier::Baseline => "critical",
        Tier::Restricted => "major",
        Tier::Hardened => "minor",
    }
}

/// An input that could not be rendered, read or parsed: a `blocker` issue,
/// the only place a merge request's Code Quality widget can show that the
/// report is incomplete.
fn error_issue(e: &crate::scan::InputError) -> Issue<'_> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kpsa-error\0");
    h.update(e.target.as_deref().unwrap_or("").as_bytes());
    h.update(b"\0");
    h.update(e.path.as_bytes());
    h.update(b"\0");
    h.update(e.message.as_bytes());
    let fingerprint: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let what = match &e.target {
        Some(t) => format!("target {t} could not be evaluated"),
        None => format!("{} could not be evaluated", e.path),
    };
    Issue {
        kind: "issue",
        check_name: "kpsa-error",
        description: format!("{what}: {}", e.message.lines().next().unwrap_or("")),
        content: Content {
            body: format!(
                "kpsa reports nothing for what it could not evaluate; fix this error first.\n\n{}",
                e.message
            ),
        },
        categories: ["Bug Risk"],
        fingerprint: fingerprint.into(),
        severity: "blocker",
        location: IssueLocation {
            path: &e.path,
            lines: Lines {
                begin: e.line.unwrap_or(1),
            },
        },
        engine_name: "kpsa",
    }
}

pub fn render(view: &View) -> String {
    let issues: Vec<Issue> = view
        .items
        .iter()
        .filter(|i| i.current() && !i.finding.waived())
        .map(|i| {
            let f = i.finding;
            let who = match &f.container {
                Some(c) => format!("{}, container \"{c}\"", f.object.display()),
                None => f.object.display(),
            };
            Issue {
                kind: "issue",
                check_name: f.check,
                description: format!("{}: {who}", f.message),
                content: Content {
                    body: format!(
                        "Field `{}` in target `{}` (written at {}:{}). Run `kpsa explain {}` for the fix.",
                        f.field, f.target, f.location.path, f.location.line, f.check
                    ),
                },
                categories: ["Security"],
                fingerprint: f.fingerprint.trim_start_matches("kpsa/v1:").into(),
                severity: severity(f.tier),
                location: IssueLocation {
                    path: &f.location.path,
                    lines: Lines {
                        begin: f.location.line,
                    },
                },
                engine_name: "kpsa",
            }
        })
        .chain(view.errors.iter().map(error_issue))
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).expect("Code Quality serializes");
    s.push('\n');
    s
}
