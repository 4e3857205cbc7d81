//! Conformance with upstream Pod Security Admission: every one of the 4,537
//! fixtures of `kubernetes/pod-security-admission` (vendored in testdata/psa).
//!
//! A `fail` fixture must be rejected at its level and version, by the check it
//! is named after or by the restricted check that overrides it, with the
//! message substring upstream's live test requires, and it must produce a
//! finding of that check (or its baseline counterpart). A `pass` fixture must
//! be allowed and produce no finding at all at that `--level`.

use std::collections::BTreeSet;

use kpsa::manifest::workload::{default_pod_template_kinds, objects, pod_view};
use kpsa::manifest::yaml::{Limits, parse_documents};
use kpsa::policy::registry::{CHECKS, active_ids};
use kpsa::policy::{Context, PssLevel, Tier, Version, evaluate};

struct Row {
    path: String,
    level: String,
    version: String,
    expect: String,
    check: String,
    substring: String,
    violations: String,
    blob: String,
}

fn rows() -> Vec<Row> {
    let index = std::fs::read_to_string("testdata/psa/INDEX.tsv").expect("vendored index");
    index
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                path: c[0].into(),
                level: c[1].into(),
                version: c[2].into(),
                expect: c[3].into(),
                check: c[4].into(),
                substring: c[5].into(),
                violations: c[6].into(),
                blob: c[7].into(),
            }
        })
        .collect()
}

/// The checks a fixture named `check` may be caught by: itself, and any
/// restricted check that overrides it (or that it overrides).
fn family(check: &str) -> BTreeSet<&'static str> {
    let mut ids = BTreeSet::new();
    for c in CHECKS {
        let overrides: Vec<&str> = c
            .variants
            .iter()
            .flat_map(|v| v.overrides.iter().copied())
            .collect();
        if c.id == check || overrides.contains(&check) {
            ids.insert(c.id);
            ids.extend(
                CHECKS
                    .iter()
                    .map(|c| c.id)
                    .filter(|id| overrides.contains(id)),
            );
        }
    }
    ids
}

#[test]
fn all_upstream_fixtures_conform() {
    let rows = rows();
    assert_eq!(
        rows.len(),
        4537,
        "the vendored index must hold every upstream fixture"
    );
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut hint_mismatches = Vec::new();
    for row in &rows {
        let text = std::fs::read_to_string(format!("testdata/psa/pods/{}.yaml", row.blob)).unwrap();
        let docs = parse_documents(&text, 1, Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e:?}", row.path));
        let objs = objects(&docs[0]);
        let view = pod_view(&objs[0], &default_pod_template_kinds())
            .unwrap()
            .unwrap();
        let minor: u32 = row.version.trim_start_matches("v1.").parse().unwrap();
        let version = Version::v1(minor);
        let (level, tier) = match row.level.as_str() {
            "baseline" => (PssLevel::Baseline, Tier::Baseline),
            _ => (PssLevel::Restricted, Tier::Restricted),
        };
        let eval = evaluate(&view, version, &Context::default());
        assert!(eval.errors.is_empty(), "{}: {:?}", row.path, eval.errors);
        let verdict = eval.verdict(level);
        let violations = eval.violations(tier);
        let active = active_ids(level, version);
        let failed: Vec<&str> = eval
            .failures
            .iter()
            .map(|f| f.check.id)
            .filter(|id| active.contains(id))
            .collect();
        let hint: Vec<&str> = if row.violations == "-" {
            vec![]
        } else {
            row.violations.split(',').collect()
        };
        if failed != hint {
            hint_mismatches.push(format!(
                "{}: fired {failed:?}, index says {hint:?}",
                row.path
            ));
        }
        let ok = if row.expect == "fail" {
            let fam = family(&row.check);
            !verdict.allowed
                && failed.iter().any(|id| fam.contains(id))
                && verdict.messages.join(", ").contains(&row.substring)
                && violations.iter().any(|v| fam.contains(v.check))
        } else {
            verdict.allowed && violations.is_empty()
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "{} ({}): {:?} / {:?}",
                row.path, row.expect, verdict.messages, violations
            ));
        }
    }
    println!("conformance: {passed} / {} upstream fixtures", rows.len());
    assert!(
        failures.is_empty(),
        "{} fixtures failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, 4537);
    assert!(
        hint_mismatches.is_empty(),
        "checks fired differ from INDEX.tsv:\n{}",
        hint_mismatches.join("\n")
    );
}
