//! The text report, for people: each finding with a code frame at its line,
//! then the errors, then one summary line. Colour only when asked to (a TTY
//! without `NO_COLOR`, decided by the caller).

use std::fmt::Write;

use super::{RunInfo, Sources};
use crate::compare::Outcome;
use crate::diff::Status;
use crate::finding::{Finding, Location};
use crate::policy::{Severity, Tier};
use crate::scan::InputError;
use crate::scan::ScanResult;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The text report of a scan, safe for a terminal or a CI log
/// ([`finish`]).
pub fn render(result: &ScanResult, run: &RunInfo, color: bool) -> String {
    finish(render_raw(result, run, color), color)
}

/// Remove every control character the input brought (kpsa's own colour
/// codes excepted) and neutralise lines a CI system would run as commands.
fn finish(out: String, color: bool) -> String {
    if color {
        super::escape::log_keeping_colour(&out)
    } else {
        super::escape::log(&out).into_owned()
    }
}

fn render_raw(result: &ScanResult, run: &RunInfo, color: bool) -> String {
    let style = Style { color };
    let mut sources = Sources::for_run(run, &run.root, result.stdin_text.as_deref());
    let mut out = String::new();
    let mut findings: Vec<&Finding> = result
        .findings
        .iter()
        .filter(|f| run.show_suppressed || !f.waived())
        .collect();
    findings.sort_by(|a, b| a.location.cmp(&b.location));
    for f in &findings {
        frame(&mut out, &style, &mut sources, f, &f.location, &[]);
    }
    errors(&mut out, &style, &mut sources, &result.errors);
    if let Some(a) = &result.accepted {
        let _ = writeln!(
            out,
            "{} of the findings are accepted in {}; {} of its entries no longer occur{}",
            a.matched,
            a.file,
            a.stale.len(),
            if a.stale.is_empty() {
                "."
            } else {
                " (stale, remove them):"
            }
        );
        for e in &a.stale {
            let _ = writeln!(
                out,
                "  stale: {} {} in {} (target {}) [{}]",
                e.check,
                e.object,
                e.container
                    .as_deref()
                    .map(|c| format!("container {c}"))
                    .unwrap_or_else(|| "the pod".into()),
                e.target,
                e.fingerprint
            );
        }
        for e in &a.without_reason {
            let _ = writeln!(
                out,
                "  no reason, accepts nothing: {} {} (target {}) [{}]",
                e.check, e.object, e.target, e.fingerprint
            );
        }
        out.push('\n');
    }
    out.push_str(&summary(result, run, &style));
    out
}

fn errors(out: &mut String, style: &Style, sources: &mut Sources, errors: &[InputError]) {
    for e in errors {
        let _ = writeln!(out, "{}: {}", style.paint("1;31", "error"), e.message);
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", e.path),
            (Some(l), None) => format!("{}:{l}", e.path),
            _ => e.path.clone(),
        };
        let _ = writeln!(out, "  {} {at}", style.paint("1;34", "-->"));
        if let Some(l) = e.line {
            if let Some(src) = sources.line(&e.path, l) {
                let w = l.to_string().len();
                let _ = writeln!(out, "{:w$} {}", "", style.paint("1;34", "|"));
                let _ = writeln!(
                    out,
                    "{} {} {}",
                    style.paint("1;34", &l.to_string()),
                    style.paint("1;34", "|"),
                    src
                );
            }
        }
        out.push('\n');
    }
}

/// A finding with a code frame at `loc` (its location, or the changed line
/// it is attributed to) and extra `notes`, drawn by annotate-snippets (the
/// renderer of rustc's diagnostics).
fn frame(
    out: &mut String,
    style: &Style,
    sources: &mut Sources,
    f: &Finding,
    loc: &Location,
    notes: &[String],
) {
    use annotate_snippets::{AnnotationKind, Level, Origin, Renderer, Snippet};

    let who = match &f.container {
        Some(c) => format!("{}, container \"{c}\"", f.object.display()),
        None => f.object.display(),
    };
    let tier = match f.tier {
        Tier::Baseline => "breaks PSS baseline: the pod is at most Privileged",
        Tier::Restricted => "breaks PSS restricted: the pod is at most Baseline",
        Tier::Hardened => "OWASP K01 hardening beyond PSS",
    };
    let mut lines = vec![
        format!("{who}; {tier} ({})", f.severity.as_str()),
        format!("field: {}", f.field),
    ];
    if let Some(a) = &f.admission {
        lines.push(format!("admission: {}", a.describe()));
        lines.extend(a.problems.iter().map(|p| format!("admission: {p}")));
    }
    if let Some(s) = &f.suppression {
        lines.push(match (&s.problem, &s.reason) {
            (Some(p), _) => format!("suppression not applied ({}): {p}", s.source),
            (None, Some(r)) => format!(
                "suppressed by {}: {r}{}",
                s.source,
                s.until
                    .as_ref()
                    .map(|u| format!(" (until {u})"))
                    .unwrap_or_default()
            ),
            (None, None) => format!("suppressed by {}", s.source),
        });
    }
    if f.accepted {
        lines.push("accepted (in the accepted-findings file)".into());
    }
    lines.extend(notes.iter().cloned());
    if let Some(r) = f.rendered {
        lines.push(format!(
            "rendered: target {}, line {} of its output",
            f.target, r.line
        ));
    }
    lines.push(format!("fix: `kpsa explain {}`", f.check));

    let level = match f.severity {
        Severity::High => Level::ERROR,
        Severity::Medium => Level::WARNING,
        Severity::Low => Level::NOTE,
    };
    let title = level.primary_title(f.message.as_str()).id(f.check);
    let src = sources.line(&loc.path, loc.line);
    let mut group = match &src {
        Some(src) => {
            // The key at the column (`privileged` of `privileged: true`,
            // `name` of `- name: app`), as byte offsets into the line.
            let start = src
                .char_indices()
                .nth((loc.column as usize).saturating_sub(1))
                .map_or(src.len(), |(i, _)| i);
            let rest = &src[start..];
            let token = rest.split([':', ' ']).next().unwrap_or("");
            let width = match token.trim_start_matches("- ") {
                "" => rest.chars().next().map_or(0, char::len_utf8),
                t => t.len(),
            };
            let span = start..start + width;
            title.element(
                Snippet::source(src.as_str())
                    .line_start(loc.line as usize)
                    .path(loc.path.as_str())
                    .annotation(AnnotationKind::Primary.span(span)),
            )
        }
        None => title.element(
            Origin::path(loc.path.as_str())
                .line(loc.line as usize)
                .char_column(loc.column as usize),
        ),
    };
    for l in &lines {
        group = group.element(Level::NOTE.no_name().message(l.as_str()));
    }
    let renderer = if style.color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    out.push_str(&renderer.render(&[group]));
    out.push_str("\n\n");
}

fn summary(result: &ScanResult, run: &RunInfo, style: &Style) -> String {
    let waived = result.findings.iter().filter(|f| f.waived()).count();
    let n = |s| {
        result
            .findings
            .iter()
            .filter(|f| f.severity == s && !f.waived())
            .count()
    };
    let mut line = format!(
        "{} ({} high, {} medium, {} low) in {} from {}",
        plural(result.findings.len() - waived, "finding", "findings"),
        n(Severity::High),
        n(Severity::Medium),
        n(Severity::Low),
        plural(result.stats.pod_specs, "pod spec", "pod specs"),
        match result.stats.rendered {
            0 => plural(result.stats.files, "file", "files"),
            r => format!(
                "{} and {}",
                plural(result.stats.files, "file", "files"),
                plural(r, "rendered target", "rendered targets")
            ),
        },
    );
    if waived > 0 {
        let _ = write!(line, "; {waived} suppressed or accepted");
    }
    if !result.errors.is_empty() {
        let _ = write!(
            line,
            "; {}",
            style.paint(
                "1;31",
                &plural(result.errors.len(), "input error", "input errors")
            )
        );
    }
    line.push_str(&settings(run, "", super::gated(result, run)));
    line.push('\n');
    line
}

/// ` [level hardened, Kubernetes latest, fail on restricted: 2 findings]`.
fn settings(run: &RunInfo, what: &str, gated: usize) -> String {
    let gate = if run.fail_on.is_none() && !run.gate_enforced {
        "never fails".to_string()
    } else {
        format!(
            "fail on {what}{}: {}",
            run.gate_name(),
            if gated == 0 {
                "pass".into()
            } else {
                plural(gated, "finding", "findings")
            }
        )
    };
    format!(
        " [level {}, Kubernetes {}, {gate}]",
        run.level.as_str(),
        run.version_label
    )
}

fn plural(k: usize, one: &str, many: &str) -> String {
    format!("{k} {}", if k == 1 { one } else { many })
}

/// The text report of `kpsa diff`: level transitions, then the new
/// findings at the changed lines that introduced them, then one line of
/// counts.
/// The text report of a diff, safe for a terminal or a CI log.
pub fn render_diff(o: &Outcome, run: &RunInfo, color: bool) -> String {
    finish(render_diff_raw(o, run, color), color)
}

fn render_diff_raw(o: &Outcome, run: &RunInfo, color: bool) -> String {
    let style = Style { color };
    let mut sources = Sources::for_run(run, &o.head_root, None);
    let mut out = String::new();
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let _ = writeln!(
        out,
        "kpsa diff {}{}{}: rendered {} target(s) on the base side and {} on the head side; skipped {} and {} (inputs unchanged)",
        short(&o.base_commit),
        if o.merge_base { " (merge base)" } else { "" },
        match &o.head_commit {
            Some(h) => format!(" → {}", short(h)),
            None => " → working tree".into(),
        },
        o.rendered.base,
        o.rendered.head,
        o.skipped.base,
        o.skipped.head
    );
    if !o.config_changes.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint("1", "Configuration changes:"));
        for c in &o.config_changes {
            let _ = writeln!(
                out,
                "  {}: {} → {}{}",
                c.setting,
                c.base.as_deref().unwrap_or("(unset)"),
                c.head.as_deref().unwrap_or("(unset)"),
                if c.applied {
                    ""
                } else {
                    " (not applied: needs review)"
                }
            );
        }
    }
    if !o.transitions.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint("1", "Pod Security level:"));
        for t in &o.transitions {
            let level = |l: Option<crate::policy::PssLevel>| l.map_or("(absent)", |l| l.as_str());
            let arrow = format!("{} → {}", level(t.before), level(t.after));
            let _ = writeln!(
                out,
                "  {} {} (target {}): {}",
                if t.is_worse() {
                    style.paint("1;31", "worse")
                } else {
                    style.paint("1;32", "   ok")
                },
                t.object.display(),
                t.target,
                arrow
            );
        }
    }
    out.push('\n');
    for c in o
        .findings
        .iter()
        .filter(|c| c.status == Status::New && (run.show_suppressed || !c.finding.waived()))
    {
        let f = &c.finding;
        let mut notes = Vec::new();
        let loc = match &c.attributed_location {
            Some(a) => {
                if a.path != f.location.path || a.line != f.location.line {
                    let through = if a.through.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " through {}",
                            a.through
                                .iter()
                                .map(|t| format!("`{t}`"))
                                .collect::<Vec<_>>()
                                .join(" → ")
                        )
                    };
                    notes.push(format!(
                        "introduced here ({}{through}); the field is written at {}:{}",
                        match a.via {
                            "values" => "a changed values key that reaches the field",
                            "kustomization" =>
                                "a changed line of the kustomization that applies the patch",
                            _ => "a changed line",
                        },
                        f.location.path,
                        f.location.line
                    ));
                }
                Location {
                    path: a.path.clone(),
                    line: a.line,
                    column: a.column,
                }
            }
            None => {
                notes.push("not attributed to a changed line".into());
                f.location.clone()
            }
        };
        if c.base_unavailable {
            notes.push("the base side did not render: reported as new".into());
        }
        frame(&mut out, &style, &mut sources, f, &loc, &notes);
    }
    errors(&mut out, &style, &mut sources, &o.errors);
    let count = |s: Status| o.findings.iter().filter(|c| c.status == s).count();
    let new: Vec<&Finding> = o
        .findings
        .iter()
        .filter(|c| c.status == Status::New && !c.finding.waived())
        .map(|c| &c.finding)
        .collect();
    let waived = o
        .findings
        .iter()
        .filter(|c| c.status != Status::Fixed && c.finding.waived())
        .count();
    let sev = |s: Severity| new.iter().filter(|f| f.severity == s).count();
    let mut line = format!(
        "{} ({} high, {} medium, {} low), {} fixed, {} unchanged",
        plural(new.len(), "new finding", "new findings"),
        sev(Severity::High),
        sev(Severity::Medium),
        sev(Severity::Low),
        count(Status::Fixed),
        count(Status::Unchanged)
    );
    if o.skipped.head > 0 {
        line.push_str(" (in rendered targets)");
    }
    if waived > 0 {
        let _ = write!(line, "; {waived} suppressed or accepted");
    }
    if !o.errors.is_empty() {
        let _ = write!(
            line,
            "; {}",
            style.paint("1;31", &plural(o.errors.len(), "error", "errors"))
        );
    }
    let gated = new.iter().filter(|f| run.gates(f)).count();
    line.push_str(&settings(run, "new ", gated));
    out.push_str(&line);
    out.push('\n');
    out
}
