//! The plan of writes for a pull request, from a real `kpsa diff` report
//! and the pull request's real unified diffs: inline comments only on added
//! lines, suggestions, the comment limit, idempotent re-runs, replies to
//! threads whose finding is gone.

mod common;

use common::Repo;
use kpsa::publish::hunks::Hunks;
use kpsa::publish::plan::{Existing, Options, Plan, Thread, plan};
use kpsa::report::markdown::Templates;

/// The plan for the change, with `existing` already on the pull request.
fn plan_for(repo: &Repo, existing: &Existing, max_comments: usize) -> Plan {
    let run = repo.kpsa(
        ".",
        &["diff", "main...feature", "-q", "--format", "json"],
        &[],
    );
    let saved = kpsa::report::saved::load(&run.stdout, "report.json").unwrap();
    let info = saved.run_info(false).unwrap();
    let outcome = saved.into_outcome();
    let view = kpsa::report::View::diff(&outcome, &info, false);
    // The pull request's files, each with its patch as the platform gives it.
    let mut hunks = Hunks::default();
    for path in repo.git(&["diff", "--name-only", "main...feature"]).lines() {
        let patch = repo.git(&["diff", "main...feature", "--", path]);
        hunks.add(path, Some(&patch)).unwrap();
    }
    plan(
        &view,
        &hunks,
        existing,
        &Templates::new(&[]).unwrap(),
        &Options {
            max_comments,
            head_sha: "abc123",
            suggestion_fence: "suggestion",
        },
    )
    .unwrap()
}

#[test]
fn first_run_comments_inline_with_suggestions() {
    let repo = common::changed_platform();
    let p = plan_for(&repo, &Existing::default(), 30);
    let places: Vec<(String, u32)> = p.inline.iter().map(|c| (c.path.clone(), c.line)).collect();
    assert_eq!(
        places,
        vec![
            ("charts/web/values-prod.yaml".to_string(), 6),
            ("deploy/overlays/prod/host-ipc.yaml".to_string(), 3),
        ],
        "most severe first, each on a line the change adds"
    );
    let privileged = &p.inline[0];
    assert!(
        privileged.body.starts_with("<!-- kpsa:finding kpsa/v1:"),
        "{}",
        privileged.body
    );
    assert!(
        privileged
            .body
            .ends_with("```suggestion\n  privileged: false\n```\n"),
        "the suggestion keeps the line's indentation: {}",
        privileged.body
    );
    // runAsNonRoot is removed by a patch: not on an added line of its file.
    assert_eq!(p.summary_only.len(), 1, "{:?}", p.summary_only);
    assert!(p.replies.is_empty() && p.resolve_outdated.is_empty());
    assert!(p.summary.starts_with("<!-- kpsa:summary -->"));
    assert_eq!(p.summary_id, None);
}

#[test]
fn re_runs_and_limits() {
    let repo = common::changed_platform();
    let first = plan_for(&repo, &Existing::default(), 30);
    let thread = |fp: &str, id: u64, outdated: bool| Thread {
        comment_id: id,
        fingerprint: fp.to_string(),
        thread_id: Some(format!("T{id}")),
        outdated,
        resolved: false,
    };
    // Second run: every new finding already has its thread; the summary is edited.
    let existing = Existing {
        threads: first
            .inline
            .iter()
            .enumerate()
            .map(|(i, c)| thread(&c.fingerprint, i as u64 + 1, false))
            .collect(),
        summary_id: Some(99),
    };
    let again = plan_for(&repo, &existing, 30);
    assert!(
        again.inline.is_empty(),
        "nothing is posted twice: {:?}",
        again.inline
    );
    assert_eq!(again.summary_id, Some(99));
    // A thread GitHub marked outdated while its finding is still new: posted
    // again on its line, the old thread resolved.
    let outdated = Existing {
        threads: vec![thread(&first.inline[0].fingerprint, 7, true)],
        summary_id: None,
    };
    let p = plan_for(&repo, &outdated, 30);
    assert_eq!(p.inline.len(), 2);
    assert_eq!(p.resolve_outdated, vec!["T7".to_string()]);
    // A thread a reviewer resolved is not reopened by a repost.
    let resolved = Existing {
        threads: vec![Thread {
            resolved: true,
            ..thread(&first.inline[0].fingerprint, 8, false)
        }],
        summary_id: None,
    };
    let p = plan_for(&repo, &resolved, 30);
    assert_eq!(p.inline.len(), 1, "{:?}", p.inline);
    assert!(p.replies.is_empty());
    // A thread whose finding is gone from the head gets a "fixed" reply (escaped) and is resolved.
    let gone = Existing {
        threads: vec![thread("kpsa/v1:00000000000000000000000000000000", 5, false)],
        summary_id: None,
    };
    let p = plan_for(&repo, &gone, 30);
    assert_eq!(p.replies.len(), 1);
    assert_eq!(p.replies[0].comment_id, 5);
    assert!(
        p.replies[0].body.contains("Fixed in abc123."),
        "{}",
        p.replies[0].body
    );
    // More findings than --max-comments: the rest go to the summary.
    let p = plan_for(&repo, &Existing::default(), 1);
    assert_eq!(p.inline.len(), 1);
    assert!(
        p.summary_only
            .iter()
            .any(|(_, why)| *why == "over the inline comment limit")
    );
}
