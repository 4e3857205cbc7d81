//! Check documentation: `kpsa explain`, `kpsa checks` and `docs/checks.md`
//! all come from the [`Doc`](crate::policy::Doc) each check carries.

use std::fmt::Write;

use crate::policy::registry::CHECKS;
use crate::policy::{Check, Tier};

fn versions(check: &Check) -> String {
    let v: Vec<String> = check.variants.iter().map(|v| v.since.to_string()).collect();
    match check.tier {
        Tier::Hardened => "all (kpsa)".to_string(),
        _ => v.join(", "),
    }
}

fn overrides(check: &Check) -> Option<String> {
    let mut ids: Vec<&str> = check
        .variants
        .iter()
        .flat_map(|v| v.overrides.iter().copied())
        .collect();
    ids.dedup();
    (!ids.is_empty()).then(|| ids.join(", "))
}

/// The list `kpsa checks` prints: one line per check with its tier,
/// severity, the policy versions where its rule changes, and its summary.
pub fn list() -> String {
    let mut s = String::new();
    for c in CHECKS {
        let _ = writeln!(
            s,
            "{:<30} {:<10} {:<6}  {:<12}  {}",
            c.id,
            c.tier.as_str(),
            c.tier.severity().as_str(),
            versions(c),
            c.doc.summary
        );
    }
    s
}

/// The text `kpsa explain CHECK` prints.
pub fn explain(check: &Check) -> String {
    let mut s = String::new();
    let d = &check.doc;
    let _ = writeln!(
        s,
        "{} ({} tier, {} severity)\n",
        check.id,
        check.tier.as_str(),
        check.tier.severity().as_str()
    );
    let _ = writeln!(s, "{}\n", d.summary);
    let _ = writeln!(s, "Policy versions: {}", versions(check));
    if let Some(o) = overrides(check) {
        let _ = writeln!(s, "Replaces at the restricted level: {o}");
    }
    let _ = writeln!(s, "\nWhat it looks at:\n  {}\n", d.looks_at);
    let _ = writeln!(s, "Why it matters:\n  {}\n", d.why);
    let _ = writeln!(s, "Fails:\n{}", indent(d.example));
    let _ = writeln!(s, "Fix:\n{}", indent(d.fix));
    s
}

fn indent(yaml: &str) -> String {
    yaml.lines().map(|l| format!("    {l}\n")).collect()
}

/// `docs/checks.md`.
pub fn checks_markdown() -> String {
    let mut s = String::from(
        "# Checks\n\n<!-- Generated from the checks' own documentation (src/policy/checks/). \
Regenerate with `KPSA_UPDATE_DOCS=1 cargo test --test docs`. -->\n\n\
kpsa runs the 19 checks of the Kubernetes Pod Security Standards exactly as the Pod Security \
Admission controller decides them, plus three OWASP Kubernetes Top 10 K01 hardening checks.\n\n\
| check | tier | severity | policy versions |\n| --- | --- | --- | --- |\n",
    );
    for c in CHECKS {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | {} |",
            c.id,
            c.id.to_lowercase(),
            c.tier.as_str(),
            c.tier.severity().as_str(),
            versions(c)
        );
    }
    for c in CHECKS {
        let d = &c.doc;
        let _ = write!(
            s,
            "\n## {}\n\n{}\n\n- Tier: {} (severity {})\n- Policy versions: {}\n",
            c.id,
            d.summary,
            c.tier.as_str(),
            c.tier.severity().as_str(),
            versions(c)
        );
        if let Some(o) = overrides(c) {
            let _ = writeln!(s, "- Replaces at the restricted level: `{o}`");
        }
        let _ = write!(
            s,
            "\n**What it looks at.** {}\n\n**Why it matters.** {}\n\n",
            d.looks_at, d.why
        );
        let _ = write!(
            s,
            "**Fails:**\n\n```yaml\n{}```\n\n**Fix:**\n\n```yaml\n{}```\n",
            d.example, d.fix
        );
    }
    s
}
