//! Report formats: SARIF and Code Quality validated against their official
//! schemas (vendored in testdata/schemas), locations that exist in the
//! scanned commit, Markdown templates and limits, JUnit structure, several
//! outputs from one run, and snapshots of every format on one fixed input.

mod common;

use std::collections::BTreeSet;

use common::{Repo, assert_valid, changed_platform, kpsa};
use serde_json::Value;

const SARIF_SCHEMA: &str = "testdata/schemas/sarif-2.1.0.json";
const CQ_SCHEMA: &str = "testdata/schemas/gitlab-codeclimate-degradation.schema.json";

fn run_json(repo: &Repo, args: &[&str]) -> (i32, Value) {
    let run = repo.kpsa(".", args, &[]);
    assert!(
        run.code <= 1,
        "exit {}: {}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    let v: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    (run.code, v)
}

/// Every SARIF location is a file of the commit `rev`, and its line exists.
fn assert_locations_exist(repo: &Repo, rev: &str, sarif: &Value) {
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let mut locs: Vec<&Value> = r["locations"].as_array().unwrap().iter().collect();
        locs.extend(r["relatedLocations"].as_array().into_iter().flatten());
        for l in locs {
            let p = &l["physicalLocation"];
            let uri = p["artifactLocation"]["uri"].as_str().unwrap();
            let line = p["region"]["startLine"].as_u64().unwrap();
            let text = repo.git(&["show", &format!("{rev}:{uri}")]);
            assert!(
                line as usize <= text.lines().count(),
                "{uri}:{line} is past the end of the file in {rev}"
            );
        }
    }
}

#[test]
fn sarif_for_scan_is_valid_and_points_at_repository_files() {
    let repo = Repo::new("platform");
    let (_, s) = run_json(&repo, &["scan", "--format", "sarif", "-q"]);
    assert_valid(SARIF_SCHEMA, &s);
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(s["runs"].as_array().unwrap().len(), 1);
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kpsa");
    assert!(driver["version"].is_string() && driver["informationUri"].is_string());
    assert_eq!(run["automationDetails"]["id"], "kpsa/pod-security/");
    // A rule per check that ran: all 22 at hardened, policy v1.33.
    let rules = driver["rules"].as_array().unwrap();
    let ids: BTreeSet<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rules.len());
    let expected: BTreeSet<&str> = kpsa::policy::registry::CHECKS
        .iter()
        .filter(|c| c.variant_at(kpsa::policy::Version::v1(33)).is_some())
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, expected);
    for r in rules {
        let sev = r["properties"]["security-severity"]
            .as_str()
            .expect("a string");
        let tags: Vec<&str> = r["properties"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(
            tags.contains(&"security") && tags.contains(&"pod-security"),
            "{tags:?}"
        );
        let expect = if tags.contains(&"pss-baseline") {
            "8.0"
        } else if tags.contains(&"pss-restricted") {
            "5.5"
        } else {
            assert!(tags.contains(&"owasp-k01"));
            "3.0"
        };
        assert_eq!(sev, expect, "{}", r["id"]);
        assert!(r["help"]["markdown"].as_str().unwrap().contains("```yaml"));
        assert!(r["helpUri"].as_str().unwrap().contains("docs/checks.md#"));
        assert!(
            r["shortDescription"]["text"].is_string() && r["fullDescription"]["text"].is_string()
        );
    }
    for r in run["results"].as_array().unwrap() {
        assert!(ids.contains(r["ruleId"].as_str().unwrap()));
        let fp = r["partialFingerprints"].as_object().unwrap();
        assert_eq!(
            fp.keys().collect::<Vec<_>>(),
            vec!["kpsa/v1"],
            "never primaryLocationLineHash"
        );
        assert_eq!(fp["kpsa/v1"].as_str().unwrap().len(), 32);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r.get("baselineState").is_none(), "scan has no baseline");
    }
    // Helm template and Kustomize patch locations, never rendered output.
    let uris: BTreeSet<&str> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        uris.contains("charts/web/templates/deployment.yaml"),
        "{uris:?}"
    );
    assert!(
        uris.contains("deploy/overlays/staging/privileged.yaml"),
        "{uris:?}"
    );
    assert!(uris.iter().all(|u| !u.contains("output")));
    assert_locations_exist(&repo, "HEAD", &s);
}

#[test]
fn sarif_for_diff_has_new_results_or_every_current_one() {
    let repo = changed_platform();
    let (code, s) = run_json(&repo, &["diff", "main..feature", "--format", "sarif", "-q"]);
    assert_eq!(code, 1);
    assert_valid(SARIF_SCHEMA, &s);
    let results = s["runs"][0]["results"].as_array().unwrap();
    let rules: BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["hostNamespaces", "privileged", "runAsNonRoot"]
            .into_iter()
            .collect()
    );
    assert!(results.iter().all(|r| r["baselineState"] == "new"));
    let at = |rule: &str| {
        let r = results.iter().find(|r| r["ruleId"] == rule).unwrap();
        let p = &r["locations"][0]["physicalLocation"];
        (
            p["artifactLocation"]["uri"].as_str().unwrap().to_string(),
            p["region"]["startLine"].as_u64().unwrap(),
        )
    };
    // Attributed: the values line (the template line that writes the field is related).
    assert_eq!(
        at("privileged"),
        ("charts/web/values-prod.yaml".to_string(), 6)
    );
    assert_eq!(
        at("hostNamespaces"),
        ("deploy/overlays/prod/host-ipc.yaml".to_string(), 3)
    );
    // Not attributable: the object's location in its resource file.
    assert_eq!(at("runAsNonRoot").0, "deploy/base/deployment.yaml");
    let privileged = results
        .iter()
        .find(|r| r["ruleId"] == "privileged")
        .unwrap();
    assert_eq!(
        privileged["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "charts/web/templates/deployment.yaml"
    );
    assert_locations_exist(&repo, "feature", &s);

    let (_, all) = run_json(
        &repo,
        &[
            "diff",
            "main..feature",
            "--format",
            "sarif",
            "--include-unchanged",
            "-q",
        ],
    );
    assert_valid(SARIF_SCHEMA, &all);
    let results = all["runs"][0]["results"].as_array().unwrap();
    let states: BTreeSet<&str> = results
        .iter()
        .map(|r| r["baselineState"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["new", "unchanged"].into_iter().collect());
    // Every finding of the head: as many as `kpsa scan` finds at feature.
    let (_, scan) = run_json(&repo, &["scan", "--format", "json", "-q"]);
    assert_eq!(results.len(), scan["findings"].as_array().unwrap().len());
    assert_locations_exist(&repo, "feature", &all);
}

#[test]
fn code_quality_items_match_gitlabs_schema_and_hold_every_current_finding() {
    let repo = changed_platform();
    let (_, scan) = run_json(&repo, &["scan", "--format", "json", "-q"]);
    for args in [
        vec!["scan", "--format", "codequality", "-q"],
        vec!["diff", "main..feature", "--format", "codequality", "-q"],
    ] {
        let (_, cq) = run_json(&repo, &args);
        let items = cq.as_array().expect("a JSON array");
        assert_eq!(
            items.len(),
            scan["findings"].as_array().unwrap().len(),
            "{args:?}: every current finding"
        );
        let mut fps = BTreeSet::new();
        for i in items {
            assert_valid(CQ_SCHEMA, i);
            assert!(
                fps.insert(i["fingerprint"].as_str().unwrap().to_string()),
                "unique fingerprints"
            );
            assert!(i["check_name"].is_string() && i["description"].is_string());
            assert!(i["location"]["lines"]["begin"].as_u64().unwrap() >= 1);
            let path = i["location"]["path"].as_str().unwrap();
            assert!(repo.path().join(path).is_file(), "{path}");
        }
        let sev = |check: &str| {
            items.iter().find(|i| i["check_name"] == check).unwrap()["severity"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(sev("privileged"), "critical");
        assert_eq!(sev("runAsNonRoot"), "major");
        assert_eq!(sev("resourceLimits"), "minor");
    }
    // GitLab's own example item validates against its schema too (the test is live).
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string("testdata/schemas/gitlab-codequality-report.example.json")
            .unwrap(),
    )
    .unwrap();
    assert_valid(CQ_SCHEMA, &example[0]);
}

#[test]
fn markdown_summary_default_and_custom_templates() {
    let repo = changed_platform();
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            "main..feature",
            "--format",
            "markdown",
            "-q",
            "--link-base",
            "https://example.test/blob/abc",
        ],
        &[],
    );
    assert_eq!(run.code, 1);
    let md = run.stdout;
    assert!(
        md.starts_with(
            "<!-- kpsa:summary -->\n## ❌ kpsa: 3 new finding(s) at or above the `restricted` gate"
        ),
        "{md}"
    );
    assert!(
        md.contains("| 🔴 high (breaks baseline: privileged) | 2 |"),
        "{md}"
    );
    assert!(md.contains("[<code>charts/web/values-prod.yaml:6</code>](https://example.test/blob/abc/charts/web/values-prod.yaml#L6)"), "{md}");
    assert!(
        md.contains("(not on a changed line)"),
        "the unattributed one says so: {md}"
    );
    assert!(
        md.contains("| ⬇️ Deployment web-web | <code>web-prod</code> | restricted | privileged |"),
        "{md}"
    );
    assert!(
        md.contains("### How to fix") && md.contains("<details><summary><code>privileged</code>"),
        "{md}"
    );

    // A custom template inside the repository is read from the base commit
    // in `diff`: one the base does not have is an error, not the head's.
    std::fs::write(repo.path().join("mine.md.hbs"), "{{marker}}").unwrap();
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            "main..feature",
            "--format",
            "markdown",
            "-q",
            "--template",
            "summary=mine.md.hbs",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "mine.md.hbs: kpsa diff reads a file inside the repository from the base commit"
        ),
        "{}",
        run.stderr
    );
    // The operator's own template, outside the repository, as documented in docs/templates.md.
    let outside = tempfile::tempdir().unwrap();
    let tpl = outside.path().join("my-summary.md.hbs");
    std::fs::write(
        &tpl,
        "{{marker}} {{command}} {{#if passed}}PASS{{else}}FAIL{{/if}} new={{counts.total}} fixed={{fixed}}\n{{#each groups}}{{#each findings}}* {{check}} @ {{location}}{{#if attributed}} (changed){{/if}}\n{{/each}}{{/each}}",
    )
    .unwrap();
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            "main..feature",
            "--format",
            "markdown",
            "-q",
            "--template",
            &format!("summary={}", tpl.display()),
        ],
        &[],
    );
    assert_eq!(
        run.stdout,
        "<!-- kpsa:summary --> diff FAIL new=3 fixed=0\n\
         * hostNamespaces @ deploy/overlays/prod/host-ipc.yaml:3 (changed)\n\
         * runAsNonRoot @ deploy/base/deployment.yaml:22\n\
         * privileged @ charts/web/values-prod.yaml:6 (changed)\n"
    );
    // Bad templates are usage errors.
    let run = repo.kpsa(
        ".",
        &["scan", "--format", "markdown", "-q", "--template", "nope=x"],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown template \"nope\""),
        "{}",
        run.stderr
    );
    std::fs::write(&tpl, "{{#each groups}}").unwrap();
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "--format",
            "markdown",
            "-q",
            "--template",
            &format!("summary={}", tpl.display()),
        ],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("template summary"), "{}", run.stderr);
}

#[test]
fn markdown_summary_stays_under_the_comment_limit() {
    let repo = Repo::new("");
    let mut many = String::new();
    for i in 0..1500 {
        many.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: pod-{i}}}\nspec:\n  hostPID: true\n  containers: [{{name: c, image: x, securityContext: {{privileged: true}}}}]\n"
        ));
    }
    repo.write("raw/many.yaml", &many);
    repo.commit("many");
    let run = repo.kpsa(".", &["scan", "--format", "markdown", "-q"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.chars().count() <= 65_536,
        "{} characters",
        run.stdout.chars().count()
    );
    assert!(
        run.stdout
            .contains("findings are not shown: a comment holds at most 65536 characters"),
        "{}",
        &run.stdout[run.stdout.len() - 500..]
    );
    // Most severe first: what is cut is the low end.
    assert!(run.stdout.contains("**`privileged`**"));
}

#[test]
fn junit_has_a_suite_per_target_and_failures_at_the_gate() {
    let repo = Repo::new("platform");
    let run = repo.kpsa(
        ".",
        &["scan", "--format", "junit", "-q", "--fail-on", "baseline"],
        &[],
    );
    assert_eq!(run.code, 1);
    let x = run.stdout;
    assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
    let count = |s: &str| x.matches(s).count();
    assert_eq!(count("<testsuite "), 4, "one per target: {x}");
    assert_eq!(count("<testsuite "), count("</testsuite>"));
    let (_, j) = run_json(&repo, &["scan", "--format", "json", "-q"]);
    let workloads = j["workloads"].as_array().unwrap().len();
    let checks = kpsa::policy::registry::CHECKS
        .iter()
        .filter(|c| c.variant_at(kpsa::policy::Version::v1(33)).is_some())
        .count();
    assert_eq!(count("<testcase "), workloads * checks);
    // Failures: (workload, check) pairs with a baseline finding.
    let pairs: BTreeSet<(String, String)> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tier"] == "baseline")
        .map(|f| {
            (
                format!("{}/{}", f["target"], f["object"]["name"]),
                f["check"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(count("<failure "), pairs.len());
    assert!(x.contains(&format!("failures=\"{}\"", pairs.len())));
}

#[test]
fn several_formats_from_one_run() {
    let repo = Repo::new("platform");
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("out.sarif");
    let cq = dir.path().join("cq.json");
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "-q",
            "--format",
            "text",
            "--format",
            "sarif",
            "--output",
            sarif.to_str().unwrap(),
            "--format",
            "codequality",
            "--output",
            cq.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[privileged]"), "text on stdout");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_valid(SARIF_SCHEMA, &s);
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&cq).unwrap()).unwrap();
    assert_eq!(
        c.as_array().unwrap().len(),
        s["runs"][0]["results"].as_array().unwrap().len()
    );
    // Usage errors.
    let run = repo.kpsa(".", &["scan", "--format", "json", "--format", "sarif"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("only one --format can write to standard output")
    );
    let run = repo.kpsa(
        ".",
        &["scan", "--output", "x.sarif", "--format", "sarif"],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("needs a --format before it"));
}

/// Every format on the same fixed input (a real repository with fixed
/// commit dates, so SHAs are stable): any change of output shows in review.
/// The line of a finding in the rendered output depends on the Helm
/// version's blank-line layout (Helm 3.17, 4.1 and the 4.2 SDK differ); the
/// snapshots hold everything else. Text: `line N of its output`; JSON: the
/// `line` inside `"rendered": {…}`.
fn redact_rendered_lines(out: &str) -> String {
    let mut in_rendered = false;
    out.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("\"rendered\": {") {
                in_rendered = true;
            } else if in_rendered && t.starts_with('}') {
                in_rendered = false;
            } else if in_rendered && t.starts_with("\"line\": ") {
                let indent = &l[..l.len() - t.len()];
                let comma = if t.ends_with(',') { "," } else { "" };
                return format!("{indent}\"line\": \"[rendered line]\"{comma}");
            }
            match (l.find(", line "), l.find(" of its output")) {
                (Some(a), Some(b)) if a < b && l[a + 7..b].chars().all(|c| c.is_ascii_digit()) => {
                    format!("{}, line [n]{}", &l[..a], &l[b..])
                }
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if out.ends_with('\n') { "\n" } else { "" }
}

#[test]
fn snapshots_of_every_format() {
    let repo = changed_platform();
    for (name, args) in [
        ("scan", vec!["scan", "-q"]),
        ("diff", vec!["diff", "main..feature", "-q"]),
    ] {
        for format in ["text", "json", "sarif", "markdown", "codequality", "junit"] {
            let mut a = args.clone();
            a.extend(["--format", format, "--color", "never"]);
            let run = repo.kpsa(".", &a, &[]);
            assert!(run.code <= 1, "{name} {format}: {}", run.stderr);
            let out =
                redact_rendered_lines(&run.stdout.replace(env!("CARGO_PKG_VERSION"), "[version]"));
            insta::assert_snapshot!(format!("{name}_{format}"), out);
        }
    }
}

#[test]
fn any_format_from_a_saved_report_is_what_the_run_wrote() {
    let repo = Repo::new("platform");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!("{prod}hostNetwork: true\n"),
    );
    repo.commit("change");
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["scan", "--kubernetes-version", "v1.33"],
        vec!["diff", "main..feature", "--include-unchanged"],
        vec!["diff", "main..feature"],
    ] {
        let saved = dir.path().join("saved.json");
        let mut run_args = args.clone();
        run_args.extend([
            "-q",
            "--format",
            "json",
            "--output",
            saved.to_str().unwrap(),
        ]);
        let direct_code = repo.kpsa(".", &run_args, &[]).code;
        let saved_text = std::fs::read_to_string(&saved).unwrap();
        for format in ["json", "sarif", "markdown", "codequality", "junit", "text"] {
            if format == "codequality" && args == ["diff", "main..feature"] {
                // A direct run renders every head target for Code Quality;
                // a report saved without --include-unchanged cannot, and says so.
                let got = kpsa(
                    dir.path(),
                    &["report", "--input", "saved.json", "--format", format],
                );
                assert!(
                    got.stderr.contains("without --include-unchanged"),
                    "{}",
                    got.stderr
                );
                continue;
            }
            let mut direct = args.clone();
            direct.extend(["-q", "--color", "never", "--format", format]);
            let want = repo.kpsa(".", &direct, &[]);
            // From the report alone, elsewhere: the repository is not needed.
            let got = kpsa(
                dir.path(),
                &[
                    "report",
                    "--input",
                    "saved.json",
                    "--color",
                    "never",
                    "--format",
                    format,
                ],
            );
            assert_eq!(got.code, direct_code, "{args:?} {format}: {}", got.stderr);
            assert_eq!(got.stdout, want.stdout, "{args:?} {format}");
        }
        // The JSON round trip is exact.
        let again = kpsa(
            dir.path(),
            &["report", "--input", "saved.json", "--format", "json"],
        );
        assert_eq!(again.stdout, saved_text, "{args:?}");
    }
    // Not a report this kpsa reads: a usage error, nothing written.
    std::fs::write(dir.path().join("old.json"), "{\"schema_version\": 1}").unwrap();
    let run = kpsa(
        dir.path(),
        &["report", "--input", "old.json", "--format", "sarif"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.is_empty() && run.stderr.contains("schema_version 1"),
        "{}",
        run.stderr
    );
}

/// A new finding is shown at the same place in every format: the text
/// frame, the JSON `attributed_location` and the SARIF region agree on the
/// file, the line and the column.
#[test]
fn text_json_and_sarif_agree_on_where_a_new_finding_is() {
    let repo = changed_platform();
    let (_, j) = run_json(&repo, &["diff", "main..feature", "-q", "--format", "json"]);
    let sarif = repo.kpsa(
        ".",
        &["diff", "main..feature", "-q", "--format", "sarif"],
        &[],
    );
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let text = repo
        .kpsa(
            ".",
            &["diff", "main..feature", "-q", "--color", "never"],
            &[],
        )
        .stdout;
    let mut seen = 0;
    for f in j["findings"].as_array().unwrap() {
        let a = &f["attributed_location"];
        if f["status"] != "new" || a.is_null() {
            continue;
        }
        seen += 1;
        let place = (
            a["path"].as_str().unwrap(),
            a["line"].as_u64().unwrap(),
            a["column"].as_u64().unwrap(),
        );
        assert!(place.2 > 1, "a column past the indentation: {a}");
        assert!(
            text.contains(&format!("--> {}:{}:{}\n", place.0, place.1, place.2)),
            "{place:?}\n{text}"
        );
        let region = sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["partialFingerprints"].to_string().contains(
                    f["fingerprint"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("kpsa/v1:"),
                )
            })
            .map(|r| r["locations"][0]["physicalLocation"].clone())
            .unwrap_or_else(|| panic!("no SARIF result for {}", f["fingerprint"]));
        assert_eq!(
            (
                region["artifactLocation"]["uri"].as_str().unwrap(),
                region["region"]["startLine"].as_u64().unwrap(),
                region["region"]["startColumn"].as_u64().unwrap()
            ),
            place
        );
    }
    assert_eq!(seen, 2, "{}", j["findings"]);
}
