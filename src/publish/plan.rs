//! The plan of writes for one pull or merge request, computed from a
//! `diff` report and what is already there: which new findings go inline
//! (on lines the change adds, most severe first, at most `max_comments`),
//! which go only to the summary, which of kpsa's earlier threads get a
//! reply and are resolved because their finding is gone, and the summary
//! itself. Pure: the transports (GitHub, GitLab) execute it, and
//! `--dry-run` prints it.

use std::collections::BTreeSet;

use super::hunks::Hunks;
use super::suggest::fixed_line;
use crate::diff::Status;
use crate::report::markdown::{self, Templates};
use crate::report::{Item, View};

/// Characters of a comment kept for the publisher's own lines under the
/// summary (where the findings went, approvals).
pub const PUBLISHER_LINES: usize = 1024;

/// One of kpsa's earlier inline comments (found by its marker and author).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub comment_id: u64,
    pub fingerprint: String,
    /// Its thread, to resolve (GitHub GraphQL id, GitLab discussion id).
    pub thread_id: Option<String>,
    /// The platform marked it outdated: its line is gone from the diff.
    pub outdated: bool,
    pub resolved: bool,
}

/// What is already on the pull request.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub threads: Vec<Thread>,
    /// kpsa's summary comment, if there is one.
    pub summary_id: Option<u64>,
}

/// An inline comment to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    pub fingerprint: String,
    pub path: String,
    pub line: u32,
    pub body: String,
}

/// A reply to an earlier thread, which is then resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub comment_id: u64,
    pub thread_id: Option<String>,
    pub body: String,
}

/// Everything to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// New inline comments, posted as one review (none: no review at all).
    pub inline: Vec<Inline>,
    /// New findings that are not commented inline, and why.
    pub summary_only: Vec<(String, &'static str)>,
    pub replies: Vec<Reply>,
    /// Outdated threads of findings that are still new, reposted above.
    pub resolve_outdated: Vec<String>,
    /// The summary: edited in place when it exists, else created.
    pub summary: String,
    pub summary_id: Option<u64>,
}

/// Settings of a publication.
pub struct Options<'a> {
    pub max_comments: usize,
    /// The head commit the report is for (named in "fixed in" replies).
    pub head_sha: &'a str,
    /// The info string of a suggestion block: `suggestion` on GitHub,
    /// `suggestion:-0+0` (this line only) on GitLab.
    pub suggestion_fence: &'a str,
}

/// Compute the plan.
pub fn plan(
    view: &View,
    hunks: &Hunks,
    existing: &Existing,
    templates: &Templates,
    opts: &Options,
) -> Result<Plan, String> {
    let mut new: Vec<&Item> = view
        .items
        .iter()
        .filter(|i| i.status == Some(Status::New) && !i.finding.waived())
        .collect();
    // Most severe first; then by place, so the plan is stable.
    new.sort_by(|a, b| {
        (a.finding.tier, a.shown_at(), a.finding.check).cmp(&(
            b.finding.tier,
            b.shown_at(),
            b.finding.check,
        ))
    });
    let mut inline = Vec::new();
    let mut summary_only = Vec::new();
    let mut resolve_outdated = Vec::new();
    for item in new {
        let fp = &item.finding.fingerprint;
        let threads: Vec<&Thread> = existing
            .threads
            .iter()
            .filter(|t| &t.fingerprint == fp)
            .collect();
        if threads.iter().any(|t| !t.outdated) {
            // Already commented, wherever its line moved; a thread a
            // reviewer resolved is not reopened by a repost either.
            continue;
        }
        let open: Vec<&Thread> = threads.into_iter().filter(|t| !t.resolved).collect();
        let Some(a) = item.attributed else {
            summary_only.push((fp.clone(), "not on a line the change adds"));
            continue;
        };
        if !hunks.contains(&a.path, a.line) {
            summary_only.push((fp.clone(), "its line is not in the change's diff"));
            continue;
        }
        if inline.len() >= opts.max_comments {
            summary_only.push((fp.clone(), "over the inline comment limit"));
            continue;
        }
        resolve_outdated.extend(open.iter().filter_map(|t| t.thread_id.clone()));
        let mut body = markdown::comment(item, templates)?;
        if let Some(fixed) = suggestion(item, view) {
            body.push_str(&format!("\n```{}\n{fixed}\n```\n", opts.suggestion_fence));
        }
        inline.push(Inline {
            fingerprint: fp.clone(),
            path: a.path.clone(),
            line: a.line,
            body,
        });
    }
    // Earlier threads whose finding is no longer new.
    let still_new: BTreeSet<&str> = view
        .items
        .iter()
        .filter(|i| i.status == Some(Status::New) && !i.finding.waived())
        .map(|i| i.finding.fingerprint.as_str())
        .collect();
    let mut replies = Vec::new();
    for t in existing.threads.iter().filter(|t| !t.resolved) {
        if still_new.contains(t.fingerprint.as_str()) {
            continue;
        }
        let item = view
            .items
            .iter()
            .find(|i| i.finding.fingerprint == t.fingerprint);
        let why = match item {
            Some(i) if i.status == Some(Status::Fixed) => {
                format!("Fixed in {}.", opts.head_sha)
            }
            Some(i) if i.finding.waived() => format!(
                "No longer new: suppressed ({}).",
                i.finding
                    .suppression
                    .as_ref()
                    .map_or("accepted".to_string(), |s| s.source.clone())
            ),
            Some(_) => format!(
                "No longer new in {}: the base has this finding too.",
                opts.head_sha
            ),
            // Not in the report: the head no longer has it.
            None => format!("Fixed in {}.", opts.head_sha),
        };
        replies.push(Reply {
            comment_id: t.comment_id,
            thread_id: t.thread_id.clone(),
            body: format!(
                "<!-- kpsa:reply {} -->\n{}",
                t.fingerprint,
                crate::report::escape::markdown(&why, false)
            ),
        });
    }
    Ok(Plan {
        inline,
        summary_only,
        replies,
        resolve_outdated,
        summary: markdown::summary_within(
            view,
            templates,
            None,
            markdown::MAX_CHARS - PUBLISHER_LINES,
        )?,
        summary_id: existing.summary_id,
    })
}

/// The fingerprint in a kpsa marker that starts `body` (the first line of
/// every inline comment kpsa posts).
pub fn marker_fingerprint(body: &str) -> Option<String> {
    let rest = body.strip_prefix("<!-- kpsa:finding ")?;
    let (fp, _) = rest.split_once(" -->")?;
    let hex = fp.strip_prefix("kpsa/v1:")?;
    (!hex.is_empty() && hex.len() <= 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| fp.to_string())
}

/// The suggested rewrite of the commented line (its text comes from the
/// saved report): only where it is the field's own line, or a values key
/// of the same name, and a scalar fixes it.
fn suggestion(item: &Item, view: &View) -> Option<String> {
    let a = item.attributed?;
    if !matches!(a.via, "location" | "values") {
        return None;
    }
    let text = view.run.saved_lines.get(&(a.path.clone(), a.line))?;
    fixed_line(item.finding.check, &item.finding.field, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_carry_a_fingerprint_and_nothing_else() {
        assert_eq!(
            marker_fingerprint("<!-- kpsa:finding kpsa/v1:00ff -->\nbody").as_deref(),
            Some("kpsa/v1:00ff")
        );
        for bad in [
            "x <!-- kpsa:finding kpsa/v1:00ff -->",
            "<!-- kpsa:finding kpsa/v1: -->",
            "<!-- kpsa:finding kpsa/v1:zz -->",
            "<!-- kpsa:finding other:00 -->",
        ] {
            assert_eq!(marker_fingerprint(bad), None, "{bad}");
        }
    }
}
