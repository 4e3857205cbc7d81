//! `kpsa publish gitlab` end to end: real git repositories, the real
//! binary's `diff` report, and the real binary publishing it to a fake
//! GitLab (tests/fake_gitlab) that enforces diff versions, positions,
//! tokens, pagination and rate limits the way GitLab does.

mod common;
mod fake_gitlab;

use common::Repo;
use fake_gitlab::{BOT_ID, FakeGitLab, Fault, JOB_TOKEN, TOKEN};
use serde_json::Value;

/// A merge request: the repository, its report, and the fake GitLab.
struct Mr {
    repo: Repo,
    fake: FakeGitLab,
    work: tempfile::TempDir,
}

impl Mr {
    fn new(repo: Repo) -> Mr {
        let head = repo.git(&["rev-parse", "feature"]).trim().to_string();
        let base = repo
            .git(&["merge-base", "main", "feature"])
            .trim()
            .to_string();
        let fake = FakeGitLab::start(&base, &head, fake_gitlab::diffs_of(&repo, "main...feature"));
        let mr = Mr {
            repo,
            fake,
            work: tempfile::tempdir().unwrap(),
        };
        mr.save_report();
        mr
    }

    fn head(&self) -> String {
        self.repo.git(&["rev-parse", "feature"]).trim().to_string()
    }

    fn save_report(&self) {
        let run = self.repo.kpsa(
            ".",
            &["diff", "main...feature", "-q", "--format", "json"],
            &[],
        );
        assert!(run.code <= 1, "{}", run.stderr);
        std::fs::write(self.work.path().join("report.json"), &run.stdout).unwrap();
    }

    /// A push: a new commit on feature, a new diff version, a new report.
    fn push(&self) {
        let base = self
            .repo
            .git(&["merge-base", "main", "feature"])
            .trim()
            .to_string();
        let head = self.head();
        let diffs = fake_gitlab::diffs_of(&self.repo, "main...feature");
        self.fake.with(|s| s.push(&base, &head, diffs));
        self.save_report();
    }

    /// Publish as a merge request pipeline would: context from CI variables.
    fn publish_env(&self, args: &[&str], env: &[(&str, &str)]) -> common::Run {
        let report = self.work.path().join("report.json");
        let api = self.fake.api_url();
        let head = self.head();
        let mut all = vec!["publish", "gitlab", "--report", report.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut vars = vec![
            ("CI_API_V4_URL", api.as_str()),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_COMMIT_SHA", head.as_str()),
            ("CI_JOB_TOKEN", JOB_TOKEN),
        ];
        vars.extend_from_slice(env);
        let run = common::kpsa_stdin(self.work.path(), &all, None, &vars);
        let violations = self.fake.with(|s| s.violations.clone());
        assert!(
            violations.is_empty(),
            "requests GitLab would refuse: {violations:#?}\n{}",
            run.stderr
        );
        run
    }

    fn publish(&self, args: &[&str]) -> common::Run {
        self.publish_env(args, &[("KPSA_GITLAB_TOKEN", TOKEN)])
    }

    fn summary(&self) -> String {
        self.fake.with(|s| {
            let all = s.summaries();
            assert_eq!(all.len(), 1, "one summary note");
            all[0]["body"].as_str().unwrap().to_string()
        })
    }
}

/// kpsa's discussion on `path:line`: its first note.
fn note_on(mr: &Mr, path: &str, line: u64) -> Value {
    mr.fake.with(|s| {
        s.kpsa_discussions()
            .iter()
            .map(|d| d["notes"][0].clone())
            .find(|n| n["position"]["new_path"] == path && n["position"]["new_line"] == line)
            .unwrap_or_else(|| panic!("no kpsa discussion on {path}:{line}: {:#?}", s.discussions))
    })
}

#[test]
fn first_run_opens_discussions_then_a_rerun_posts_nothing_new() {
    let mr = Mr::new(common::changed_platform());
    mr.fake.with(|s| s.page_cap = 1); // every list is paginated by x-next-page
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "the report's gate: {}", run.stderr);
    let (base, head) = mr
        .fake
        .with(|s| (s.versions[0].base.clone(), s.versions[0].head.clone()));
    let privileged = note_on(&mr, "charts/web/values-prod.yaml", 6);
    let p = &privileged["position"];
    assert_eq!(p["position_type"], "text");
    assert_eq!(
        p["old_path"], "charts/web/values-prod.yaml",
        "both paths, always"
    );
    assert_eq!(
        (p["base_sha"].as_str(), p["start_sha"].as_str()),
        (Some(base.as_str()), Some(base.as_str()))
    );
    assert_eq!(p["head_sha"].as_str(), Some(head.as_str()));
    assert!(p.get("old_line").is_none(), "an added line: new_line only");
    let body = privileged["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- kpsa:finding kpsa/v1:"), "{body}");
    assert!(
        body.ends_with("\n```suggestion:-0+0\n  privileged: false\n```\n"),
        "GitLab's suggestion syntax: {body}"
    );
    assert!(body.contains("(high · breaks PSS baseline)"), "{body}");
    note_on(&mr, "deploy/overlays/prod/host-ipc.yaml", 3);
    mr.fake.with(|s| assert_eq!(s.kpsa_discussions().len(), 2));
    assert!(
        mr.summary()
            .contains("kpsa publish: 2 new findings commented inline; in this summary only: 1 not on a line the change adds."),
        "{}",
        mr.summary()
    );
    assert!(
        run.stderr.contains("merge request !7: 2 discussions"),
        "{}",
        run.stderr
    );

    // Run again on the same head: nothing new, the summary edited in place.
    mr.fake.with(|s| s.log.clear());
    let again = mr.publish(&[]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    mr.fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 2, "no discussion posted twice");
        let writes: Vec<String> = s
            .writes()
            .iter()
            .map(|l| format!("{} {}", l.method, l.path))
            .collect();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert!(
            writes[0].starts_with("PUT /api/v4/projects/42/merge_requests/7/notes/"),
            "{writes:?}"
        );
        let pages = s
            .log
            .iter()
            .filter(|l| l.path.ends_with("/discussions"))
            .count();
        assert!(
            pages >= 3,
            "one discussion per page, followed to the end: {pages}"
        );
    });
}

#[test]
fn a_push_that_fixes_one_and_adds_one() {
    let mr = Mr::new(common::changed_platform());
    assert_eq!(mr.publish(&[]).code, 1);
    let prod = mr.repo.read("charts/web/values-prod.yaml");
    mr.repo.write(
        "charts/web/values-prod.yaml",
        &prod.replace("  privileged: true\n", "  allowPrivilegeEscalation: true\n"),
    );
    mr.repo.commit("fix privileged, add escalation");
    mr.push();
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let head = mr.head();
    mr.fake.with(|s| {
        let fixed: Vec<&Value> = s
            .kpsa_discussions()
            .into_iter()
            .filter(|d| d["notes"].as_array().unwrap().len() == 2)
            .collect();
        assert_eq!(fixed.len(), 1, "one reply: {:#?}", s.discussions);
        let reply = fixed[0]["notes"][1]["body"].as_str().unwrap();
        assert!(reply.contains(&format!("Fixed in {head}.")), "{reply}");
        assert!(
            fixed[0]["notes"][0]["body"]
                .as_str()
                .unwrap()
                .contains("privileged")
        );
        assert_eq!(fixed[0]["notes"][0]["resolved"], true, "resolved");
        let new: Vec<&Value> = s
            .kpsa_discussions()
            .into_iter()
            .filter(|d| {
                d["notes"][0]["body"]
                    .as_str()
                    .unwrap()
                    .contains("allowPrivilegeEscalation")
            })
            .collect();
        assert_eq!(new.len(), 1);
        assert_eq!(
            new[0]["notes"][0]["position"]["head_sha"].as_str(),
            Some(head.as_str()),
            "on the new version"
        );
        let ipc = s
            .kpsa_discussions()
            .iter()
            .filter(|d| {
                d["notes"][0]["position"]["new_path"] == "deploy/overlays/prod/host-ipc.yaml"
            })
            .count();
        assert_eq!(ipc, 1, "hostIPC kept its discussion");
    });
}

#[test]
fn more_findings_than_max_comments_go_to_the_summary() {
    let mr = Mr::new(common::changed_platform());
    let run = mr.publish(&["--max-comments", "1"]);
    assert_eq!(run.code, 1);
    mr.fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 1);
        assert_eq!(
            s.kpsa_discussions()[0]["notes"][0]["position"]["new_path"],
            "charts/web/values-prod.yaml"
        );
    });
    let summary = mr.summary();
    assert!(
        summary.contains("1 over the inline comment limit of 1 per run"),
        "{summary}"
    );
    for check in ["privileged", "hostNamespaces", "runAsNonRoot"] {
        assert!(summary.contains(check), "{check}: {summary}");
    }
}

#[test]
fn a_finding_outside_the_diff_and_a_refused_position_go_to_the_summary() {
    let mr = Mr::new(common::changed_platform());
    // GitLab shows the values file without a diff (too large): kpsa does
    // not try to place a discussion there.
    mr.fake.with(|s| {
        for d in s.versions[0].diffs.iter_mut() {
            if d.new_path == "charts/web/values-prod.yaml" {
                d.diff.clear();
            }
        }
    });
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    mr.fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 1);
        let tried = s
            .log
            .iter()
            .filter(|l| l.method == "POST" && l.path.ends_with("/discussions"))
            .count();
        assert_eq!(tried, 1, "only positions on the version's diff are sent");
    });
    assert!(
        mr.summary()
            .contains("1 its line is not in the change's diff"),
        "{}",
        mr.summary()
    );

    // A 400 for one discussion: that finding goes to the summary, the next is posted.
    let mr = Mr::new(common::changed_platform());
    mr.fake.with(|s| {
        s.faults.push_back(Fault {
            method: "POST",
            path: "/discussions",
            status: 400,
            retry_after: None,
            after_store: false,
            message: "400 Bad request - Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"]}",
        })
    });
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("line_code"), "{}", run.stderr);
    mr.fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 1);
        assert_eq!(
            s.kpsa_discussions()[0]["notes"][0]["position"]["new_path"],
            "deploy/overlays/prod/host-ipc.yaml"
        );
    });
    let summary = mr.summary();
    assert!(
        summary.contains("1 new finding commented inline"),
        "{summary}"
    );
    assert!(
        summary.contains("1 GitLab refused its position on the diff"),
        "{summary}"
    );
}

#[test]
fn a_5xx_after_gitlab_stored_the_note_does_not_post_it_twice() {
    let mr = Mr::new(common::changed_platform());
    mr.fake.with(|s| {
        for path in ["/discussions", "/notes"] {
            s.faults.push_back(Fault {
                method: "POST",
                path,
                status: 502,
                retry_after: Some(1),
                after_store: true,
                message: "502 Bad Gateway",
            });
        }
    });
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    mr.fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 2, "{:#?}", s.discussions);
        assert_eq!(s.summaries().len(), 1);
        let posts = s.log.iter().filter(|l| l.method == "POST").count();
        assert_eq!(posts, 3, "two discussions and the summary, each sent once");
    });
}

#[test]
fn note_creation_limits_are_waited_out() {
    let mr = Mr::new(common::changed_platform());
    mr.fake.with(|s| {
        s.faults.push_back(Fault {
            method: "POST",
            path: "/discussions",
            status: 429,
            retry_after: Some(1),
            after_store: false,
            message: "This endpoint has been requested too many times. Try again later.",
        });
        s.faults.push_back(Fault {
            method: "GET",
            path: "/versions",
            status: 503,
            retry_after: None,
            after_store: false,
            message: "503 Service Unavailable",
        });
    });
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("2 retries"), "{}", run.stderr);
    mr.fake.with(|s| assert_eq!(s.kpsa_discussions().len(), 2));

    // A wait longer than kpsa's cap: an API failure, exit 3.
    let mr = Mr::new(common::changed_platform());
    mr.fake.with(|s| {
        s.faults.push_back(Fault {
            method: "POST",
            path: "/discussions",
            status: 429,
            retry_after: Some(3600),
            after_store: false,
            message: "Too many requests",
        })
    });
    let run = mr.publish(&[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("GitLab asks to wait 3600 s"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_job_token_is_refused_before_any_request() {
    let mr = Mr::new(common::changed_platform());
    // Only CI_JOB_TOKEN: exit 2, naming the variable to set; no request.
    let run = mr.publish_env(&[], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("KPSA_GITLAB_TOKEN"), "{}", run.stderr);
    assert!(
        run.stderr.contains("CI_JOB_TOKEN cannot post"),
        "{}",
        run.stderr
    );
    // The job token copied into KPSA_GITLAB_TOKEN: the same.
    let run = mr.publish_env(&[], &[("KPSA_GITLAB_TOKEN", JOB_TOKEN)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    mr.fake
        .with(|s| assert!(s.log.is_empty(), "{:?}", s.log.len()));
    // Under another name, GitLab answers 401: an API failure that says why.
    let run = mr.publish_env(&["--token-env", "OTHER"], &[("OTHER", "glpat-revoked")]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("GitLab refused the token in $OTHER"),
        "{}",
        run.stderr
    );
    mr.fake.with(|s| {
        s.violations.clear();
        assert!(s.writes().is_empty());
    });
}

#[test]
fn a_report_for_an_older_version_or_not_a_diff_posts_nothing() {
    let mr = Mr::new(common::changed_platform());
    let old_report = std::fs::read(mr.work.path().join("report.json")).unwrap();
    mr.repo.write("raw-extra.txt", "more\n");
    mr.repo.commit("another push");
    mr.push();
    std::fs::write(mr.work.path().join("report.json"), old_report).unwrap();
    // The job's own head matches the old report; the merge request moved on.
    let old_head = mr.repo.git(&["rev-parse", "feature~1"]).trim().to_string();
    let run = mr.publish_env(
        &[],
        &[("KPSA_GITLAB_TOKEN", TOKEN), ("CI_COMMIT_SHA", &old_head)],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("the merge request moved on"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("an older version"), "{}", run.stderr);
    // A report for another head than the pipeline's: refused before any request.
    let run = mr.publish(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nothing was posted"), "{}", run.stderr);
    // A scan report.
    let scan = mr.repo.kpsa(".", &["scan", "-q", "--format", "json"], &[]);
    std::fs::write(mr.work.path().join("report.json"), &scan.stdout).unwrap();
    let run = mr.publish(&[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is a `kpsa scan` report"),
        "{}",
        run.stderr
    );
    mr.fake
        .with(|s| assert!(s.writes().is_empty(), "nothing posted"));
}

#[test]
fn notes_by_others_with_kpsa_markers_are_neither_trusted_nor_edited() {
    let mr = Mr::new(common::changed_platform());
    let first = mr.publish(&["--dry-run"]);
    // Copy the marker kpsa would use for privileged into someone else's note.
    let marker = first
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|w| w["body"]["body"].as_str().map(str::to_string))
        .find(|b| b.contains("privileged"))
        .and_then(|b| b.lines().next().map(str::to_string))
        .unwrap();
    mr.fake.with(|s| {
        s.foreign_note(
            66,
            "mallory",
            &format!("{marker}\nresolved, trust me"),
            None,
        );
        s.foreign_note(66, "mallory", "<!-- kpsa:summary -->\nall clear", None);
    });
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    mr.fake.with(|s| {
        assert_eq!(
            s.kpsa_discussions().len(),
            2,
            "kpsa still comments on privileged"
        );
        assert_eq!(s.summaries().len(), 1, "its own summary, not mallory's");
        let mallory: Vec<&str> = s
            .discussions
            .iter()
            .filter(|d| d["notes"][0]["author"]["id"] == 66)
            .map(|d| d["notes"][0]["body"].as_str().unwrap())
            .collect();
        assert_eq!(mallory[1], "<!-- kpsa:summary -->\nall clear", "not edited");
    });
}

#[test]
fn a_dry_run_reads_and_prints_each_write() {
    let mr = Mr::new(common::changed_platform());
    let run = mr.publish(&["--dry-run"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let writes: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<(String, String)> = writes
        .iter()
        .map(|w| {
            (
                w["method"].as_str().unwrap().into(),
                w["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .into(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("POST".to_string(), "discussions".to_string()),
            ("POST".to_string(), "discussions".to_string()),
            ("POST".to_string(), "notes".to_string())
        ]
    );
    assert_eq!(writes[0]["body"]["position"]["new_line"], 6);
    mr.fake.with(|s| assert!(s.writes().is_empty()));
}

#[test]
fn a_pending_suppression_is_approved_only_by_a_label_from_a_developer() {
    let mr = Mr::new(common::self_suppressing_change());
    assert_eq!(
        mr.publish(&["--comment", "summary"]).code,
        1,
        "no label: the change cannot approve itself"
    );
    let event = |action: &str, uid: u64, name: &str| {
        serde_json::json!({"id": 1, "action": action, "label": {"id": 5, "name": "kpsa-approved"},
                           "user": {"id": uid, "username": name}, "resource_type": "MergeRequest"})
    };
    mr.fake.with(|s| {
        s.labels.push("kpsa-approved".into());
        s.label_events.push(event("add", 70, "reporter"));
        s.members.insert(70, 20);
        s.members.insert(71, 40);
    });
    let run = mr.publish(&["--comment", "summary"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        mr.summary().contains("not approved**: the approval label was applied by reporter with the Reporter role; the Developer role or higher is needed."),
        "{}",
        mr.summary()
    );
    mr.fake.with(|s| {
        s.label_events.push(event("remove", 70, "reporter"));
        s.label_events.push(event("add", 71, "lead"));
    });
    let run = mr.publish(&["--comment", "summary"]);
    assert_eq!(
        run.code, 0,
        "approved: the suppression applies: {}",
        run.stderr
    );
    assert!(
        mr.summary()
            .contains("approved** by @lead (approval label, Maintainer role)"),
        "{}",
        mr.summary()
    );
    mr.fake
        .with(|s| assert!(s.kpsa_discussions().is_empty(), "--comment summary"));
}

#[test]
fn a_token_that_may_not_resolve_still_replies() {
    let mr = Mr::new(common::changed_platform());
    assert_eq!(mr.publish(&[]).code, 1);
    mr.fake.with(|s| {
        s.members.insert(BOT_ID, 20);
    });
    let prod = mr.repo.read("charts/web/values-prod.yaml");
    mr.repo.write(
        "charts/web/values-prod.yaml",
        &prod.replace("  privileged: true\n", ""),
    );
    mr.repo.commit("fix privileged");
    mr.push();
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("resolving a discussion needs the Developer role"),
        "{}",
        run.stderr
    );
    mr.fake.with(|s| {
        let replied: Vec<&Value> = s
            .kpsa_discussions()
            .into_iter()
            .filter(|d| d["notes"].as_array().unwrap().len() == 2)
            .collect();
        assert_eq!(replied.len(), 1);
        assert_eq!(replied[0]["notes"][0]["resolved"], false);
    });
}

/// The API calls of one run for 1,000 new findings on 50 files: a few
/// reads, then one request per discussion (GitLab has no batch) plus the
/// summary. bench/gitlab-calls.sh prints the numbers for docs/performance.md.
#[test]
fn api_calls_for_a_thousand_findings_on_fifty_files() {
    let mr = Mr::new(common::thousand_privileged_pods());
    let count = |mr: &Mr| {
        mr.fake.with(|s| {
            let reads = s.log.iter().filter(|l| l.method == "GET").count();
            (reads, s.writes().len())
        })
    };
    let run = mr.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (reads, writes) = count(&mr);
    println!("first run: {reads} reads, {writes} writes");
    // /user, the merge request, versions, the version's diff, 1 page of discussions.
    assert_eq!(reads, 5);
    assert_eq!(
        writes, 31,
        "30 discussions (--max-comments) and the summary"
    );
    mr.fake.with(|s| s.log.clear());
    let again = mr.publish(&[]);
    assert_eq!(again.code, 1);
    let (reads, writes) = count(&mr);
    println!("second run: {reads} reads, {writes} writes");
    assert_eq!(reads, 5, "31 discussions still fit one page of 100");
    assert_eq!(writes, 31, "the next 30, and the summary edited in place");
    mr.fake.with(|s| {
        assert_eq!(s.kpsa_discussions().len(), 60);
        assert_eq!(s.summaries().len(), 1);
    });
}
