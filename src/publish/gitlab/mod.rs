//! `kpsa publish gitlab`: a saved `kpsa diff` JSON report, published to one
//! merge request — one discussion per new finding on the line the merge
//! request adds (with a suggestion), replies to kpsa's earlier discussions
//! whose finding is gone (then resolved), and one sticky summary note.
//!
//! The report is untrusted data: checked against its schema, and its head
//! against the merge request's newest diff version, before anything is
//! written. kpsa's identity is `GET /user`; notes by anyone else are never
//! read as kpsa's, whatever markers they carry, and never edited.
//! Discussions are posted one request at a time (GitLab limits note
//! creation per user): a 400 for one position moves that finding to the
//! summary and the others are still posted.

pub mod api;
pub mod context;

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::Method;
use serde_json::{Value, json};

use self::api::Api;
use super::Failure;
use super::footer::{self, Approval, footer};
use super::http::{ApiError, Calls};
use super::hunks::Hunks;
use super::input;
use super::plan::{self, Existing, Thread, marker_fingerprint};
use crate::report::{self, escape, markdown};

/// What to publish, and where.
pub struct Options {
    pub report: PathBuf,
    pub flags: context::Flags,
    /// The environment variable that holds the token.
    pub token_env: String,
    pub max_comments: usize,
    /// Inline discussions (else the summary note only).
    pub inline: bool,
    pub dry_run: bool,
    pub approval_label: String,
}

/// What a run did, for its last log line.
#[derive(Debug, Default)]
pub struct Published {
    pub exit: i32,
    pub mr: u64,
    pub inline: usize,
    pub summary_only: usize,
    pub replies: usize,
    pub calls: Calls,
}

/// GitLab access levels (`members` API).
const DEVELOPER: u64 = 30;

/// The diff version a report's positions are for.
struct Version {
    base: String,
    start: String,
    head: String,
    hunks: Hunks,
    /// The old path of each new path (they differ for a renamed file).
    old_paths: BTreeMap<String, String>,
}

/// Publish. `env` reads the environment (the token among it).
pub fn publish(opts: &Options, env: &dyn Fn(&str) -> Option<String>) -> Result<Published, Failure> {
    let ctx = context::resolve(&opts.flags, env).map_err(Failure::Usage)?;
    let name = opts.report.display().to_string();
    let input::Input { saved, head } =
        input::load(&opts.report, "gitlab", ctx.expected_head.as_deref())
            .map_err(Failure::Usage)?;
    let token = token(&opts.token_env, env).map_err(Failure::Usage)?;
    let api = Api::new(&ctx.api_url, &token, opts.dry_run).map_err(Failure::Usage)?;
    let me = whoami(&api, &opts.token_env)?;
    let mr_path = format!("/projects/{}/merge_requests/{}", ctx.project, ctx.mr);
    let mr = api.get(&mr_path)?;
    let version = version(&api, &mr_path, &head, ctx.mr, &name)?;

    let mut saved = saved;
    let approval = approve_pending(&api, &ctx, &mr_path, &mr, &mut saved, &opts.approval_label)?;
    let run = saved
        .run_info(false)
        .map_err(|m| Failure::Usage(format!("{name}: {m}")))?;
    let outcome = saved.into_outcome();
    let view = report::View::diff(&outcome, &run, false);
    let exit = report::diff_exit(&outcome, &run);
    let templates = markdown::Templates::new(&[]).map_err(Failure::Usage)?;

    let discussions = api.get_all(&format!("{mr_path}/discussions"))?;
    let existing = existing(&discussions, me, &version.hunks);
    let mut plan = plan::plan(
        &view,
        &version.hunks,
        &existing,
        &templates,
        &plan::Options {
            max_comments: if opts.inline { opts.max_comments } else { 0 },
            head_sha: &head,
            suggestion_fence: "suggestion:-0+0",
        },
    )
    .map_err(Failure::Usage)?;

    let mut done = Published {
        exit,
        mr: ctx.mr,
        ..Default::default()
    };
    for c in &plan.inline {
        let body = json!({
            "body": c.body,
            "position": {
                "position_type": "text",
                "base_sha": version.base,
                "start_sha": version.start,
                "head_sha": version.head,
                "old_path": version.old_paths.get(&c.path).unwrap_or(&c.path),
                "new_path": c.path,
                "new_line": c.line,
            },
        });
        let fp = c.fingerprint.clone();
        let landed = |api: &Api| {
            any_first_note(api, &mr_path, me, |n| {
                note_body(n).and_then(marker_fingerprint).as_deref() == Some(&fp)
            })
        };
        match api.write(
            Method::POST,
            &format!("{mr_path}/discussions"),
            &body,
            &landed,
        ) {
            Ok(_) => done.inline += 1,
            Err(e) if e.status() == Some(400) => {
                eprintln!(
                    "{}",
                    escape::log(&format!(
                        "kpsa: warning: {e}; the finding at {}:{} goes to the summary",
                        c.path, c.line
                    ))
                );
                plan.summary_only.push((
                    c.fingerprint.clone(),
                    "GitLab refused its position on the diff",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    for r in &plan.replies {
        let Some(discussion) = &r.thread_id else {
            continue;
        };
        let marker = r.body.lines().next().unwrap_or_default().to_string();
        let path = format!("{mr_path}/discussions/{discussion}/notes");
        let landed = |api: &Api| -> Result<bool, ApiError> {
            Ok(api
                .get_all(&format!("{mr_path}/discussions"))?
                .iter()
                .filter(|d| d.get("id").and_then(Value::as_str) == Some(discussion))
                .flat_map(notes)
                .any(|n| author_is(n, me) && note_body(n).is_some_and(|b| b.starts_with(&marker))))
        };
        match api.write(Method::POST, &path, &json!({"body": r.body}), &landed) {
            Ok(_) => done.replies += 1,
            Err(e) if e.status() == Some(404) => {
                eprintln!(
                    "{}",
                    escape::log(&format!("kpsa: warning: {e}: the discussion is gone"))
                );
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        resolve(&api, &mr_path, discussion)?;
    }
    for d in &plan.resolve_outdated {
        resolve(&api, &mr_path, d)?;
    }
    let text = format!(
        "{}{}",
        plan.summary,
        footer(&plan, done.inline, &approval, opts.max_comments)
    );
    let body = json!({"body": text});
    match plan.summary_id {
        Some(id) => api.write(
            Method::PUT,
            &format!("{mr_path}/notes/{id}"),
            &body,
            &|_| Ok(false),
        )?,
        None => {
            let landed = |api: &Api| any_first_note(api, &mr_path, me, is_summary);
            api.write(Method::POST, &format!("{mr_path}/notes"), &body, &landed)?
        }
    };
    done.summary_only = plan.summary_only.len();
    done.calls = api.calls();
    Ok(done)
}

/// The token, from the named variable. `CI_JOB_TOKEN` cannot post notes:
/// GitLab answers 401 on the notes and discussions API for a job token.
fn token(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let job_token = env("CI_JOB_TOKEN").filter(|t| !t.trim().is_empty());
    let hint = "CI_JOB_TOKEN cannot post merge request notes (GitLab accepts job tokens only on \
                a few APIs): add a project or group access token with the `api` scope as the \
                masked CI/CD variable KPSA_GITLAB_TOKEN";
    if name == "CI_JOB_TOKEN" {
        return Err(format!("--token-env CI_JOB_TOKEN: {hint}"));
    }
    match env(name)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        Some(t) if Some(&t) == job_token.as_ref() || t.starts_with("glcbt-") => {
            Err(format!("${name} holds the job token: {hint}"))
        }
        Some(t) => Ok(t),
        None if job_token.is_some() => Err(format!("no token in ${name}; {hint}")),
        None => Err(format!(
            "no token in ${name}: give the publishing job a token with the `api` scope \
             (--token-env NAME names another variable)"
        )),
    }
}

/// kpsa's own user id.
fn whoami(api: &Api, token_env: &str) -> Result<u64, Failure> {
    let user = api.get("/user").map_err(|e| match e.status() {
        Some(401) => Failure::Api(format!(
            "{e}: GitLab refused the token in ${token_env} (expired, revoked, or without the `api` scope)"
        )),
        _ => e.into(),
    })?;
    user.get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| Failure::Api("GET /user: no id".into()))
}

/// The merge request's newest diff version, which must be the report's
/// head; its SHAs place the discussions and its diff bounds them.
fn version(api: &Api, mr_path: &str, head: &str, iid: u64, name: &str) -> Result<Version, Failure> {
    let versions = api.get_all(&format!("{mr_path}/versions"))?;
    let newest = versions
        .iter()
        .max_by_key(|v| v.get("id").and_then(Value::as_u64).unwrap_or(0))
        .ok_or_else(|| Failure::Api(format!("merge request !{iid} has no diff version")))?;
    let sha = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let newest_head = sha(newest, "head_commit_sha");
    if !newest_head.eq_ignore_ascii_case(head) {
        let older = versions
            .iter()
            .any(|v| sha(v, "head_commit_sha").eq_ignore_ascii_case(head));
        return Err(Failure::Usage(format!(
            "{name} is for commit {head}, but the newest diff version of merge request !{iid} has head {newest_head}{}: \
             the merge request moved on (or the report is for another one); nothing was posted",
            if older {
                " (the report's head is an older version)"
            } else {
                ""
            }
        )));
    }
    let id = newest.get("id").and_then(Value::as_u64).unwrap_or(0);
    let detail = api.get(&format!("{mr_path}/versions/{id}"))?;
    let mut hunks = Hunks::default();
    let mut old_paths = BTreeMap::new();
    for d in detail
        .get("diffs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(new), Some(old)) = (
            d.get("new_path").and_then(Value::as_str),
            d.get("old_path").and_then(Value::as_str),
        ) else {
            continue;
        };
        if d.get("deleted_file").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        hunks
            .add(new, d.get("diff").and_then(Value::as_str))
            .map_err(|m| Failure::Api(format!("the merge request's diff: {m}")))?;
        old_paths.insert(new.to_string(), old.to_string());
    }
    Ok(Version {
        base: sha(newest, "base_commit_sha"),
        start: sha(newest, "start_commit_sha"),
        head: newest_head,
        hunks,
        old_paths,
    })
}

fn notes(d: &Value) -> impl Iterator<Item = &Value> {
    d.get("notes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn note_body(n: &Value) -> Option<&str> {
    n.get("body").and_then(Value::as_str)
}

fn author_is(n: &Value, me: u64) -> bool {
    n.pointer("/author/id").and_then(Value::as_u64) == Some(me)
        && n.get("system").and_then(Value::as_bool) != Some(true)
}

/// The first note of a discussion, if kpsa wrote it.
fn first_note(d: &Value, me: u64) -> Option<&Value> {
    notes(d).next().filter(|n| author_is(n, me))
}

/// Whether one of kpsa's discussions (listed afresh) starts with a note
/// `pred` accepts: asked after an ambiguous failure of a write.
fn any_first_note(
    api: &Api,
    mr_path: &str,
    me: u64,
    pred: impl Fn(&Value) -> bool,
) -> Result<bool, ApiError> {
    Ok(api
        .get_all(&format!("{mr_path}/discussions"))?
        .iter()
        .filter_map(|d| first_note(d, me))
        .any(pred))
}

fn is_summary(n: &Value) -> bool {
    note_body(n).is_some_and(|b| b.starts_with(markdown::SUMMARY_MARKER))
}

/// kpsa's earlier discussions and its summary note. A discussion is
/// outdated when its line is no longer one the merge request adds.
fn existing(discussions: &[Value], me: u64, hunks: &Hunks) -> Existing {
    let mut out = Existing::default();
    for d in discussions {
        let Some(first) = first_note(d, me) else {
            continue;
        };
        if is_summary(first) && out.summary_id.is_none() {
            out.summary_id = first.get("id").and_then(Value::as_u64);
            continue;
        }
        let (Some(id), Some(fp), Some(discussion)) = (
            first.get("id").and_then(Value::as_u64),
            note_body(first).and_then(marker_fingerprint),
            d.get("id").and_then(Value::as_str),
        ) else {
            continue;
        };
        let on_diff = match (
            first.pointer("/position/new_path").and_then(Value::as_str),
            first.pointer("/position/new_line").and_then(Value::as_u64),
        ) {
            (Some(p), Some(l)) => hunks.contains(p, l as u32),
            _ => true,
        };
        out.threads.push(Thread {
            comment_id: id,
            fingerprint: fp,
            thread_id: Some(discussion.to_string()),
            outdated: !on_diff,
            resolved: first.get("resolved").and_then(Value::as_bool) == Some(true),
        });
    }
    out
}

/// Resolve a discussion. GitLab lets the Developer role or the merge
/// request's author do it: a refusal is a warning (the reply says why).
fn resolve(api: &Api, mr_path: &str, discussion: &str) -> Result<(), Failure> {
    match api.write(
        Method::PUT,
        &format!("{mr_path}/discussions/{discussion}?resolved=true"),
        &Value::Null,
        &|_| Ok(false),
    ) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.status(), Some(401 | 403)) => {
            eprintln!(
                "{}",
                escape::log(&format!(
                    "kpsa: warning: {e}: resolving a discussion needs the Developer role (or to be \
                     the merge request's author); give the token's user the Developer role"
                ))
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Pending suppressions apply only when the merge request carries the
/// approval label and the user who last added it (its resource label
/// events) has the Developer role or higher on the project.
fn approve_pending(
    api: &Api,
    ctx: &context::Context,
    mr_path: &str,
    mr: &Value,
    saved: &mut report::saved::Saved,
    label: &str,
) -> Result<Approval, Failure> {
    if !footer::has_pending(saved) {
        return Ok(Approval::NotNeeded);
    }
    let labeled = mr
        .get("labels")
        .and_then(Value::as_array)
        .is_some_and(|ls| ls.iter().any(|l| l.as_str() == Some(label)));
    if !labeled {
        return Ok(Approval::NoLabel);
    }
    let events = api.get_all(&format!("{mr_path}/resource_label_events"))?;
    let Some(user) = events
        .iter()
        .filter(|e| {
            e.get("action").and_then(Value::as_str) == Some("add")
                && e.pointer("/label/name").and_then(Value::as_str) == Some(label)
        })
        .filter_map(|e| e.get("user"))
        .next_back()
    else {
        return Ok(Approval::NoLabel);
    };
    let (Some(uid), Some(actor)) = (
        user.get("id").and_then(Value::as_u64),
        user.get("username").and_then(Value::as_str),
    ) else {
        return Ok(Approval::NoLabel);
    };
    if !footer::plain_name(actor) {
        return Ok(Approval::NoLabel);
    }
    let level = match api.get(&format!("/projects/{}/members/all/{uid}", ctx.project)) {
        Ok(m) => m.get("access_level").and_then(Value::as_u64).unwrap_or(0),
        Err(e) if e.status() == Some(404) => 0,
        Err(e) => return Err(e.into()),
    };
    if level < DEVELOPER {
        return Ok(Approval::Refused {
            actor: actor.to_string(),
            has: format!("the {} role", role(level)),
            needed: "the Developer role or higher",
        });
    }
    footer::approve(saved, actor, label);
    Ok(Approval::By {
        actor: actor.to_string(),
        rights: format!("{} role", role(level)),
    })
}

fn role(level: u64) -> &'static str {
    match level {
        0 => "no",
        1..=14 => "Guest",
        15..=19 => "Planner",
        20..=29 => "Reporter",
        30..=39 => "Developer",
        40..=49 => "Maintainer",
        _ => "Owner",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_token_is_refused_by_name_and_by_value() {
        let job = |k: &str| match k {
            "CI_JOB_TOKEN" => Some("glcbt-64_abc".to_string()),
            "KPSA_GITLAB_TOKEN" => Some("glcbt-64_abc".to_string()),
            "GOOD" => Some("glpat-x".to_string()),
            _ => None,
        };
        for name in ["KPSA_GITLAB_TOKEN", "CI_JOB_TOKEN", "MISSING"] {
            let e = token(name, &job).unwrap_err();
            assert!(e.contains("KPSA_GITLAB_TOKEN"), "{name}: {e}");
        }
        assert_eq!(token("GOOD", &job).unwrap(), "glpat-x");
        assert!(
            !token("MISSING", &|_| None)
                .unwrap_err()
                .contains("CI_JOB_TOKEN")
        );
    }

    #[test]
    fn only_kpsas_own_first_notes_count() {
        let fp = "kpsa/v1:00ff";
        let mut h = Hunks::default();
        h.add("a.yaml", Some("@@ -1,0 +3,1 @@\n+x\n")).unwrap();
        let note = |author: u64, line: u64, system: bool| {
            json!({"id": 5, "body": format!("<!-- kpsa:finding {fp} -->\nx"), "author": {"id": author},
                   "system": system, "resolved": false,
                   "position": {"new_path": "a.yaml", "new_line": line}})
        };
        let ds = vec![
            json!({"id": "d1", "notes": [note(9, 3, false)]}),
            json!({"id": "d2", "notes": [note(1, 3, false)]}),
            json!({"id": "d3", "notes": [note(1, 4, true)]}),
            json!({"id": "d4", "notes": [note(1, 7, false)]}),
        ];
        let e = existing(&ds, 1, &h);
        let ids: Vec<(&str, bool)> = e
            .threads
            .iter()
            .map(|t| (t.thread_id.as_deref().unwrap(), t.outdated))
            .collect();
        assert_eq!(ids, vec![("d2", false), ("d4", true)]);
    }
}
