//! The config contract: docs/kpsa-config.schema.json and kpsa's own reader
//! agree, on the documented example and on broken configs.

mod common;

use std::path::Path;

use kpsa::manifest::node::Resolved;
use kpsa::manifest::yaml::{Limits, parse_documents};
use kpsa::manifest::{Node, Value};

fn to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Scalar(s) => match s.resolve() {
            Resolved::Null => serde_json::Value::Null,
            Resolved::Bool(b) => b.into(),
            Resolved::Int(i) => i.into(),
            Resolved::Float => s
                .text
                .parse::<f64>()
                .map(Into::into)
                .unwrap_or(serde_json::Value::Null),
            Resolved::Str(t) => t.into(),
        },
        Value::Seq(items) => items.iter().map(to_json).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|e| (e.key.clone(), to_json(&e.value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn schema_errors(text: &str) -> usize {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/kpsa-config.schema.json").unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let doc = parse_documents(text, 1, Limits::default())
        .unwrap()
        .remove(0);
    validator.iter_errors(&to_json(&doc)).count()
}

#[test]
fn documented_configs_are_valid_for_both() {
    for file in ["docs/examples/kpsa.yaml", "testdata/platform/.kpsa.yaml"] {
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(schema_errors(&text), 0, "{file} against the schema");
        let config = kpsa::config::parse(&text, Path::new(file)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.targets.is_empty());
    }
    let example = kpsa::config::parse(
        &std::fs::read_to_string("docs/examples/kpsa.yaml").unwrap(),
        Path::new("/repo/.kpsa.yaml"),
    )
    .unwrap();
    assert_eq!(example.targets.len(), 6);
    assert_eq!(example.pod_templates.len(), 1);
}

#[test]
fn jobs_beyond_four_times_the_cores_are_refused() {
    // The schema cannot know the machine's cores; the reader does.
    let e = kpsa::config::parse("version: 1\njobs: 3000\n", Path::new(".kpsa.yaml")).unwrap_err();
    assert_eq!(e.pos.map(|p| p.line), Some(2));
    assert!(e.message.contains("at most"), "{e}");
    let max = kpsa::config::max_jobs();
    kpsa::config::parse(
        &format!("version: 1\njobs: {max}\n"),
        Path::new(".kpsa.yaml"),
    )
    .unwrap();
}

#[test]
fn broken_configs_are_rejected_by_both() {
    let broken = [
        "level: baseline\n",
        "version: 2\n",
        "version: 1\nlevle: baseline\n",
        "version: 1\nlevel: strict\n",
        "version: 1\nfail-on: sometimes\n",
        "version: 1\nkubernetes-version: \"1.30\"\n",
        "version: 1\nrender-timeout: 0\n",
        "version: 1\njobs: two\n",
        "version: 1\ntargets:\n  - name: x\n",
        "version: 1\ntargets:\n  - helm: {chart: a}\n    kustomize: {path: b}\n",
        "version: 1\ntargets:\n  - helm: {values: [a.yaml]}\n",
        "version: 1\ntargets:\n  - helm: {chart: a, include-crds: maybe}\n",
        "version: 1\ntargets:\n  - kustomize: deploy\n",
        "version: 1\ntargets:\n  - manifests: {paths: a.yaml}\n",
        "version: 1\npod-templates:\n  - {group: argoproj.io, kind: Rollout}\n",
        "version: 1\npod-templates:\n  - {group: argoproj.io, kind: Rollout, path: spec..template}\n",
        "version: 1\nexemptions:\n  - {check: privileged, reason: x, until: 2027-13-01}\n",
        "version: 1\nexemptions:\n  - {check: privileged, reasons: x}\n",
        "version: 1\nnamespaces:\n  prod: {enforce: restricted, enforced: yes}\n",
        "version: 1\nfail-on: sometimes-enforced\n",
        // The repository must not name programs, nor smuggle options to them.
        "version: 1\nhelm: ./evil.sh\n",
        "version: 1\nkustomize: /bin/sh\n",
        "version: 1\ntargets:\n  - helm: {chart: a, release: \"--set-file=x=/root/.ssh/id_ed25519\"}\n",
        "version: 1\ntargets:\n  - helm: {chart: a, release: \"--show-only=templates/x.yaml\"}\n",
        "version: 1\ntargets:\n  - helm: {chart: a, namespace: \"--output-dir=/tmp/x\"}\n",
        "version: 1\ntargets:\n  - helm: {chart: a, release: Web_App}\n",
        // Costs the repository must not choose.
        "version: 1\nrender-timeout: 9223372036854775807\n",
    ];
    for text in broken {
        assert!(schema_errors(text) > 0, "the schema accepts:\n{text}");
        let e = kpsa::config::parse(text, Path::new(".kpsa.yaml")).expect_err(text);
        assert!(
            e.pos.is_some() || e.message.contains("missing"),
            "{text}: {e}"
        );
    }
}
