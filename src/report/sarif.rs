//! SARIF 2.1.0 for GitHub code scanning (and any SARIF consumer), built
//! with `serde-sarif`.
//!
//! One run; a rule per check that ran (id = check id) with its help, tags
//! and `security-severity`; a result per finding at a repository file
//! (never rendered output), with kpsa's fingerprint under
//! `partialFingerprints["kpsa/v1"]` (`primaryLocationLineHash` is left to
//! GitHub, which computes it). In `diff`, results carry `baselineState`:
//! only new ones by default, new and unchanged with `--include-unchanged`.
//! GitHub's limits (25,000 results per run, 10 MB gzipped) are kept by
//! dropping the least severe results, with a warning.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    Region, ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run,
    RunAutomationDetails, Sarif, Suppression, Tool, ToolComponent,
};

use super::{HOMEPAGE, Item, View};
use crate::diff::Status;
use crate::policy::{Check, Tier};

/// The schema URL written into the log (the one GitHub's docs use).
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// GitHub: results per run.
pub const MAX_RESULTS: usize = 25_000;
/// GitHub: gzipped bytes per file.
pub const MAX_GZIP_BYTES: usize = 10 * 1024 * 1024;

/// The `security-severity` of a tier, as GitHub reads it (a string).
pub fn security_severity(tier: Tier) -> &'static str {
    match tier {
        Tier::Baseline => "8.0",
        Tier::Restricted => "5.5",
        Tier::Hardened => "3.0",
    }
}

fn level(tier: Tier) -> ResultLevel {
    match tier {
        Tier::Baseline => ResultLevel::Error,
        Tier::Restricted => ResultLevel::Warning,
        Tier::Hardened => ResultLevel::Note,
    }
}

fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

/// The rule of a check: its documentation, tags and severity.
fn rule(c: &Check) -> ReportingDescriptor {
    let d = &c.doc;
    let tier_tag = match c.tier {
        Tier::Baseline => "pss-baseline",
        Tier::Restricted => "pss-restricted",
        Tier::Hardened => "owasp-k01",
    };
    let mut extra = BTreeMap::new();
    extra.insert(
        "security-severity".to_string(),
        json!(security_severity(c.tier)),
    );
    extra.insert("precision".to_string(), json!("very-high"));
    let help_text = format!(
        "{}\n\nWhat it looks at: {}\n\nWhy it matters: {}\n\nFails:\n{}\nFix:\n{}",
        d.summary, d.looks_at, d.why, d.example, d.fix
    );
    let help_markdown = format!(
        "{}\n\n**What it looks at:** {}\n\n**Why it matters:** {}\n\n**Fails:**\n\n```yaml\n{}```\n\n**Fix:**\n\n```yaml\n{}```\n",
        d.summary, d.looks_at, d.why, d.example, d.fix
    );
    ReportingDescriptor::builder()
        .id(c.id)
        .name(c.id)
        .short_description(text(d.summary))
        .full_description(text(d.why))
        .help(
            MultiformatMessageString::builder()
                .text(help_text)
                .markdown(help_markdown)
                .build(),
        )
        .help_uri(super::help_uri(c.id))
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level_name(c.tier)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(vec![
                    "security".to_string(),
                    "kubernetes".to_string(),
                    "pod-security".to_string(),
                    tier_tag.to_string(),
                ])
                .additional_properties(extra)
                .build(),
        )
        .build()
}

fn level_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Baseline => "error",
        Tier::Restricted => "warning",
        Tier::Hardened => "note",
    }
}

fn physical(path: &str, line: u32, column: u32) -> PhysicalLocation {
    PhysicalLocation::builder()
        .artifact_location(ArtifactLocation::builder().uri(path.to_string()).build())
        .region(
            Region::builder()
                .start_line(i64::from(line))
                .start_column(i64::from(column.max(1)))
                .build(),
        )
        .build()
}

fn result(item: &Item) -> SarifResult {
    let f = item.finding;
    let at = item.shown_at();
    let who = match &f.container {
        Some(c) => format!("{}, container \"{c}\"", f.object.display()),
        None => f.object.display(),
    };
    let mut message = format!("{}: {} (target {}).", f.message, who, f.target);
    if let Some(a) = &f.admission {
        message.push_str(&format!(" Admission: {}.", a.describe()));
    }
    if item.base_unavailable {
        message.push_str(" The base side did not render; reported as new.");
    }
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(
        "kpsa/v1".to_string(),
        f.fingerprint.trim_start_matches("kpsa/v1:").to_string(),
    );
    let mut properties = BTreeMap::new();
    properties.insert("field".to_string(), json!(f.field));
    properties.insert("tier".to_string(), json!(f.tier.as_str()));
    if let Some(a) = &f.admission {
        properties.insert("admission".to_string(), json!(a));
    }
    let b = SarifResult::builder()
        .rule_id(f.check)
        .level(level(f.tier))
        .message(Message::builder().text(message).build())
        .locations(vec![
            Location::builder()
                .physical_location(physical(&at.path, at.line, at.column))
                .build(),
        ])
        .partial_fingerprints(fingerprints)
        .properties(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        );
    let mut res = b.build();
    // Where the field itself is written, when the result is shown elsewhere.
    if at.path != f.location.path || at.line != f.location.line {
        res.related_locations = Some(vec![
            Location::builder()
                .id(1i64)
                .physical_location(physical(
                    &f.location.path,
                    f.location.line,
                    f.location.column,
                ))
                .message(Message::builder().text("the field is written here").build())
                .build(),
        ]);
    }
    res.baseline_state = item.status.map(|s| match s {
        Status::New => json!("new"),
        Status::Unchanged => json!("unchanged"),
        Status::Fixed => json!("absent"),
    });
    let mut suppressions = Vec::new();
    if let Some(sup) = f.suppression.as_ref().filter(|s| s.active) {
        suppressions.push(
            Suppression::builder()
                .kind(json!(if sup.by == "annotation" {
                    "inSource"
                } else {
                    "external"
                }))
                .status(json!("accepted"))
                .justification(format!(
                    "{} ({})",
                    sup.reason.clone().unwrap_or_default(),
                    sup.source
                ))
                .build(),
        );
    }
    if f.accepted {
        suppressions.push(
            Suppression::builder()
                .kind(json!("external"))
                .status(json!("accepted"))
                .justification("in the accepted-findings file")
                .build(),
        );
    }
    if !suppressions.is_empty() {
        res.suppressions = Some(suppressions);
    }
    res
}

/// The SARIF log, and warnings about results left out to stay in GitHub's
/// limits.
/// The run's invocation: `executionSuccessful` is false when some input
/// could not be rendered, read or parsed, and each such error is a
/// `toolExecutionNotifications` entry (with its location when known), so
/// code scanning shows that the analysis is incomplete.
fn invocation(view: &View) -> serde_sarif::sarif::Invocation {
    let notifications: Vec<serde_json::Value> = view
        .errors
        .iter()
        .map(|e| {
            let mut n = json!({
                "level": "error",
                "message": {"text": match &e.target {
                    Some(t) => format!("target {t}: {}", e.message),
                    None => format!("{}: {}", e.path, e.message),
                }},
            });
            if let Some(line) = e.line {
                n["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": e.path},
                        "region": {"startLine": line},
                    }
                }]);
            }
            n
        })
        .collect();
    serde_json::from_value(json!({
        "executionSuccessful": view.errors.is_empty(),
        "toolExecutionNotifications": notifications,
    }))
    .expect("an invocation deserializes")
}

pub fn render(view: &View, category: &str) -> (String, Vec<String>) {
    render_within(view, category, MAX_RESULTS, MAX_GZIP_BYTES)
}

/// [`render`] with explicit limits.
pub fn render_within(
    view: &View,
    category: &str,
    max_results: usize,
    max_gzip_bytes: usize,
) -> (String, Vec<String>) {
    let mut items: Vec<&Item> = view
        .items
        .iter()
        .filter(|i| match (&view.diff, i.status) {
            (None, _) => true,
            (Some(d), Some(Status::Unchanged)) => d.include_unchanged,
            (Some(_), Some(Status::New)) => true,
            _ => false,
        })
        .collect();
    // Most severe first, so a cut keeps what matters.
    items.sort_by(|a, b| {
        (a.finding.tier, &a.finding.location, a.finding.check).cmp(&(
            b.finding.tier,
            &b.finding.location,
            b.finding.check,
        ))
    });
    let mut warnings = Vec::new();
    let total = items.len();
    if items.len() > max_results {
        items.truncate(max_results);
    }
    let rules: Vec<ReportingDescriptor> = view.checks().into_iter().map(rule).collect();
    let build = |items: &[&Item]| -> String {
        let driver = ToolComponent::builder()
            .name("kpsa")
            .version(env!("CARGO_PKG_VERSION"))
            .semantic_version(env!("CARGO_PKG_VERSION"))
            .information_uri(HOMEPAGE)
            .rules(rules.clone())
            .build();
        let run = Run::builder()
            .tool(Tool::builder().driver(driver).build())
            .invocations(vec![invocation(view)])
            .results(items.iter().map(|i| result(i)).collect::<Vec<_>>())
            .automation_details(
                RunAutomationDetails::builder()
                    .id(format!("kpsa/{}/", category.trim_matches('/')))
                    .build(),
            )
            .column_kind(json!("unicodeCodePoints"))
            .build();
        let log = Sarif::builder()
            .schema(SCHEMA)
            .version(json!("2.1.0"))
            .runs(vec![run])
            .build();
        let mut s = serde_json::to_string_pretty(&log).expect("SARIF serializes");
        s.push('\n');
        s
    };
    let mut out = build(&items);
    while gzip_len(&out) > max_gzip_bytes && !items.is_empty() {
        let keep = items.len() * 9 / 10;
        items.truncate(keep);
        out = build(&items);
    }
    if items.len() < total {
        warnings.push(format!(
            "SARIF: {} of {total} results kept to stay within GitHub's limits ({max_results} results, {} bytes gzipped); the least severe were left out",
            items.len(),
            max_gzip_bytes
        ));
    }
    (out, warnings)
}

fn gzip_len(s: &str) -> usize {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(s.as_bytes());
    e.finish().map(|v| v.len()).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Location};
    use crate::manifest::ObjectRef;
    use crate::report::RunInfo;

    fn finding(check: &'static str, tier: Tier, n: u32) -> Finding {
        Finding {
            check,
            tier,
            severity: tier.severity(),
            target: "t".into(),
            object: ObjectRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: None,
                name: format!("p{n}"),
            },
            container: None,
            field: "spec.hostPID".into(),
            message: format!("finding {n}"),
            location: Location {
                path: "a.yaml".into(),
                line: n,
                column: 1,
            },
            rendered: None,
            admission: None,
            suppression: None,
            accepted: false,
            namespace: String::new(),
            fingerprint: format!("kpsa/v1:{n:032x}"),
            origin: None,
            values: Vec::new(),
            unless_service_account: None,
        }
    }

    #[test]
    fn limits_keep_the_most_severe_results_and_warn() {
        let run = RunInfo {
            settings_digest: String::new(),
            shard: None,
            planned: Vec::new(),
            evaluated: Vec::new(),
            warnings: Vec::new(),
            saved_lines: Default::default(),
            command: "scan",
            kubernetes_version: crate::policy::Version::v1(37),
            version_label: "latest".into(),
            level: Tier::Hardened,
            fail_on: Some(Tier::Restricted),
            gate_enforced: false,
            root: ".".into(),
            show_suppressed: false,
        };
        let findings: Vec<Finding> = (1..=6)
            .map(|n| match n % 3 {
                0 => finding("hostNamespaces", Tier::Baseline, n),
                1 => finding("runAsNonRoot", Tier::Restricted, n),
                _ => finding("resourceLimits", Tier::Hardened, n),
            })
            .collect();
        let result = crate::scan::ScanResult {
            findings,
            ..Default::default()
        };
        let view = View::scan(&result, &run);
        let (all, warnings) = render_within(&view, "c", 100, 1 << 30);
        assert!(warnings.is_empty());
        let v: serde_json::Value = serde_json::from_str(&all).unwrap();
        assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 6);

        let (cut, warnings) = render_within(&view, "c", 3, 1 << 30);
        let v: serde_json::Value = serde_json::from_str(&cut).unwrap();
        let levels: Vec<&str> = v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, vec!["error", "error", "warning"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("3 of 6 results kept"), "{warnings:?}");

        // The gzip limit: a budget below the whole log drops results until it fits.
        let size = gzip_len(&all);
        let (small, warnings) = render_within(&view, "c", 100, size - 1);
        assert!(gzip_len(&small) < size);
        assert!(warnings[0].contains("of 6 results kept"), "{warnings:?}");
    }
}
