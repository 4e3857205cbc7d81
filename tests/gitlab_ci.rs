//! The GitLab CI template (`templates/gitlab/kpsa.gitlab-ci.yml`) run for
//! real with `gitlab-ci-local` 4.73.0 (npm, installed by
//! `tools/setup-ci-tools.sh` under `.tools/gcl`), shell executor, in a real
//! merge request repository that includes it, with merge request variables
//! set and `CI_API_V4_URL` pointed at the fake GitLab: the jobs run the real
//! kpsa binary, their artifacts are validated (Code Quality against GitLab's
//! schema, SARIF against SARIF 2.1.0, JUnit as GitLab's parser reads it), and
//! the publish job posts to the fake.

mod common;
mod fake_gitlab;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Repo;
use fake_gitlab::{FakeGitLab, TOKEN};

fn gitlab_ci_local() -> PathBuf {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/gcl/node_modules/.bin/gitlab-ci-local");
    assert!(
        p.exists(),
        "{} is missing: run .ci/run (or tools/setup-ci-tools.sh) first",
        p.display()
    );
    p
}

/// A merge request whose repository includes the template.
fn merge_request() -> (Repo, String, String) {
    let repo = common::changed_platform();
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/gitlab/kpsa.gitlab-ci.yml"),
    )
    .unwrap();
    repo.write("ci/kpsa.gitlab-ci.yml", &template);
    // A probe job on the template's base: the scanning jobs run without the token.
    repo.write(
        ".gitlab-ci.yml",
        "include:\n  - local: ci/kpsa.gitlab-ci.yml\n\ntoken-probe:\n  extends: .kpsa\n  stage: test\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n  script:\n    - test -z \"${KPSA_GITLAB_TOKEN:-}\"\n",
    );
    repo.commit("the kpsa template");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://gitlab.example.com/group/platform.git",
    ]);
    let base = repo
        .git(&["merge-base", "main", "feature"])
        .trim()
        .to_string();
    let head = repo.git(&["rev-parse", "feature"]).trim().to_string();
    (repo, base, head)
}

struct Pipeline {
    output: String,
}

impl Pipeline {
    /// PASS or FAIL, from gitlab-ci-local's closing table.
    fn job(&self, name: &str) -> &str {
        self.output
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?, w.next()?))
            })
            .find(|(state, job)| matches!(*state, "PASS" | "FAIL") && *job == name)
            .map(|(state, _)| state)
            .unwrap_or_else(|| panic!("no result for {name}:\n{}", self.output))
    }
}

fn run(repo: &Repo, fake: &FakeGitLab, base: &str, extra: &[&str]) -> Pipeline {
    let home = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_kpsa"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin.display(), common::path_with_tools());
    let api = format!("CI_API_V4_URL={}", fake.api_url());
    let base_var = format!("CI_MERGE_REQUEST_DIFF_BASE_SHA={base}");
    let token = format!("KPSA_GITLAB_TOKEN={TOKEN}");
    let mut vars = vec![
        "CI_PIPELINE_SOURCE=merge_request_event",
        "CI_MERGE_REQUEST_IID=7",
        "CI_PROJECT_ID=42",
        "CI_MERGE_REQUEST_PROJECT_ID=42",
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID=42",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
        &api,
        &base_var,
        &token,
    ];
    vars.extend_from_slice(extra);
    let mut cmd = Command::new(gitlab_ci_local());
    cmd.arg("--force-shell-executor").arg("--no-color");
    for v in &vars {
        cmd.arg("--variable").arg(v);
    }
    let out = cmd
        .current_dir(repo.path())
        .env("PATH", path)
        .env("HOME", home.path())
        .env("KPSA_CACHE_DIR", repo.cache.path())
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let violations = fake.with(|s| s.violations.clone());
    assert!(violations.is_empty(), "{violations:#?}\n{output}");
    Pipeline { output }
}

fn artifact(repo: &Repo, job: &str, file: &str) -> String {
    let p = repo
        .path()
        .join(".gitlab-ci-local/artifacts")
        .join(job)
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_template_runs_scans_publishes_and_reports() {
    let (repo, base, head) = merge_request();
    let fake = FakeGitLab::start(&base, &head, fake_gitlab::diffs_of(&repo, "main...feature"));
    let p = run(&repo, &fake, &base, &["KPSA_FAIL_ON=never"]);
    for job in ["kpsa", "kpsa-publish", "kpsa-code-quality", "token-probe"] {
        assert_eq!(p.job(job), "PASS", "{job}:\n{}", p.output);
    }
    // The scan job's artifacts.
    let report: serde_json::Value =
        serde_json::from_str(&artifact(&repo, "kpsa", "kpsa.json")).unwrap();
    assert_eq!(report["command"], "diff");
    assert_eq!(report["head_commit"].as_str(), Some(head.as_str()));
    common::assert_valid("docs/kpsa-report.schema.json", &report);
    let sarif: serde_json::Value =
        serde_json::from_str(&artifact(&repo, "kpsa", "kpsa.sarif")).unwrap();
    common::assert_valid("testdata/schemas/sarif-2.1.0.json", &sarif);
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
    let junit = artifact(&repo, "kpsa", "kpsa-junit.xml");
    let doc = roxmltree::Document::parse(&junit).expect("JUnit is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert!(!cases.is_empty());
    for c in &cases {
        // GitLab's JUnit parser needs both to show a test case.
        assert!(
            c.attribute("name").is_some() && c.attribute("classname").is_some(),
            "{c:?}"
        );
    }
    // All current findings of the head as Code Quality, each valid.
    let cq: serde_json::Value = serde_json::from_str(&artifact(
        &repo,
        "kpsa-code-quality",
        "gl-code-quality-report.json",
    ))
    .unwrap();
    let cq = cq.as_array().expect("a single JSON array");
    let scan = repo.kpsa(".", &["scan", "-q", "--format", "json"], &[]);
    let all: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    let current = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppression"].is_null())
        .count();
    assert_eq!(
        cq.len(),
        current,
        "every current finding, not only new ones"
    );
    for d in cq {
        common::assert_valid(
            "testdata/schemas/gitlab-codeclimate-degradation.schema.json",
            d,
        );
    }
    // The publish job posted to the merge request.
    fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 2, "{:#?}", s.discussions);
        assert_eq!(s.summaries().len(), 1);
    });
    assert!(
        p.output.contains("merge request !7: 2 discussions"),
        "{}",
        p.output
    );

    // The default gate (the repository's config fails on baseline): the
    // scan job fails, the publish job still runs, posts nothing twice, and
    // passes (the gate is the scan job's).
    let p = run(&repo, &fake, &base, &[]);
    assert_eq!(p.job("kpsa"), "FAIL", "{}", p.output);
    assert_eq!(p.job("kpsa-publish"), "PASS", "{}", p.output);
    fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 2);
        assert_eq!(s.summaries().len(), 1);
    });

    // Without a token the publish job fails, naming the variable.
    let p = run(&repo, &fake, &base, &["KPSA_GITLAB_TOKEN="]);
    assert_eq!(p.job("kpsa-publish"), "FAIL", "{}", p.output);
    assert!(
        p.output.contains("no token in $KPSA_GITLAB_TOKEN"),
        "{}",
        p.output
    );
}

#[test]
fn code_quality_runs_on_the_default_branch_and_the_scan_only_on_merge_requests() {
    let (repo, _, _) = merge_request();
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "feature"]);
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(gitlab_ci_local())
        .args([
            "--list",
            "--no-color",
            "--variable",
            "CI_PIPELINE_SOURCE=push",
            "--variable",
            "CI_DEFAULT_BRANCH=main",
        ])
        .current_dir(repo.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{list}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<&str> = list
        .lines()
        .skip_while(|l| !l.starts_with("name "))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, vec!["kpsa-code-quality"], "{list}");
    // (token-probe, like kpsa, runs on merge requests only.)
}
