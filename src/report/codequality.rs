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
    fingerprint: &'a str,
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
                fingerprint: f.fingerprint.trim_start_matches("kpsa/v1:"),
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
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).expect("Code Quality serializes");
    s.push('\n');
    s
}
