//! What a GitHub Actions job shows without writing to the pull request:
//! workflow-command annotations on the job log and the step summary file.
//! The fallback when the token may not write (a fork's pull request), and
//! the step summary on every run.

use std::io::Write;

use crate::policy::Tier;
use crate::report::escape::strip_controls;

/// GitHub shows at most this many annotations of one type per step.
pub const SHOWN_PER_TYPE: usize = 10;
/// The most a step summary file may hold.
pub const STEP_SUMMARY_MAX: u64 = 1024 * 1024;

/// One annotation to print.
pub struct Annotation {
    pub tier: Tier,
    pub path: String,
    pub line: u32,
    pub title: String,
    pub message: String,
}

/// The workflow command of an annotation type for a tier: breaking
/// baseline is an error, restricted a warning, hardening a notice.
fn command(t: Tier) -> &'static str {
    match t {
        Tier::Baseline => "error",
        Tier::Restricted => "warning",
        Tier::Hardened => "notice",
    }
}

/// A workflow command's message (`escapeData` of `@actions/core`), with
/// the controls of hostile text removed first.
pub fn escape_data(s: &str) -> String {
    strip_controls(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value (`escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The annotation lines: at most [`SHOWN_PER_TYPE`] of each type (the
/// most severe and first), then one notice saying how many more the step
/// summary holds.
pub fn annotations(items: &[Annotation]) -> Vec<String> {
    let mut out = Vec::new();
    let mut hidden = 0;
    for t in [Tier::Baseline, Tier::Restricted, Tier::Hardened] {
        let of: Vec<&Annotation> = items.iter().filter(|a| a.tier == t).collect();
        hidden += of.len().saturating_sub(SHOWN_PER_TYPE);
        for a in of.into_iter().take(SHOWN_PER_TYPE) {
            out.push(format!(
                "::{} file={},line={},title={}::{}",
                command(t),
                escape_property(&a.path),
                a.line,
                escape_property(&a.title),
                escape_data(&a.message)
            ));
        }
    }
    if hidden > 0 {
        out.push(format!(
            "::notice title=kpsa::{hidden} more findings than GitHub shows as annotations of one step; the step summary lists every finding"
        ));
    }
    out
}

/// Append to the step summary file (`$GITHUB_STEP_SUMMARY`), keeping it
/// under its 1 MiB limit: a text that does not fit is replaced by a note.
pub fn append_step_summary(path: &std::path::Path, text: &str) -> Result<(), String> {
    let have = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let text = if have + text.len() as u64 + 1 > STEP_SUMMARY_MAX {
        "kpsa: the summary does not fit in the step summary (1 MiB); the JSON report holds every finding.\n"
    } else {
        text
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot open the step summary {}: {e}", path.display()))?;
    writeln!(f, "{text}")
        .map_err(|e| format!("cannot write the step summary {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(tier: Tier, message: &str) -> Annotation {
        Annotation {
            tier,
            path: "charts/a,b:c.yaml".into(),
            line: 3,
            title: "kpsa privileged".into(),
            message: message.into(),
        }
    }

    #[test]
    fn hostile_text_cannot_end_the_command() {
        let lines = annotations(&[a(Tier::Baseline, "x\n::add-mask::y\r%0A\u{1b}[2J")]);
        assert_eq!(
            lines,
            vec![
                "::error file=charts/a%2Cb%3Ac.yaml,line=3,title=kpsa privileged::x%0A::add-mask::y%250A[2J"
            ]
        );
    }

    #[test]
    fn ten_per_type_then_a_count() {
        let mut items: Vec<Annotation> = (0..12)
            .map(|i| a(Tier::Restricted, &i.to_string()))
            .collect();
        items.push(a(Tier::Hardened, "h"));
        let lines = annotations(&items);
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::warning ")).count(),
            10
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("::notice file="))
                .count(),
            1
        );
        assert!(
            lines.last().unwrap().contains("::2 more findings"),
            "{lines:?}"
        );
    }
}
