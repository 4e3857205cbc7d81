//! `kpsa publish github`: a saved `kpsa diff` JSON report, published to one
//! pull request — inline review comments on the lines the pull request
//! adds (with suggested fixes), replies to kpsa's earlier threads whose
//! finding is gone, one sticky summary comment, optionally a commit status
//! and a SARIF upload.
//!
//! The report is untrusted data (it may come from a fork's job): it is
//! checked against its schema, and against the pull request's head commit
//! through the API, before anything is written. Everything shown is
//! escaped by the report layer. Only the report model is used here, never
//! the pipeline: publishing does not render or scan.

pub mod actions;
pub mod api;
pub mod context;
pub mod upload;

use std::collections::BTreeSet;
use std::path::PathBuf;

use http::Method;
use serde_json::{Value, json};

use self::api::{Api, ApiError};
use self::context::Pull;
use super::footer::{self, Approval, footer};
use super::hunks::Hunks;
use super::input;
use super::plan::{self, Existing, Inline, Thread, marker_fingerprint};
use crate::diff::Status;
use crate::report::{self, escape, markdown};

/// Where inline findings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMode {
    /// Inline review comments and the summary.
    Review,
    /// The summary comment only.
    Summary,
    /// No comment (a commit status and SARIF only, if asked).
    Off,
}

/// What to publish, and where.
pub struct Options {
    /// The `kpsa diff --format json` report (`-`: standard input).
    pub report: PathBuf,
    pub flags: context::Flags,
    /// The head commit the caller expects (checked too, if given).
    pub head_sha: Option<String>,
    /// The environment variable that holds the token.
    pub token_env: String,
    pub max_comments: usize,
    pub comment: CommentMode,
    /// Post the gate as commit status `kpsa` on the head commit.
    pub status: bool,
    pub dry_run: bool,
    pub upload_sarif: Option<PathBuf>,
    /// The ref of the SARIF upload (default `refs/pull/N/head`).
    pub sarif_ref: Option<String>,
    /// The label that approves the change's own suppressions, when a user
    /// with write permission applied it.
    pub approval_label: String,
}

pub use super::Failure;

/// What a run did, for its last log line.
#[derive(Debug, Default)]
pub struct Published {
    pub exit: i32,
    pub pull: u64,
    pub inline: usize,
    pub summary_only: usize,
    pub replies: usize,
    pub fallback: bool,
    pub calls: api::Calls,
}

/// Publish. `env` reads the environment (the token among it).
pub fn publish(opts: &Options, env: &dyn Fn(&str) -> Option<String>) -> Result<Published, Failure> {
    let name = opts.report.display().to_string();
    let input::Input { saved, head } =
        input::load(&opts.report, "github", opts.head_sha.as_deref()).map_err(Failure::Usage)?;
    let ctx = context::resolve(&opts.flags, env).map_err(Failure::Usage)?;
    let token = env(&opts.token_env).filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        Failure::Usage(format!(
            "no token in ${}: give the publishing step a token (--token-env NAME names another variable)",
            opts.token_env
        ))
    })?;
    let api = Api::new(&ctx.api_url, &ctx.graphql_url, token.trim(), opts.dry_run)
        .map_err(Failure::Usage)?;
    let repo = format!("/repos/{}/{}", ctx.owner, ctx.repo);
    let number = match &ctx.pull {
        Pull::Number(n) => *n,
        Pull::ByHead(sha) => find_pull(&api, &repo, sha)?,
    };
    let pr = api.get(&format!("{repo}/pulls/{number}"))?;
    let pr_head = pr
        .pointer("/head/sha")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !pr_head.eq_ignore_ascii_case(&head) {
        return Err(Failure::Usage(format!(
            "{name} is for commit {head}, but the head of pull request #{number} is {pr_head}: \
             the report is stale or for another pull request; nothing was posted"
        )));
    }

    let mut outcome_source = saved;
    let approval = approve_pending(
        &api,
        &repo,
        number,
        &pr,
        &mut outcome_source,
        &opts.approval_label,
    )?;
    let run = outcome_source
        .run_info(false)
        .map_err(|m| Failure::Usage(format!("{name}: {m}")))?;
    let outcome = outcome_source.into_outcome();
    let view = report::View::diff(&outcome, &run, false);
    let exit = report::diff_exit(&outcome, &run);
    let templates = markdown::Templates::new(&[]).map_err(Failure::Usage)?;

    let mut done = Published {
        exit,
        pull: number,
        ..Default::default()
    };
    let mut not_allowed: Option<ApiError> = None;
    let mut summary_text = None;
    if opts.comment != CommentMode::Off {
        match comment(
            &api, &repo, number, &head, &view, &templates, opts, &approval, &mut done,
        ) {
            Ok(text) => summary_text = Some(text),
            Err(ApiError::NotAllowed(w)) => not_allowed = Some(ApiError::NotAllowed(w)),
            Err(e) => return Err(e.into()),
        }
    }
    if opts.status && not_allowed.is_none() {
        match post_status(&api, &repo, &head, &view, exit, env) {
            Ok(()) => {}
            Err(ApiError::NotAllowed(w)) => not_allowed = Some(ApiError::NotAllowed(w)),
            Err(e) => return Err(e.into()),
        }
    }
    let summary = match summary_text {
        Some(s) => s,
        None => {
            let plan = plan::plan(
                &view,
                &Hunks::default(),
                &Existing::default(),
                &templates,
                &plan::Options {
                    max_comments: 0,
                    head_sha: &head,
                    suggestion_fence: "suggestion",
                },
            )
            .map_err(Failure::Usage)?;
            format!(
                "{}{}",
                plan.summary,
                footer(&plan, 0, &approval, opts.max_comments)
            )
        }
    };
    if let Some(path) = env("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        if let Err(m) = actions::append_step_summary(std::path::Path::new(&path), &summary) {
            eprintln!("{}", escape::log(&format!("kpsa: warning: {m}")));
        }
    }
    if let Some(e) = not_allowed {
        done.fallback = true;
        eprintln!(
            "{}",
            escape::log(&format!(
                "kpsa: warning: {e}: the token may not write to this pull request (a fork's, or a \
                 read-only token); the findings are shown as annotations and in the step summary"
            ))
        );
        for line in actions::annotations(&annotations(&view)) {
            println!("{line}");
        }
    }
    if let Some(sarif) = &opts.upload_sarif {
        let git_ref = opts
            .sarif_ref
            .clone()
            .unwrap_or_else(|| format!("refs/pull/{number}/head"));
        upload::sarif(&api, &repo, sarif, &head, &git_ref)?;
    }
    done.calls = api.calls();
    Ok(done)
}

/// The open pull request whose head is `sha` (a `workflow_run` event:
/// its `pull_requests` list is empty for forks).
fn find_pull(api: &Api, repo: &str, sha: &str) -> Result<u64, Failure> {
    let pulls = api.get_all(&format!("{repo}/pulls?state=open"))?;
    let found: Vec<u64> = pulls
        .iter()
        .filter(|p| {
            p.pointer("/head/sha")
                .and_then(Value::as_str)
                .is_some_and(|h| h.eq_ignore_ascii_case(sha))
        })
        .filter_map(|p| p.get("number").and_then(Value::as_u64))
        .collect();
    match found.as_slice() {
        [n] => Ok(*n),
        [] => Err(Failure::Usage(format!(
            "no open pull request has head {sha}; nothing was posted"
        ))),
        many => Err(Failure::Usage(format!(
            "several open pull requests have head {sha} ({many:?}); pass --pr N"
        ))),
    }
}

/// Pending suppressions (added by the change) apply only when the pull
/// request carries the approval label and the user who last applied it
/// may write to the repository.
fn approve_pending(
    api: &Api,
    repo: &str,
    number: u64,
    pr: &Value,
    saved: &mut report::saved::Saved,
    label: &str,
) -> Result<Approval, Failure> {
    if !footer::has_pending(saved) {
        return Ok(Approval::NotNeeded);
    }
    let labeled = pr
        .get("labels")
        .and_then(Value::as_array)
        .is_some_and(|ls| {
            ls.iter()
                .any(|l| l.get("name").and_then(Value::as_str) == Some(label))
        });
    if !labeled {
        return Ok(Approval::NoLabel);
    }
    let events = api.get_all(&format!("{repo}/issues/{number}/events"))?;
    let Some(actor) = events
        .iter()
        .filter(|e| {
            e.get("event").and_then(Value::as_str) == Some("labeled")
                && e.pointer("/label/name").and_then(Value::as_str) == Some(label)
        })
        .filter_map(|e| e.pointer("/actor/login").and_then(Value::as_str))
        .next_back()
    else {
        return Ok(Approval::NoLabel);
    };
    if !footer::plain_name(actor) {
        return Ok(Approval::NoLabel);
    }
    let p = api.get(&format!("{repo}/collaborators/{actor}/permission"))?;
    let permission = p
        .get("permission")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    if !matches!(permission.as_str(), "admin" | "write" | "maintain") {
        return Ok(Approval::Refused {
            actor: actor.to_string(),
            has: format!("`{}` permission", escape::markdown(&permission, false)),
            needed: "write permission",
        });
    }
    footer::approve(saved, actor, label);
    Ok(Approval::By {
        actor: actor.to_string(),
        rights: "write permission".into(),
    })
}

/// kpsa's identity: GraphQL `viewer` (an Actions token may not call
/// `GET /user`). Comments are matched on its numeric id.
fn viewer(api: &Api) -> Result<u64, ApiError> {
    let d = api.query("query { viewer { login databaseId } }", json!({}))?;
    d.pointer("/viewer/databaseId")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::Transport("GraphQL viewer has no databaseId".into()))
}

fn author_is(c: &Value, me: u64) -> bool {
    c.pointer("/user/id").and_then(Value::as_u64) == Some(me)
}

/// kpsa's earlier inline threads and its summary comment. Comments by
/// anyone else are ignored, whatever markers they carry.
fn existing(
    api: &Api,
    repo: &str,
    number: u64,
    me: u64,
    owner_name: (&str, &str),
) -> Result<Existing, ApiError> {
    let comments = api.get_all(&format!("{repo}/pulls/{number}/comments"))?;
    let mut threads = Vec::new();
    for c in &comments {
        if !author_is(c, me) || c.get("in_reply_to_id").is_some_and(|v| !v.is_null()) {
            continue;
        }
        let (Some(id), Some(fp)) = (
            c.get("id").and_then(Value::as_u64),
            c.get("body")
                .and_then(Value::as_str)
                .and_then(marker_fingerprint),
        ) else {
            continue;
        };
        threads.push(Thread {
            comment_id: id,
            fingerprint: fp,
            thread_id: None,
            // REST: an outdated comment has no line on the current diff.
            outdated: c.get("line").is_none_or(Value::is_null),
            resolved: false,
        });
    }
    if !threads.is_empty() {
        match review_threads(api, owner_name, number) {
            Ok(states) => {
                for t in &mut threads {
                    if let Some((id, outdated, resolved)) =
                        states.iter().find(|s| s.0 == t.comment_id).map(|s| &s.1)
                    {
                        t.thread_id = Some(id.clone());
                        t.outdated = *outdated;
                        t.resolved = *resolved;
                    }
                }
            }
            Err(e) => eprintln!(
                "{}",
                escape::log(&format!(
                    "kpsa: warning: cannot read the review threads ({e}); threads are not resolved this run"
                ))
            ),
        }
    }
    let summary_id = api
        .get_all(&format!("{repo}/issues/{number}/comments"))?
        .iter()
        .find(|c| {
            author_is(c, me)
                && c.get("body")
                    .and_then(Value::as_str)
                    .is_some_and(|b| b.starts_with(markdown::SUMMARY_MARKER))
        })
        .and_then(|c| c.get("id").and_then(Value::as_u64));
    Ok(Existing {
        threads,
        summary_id,
    })
}

type ThreadState = (u64, (String, bool, bool));

/// Review threads by their first comment: (GraphQL id, outdated, resolved).
fn review_threads(
    api: &Api,
    (owner, name): (&str, &str),
    number: u64,
) -> Result<Vec<ThreadState>, ApiError> {
    const Q: &str = "query($owner: String!, $name: String!, $number: Int!, $cursor: String) { \
        repository(owner: $owner, name: $name) { pullRequest(number: $number) { \
        reviewThreads(first: 100, after: $cursor) { pageInfo { hasNextPage endCursor } \
        nodes { id isResolved isOutdated comments(first: 1) { nodes { databaseId } } } } } } }";
    let mut out = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..100 {
        let d = api.query(
            Q,
            json!({"owner": owner, "name": name, "number": number, "cursor": cursor}),
        )?;
        let rt = d
            .pointer("/repository/pullRequest/reviewThreads")
            .ok_or_else(|| ApiError::Transport("GraphQL: no reviewThreads".into()))?;
        for n in rt
            .get("nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let first = n
                .pointer("/comments/nodes/0/databaseId")
                .and_then(Value::as_u64);
            if let (Some(first), Some(id)) = (first, n.get("id").and_then(Value::as_str)) {
                out.push((
                    first,
                    (
                        id.to_string(),
                        n.get("isOutdated")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        n.get("isResolved")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    ),
                ));
            }
        }
        if rt.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool) != Some(true) {
            break;
        }
        cursor = rt
            .pointer("/pageInfo/endCursor")
            .cloned()
            .unwrap_or(Value::Null);
    }
    Ok(out)
}

/// The pull request's added lines, from its files' patches.
fn hunks(api: &Api, repo: &str, number: u64) -> Result<Hunks, Failure> {
    let mut h = Hunks::default();
    for f in api.get_all(&format!("{repo}/pulls/{number}/files"))? {
        if let Some(path) = f.get("filename").and_then(Value::as_str) {
            h.add(path, f.get("patch").and_then(Value::as_str))
                .map_err(|m| Failure::Api(format!("the pull request's diff: {m}")))?;
        }
    }
    Ok(h)
}

/// Review comments, the summary and replies; returns the summary's text.
#[allow(clippy::too_many_arguments)]
fn comment(
    api: &Api,
    repo: &str,
    number: u64,
    head: &str,
    view: &report::View,
    templates: &markdown::Templates,
    opts: &Options,
    approval: &Approval,
    done: &mut Published,
) -> Result<String, ApiError> {
    let map_failure = |f: Failure| match f {
        Failure::Api(m) | Failure::Usage(m) => ApiError::Transport(m),
    };
    let hunks = hunks(api, repo, number).map_err(map_failure)?;
    let me = viewer(api)?;
    let parts: Vec<&str> = repo.trim_start_matches("/repos/").splitn(2, '/').collect();
    let existing = existing(api, repo, number, me, (parts[0], parts[1]))?;
    let max = if opts.comment == CommentMode::Review {
        opts.max_comments
    } else {
        0
    };
    let mut plan = plan::plan(
        view,
        &hunks,
        &existing,
        templates,
        &plan::Options {
            max_comments: max,
            head_sha: head,
            suggestion_fence: "suggestion",
        },
    )
    .map_err(ApiError::Transport)?;
    let moved = post_review(api, repo, number, head, &plan.inline, me)?;
    let posted = plan.inline.len() - moved.len();
    for fp in &moved {
        plan.summary_only.push((
            fp.clone(),
            "GitHub refused the inline comment (its line left the diff)",
        ));
    }
    for r in &plan.replies {
        let path = format!("{repo}/pulls/{number}/comments/{}/replies", r.comment_id);
        let marker = r.body.lines().next().unwrap_or_default().to_string();
        let (parent, body) = (r.comment_id, json!({"body": r.body}));
        let landed = move |api: &Api| -> Result<bool, ApiError> {
            Ok(api
                .get_all(&format!("{repo}/pulls/{number}/comments"))?
                .iter()
                .any(|c| {
                    author_is(c, me)
                        && c.get("in_reply_to_id").and_then(Value::as_u64) == Some(parent)
                        && c.get("body")
                            .and_then(Value::as_str)
                            .is_some_and(|b| b.starts_with(&marker))
                }))
        };
        match api.write(Method::POST, &path, &body, &landed) {
            Ok(_) => done.replies += 1,
            Err(e @ ApiError::NotAllowed(_)) => return Err(e),
            Err(e) if e.status() == Some(404) => {
                eprintln!(
                    "{}",
                    escape::log(&format!("kpsa: warning: {e}: the comment is gone"))
                );
                continue;
            }
            Err(e) => return Err(e),
        }
        if let Some(t) = &r.thread_id {
            resolve(api, t);
        }
    }
    for t in &plan.resolve_outdated {
        resolve(api, t);
    }
    let text = format!(
        "{}{}",
        plan.summary,
        footer(&plan, posted, approval, opts.max_comments)
    );
    let body = json!({"body": text});
    let landed = |api: &Api| -> Result<bool, ApiError> {
        Ok(api
            .get_all(&format!("{repo}/issues/{number}/comments"))?
            .iter()
            .any(|c| {
                author_is(c, me)
                    && c.get("body")
                        .and_then(Value::as_str)
                        .is_some_and(|b| b.starts_with(markdown::SUMMARY_MARKER))
            }))
    };
    match plan.summary_id {
        Some(id) => api.write(
            Method::PATCH,
            &format!("{repo}/issues/comments/{id}"),
            &body,
            &|_| Ok(false),
        )?,
        None => api.write(
            Method::POST,
            &format!("{repo}/issues/{number}/comments"),
            &body,
            &landed,
        )?,
    };
    done.inline = posted;
    done.summary_only = plan.summary_only.len();
    Ok(text)
}

/// Post the inline comments as one review. GitHub refuses a whole review
/// (422) when one comment is off the diff and does not say which: the
/// diff is read again (a push may have moved lines) and the comments
/// still on it posted; if GitHub refuses again, every comment moves to
/// the summary. Returns the fingerprints moved to the summary.
fn post_review(
    api: &Api,
    repo: &str,
    number: u64,
    head: &str,
    inline: &[Inline],
    me: u64,
) -> Result<Vec<String>, ApiError> {
    let mut batch: Vec<&Inline> = inline.iter().collect();
    let mut moved = Vec::new();
    for attempt in 0..2 {
        if batch.is_empty() {
            break;
        }
        let body = json!({
            "commit_id": head,
            "event": "COMMENT",
            "body": format!(
                "kpsa: {} new finding{} on lines this pull request changes; the summary comment has the rest.",
                batch.len(),
                if batch.len() == 1 { "" } else { "s" }
            ),
            "comments": batch.iter().map(|c| json!({
                "path": c.path, "line": c.line, "side": "RIGHT", "body": c.body
            })).collect::<Vec<_>>(),
        });
        let fps: BTreeSet<String> = batch.iter().map(|c| c.fingerprint.clone()).collect();
        let landed = |api: &Api| -> Result<bool, ApiError> {
            let have: BTreeSet<String> = api
                .get_all(&format!("{repo}/pulls/{number}/comments"))?
                .iter()
                .filter(|c| author_is(c, me))
                .filter_map(|c| {
                    c.get("body")
                        .and_then(Value::as_str)
                        .and_then(marker_fingerprint)
                })
                .collect();
            Ok(fps.is_subset(&have))
        };
        match api.write(
            Method::POST,
            &format!("{repo}/pulls/{number}/reviews"),
            &body,
            &landed,
        ) {
            Ok(_) => return Ok(moved),
            Err(e) if e.status() == Some(422) && attempt == 0 => {
                eprintln!(
                    "{}",
                    escape::log(&format!(
                        "kpsa: warning: {e}; reading the pull request's diff again"
                    ))
                );
                let again = hunks(api, repo, number).map_err(|f| match f {
                    Failure::Api(m) | Failure::Usage(m) => ApiError::Transport(m),
                })?;
                let (keep, off): (Vec<&Inline>, Vec<&Inline>) = batch
                    .into_iter()
                    .partition(|c| again.contains(&c.path, c.line));
                moved.extend(off.iter().map(|c| c.fingerprint.clone()));
                if moved.is_empty() {
                    // Nothing left the diff: GitHub refuses for another
                    // reason; the summary holds them all.
                    moved.extend(keep.iter().map(|c| c.fingerprint.clone()));
                    return Ok(moved);
                }
                batch = keep;
            }
            Err(e) if e.status() == Some(422) => {
                eprintln!(
                    "{}",
                    escape::log(&format!(
                        "kpsa: warning: {e}; the inline findings go to the summary"
                    ))
                );
                moved.extend(batch.iter().map(|c| c.fingerprint.clone()));
                return Ok(moved);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(moved)
}

/// Resolve a review thread: best effort (GraphQL only; a failure is a
/// warning, the reply already says why).
fn resolve(api: &Api, thread: &str) {
    const M: &str = "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }";
    if let Err(e) = api.mutate(M, json!({"id": thread})) {
        eprintln!(
            "{}",
            escape::log(&format!(
                "kpsa: warning: cannot resolve review thread {thread}: {e}"
            ))
        );
    }
}

/// The commit status `kpsa` on the head commit: the gate of the report.
fn post_status(
    api: &Api,
    repo: &str,
    head: &str,
    view: &report::View,
    exit: i32,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ApiError> {
    let gated = view.gated().len();
    let (state, description) = match exit {
        0 => (
            "success",
            format!("no new findings at or above {}", view.run.gate_name()),
        ),
        1 => (
            "failure",
            format!("{gated} new findings at or above {}", view.run.gate_name()),
        ),
        _ => (
            "error",
            format!("{} targets did not render or parse", view.errors.len()),
        ),
    };
    let mut body = json!({"state": state, "context": "kpsa", "description": description});
    if let (Some(server), Some(run)) = (env("GITHUB_SERVER_URL"), env("GITHUB_RUN_ID")) {
        if server.starts_with("https://") && run.chars().all(|c| c.is_ascii_digit()) {
            let repo_path = repo.trim_start_matches("/repos/");
            body["target_url"] = json!(format!("{server}/{repo_path}/actions/runs/{run}"));
        }
    }
    api.write(
        Method::POST,
        &format!("{repo}/statuses/{head}"),
        &body,
        &|_| Ok(false),
    )?;
    Ok(())
}

/// The new findings as annotations, on the line they are shown at.
fn annotations(view: &report::View) -> Vec<actions::Annotation> {
    let mut items: Vec<&report::Item> = view
        .items
        .iter()
        .filter(|i| i.status == Some(Status::New) && !i.finding.waived())
        .collect();
    items.sort_by_key(|i| (i.finding.tier, i.shown_at()));
    items
        .iter()
        .map(|i| {
            let at = i.shown_at();
            actions::Annotation {
                tier: i.finding.tier,
                path: at.path,
                line: at.line,
                title: format!("kpsa {} ({})", i.finding.check, i.finding.severity.as_str()),
                message: format!("{}: {}", i.finding.object.display(), i.finding.message),
            }
        })
        .collect()
}
