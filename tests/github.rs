//! `kpsa publish github` end to end: real git repositories, the real
//! binary's `diff` report, and the real binary publishing it to a fake
//! GitHub (tests/fake_github) that checks every request against GitHub's
//! OpenAPI description and behaves like GitHub where kpsa could go wrong.

mod common;
mod fake_github;

use common::Repo;
use fake_github::{FakeGitHub, Fault, File, TOKEN, VIEWER_ID};
use serde_json::Value;

/// A pull request: the repository, its report, and the fake GitHub.
struct Pr {
    repo: Repo,
    fake: FakeGitHub,
    work: tempfile::TempDir,
}

/// The files of `range` as GitHub lists them: each with its patch (the
/// hunks, without the `diff --git` header).
fn files(repo: &Repo, range: &str) -> Vec<File> {
    repo.git(&["diff", "--name-only", range])
        .lines()
        .map(|path| {
            let diff = repo.git(&["diff", range, "--", path]);
            let patch = diff.find("@@").map(|i| diff[i..].to_string());
            File {
                filename: path.to_string(),
                patch,
            }
        })
        .collect()
}

impl Pr {
    fn new(repo: Repo, enterprise: bool) -> Pr {
        let head = repo.git(&["rev-parse", "feature"]).trim().to_string();
        let fake = FakeGitHub::start(enterprise, &head, files(&repo, "main...feature"));
        let pr = Pr {
            repo,
            fake,
            work: tempfile::tempdir().unwrap(),
        };
        pr.save_report();
        pr
    }

    fn head(&self) -> String {
        self.repo.git(&["rev-parse", "feature"]).trim().to_string()
    }

    /// `kpsa diff main...feature --format json` into report.json.
    fn save_report(&self) {
        let run = self.repo.kpsa(
            ".",
            &["diff", "main...feature", "-q", "--format", "json"],
            &[],
        );
        assert!(run.code <= 1, "{}", run.stderr);
        std::fs::write(self.work.path().join("report.json"), &run.stdout).unwrap();
    }

    /// A push to the pull request: a new commit on feature, a new report.
    fn push(&self) {
        let head = self.head();
        let files = files(&self.repo, "main...feature");
        self.fake.with(|s| s.push(&head, files));
        self.save_report();
    }

    fn step_summary(&self) -> String {
        std::fs::read_to_string(self.work.path().join("step-summary.md")).unwrap_or_default()
    }

    fn publish(&self, args: &[&str]) -> common::Run {
        let report = self.work.path().join("report.json");
        let summary = self.work.path().join("step-summary.md");
        let (api, graphql) = (self.fake.api_url(), self.fake.graphql_url());
        let mut all = vec![
            "publish",
            "github",
            "--report",
            report.to_str().unwrap(),
            "--repo",
            "octo/platform",
            "--pr",
            "7",
            "--api-url",
            &api,
            "--graphql-url",
            &graphql,
        ];
        all.extend_from_slice(args);
        let run = common::kpsa_stdin(
            self.work.path(),
            &all,
            None,
            &[
                ("GITHUB_TOKEN", TOKEN),
                ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ],
        );
        let violations = self.fake.with(|s| s.violations.clone());
        assert!(
            violations.is_empty(),
            "requests GitHub would refuse: {violations:#?}\n{}",
            run.stderr
        );
        run
    }
}

/// The body of kpsa's inline comment on `path:line`.
fn comment_on(pr: &Pr, path: &str, line: u64) -> String {
    pr.fake.with(|s| {
        s.kpsa_review_comments()
            .iter()
            .find(|c| c["path"] == path && c["line"] == line)
            .map(|c| c["body"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no kpsa comment on {path}:{line}: {:#?}", s.review_comments))
    })
}

fn first_run(enterprise: bool) {
    let pr = Pr::new(common::changed_platform(), enterprise);
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1, "the report's gate: {}", run.stderr);
    pr.fake.with(|s| {
        assert_eq!(s.reviews.len(), 1, "one review per run");
        assert_eq!(s.reviews[0]["commit_id"], Value::String(pr.head()));
        let places: Vec<(String, u64)> = s
            .kpsa_review_comments()
            .iter()
            .map(|c| (c["path"].as_str().unwrap().to_string(), c["line"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            places,
            vec![
                ("charts/web/values-prod.yaml".to_string(), 6),
                ("deploy/overlays/prod/host-ipc.yaml".to_string(), 3)
            ],
            "most severe first, each on a line the pull request adds"
        );
        assert_eq!(s.issue_comments.len(), 1, "one summary");
        let summary = s.issue_comments[0]["body"].as_str().unwrap();
        assert!(summary.starts_with("<!-- kpsa:summary -->"), "{summary}");
        assert!(
            summary.contains("kpsa publish: 2 new findings commented inline; in this summary only: 1 not on a line the change adds."),
            "{summary}"
        );
    });
    let privileged = comment_on(&pr, "charts/web/values-prod.yaml", 6);
    assert!(
        privileged.ends_with("\n```suggestion\n  privileged: false\n```\n"),
        "a suggestion that keeps the line's indentation: {privileged}"
    );
    assert!(
        privileged.contains("(high · breaks PSS baseline)"),
        "{privileged}"
    );
    let host_ipc = comment_on(&pr, "deploy/overlays/prod/host-ipc.yaml", 3);
    assert!(
        !host_ipc.contains("```suggestion"),
        "a patch's `value:` line is not the field's own line: no suggestion: {host_ipc}"
    );
    assert!(pr.step_summary().contains("<!-- kpsa:summary -->"));

    // Run again on the same head: nothing new is posted, the summary is edited.
    let again = pr.publish(&[]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    pr.fake.with(|s| {
        assert_eq!(s.reviews.len(), 1, "no second review");
        assert_eq!(s.kpsa_review_comments().len(), 2);
        assert_eq!(s.issue_comments.len(), 1, "the summary is not duplicated");
        let patches = s.log.iter().filter(|l| l.method == "PATCH").count();
        assert_eq!(patches, 1, "the summary is edited in place");
    });
}

#[test]
fn first_run_comments_inline_then_a_rerun_posts_nothing_new() {
    first_run(false);
}

#[test]
fn github_enterprise_server_urls() {
    // REST under /api/v3, GraphQL at /api/graphql (not /api/v3/graphql).
    first_run(true);
}

#[test]
fn a_push_that_fixes_one_and_adds_one() {
    let pr = Pr::new(common::changed_platform(), false);
    assert_eq!(pr.publish(&[]).code, 1);
    // The push: privileged goes, allowPrivilegeEscalation comes.
    let prod = pr.repo.read("charts/web/values-prod.yaml");
    pr.repo.write(
        "charts/web/values-prod.yaml",
        &prod.replace("  privileged: true\n", "  allowPrivilegeEscalation: true\n"),
    );
    pr.repo.commit("fix privileged, add escalation");
    pr.push();
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let head = pr.head();
    pr.fake.with(|s| {
        assert_eq!(s.reviews.len(), 2, "one new review for the new finding");
        let replies: Vec<&Value> = s
            .review_comments
            .iter()
            .filter(|c| !c["in_reply_to_id"].is_null())
            .collect();
        assert_eq!(replies.len(), 1, "{replies:#?}");
        assert!(
            replies[0]["body"]
                .as_str()
                .unwrap()
                .contains(&format!("Fixed in {head}.")),
            "{}",
            replies[0]["body"]
        );
        let parent = replies[0]["in_reply_to_id"].as_u64().unwrap();
        assert!(s.threads[&parent].0, "the fixed thread is resolved");
        let new: Vec<&Value> = s
            .kpsa_review_comments()
            .into_iter()
            .filter(|c| {
                c["body"]
                    .as_str()
                    .unwrap()
                    .contains("allowPrivilegeEscalation")
            })
            .collect();
        assert_eq!(new.len(), 1, "one new comment");
        assert_eq!(new[0]["line"], 6);
        // hostIPC kept its thread: not posted again.
        let ipc = s
            .kpsa_review_comments()
            .iter()
            .filter(|c| c["path"] == "deploy/overlays/prod/host-ipc.yaml")
            .count();
        assert_eq!(ipc, 1);
    });
}

#[test]
fn more_findings_than_max_comments_go_to_the_summary() {
    let pr = Pr::new(common::changed_platform(), false);
    let run = pr.publish(&["--max-comments", "1"]);
    assert_eq!(run.code, 1);
    pr.fake.with(|s| {
        assert_eq!(s.kpsa_review_comments().len(), 1);
        assert_eq!(
            s.kpsa_review_comments()[0]["path"],
            "charts/web/values-prod.yaml"
        );
        let summary = s.issue_comments[0]["body"].as_str().unwrap();
        assert!(
            summary.contains("1 over the inline comment limit of 1 per run"),
            "{summary}"
        );
        // Every new finding is in the summary, inline or not.
        for check in ["privileged", "hostNamespaces", "runAsNonRoot"] {
            assert!(summary.contains(check), "{check}: {summary}");
        }
    });
}

#[test]
fn a_fork_token_falls_back_to_annotations_and_the_step_summary() {
    let pr = Pr::new(common::changed_platform(), false);
    pr.fake.with(|s| s.fork = true);
    let run = pr.publish(&["--status"]);
    assert_eq!(
        run.code, 1,
        "the exit code still follows the gate: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Resource not accessible by integration"),
        "{}",
        run.stderr
    );
    let errors: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(
        errors[0],
        "::error file=charts/web/values-prod.yaml,line=6,title=kpsa privileged (high)::Deployment web-web: privileged (container \"web\" must not set securityContext.privileged=true)",
        "{}",
        run.stdout
    );
    assert_eq!(
        errors.len(),
        2,
        "baseline findings are errors: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "::warning file=deploy/base/deployment.yaml,line=22,title=kpsa runAsNonRoot (medium)::"
        ),
        "restricted: a warning"
    );
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("::error ")
                || l.starts_with("::warning ")
                || l.starts_with("::notice "))
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert!(pr.step_summary().contains("<!-- kpsa:summary -->"));
    pr.fake.with(|s| {
        assert!(s.reviews.is_empty() && s.issue_comments.is_empty() && s.statuses.is_empty());
    });
}

#[test]
fn a_502_after_github_stored_the_review_does_not_post_it_twice() {
    let pr = Pr::new(common::changed_platform(), false);
    pr.fake.with(|s| {
        s.faults.push_back(Fault {
            method: "POST",
            path: "/reviews",
            status: 502,
            retry_after: Some(1),
            after_store: true,
            message: "Server Error",
        })
    });
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    pr.fake.with(|s| {
        assert_eq!(s.reviews.len(), 1, "the review is not duplicated");
        assert_eq!(s.kpsa_review_comments().len(), 2);
        let posts = s
            .log
            .iter()
            .filter(|l| l.method == "POST" && l.path.ends_with("/reviews"))
            .count();
        assert_eq!(posts, 1, "kpsa listed its markers instead of posting again");
    });
}

#[test]
fn rate_limits_and_server_errors_are_retried_after_the_wait_github_asks() {
    let pr = Pr::new(common::changed_platform(), false);
    pr.fake.with(|s| {
        s.page_cap = 1; // every list is paginated
        s.faults.push_back(Fault {
            method: "GET",
            path: "/files",
            status: 429,
            retry_after: Some(1),
            after_store: false,
            message: "API rate limit exceeded",
        });
        s.faults.push_back(Fault {
            method: "POST",
            path: "/issues/7/comments",
            status: 403,
            retry_after: Some(1),
            after_store: false,
            message: "You have exceeded a secondary rate limit",
        });
        s.faults.push_back(Fault {
            method: "POST",
            path: "/reviews",
            status: 502,
            retry_after: Some(1),
            after_store: false,
            message: "Bad Gateway",
        });
    });
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("3 retries"), "{}", run.stderr);
    pr.fake.with(|s| {
        assert_eq!(s.reviews.len(), 1);
        assert_eq!(s.issue_comments.len(), 1);
        let file_pages = s.log.iter().filter(|l| l.path.ends_with("/files")).count();
        assert!(
            file_pages >= 4,
            "three files, one per page, and the 429: {file_pages}"
        );
    });
}

#[test]
fn a_push_between_reading_the_diff_and_posting_moves_that_comment_to_the_summary() {
    let pr = Pr::new(common::changed_platform(), false);
    // The push removes the hostIPC patch's added line from the diff.
    let files: Vec<File> = files(&pr.repo, "main...feature")
        .into_iter()
        .filter(|f| f.filename != "deploy/overlays/prod/host-ipc.yaml")
        .collect();
    pr.fake
        .with(|s| s.push_before_review = Some(("1".repeat(40), files)));
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 422"), "{}", run.stderr);
    pr.fake.with(|s| {
        assert_eq!(s.reviews.len(), 1);
        assert_eq!(s.kpsa_review_comments().len(), 1, "the rest is posted");
        let summary = s.issue_comments[0]["body"].as_str().unwrap();
        assert!(
            summary.contains("1 GitHub refused the inline comment"),
            "{summary}"
        );
    });
}

#[test]
fn a_report_for_another_head_or_not_a_diff_posts_nothing() {
    let pr = Pr::new(common::changed_platform(), false);
    pr.fake.with(|s| s.head_sha = "2".repeat(40));
    let run = pr.publish(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nothing was posted"), "{}", run.stderr);
    pr.fake.with(|s| {
        s.head_sha = pr.head();
        assert!(s.writes().is_empty());
    });
    // A scan report.
    let scan = pr.repo.kpsa(".", &["scan", "-q", "--format", "json"], &[]);
    std::fs::write(pr.work.path().join("report.json"), &scan.stdout).unwrap();
    let run = pr.publish(&[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("needs a `kpsa diff --format json` report"),
        "{}",
        run.stderr
    );
    // A report changed by hand (a fork's job can write anything).
    pr.save_report();
    let path = pr.work.path().join("report.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"severity\": \"high\"", "\"severity\": \"none\"", 1),
    )
    .unwrap();
    let run = pr.publish(&[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("does not match the schema"),
        "{}",
        run.stderr
    );
    // No token.
    pr.save_report();
    let run = common::kpsa_stdin(
        pr.work.path(),
        &[
            "publish",
            "github",
            "--report",
            "report.json",
            "--repo",
            "octo/platform",
            "--pr",
            "7",
            "--api-url",
            &pr.fake.api_url(),
        ],
        None,
        &[("GITHUB_TOKEN", "")],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no token in $GITHUB_TOKEN"),
        "{}",
        run.stderr
    );
    pr.fake.with(|s| assert!(s.writes().is_empty()));
}

#[test]
fn comments_by_others_with_kpsa_markers_are_neither_trusted_nor_edited() {
    let pr = Pr::new(common::changed_platform(), false);
    // What the first run would post, found out by a dry run.
    let dry = pr.publish(&["--dry-run"]);
    let review: Value = dry
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|w| w["path"].as_str().unwrap().ends_with("/reviews"))
        .unwrap();
    let fp_marker = review["body"]["comments"][0]["body"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    pr.fake.with(|s| {
        s.foreign_review_comment(
            "mallory",
            666,
            "charts/web/values-prod.yaml",
            6,
            &format!("{fp_marker}\nlooks fine"),
        );
        s.foreign_issue_comment("mallory", 666, "<!-- kpsa:summary -->\nAll clear!");
    });
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1);
    pr.fake.with(|s| {
        assert_eq!(
            s.kpsa_review_comments().len(),
            2,
            "kpsa's own comment is posted"
        );
        let mine = s
            .issue_comments
            .iter()
            .filter(|c| c["user"]["id"] == VIEWER_ID)
            .count();
        assert_eq!(mine, 1, "kpsa's own summary is created");
        assert_eq!(
            s.issue_comments[0]["body"],
            "<!-- kpsa:summary -->\nAll clear!"
        );
        assert!(!s.log.iter().any(|l| l.method == "PATCH"));
    });
}

#[test]
fn a_dry_run_reads_and_prints_each_write() {
    let pr = Pr::new(common::changed_platform(), false);
    let run = pr.publish(&["--dry-run", "--status"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let writes: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let what: Vec<(String, String)> = writes
        .iter()
        .map(|w| {
            (
                w["method"].as_str().unwrap().to_string(),
                w["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        what,
        vec![
            (
                "POST".to_string(),
                "/repos/octo/platform/pulls/7/reviews".to_string()
            ),
            (
                "POST".to_string(),
                "/repos/octo/platform/issues/7/comments".to_string()
            ),
            (
                "POST".to_string(),
                format!("/repos/octo/platform/statuses/{}", pr.head())
            ),
        ]
    );
    assert_eq!(writes[0]["body"]["comments"].as_array().unwrap().len(), 2);
    assert_eq!(writes[2]["body"]["state"], "failure");
    pr.fake
        .with(|s| assert!(s.writes().is_empty(), "{:?}", s.writes()));
}

#[test]
fn the_commit_status_and_a_sarif_upload() {
    let pr = Pr::new(common::changed_platform(), false);
    let sarif = pr.work.path().join("kpsa.sarif");
    let out = common::kpsa_stdin(
        pr.work.path(),
        &[
            "report",
            "--input",
            "report.json",
            "--format",
            "sarif",
            "--output",
            sarif.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let run = pr.publish(&[
        "--comment",
        "off",
        "--status",
        "--upload-sarif",
        sarif.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    pr.fake.with(|s| {
        assert!(
            s.reviews.is_empty() && s.issue_comments.is_empty(),
            "--comment off"
        );
        assert_eq!(s.statuses.len(), 1);
        assert_eq!(s.statuses[0]["state"], "failure");
        assert_eq!(s.statuses[0]["context"], "kpsa");
        assert_eq!(s.sarifs.len(), 1);
        assert_eq!(s.sarifs[0]["ref"], "refs/pull/7/head");
        assert_eq!(s.sarifs[0]["commit_sha"], Value::String(pr.head()));
        let sent = &s.sarifs[0]["sarif"];
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
        assert_eq!(sent, &file, "the SARIF arrives as written");
    });
}

#[test]
fn workflow_run_finds_the_pull_request_by_its_head() {
    let pr = Pr::new(common::changed_platform(), false);
    let event = pr.work.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({"workflow_run": {"head_sha": pr.head(), "pull_requests": []}})
            .to_string(),
    )
    .unwrap();
    let report = pr.work.path().join("report.json");
    let run = common::kpsa_stdin(
        pr.work.path(),
        &[
            "publish",
            "github",
            "--report",
            report.to_str().unwrap(),
            "--comment",
            "summary",
        ],
        None,
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_REPOSITORY", "octo/platform"),
            ("GITHUB_EVENT_NAME", "workflow_run"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_API_URL", &pr.fake.api_url()),
            ("GITHUB_GRAPHQL_URL", &pr.fake.graphql_url()),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    pr.fake.with(|s| {
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        assert!(s.reviews.is_empty(), "--comment summary");
        assert_eq!(s.issue_comments.len(), 1);
    });
}

#[test]
fn a_pending_suppression_is_approved_only_by_a_label_from_a_writer() {
    let pr = Pr::new(common::self_suppressing_change(), false);
    // No label: the change cannot approve itself.
    assert_eq!(pr.publish(&["--comment", "summary"]).code, 1);
    // The label, applied by a user with read permission only.
    pr.fake.with(|s| {
        s.labels.push("kpsa-approved".into());
        s.events.push(serde_json::json!({"event": "labeled", "label": {"name": "kpsa-approved"}, "actor": {"login": "reader"}}));
        s.permissions.insert("reader".into(), "read".into());
        s.permissions.insert("lead".into(), "write".into());
    });
    let run = pr.publish(&["--comment", "summary"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    pr.fake.with(|s| {
        let summary = s.issue_comments[0]["body"].as_str().unwrap();
        assert!(
            summary.contains(
                "not approved**: the approval label was applied by reader with `read` permission"
            ),
            "{summary}"
        );
    });
    // Removed and applied again by a writer.
    pr.fake.with(|s| {
        s.events.push(serde_json::json!({"event": "unlabeled", "label": {"name": "kpsa-approved"}, "actor": {"login": "reader"}}));
        s.events.push(serde_json::json!({"event": "labeled", "label": {"name": "kpsa-approved"}, "actor": {"login": "lead"}}));
    });
    let run = pr.publish(&["--comment", "summary"]);
    assert_eq!(
        run.code, 0,
        "approved: the suppression applies: {}",
        run.stderr
    );
    pr.fake.with(|s| {
        let summary = s.issue_comments[0]["body"].as_str().unwrap();
        assert!(
            summary.contains("Pending suppressions approved** by @lead"),
            "{summary}"
        );
    });
}

/// The API calls of one run for 1,000 new findings on 50 files: bounded by
/// the list pages plus two writes (one review, one summary). bench/github-calls.sh
/// prints the numbers for docs/performance.md.
#[test]
fn api_calls_for_a_thousand_findings_on_fifty_files() {
    let repo = common::thousand_privileged_pods();
    let pr = Pr::new(repo, false);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(pr.work.path().join("report.json")).unwrap())
            .unwrap();
    let new = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new" && f["check"] == "privileged")
        .count();
    assert_eq!(new, 1000, "{}", report["summary"]);
    let count = |pr: &Pr| {
        pr.fake.with(|s| {
            let reads = s
                .log
                .iter()
                .filter(|l| {
                    l.method == "GET"
                        || (l.path.ends_with("graphql")
                            && !l.body["query"]
                                .as_str()
                                .unwrap_or("")
                                .starts_with("mutation"))
                })
                .count();
            (reads, s.writes().len())
        })
    };
    let run = pr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (reads, writes) = count(&pr);
    println!("first run: {reads} reads, {writes} writes");
    assert_eq!(writes, 2, "one review and one summary");
    // The pull request, 1 page of 50 files, viewer, 1 page of review comments, 1 of issue comments.
    assert_eq!(reads, 5);
    pr.fake.with(|s| {
        assert_eq!(s.kpsa_review_comments().len(), 30, "--max-comments 30");
        s.log.clear();
    });
    let again = pr.publish(&[]);
    assert_eq!(again.code, 1);
    let (reads, writes) = count(&pr);
    println!("second run: {reads} reads, {writes} writes");
    // --max-comments counts this run's new comments: the next 30, in one
    // review, and the summary edited; the first 30 are not posted again.
    assert_eq!(writes, 2);
    pr.fake.with(|s| {
        assert_eq!(s.kpsa_review_comments().len(), 60);
        assert_eq!(s.issue_comments.len(), 1);
    });
    // Plus the review threads (GraphQL, one page of 30).
    assert_eq!(reads, 6);
}
