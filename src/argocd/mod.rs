//! Argo CD: the config-management plugin's `generate` and `discover`, and
//! the PreSync hook it can append.
//!
//! In GitOps the sync is the last moment to stop a privileged pod: Pod
//! Security Admission admits a Deployment with a warning and refuses its
//! pods later, so a sync "succeeds" and the application degrades. The
//! plugin renders the application as Argo CD would, evaluates it with the
//! platform's policy, and hands the manifests over only when the gate
//! passes; otherwise it exits non-zero with the findings on standard error,
//! which Argo CD shows as the application's ComparisonError.
//!
//! In Argo CD the repository and the Application spec are as untrusted as
//! a pull request (docs/security.md): the policy is mounted by the
//! platform ([`policy`]), settings come from a fixed list ([`env`]), and
//! `kpsa.io/ignore` annotations in the repository do not waive findings
//! unless the platform allows it.

pub mod env;
pub mod hook;
pub mod policy;

use crate::finding::Finding;
use crate::policy::Tier;
use crate::report::escape;
use crate::scan::InputError;

/// The most bytes of findings written to standard error; past it, a count.
pub const MAX_STDERR_BYTES: usize = 64 * 1024;

/// How the gate is set.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// Findings of this tier or a more severe one fail.
    pub fail_on: Option<Tier>,
    /// Findings the namespace's enforce level refuses fail.
    pub enforced: bool,
}

impl Gate {
    /// Whether a finding stops the manifests.
    pub fn stops(&self, f: &Finding) -> bool {
        !f.waived()
            && (self.fail_on.is_some_and(|t| f.tier <= t)
                || (self.enforced && f.admission.as_ref().is_some_and(|a| a.refused)))
    }

    /// `restricted`, `enforced`, `restricted or enforced`, `never`.
    pub fn describe(&self) -> String {
        match (self.fail_on, self.enforced) {
            (Some(t), false) => format!("fail on {} findings", t.as_str()),
            (Some(t), true) => format!(
                "fail on {} findings or findings the namespace enforces",
                t.as_str()
            ),
            (None, true) => "fail on findings the namespace enforces".into(),
            (None, false) => "never fail".into(),
        }
    }
}

/// Repository `kpsa.io/ignore` annotations stop suppressing: in Argo CD
/// the repository would waive its own findings.
pub fn distrust_annotations(findings: &mut [Finding]) {
    for f in findings {
        if let Some(s) = f.suppression.as_mut().filter(|s| s.by == "annotation") {
            if s.active {
                s.active = false;
                s.problem = Some(
                    "kpsa.io/ignore annotations in the repository do not waive findings in Argo CD; \
                     ask the platform team for an accepted-findings entry"
                        .into(),
                );
            }
        }
    }
}

/// One line per finding and error, escaped for a terminal and the Argo CD
/// UI, at most [`MAX_STDERR_BYTES`] in all, then a count of the rest.
pub fn lines(findings: &[&Finding], errors: &[InputError], max: usize) -> String {
    let mut out = String::new();
    let mut all: Vec<String> = errors
        .iter()
        .map(|e| {
            let at = match e.line {
                Some(l) => format!("{}:{l}", e.path),
                None => e.path.clone(),
            };
            format!("error: {at}: {}", e.message.replace('\n', "\n    "))
        })
        .collect();
    all.extend(findings.iter().map(|f| {
        let who = match &f.container {
            Some(c) => format!("{} container {c:?}", f.object.display()),
            None => f.object.display(),
        };
        format!(
            "{} {}: {who}: {} ({}:{})",
            f.severity.as_str(),
            f.check,
            f.message,
            f.location.path,
            f.location.line
        )
    }));
    let total = all.len();
    for (i, line) in all.into_iter().enumerate() {
        let line = format!("  - {}\n", escape::log(&line));
        if out.len() + line.len() > max {
            out.push_str(&format!("  … and {} more\n", total - i));
            break;
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_is_bounded_and_escaped() {
        let errors: Vec<InputError> = (0..2000)
            .map(|i| InputError {
                path: format!("t{i}.yaml"),
                line: Some(1),
                column: None,
                message: "bad \u{1b}[31mred\u{1b}[0m".into(),
                target: None,
                rendered: None,
            })
            .collect();
        let text = lines(&[], &errors, 4096);
        assert!(text.len() <= 4096 + 40, "{}", text.len());
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.ends_with("more\n"), "{text}");
        let shown = text.matches("  - error").count();
        assert!(text.contains(&format!("… and {} more", 2000 - shown)));
    }
}
