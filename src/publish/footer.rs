//! The publisher's lines under the summary, shared by GitHub and GitLab:
//! where the new findings went (inline, or the summary only and why), and
//! whether the change's own suppressions were approved — by the approval
//! label, applied by someone the platform says may write to the
//! repository.

use super::plan::Plan;
use crate::report::escape;
use crate::report::saved::Saved;

/// Whether the change's own (pending) suppressions are approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// The report has no pending suppression.
    NotNeeded,
    NoLabel,
    /// Applied by `actor`, who has `rights` ("write permission").
    By {
        actor: String,
        rights: String,
    },
    /// Applied by `actor`, who has only `has` (Markdown, its names already
    /// escaped); `needed` is needed.
    Refused {
        actor: String,
        has: String,
        needed: &'static str,
    },
}

/// Whether the report holds a suppression the change added.
pub fn has_pending(saved: &Saved) -> bool {
    saved
        .findings
        .iter()
        .any(|f| f.finding.suppression.as_ref().is_some_and(|s| s.pending))
}

/// Apply the pending suppressions, recording who approved them.
pub fn approve(saved: &mut Saved, actor: &str, label: &str) {
    for f in saved.findings.iter_mut() {
        if let Some(s) = f.finding.suppression.as_mut().filter(|s| s.pending) {
            s.pending = false;
            s.active = true;
            s.problem = None;
            s.source = format!("{} (approved by @{actor} with the label {label})", s.source);
        }
    }
    for c in saved.configuration_changes.iter_mut() {
        if c.setting.starts_with("suppression:") {
            c.applied = true;
        }
    }
}

/// Whether a user name is safe to put in an API path and a mention
/// (GitHub logins and GitLab usernames: letters, digits, `-_.[]`).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.[]".contains(c))
}

/// The lines under the summary. `inline`: comments posted this run.
pub fn footer(plan: &Plan, inline: usize, approval: &Approval, max: usize) -> String {
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for (_, why) in &plan.summary_only {
        match reasons.iter_mut().find(|(w, _)| w == why) {
            Some(r) => r.1 += 1,
            None => reasons.push((why, 1)),
        }
    }
    let mut s = format!(
        "\n---\n<sub>kpsa publish: {inline} new finding{} commented inline",
        if inline == 1 { "" } else { "s" }
    );
    if !reasons.is_empty() {
        let list: Vec<String> = reasons
            .iter()
            .map(|(why, n)| {
                if why.starts_with("over the inline") {
                    format!("{n} {why} of {max} per run")
                } else {
                    format!("{n} {why}")
                }
            })
            .collect();
        s.push_str(&format!("; in this summary only: {}", list.join(", ")));
    }
    s.push_str(".</sub>\n");
    match approval {
        Approval::NotNeeded => {}
        Approval::NoLabel => s.push_str(
            "\n> **Pending suppressions** added by this change count as findings until a maintainer approves them with the approval label.\n",
        ),
        Approval::By { actor, rights } => s.push_str(&format!(
            "\n> **Pending suppressions approved** by @{} (approval label, {rights}).\n",
            escape::markdown(actor, false)
        )),
        Approval::Refused { actor, has, needed } => s.push_str(&format!(
            "\n> **Pending suppressions not approved**: the approval label was applied by {} with {has}; {needed} is needed.\n",
            escape::markdown(actor, false),
        )),
    }
    s
}
