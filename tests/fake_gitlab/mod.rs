//! A fake GitLab (API v4) on loopback for `kpsa publish gitlab`: stateful
//! (merge request, diff versions, discussions and notes, label events,
//! members), and as strict as GitLab where kpsa could go wrong:
//!
//! - only the routes kpsa may call exist; any other path, an undeclared
//!   query parameter or body key, or a body of the wrong type is recorded
//!   as a violation (and answered 404 / 400);
//! - `PRIVATE-TOKEN` must be the project token; the job token gets 401 on
//!   every route here, as GitLab answers job tokens on the notes API;
//! - a discussion's position must be `text`, carry both paths and the SHAs
//!   of a diff version, and name a line that version's diff adds (or a
//!   context line with both `old_line` and `new_line`): otherwise 400 with
//!   GitLab's `line_code` message;
//! - lists are paginated (`per_page` ≤ 100, default 20, `page`,
//!   `x-next-page`, `x-total`, …) with a page size the test can make small;
//! - resolving needs the Developer role or authorship of the merge request;
//! - faults: 429 with `Retry-After`, 5xx, and a 5xx answered after the
//!   write was stored.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "glpat-fake-project-token";
pub const JOB_TOKEN: &str = "glcbt-64_fake_job_token";
pub const BOT_ID: u64 = 501;
pub const BOT_NAME: &str = "project_42_bot_kpsa";
pub const PROJECT: &str = "42";
pub const IID: u64 = 7;

/// An injected failure, used once.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    /// A substring of the path the fault applies to.
    pub path: &'static str,
    pub status: u16,
    pub retry_after: Option<u64>,
    /// Store the write first, then fail (an answer lost after GitLab acted).
    pub after_store: bool,
    pub message: &'static str,
}

/// One file of a diff version.
#[derive(Debug, Clone)]
pub struct Diff {
    pub old_path: String,
    pub new_path: String,
    /// The hunks (`@@ … @@` onwards); empty for a file too large to show.
    pub diff: String,
    pub new_file: bool,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub id: u64,
    pub base: String,
    pub start: String,
    pub head: String,
    pub diffs: Vec<Diff>,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub body: Value,
}

pub struct State {
    pub versions: Vec<Version>,
    pub labels: Vec<String>,
    pub label_events: Vec<Value>,
    /// Access levels of project members, by user id.
    pub members: BTreeMap<u64, u64>,
    pub discussions: Vec<Value>,
    pub faults: VecDeque<Fault>,
    pub page_cap: usize,
    pub log: Vec<Logged>,
    pub violations: Vec<String>,
    next_id: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A new diff version (a push).
    pub fn push(&mut self, base: &str, head: &str, diffs: Vec<Diff>) {
        let id = self.versions.iter().map(|v| v.id).max().unwrap_or(0) + 1;
        self.versions.push(Version {
            id,
            base: base.into(),
            start: base.into(),
            head: head.into(),
            diffs,
        });
    }

    /// A note by someone else, as its own discussion.
    pub fn foreign_note(&mut self, uid: u64, username: &str, body: &str, position: Option<Value>) {
        let id = self.id();
        let note = json!({
            "id": id, "type": if position.is_some() { json!("DiffNote") } else { Value::Null },
            "body": body, "author": {"id": uid, "username": username}, "system": false,
            "resolvable": position.is_some(), "resolved": false,
            "position": position.unwrap_or(Value::Null),
        });
        self.discussions.push(json!({
            "id": format!("{id:040x}"), "individual_note": false, "notes": [note]
        }));
    }

    pub fn writes(&self) -> Vec<&Logged> {
        self.log.iter().filter(|l| l.method != "GET").collect()
    }

    /// kpsa's discussions with a position (first note by the bot).
    pub fn kpsa_discussions(&self) -> Vec<&Value> {
        self.discussions
            .iter()
            .filter(|d| {
                d["notes"][0]["author"]["id"] == BOT_ID && !d["notes"][0]["position"].is_null()
            })
            .collect()
    }

    /// kpsa's summary notes.
    pub fn summaries(&self) -> Vec<&Value> {
        self.discussions
            .iter()
            .map(|d| &d["notes"][0])
            .filter(|n| {
                n["author"]["id"] == BOT_ID
                    && n["body"]
                        .as_str()
                        .is_some_and(|b| b.starts_with("<!-- kpsa:summary -->"))
            })
            .collect()
    }

    fn newest(&self) -> &Version {
        self.versions.iter().max_by_key(|v| v.id).unwrap()
    }

    /// Whether `position` names a line of its version's diff.
    fn position_ok(&self, p: &Value) -> bool {
        let s = |k: &str| p[k].as_str().unwrap_or("");
        if s("position_type") != "text" {
            return false;
        }
        let Some(v) = self.versions.iter().find(|v| {
            v.base == s("base_sha") && v.start == s("start_sha") && v.head == s("head_sha")
        }) else {
            return false;
        };
        if s("old_path").is_empty() || s("new_path").is_empty() {
            return false;
        }
        let Some(d) = v
            .diffs
            .iter()
            .find(|d| d.new_path == s("new_path") && d.old_path == s("old_path"))
        else {
            return false;
        };
        let new_line = p["new_line"].as_u64();
        let old_line = p["old_line"].as_u64();
        let (added, context) = lines(&d.diff);
        match (old_line, new_line) {
            (None, Some(n)) => added.contains(&n),
            (Some(o), Some(n)) => !d.new_file && context.contains(&(o, n)),
            _ => false,
        }
    }
}

/// The added new-side lines and the (old, new) context lines of a diff.
pub fn lines(diff: &str) -> (BTreeSet<u64>, BTreeSet<(u64, u64)>) {
    let (mut added, mut context) = (BTreeSet::new(), BTreeSet::new());
    let (mut old, mut new) = (0u64, 0u64);
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("@@ ") {
            let num = |sign: char| -> u64 {
                let part = rest.split(' ').find(|p| p.starts_with(sign)).unwrap();
                part[1..].split(',').next().unwrap().parse().unwrap()
            };
            (old, new) = (num('-'), num('+'));
            continue;
        }
        match line.chars().next() {
            Some('+') => {
                added.insert(new);
                new += 1;
            }
            Some('-') => old += 1,
            Some('\\') => {}
            _ => {
                context.insert((old, new));
                old += 1;
                new += 1;
            }
        }
    }
    (added, context)
}

/// The diffs of `range` in a test repository, as a GitLab diff version
/// lists them (the hunks from `@@` on; empty for a file without any).
pub fn diffs_of(repo: &crate::common::Repo, range: &str) -> Vec<Diff> {
    repo.git(&["diff", "--name-status", range])
        .lines()
        .map(|l| {
            let (status, path) = l.split_once('\t').unwrap();
            let diff = repo.git(&["diff", range, "--", path]);
            Diff {
                old_path: path.to_string(),
                new_path: path.to_string(),
                diff: diff
                    .find("@@")
                    .map_or(String::new(), |i| diff[i..].to_string()),
                new_file: status == "A",
            }
        })
        .collect()
}

pub struct FakeGitLab {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
    _rt: tokio::runtime::Runtime,
}

struct Handler {
    state: Arc<Mutex<State>>,
}

impl FakeGitLab {
    pub fn start(base: &str, head: &str, diffs: Vec<Diff>) -> FakeGitLab {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let mut st = State {
            versions: Vec::new(),
            labels: Vec::new(),
            label_events: Vec::new(),
            members: BTreeMap::from([(BOT_ID, 30)]),
            discussions: Vec::new(),
            faults: VecDeque::new(),
            page_cap: 100,
            log: Vec::new(),
            violations: Vec::new(),
            next_id: 3000,
        };
        st.push(base, head, diffs);
        let state = Arc::new(Mutex::new(st));
        rt.block_on(
            Mock::given(wiremock::matchers::any())
                .respond_with(Handler {
                    state: state.clone(),
                })
                .mount(&server),
        );
        FakeGitLab {
            server,
            state,
            _rt: rt,
        }
    }

    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.server.uri())
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

fn error(status: u16, message: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": message }))
}

/// Keys a body may have, by route.
fn allowed_keys(route: &str) -> &'static [&'static str] {
    match route {
        "POST discussions" => &["body", "position", "commit_id"],
        "POST discussion notes" | "POST notes" | "PUT note" => &["body"],
        _ => &[],
    }
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.state.lock().unwrap();
        let method = req.method.as_str().to_string();
        let path = req.url.path().to_string();
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    st.violations
                        .push(format!("{method} {path}: body is not JSON: {e}"));
                    return error(400, json!("400 Bad request"));
                }
            }
        };
        st.log.push(Logged {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        let token = req
            .headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if token == JOB_TOKEN {
            return error(401, json!("401 Unauthorized"));
        }
        if token.is_empty() {
            st.violations
                .push(format!("{method} {path}: no PRIVATE-TOKEN"));
        }
        if token != TOKEN {
            return error(401, json!("401 Unauthorized"));
        }
        if req.headers.contains_key("authorization") {
            st.violations
                .push(format!("{method} {path}: an Authorization header as well"));
        }
        let Some(rest) = path.strip_prefix("/api/v4/") else {
            st.violations
                .push(format!("{method} {path}: not under /api/v4"));
            return error(404, json!("404 Not Found"));
        };
        let query: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let segs: Vec<&str> = rest.split('/').collect();
        let mr = ["projects", PROJECT, "merge_requests", "7"];
        let route: Option<&str> = match (method.as_str(), segs.as_slice()) {
            ("GET", ["user"]) => Some("GET user"),
            ("GET", s) if s == mr => Some("GET mr"),
            ("GET", [a, b, c, d, "versions"]) if [*a, *b, *c, *d] == mr => Some("GET versions"),
            ("GET", [a, b, c, d, "versions", _]) if [*a, *b, *c, *d] == mr => Some("GET version"),
            ("GET", [a, b, c, d, "discussions"]) if [*a, *b, *c, *d] == mr => {
                Some("GET discussions")
            }
            ("GET", [a, b, c, d, "resource_label_events"]) if [*a, *b, *c, *d] == mr => {
                Some("GET label events")
            }
            ("GET", ["projects", p, "members", "all", _]) if *p == PROJECT => Some("GET member"),
            ("POST", [a, b, c, d, "discussions"]) if [*a, *b, *c, *d] == mr => {
                Some("POST discussions")
            }
            ("POST", [a, b, c, d, "discussions", _, "notes"]) if [*a, *b, *c, *d] == mr => {
                Some("POST discussion notes")
            }
            ("PUT", [a, b, c, d, "discussions", _]) if [*a, *b, *c, *d] == mr => {
                Some("PUT discussion")
            }
            ("POST", [a, b, c, d, "notes"]) if [*a, *b, *c, *d] == mr => Some("POST notes"),
            ("PUT", [a, b, c, d, "notes", _]) if [*a, *b, *c, *d] == mr => Some("PUT note"),
            _ => None,
        };
        let Some(route) = route else {
            st.violations
                .push(format!("{method} {path}: no such route for kpsa"));
            return error(404, json!("404 Not Found"));
        };
        let allowed_query: &[&str] = match route {
            "GET versions" | "GET discussions" | "GET label events" => &["per_page", "page"],
            "PUT discussion" => &["resolved"],
            _ => &[],
        };
        for k in query.keys() {
            if !allowed_query.contains(&k.as_str()) {
                st.violations
                    .push(format!("{method} {path}: undeclared query parameter {k}"));
            }
        }
        if query
            .get("per_page")
            .is_some_and(|p| p.parse::<u64>().map_or(true, |n| n == 0 || n > 100))
        {
            st.violations
                .push(format!("{method} {path}: per_page must be 1..=100"));
        }
        if method != "GET" {
            if route != "PUT discussion" {
                match body.as_object() {
                    Some(o) => {
                        for k in o.keys() {
                            if !allowed_keys(route).contains(&k.as_str()) {
                                st.violations
                                    .push(format!("{method} {path}: undeclared body key {k}"));
                            }
                        }
                        if !o.get("body").is_some_and(|b| {
                            b.as_str()
                                .is_some_and(|b| !b.is_empty() && b.chars().count() <= 1_000_000)
                        }) {
                            st.violations.push(format!(
                                "{method} {path}: body must be 1 to 1,000,000 characters"
                            ));
                            return error(400, json!("400 Bad request - body is missing"));
                        }
                    }
                    None => {
                        st.violations
                            .push(format!("{method} {path}: the body is not an object"));
                        return error(400, json!("400 Bad request"));
                    }
                }
            } else if !body.is_null() {
                st.violations
                    .push(format!("{method} {path}: resolve takes no body"));
            }
        }
        let fault_at = st
            .faults
            .iter()
            .position(|f| f.method == method && path.contains(f.path));
        let fault = fault_at.and_then(|i| st.faults.remove(i));
        let respond_fault = |f: &Fault| {
            let mut r = error(f.status, json!(f.message));
            if let Some(s) = f.retry_after {
                r = r.insert_header("retry-after", s.to_string().as_str());
            }
            r
        };
        if let Some(f) = fault.as_ref().filter(|f| !f.after_store) {
            return respond_fault(f);
        }
        let answer = route_to(&mut st, route, &segs, &query, &body);
        match fault {
            Some(f) => respond_fault(&f),
            None => answer,
        }
    }
}

fn page(st: &State, items: Vec<Value>, query: &BTreeMap<String, String>) -> ResponseTemplate {
    let per: usize = query
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20)
        .min(100)
        .min(st.page_cap);
    let n: usize = query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let chunk: Vec<Value> = items
        .iter()
        .skip((n - 1) * per)
        .take(per)
        .cloned()
        .collect();
    let next = if n * per < items.len() {
        (n + 1).to_string()
    } else {
        String::new()
    };
    ResponseTemplate::new(200)
        .set_body_json(Value::Array(chunk))
        .insert_header("x-next-page", next.as_str())
        .insert_header("x-page", n.to_string().as_str())
        .insert_header("x-per-page", per.to_string().as_str())
        .insert_header("x-total", items.len().to_string().as_str())
}

fn version_json(v: &Version, full: bool) -> Value {
    let mut out = json!({
        "id": v.id, "head_commit_sha": v.head, "base_commit_sha": v.base,
        "start_commit_sha": v.start, "merge_request_id": 1, "state": "collected",
        "real_size": v.diffs.len().to_string(),
    });
    if full {
        out["diffs"] = v
            .diffs
            .iter()
            .map(|d| {
                json!({"old_path": d.old_path, "new_path": d.new_path, "diff": d.diff,
                       "new_file": d.new_file, "renamed_file": d.old_path != d.new_path,
                       "deleted_file": false, "a_mode": "100644", "b_mode": "100644"})
            })
            .collect();
    }
    out
}

fn route_to(
    st: &mut State,
    route: &str,
    segs: &[&str],
    query: &BTreeMap<String, String>,
    body: &Value,
) -> ResponseTemplate {
    let bot = json!({"id": BOT_ID, "username": BOT_NAME, "name": "kpsa", "bot": true});
    match route {
        "GET user" => ResponseTemplate::new(200).set_body_json(bot),
        "GET mr" => {
            let v = st.newest().clone();
            ResponseTemplate::new(200).set_body_json(json!({
                "id": 1, "iid": IID, "project_id": 42, "state": "opened", "sha": v.head,
                "labels": st.labels, "author": {"id": 7, "username": "dev"},
                "diff_refs": {"base_sha": v.base, "head_sha": v.head, "start_sha": v.start}
            }))
        }
        "GET versions" => {
            let mut vs: Vec<Value> = st.versions.iter().map(|v| version_json(v, false)).collect();
            vs.reverse();
            page(st, vs, query)
        }
        "GET version" => match st.versions.iter().find(|v| v.id.to_string() == segs[5]) {
            Some(v) => ResponseTemplate::new(200).set_body_json(version_json(v, true)),
            None => error(404, json!("404 Not found")),
        },
        "GET discussions" => {
            let items = st.discussions.clone();
            page(st, items, query)
        }
        "GET label events" => {
            let items = st.label_events.clone();
            page(st, items, query)
        }
        "GET member" => {
            let uid: u64 = segs[4].parse().unwrap_or(0);
            match st.members.get(&uid) {
                Some(level) => ResponseTemplate::new(200)
                    .set_body_json(json!({"id": uid, "access_level": level})),
                None => error(404, json!("404 Not found")),
            }
        }
        "POST discussions" => {
            let position = body.get("position").cloned();
            if let Some(p) = &position {
                if !st.position_ok(p) {
                    return error(
                        400,
                        json!(
                            "400 Bad request - Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"]}"
                        ),
                    );
                }
            }
            let id = st.id();
            let note = json!({
                "id": id, "type": if position.is_some() { json!("DiffNote") } else { json!("DiscussionNote") },
                "body": body["body"], "author": bot, "system": false,
                "resolvable": true, "resolved": false, "position": position.unwrap_or(Value::Null),
            });
            let d = json!({"id": format!("{id:040x}"), "individual_note": false, "notes": [note]});
            st.discussions.push(d.clone());
            ResponseTemplate::new(201).set_body_json(d)
        }
        "POST discussion notes" => {
            let id = st.id();
            let Some(d) = st.discussions.iter_mut().find(|d| d["id"] == segs[5]) else {
                return error(404, json!("404 Discussion Not Found"));
            };
            let note = json!({"id": id, "type": "DiscussionNote", "body": body["body"],
                              "author": bot, "system": false, "resolvable": true, "resolved": false});
            d["notes"].as_array_mut().unwrap().push(note.clone());
            ResponseTemplate::new(201).set_body_json(note)
        }
        "PUT discussion" => {
            if query.get("resolved").map(String::as_str) != Some("true") {
                return error(400, json!("400 Bad request - resolved is missing"));
            }
            if st.members.get(&BOT_ID).copied().unwrap_or(0) < 30 {
                return error(403, json!("403 Forbidden"));
            }
            let Some(d) = st.discussions.iter_mut().find(|d| d["id"] == segs[5]) else {
                return error(404, json!("404 Discussion Not Found"));
            };
            for n in d["notes"].as_array_mut().unwrap() {
                n["resolved"] = json!(true);
            }
            ResponseTemplate::new(200).set_body_json(d.clone())
        }
        "POST notes" => {
            let id = st.id();
            let note = json!({"id": id, "type": null, "body": body["body"], "author": bot,
                              "system": false, "resolvable": false, "resolved": false});
            st.discussions.push(
                json!({"id": format!("{id:040x}"), "individual_note": true, "notes": [note.clone()]}),
            );
            ResponseTemplate::new(201).set_body_json(note)
        }
        "PUT note" => {
            let id: u64 = segs[5].parse().unwrap_or(0);
            for d in st.discussions.iter_mut() {
                for n in d["notes"].as_array_mut().unwrap() {
                    if n["id"] == id {
                        if n["author"]["id"] != BOT_ID {
                            return error(403, json!("403 Forbidden"));
                        }
                        n["body"] = body["body"].clone();
                        return ResponseTemplate::new(200).set_body_json(n.clone());
                    }
                }
            }
            error(404, json!("404 Note Not Found"))
        }
        _ => unreachable!("{route}"),
    }
}
