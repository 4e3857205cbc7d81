//! `docs/checks.md` is generated from the checks' own documentation, the
//! same text `kpsa explain` prints; this test keeps them in sync.
//! Regenerate with `KPSA_UPDATE_DOCS=1 cargo test --test docs`.

mod common;

use kpsa::policy::registry::CHECKS;

#[test]
fn checks_md_is_generated_from_the_check_docs() {
    let generated = kpsa::docs::checks_markdown();
    if std::env::var_os("KPSA_UPDATE_DOCS").is_some() {
        std::fs::write("docs/checks.md", &generated).unwrap();
    }
    let committed = std::fs::read_to_string("docs/checks.md").unwrap_or_default();
    assert!(
        committed == generated,
        "docs/checks.md is stale: run `KPSA_UPDATE_DOCS=1 cargo test --test docs`"
    );
    for check in CHECKS {
        assert!(
            committed.contains(&format!("\n## {}\n", check.id)),
            "{} undocumented",
            check.id
        );
        let explained = kpsa::docs::explain(check);
        assert!(explained.contains(check.doc.why), "{}", check.id);
        assert!(committed.contains(check.doc.why), "{}", check.id);
    }
}

#[test]
fn every_check_documents_a_failing_example_and_its_fix() {
    for check in CHECKS {
        let d = &check.doc;
        for (what, text) in [
            ("summary", d.summary),
            ("looks_at", d.looks_at),
            ("why", d.why),
            ("example", d.example),
            ("fix", d.fix),
        ] {
            assert!(!text.trim().is_empty(), "{}: empty {what}", check.id);
        }
        assert_ne!(d.example, d.fix, "{}", check.id);
    }
}

#[test]
fn each_documented_example_fails_its_check_and_each_fix_passes_it() {
    use kpsa::policy::Context;
    let fails = |check: &str, spec_yaml: &str| -> bool {
        let yaml = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: doc}}\n{spec_yaml}");
        let e = common::evaluate_yaml(&yaml, 37, &Context::default());
        assert!(e.errors.is_empty(), "{check}: {:?}", e.errors);
        e.failures.iter().any(|f| f.check.id == check)
    };
    for check in CHECKS {
        assert!(
            fails(check.id, check.doc.example),
            "{}: the documented example passes",
            check.id
        );
        assert!(
            !fails(check.id, check.doc.fix),
            "{}: the documented fix still fails",
            check.id
        );
    }
}
