//! A fake GitHub on loopback for `kpsa publish github`: stateful (pull
//! request, files, review comments and threads, issue comments, statuses,
//! SARIF uploads), and as strict as GitHub where kpsa could go wrong:
//!
//! - every request is checked against GitHub's OpenAPI description
//!   (`tests/fixtures/github-pulls-openapi-subset.json`, a copy of the shared subset, and
//!   `tests/fixtures/github-openapi-extra.json`, cut from the same source):
//!   the path and method must exist, query parameters must be declared,
//!   request bodies must match their schema; a violation is recorded and
//!   answered 422;
//! - a review is all-or-nothing: one comment outside a hunk of the pull
//!   request's diff (new side), a side other than LEFT/RIGHT, a path not in
//!   the pull request, a body over 65,536 characters: 422 for the whole review;
//! - lists are paginated (`per_page`, `page`, `Link: rel="next"`) with a
//!   page size the test can make small;
//! - faults: 429 or 502 with `Retry-After`, a 502 returned after the write
//!   was stored, a 403 secondary rate limit, a push between reading the
//!   diff and posting the review, and a fork token (every write 403).
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const VIEWER_LOGIN: &str = "github-actions[bot]";
pub const VIEWER_ID: u64 = 41898282;
pub const TOKEN: &str = "ghs_fake_token_for_tests";

/// An injected failure, used once.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    /// A substring of the path the fault applies to.
    pub path: &'static str,
    pub status: u16,
    pub retry_after: Option<u64>,
    /// Store the write first, then fail (an answer lost after GitHub acted).
    pub after_store: bool,
    pub message: &'static str,
}

/// A changed file of the pull request.
#[derive(Debug, Clone)]
pub struct File {
    pub filename: String,
    pub patch: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub body: Value,
}

pub struct State {
    pub owner: String,
    pub repo: String,
    pub number: u64,
    pub head_sha: String,
    /// Every head the pull request had.
    pub heads: Vec<String>,
    pub labels: Vec<String>,
    pub files: Vec<File>,
    /// Files after the next push (applied when the review is posted).
    pub push_before_review: Option<(String, Vec<File>)>,
    pub events: Vec<Value>,
    pub permissions: BTreeMap<String, String>,
    pub review_comments: Vec<Value>,
    /// Thread state by first comment id: (resolved, outdated).
    pub threads: BTreeMap<u64, (bool, bool)>,
    pub reviews: Vec<Value>,
    pub issue_comments: Vec<Value>,
    pub statuses: Vec<Value>,
    pub sarifs: Vec<Value>,
    pub fork: bool,
    pub faults: VecDeque<Fault>,
    pub page_cap: usize,
    pub log: Vec<Logged>,
    pub violations: Vec<String>,
    /// Release archives, served without a token at their path.
    pub assets: BTreeMap<String, Vec<u8>>,
    next_id: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A comment by someone else (not kpsa's identity).
    pub fn foreign_review_comment(
        &mut self,
        login: &str,
        uid: u64,
        path: &str,
        line: u32,
        body: &str,
    ) -> u64 {
        let id = self.id();
        self.review_comments.push(json!({
            "id": id, "user": {"login": login, "id": uid}, "body": body, "path": path,
            "line": line, "side": "RIGHT", "in_reply_to_id": null
        }));
        self.threads.insert(id, (false, false));
        id
    }

    pub fn foreign_issue_comment(&mut self, login: &str, uid: u64, body: &str) -> u64 {
        let id = self.id();
        self.issue_comments
            .push(json!({"id": id, "user": {"login": login, "id": uid}, "body": body}));
        id
    }

    /// A push: a new head and diff. kpsa's comments whose line is no
    /// longer in a hunk become outdated (no line), as GitHub shows them.
    pub fn push(&mut self, head: &str, files: Vec<File>) {
        self.head_sha = head.to_string();
        self.heads.push(head.to_string());
        self.files = files;
        let ranges = self.ranges();
        for c in self.review_comments.iter_mut() {
            let (Some(path), Some(line)) = (c["path"].as_str(), c["line"].as_u64()) else {
                continue;
            };
            let inside = ranges
                .get(path)
                .is_some_and(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&(line as u32))));
            if !inside {
                c["line"] = Value::Null;
                if let Some(t) = self.threads.get_mut(&c["id"].as_u64().unwrap()) {
                    t.1 = true;
                }
            }
        }
    }

    /// New-side line ranges of each file's hunks (context and added lines:
    /// where GitHub accepts a RIGHT-side comment).
    pub fn ranges(&self) -> BTreeMap<String, Vec<(u32, u32)>> {
        let mut out = BTreeMap::new();
        for f in &self.files {
            let mut r = Vec::new();
            for line in f.patch.as_deref().unwrap_or("").lines() {
                // @@ -a,b +c,d @@
                if let Some(rest) = line.strip_prefix("@@ ") {
                    let new = rest.split(' ').find(|p| p.starts_with('+')).unwrap_or("+0");
                    let mut it = new[1..].split(',');
                    let start: u32 = it.next().unwrap().parse().unwrap();
                    let len: u32 = it.next().map_or(1, |l| l.parse().unwrap());
                    if len > 0 {
                        r.push((start, start + len - 1));
                    }
                }
            }
            out.insert(f.filename.clone(), r);
        }
        out
    }

    pub fn writes(&self) -> Vec<&Logged> {
        self.log
            .iter()
            .filter(|l| l.method != "GET" && !is_graphql_read(l))
            .collect()
    }

    pub fn kpsa_review_comments(&self) -> Vec<&Value> {
        self.review_comments
            .iter()
            .filter(|c| c["user"]["id"] == VIEWER_ID && c["in_reply_to_id"].is_null())
            .collect()
    }
}

fn is_graphql_read(l: &Logged) -> bool {
    l.path.ends_with("graphql")
        && !l.body["query"]
            .as_str()
            .unwrap_or("")
            .trim_start()
            .starts_with("mutation")
}

/// The OpenAPI operations, by method and path template.
struct Spec {
    ops: Vec<(String, String, Vec<String>, Option<jsonschema::Validator>)>,
}

fn nullable_to_types(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = m.get("type").cloned() {
                    m.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(e)) = m.get_mut("enum") {
                        e.push(Value::Null);
                    }
                }
            }
            for x in m.values_mut() {
                nullable_to_types(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_types),
        _ => {}
    }
}

impl Spec {
    fn load() -> Spec {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut ops = Vec::new();
        for file in [
            format!("{root}/tests/fixtures/github-pulls-openapi-subset.json"),
            format!("{root}/tests/fixtures/github-openapi-extra.json"),
        ] {
            let mut doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            nullable_to_types(&mut doc);
            let paths = doc["paths"].as_object().unwrap().clone();
            for (path, item) in paths {
                for (method, op) in item.as_object().unwrap() {
                    if method == "parameters" {
                        continue;
                    }
                    let mut params = Vec::new();
                    for p in op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(item["parameters"].as_array().into_iter().flatten())
                    {
                        let p = match p["$ref"].as_str() {
                            Some(r) => doc.pointer(&r[1..]).unwrap().clone(),
                            None => p.clone(),
                        };
                        if p["in"] == "query" {
                            params.push(p["name"].as_str().unwrap().to_string());
                        }
                    }
                    let validator = op
                        .pointer("/requestBody/content/application~1json/schema")
                        .map(|schema| {
                            // The operation's schema, with the components its
                            // `#/components/…` references resolve against.
                            let mut schema = schema.clone();
                            schema["components"] = doc["components"].clone();
                            jsonschema::validator_for(&schema).unwrap()
                        });
                    ops.push((method.to_uppercase(), path.clone(), params, validator));
                }
            }
        }
        Spec { ops }
    }

    fn find(
        &self,
        method: &str,
        path: &str,
    ) -> Option<&(String, String, Vec<String>, Option<jsonschema::Validator>)> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.ops.iter().find(|(m, p, _, _)| {
            let t: Vec<&str> = p.trim_matches('/').split('/').collect();
            m == method
                && t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(a, b)| a.starts_with('{') || a == b)
        })
    }
}

pub struct FakeGitHub {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
    pub prefix: String,
    _rt: tokio::runtime::Runtime,
}

struct Handler {
    state: Arc<Mutex<State>>,
    spec: Spec,
    prefix: String,
    base: String,
}

impl FakeGitHub {
    /// `enterprise`: REST under `/api/v3` and GraphQL at `/api/graphql`,
    /// as GitHub Enterprise Server serves them.
    pub fn start(enterprise: bool, head_sha: &str, files: Vec<File>) -> FakeGitHub {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let prefix = if enterprise { "/api/v3" } else { "" }.to_string();
        let state = Arc::new(Mutex::new(State {
            owner: "octo".into(),
            repo: "platform".into(),
            number: 7,
            head_sha: head_sha.into(),
            heads: vec![head_sha.into()],
            labels: Vec::new(),
            files,
            push_before_review: None,
            events: Vec::new(),
            permissions: BTreeMap::new(),
            review_comments: Vec::new(),
            threads: BTreeMap::new(),
            reviews: Vec::new(),
            issue_comments: Vec::new(),
            statuses: Vec::new(),
            sarifs: Vec::new(),
            fork: false,
            faults: VecDeque::new(),
            page_cap: 100,
            log: Vec::new(),
            violations: Vec::new(),
            assets: BTreeMap::new(),
            next_id: 1000,
        }));
        let handler = Handler {
            state: state.clone(),
            spec: Spec::load(),
            prefix: prefix.clone(),
            base: server.uri(),
        };
        rt.block_on(
            Mock::given(wiremock::matchers::any())
                .respond_with(handler)
                .mount(&server),
        );
        FakeGitHub {
            server,
            state,
            prefix,
            _rt: rt,
        }
    }

    pub fn api_url(&self) -> String {
        format!("{}{}", self.server.uri(), self.prefix)
    }

    pub fn graphql_url(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}/graphql", self.server.uri())
        } else {
            format!("{}/api/graphql", self.server.uri())
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(
        json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
    )
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.state.lock().unwrap();
        let method = req.method.as_str().to_string();
        let full_path = req.url.path().to_string();
        if let Some(bytes) = st.assets.get(&full_path) {
            return ResponseTemplate::new(200).set_body_bytes(bytes.clone());
        }
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    st.violations
                        .push(format!("{method} {full_path}: body is not JSON: {e}"));
                    return error(400, "Problems parsing JSON");
                }
            }
        };
        st.log.push(Logged {
            method: method.clone(),
            path: full_path.clone(),
            body: body.clone(),
        });
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            st.violations
                .push(format!("{method} {full_path}: Authorization {auth:?}"));
            return error(401, "Bad credentials");
        }
        let graphql_path = if self.prefix.is_empty() {
            "/graphql"
        } else {
            "/api/graphql"
        };
        if full_path == graphql_path && method == "POST" {
            return graphql(&mut st, &body);
        }
        let Some(path) = full_path
            .strip_prefix(&self.prefix)
            .filter(|p| p.starts_with('/'))
        else {
            st.violations.push(format!(
                "{method} {full_path}: outside the API base {:?}",
                self.prefix
            ));
            return error(404, "Not Found");
        };
        if req.headers.get("accept").and_then(|v| v.to_str().ok())
            != Some("application/vnd.github+json")
        {
            st.violations.push(format!(
                "{method} {path}: Accept is not application/vnd.github+json"
            ));
        }
        let Some((_, _, params, validator)) = self.spec.find(&method, path) else {
            st.violations.push(format!(
                "{method} {path}: no such operation in GitHub's OpenAPI"
            ));
            return error(404, "Not Found");
        };
        let query: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for k in query.keys() {
            if !params.contains(k) {
                st.violations
                    .push(format!("{method} {path}: undeclared query parameter {k}"));
            }
        }
        if let Some(v) = validator {
            let errs: Vec<String> = v
                .iter_errors(&body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            if !errs.is_empty() {
                st.violations
                    .push(format!("{method} {path}: body: {}", errs.join("; ")));
                return error(422, "Invalid request.");
            }
        }
        // Faults.
        let fault_at = st
            .faults
            .iter()
            .position(|f| f.method == method && path.contains(f.path));
        let fault = fault_at.and_then(|i| st.faults.remove(i));
        if let Some(f) = &fault {
            if !f.after_store {
                let mut r = error(f.status, f.message);
                if let Some(s) = f.retry_after {
                    r = r.insert_header("retry-after", s.to_string().as_str());
                }
                return r;
            }
        }
        if st.fork && method != "GET" {
            return error(403, "Resource not accessible by integration");
        }
        let answer = route(
            &mut st,
            &method,
            path,
            &query,
            &body,
            &format!("{}{}", self.base, self.prefix),
        );
        match fault {
            Some(f) => {
                let mut r = error(f.status, f.message);
                if let Some(s) = f.retry_after {
                    r = r.insert_header("retry-after", s.to_string().as_str());
                }
                r
            }
            None => answer,
        }
    }
}

/// A page of `items`, with GitHub's `Link` header.
fn page(
    st: &State,
    items: Vec<Value>,
    path: &str,
    query: &BTreeMap<String, String>,
    base: &str,
) -> ResponseTemplate {
    let per: usize = query
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
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
    let mut r = ResponseTemplate::new(200).set_body_json(Value::Array(chunk));
    if n * per < items.len() {
        let mut q: Vec<String> = query
            .iter()
            .filter(|(k, _)| *k != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        q.push(format!("page={}", n + 1));
        let last = items.len().div_ceil(per);
        let link = format!(
            "<{base}{path}?{}>; rel=\"next\", <{base}{path}?page={last}>; rel=\"last\"",
            q.join("&")
        );
        r = r.insert_header("link", link.as_str());
    }
    r
}

fn route(
    st: &mut State,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
    base: &str,
) -> ResponseTemplate {
    let repo = format!("/repos/{}/{}", st.owner, st.repo);
    let Some(rest) = path.strip_prefix(&repo) else {
        return error(404, "Not Found");
    };
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let me = json!({"login": VIEWER_LOGIN, "id": VIEWER_ID, "type": "Bot"});
    let number = st.number.to_string();
    match (method, segs.as_slice()) {
        ("GET", ["pulls"]) => {
            let pr = pull(st);
            page(st, vec![pr], path, query, base)
        }
        ("GET", ["pulls", n]) if *n == number => ResponseTemplate::new(200).set_body_json(pull(st)),
        ("GET", ["pulls", n, "files"]) if *n == number => {
            let items = st
                .files
                .iter()
                .map(|f| {
                    let mut v = json!({"sha": "0", "filename": f.filename, "status": "modified", "additions": 1, "deletions": 0, "changes": 1});
                    if let Some(p) = &f.patch {
                        v["patch"] = json!(p);
                    }
                    v
                })
                .collect();
            page(st, items, path, query, base)
        }
        ("GET", ["pulls", n, "comments"]) if *n == number => {
            let items = st.review_comments.clone();
            page(st, items, path, query, base)
        }
        ("POST", ["pulls", n, "reviews"]) if *n == number => {
            if let Some((head, files)) = st.push_before_review.take() {
                st.push(&head, files);
            }
            if !body["commit_id"]
                .as_str()
                .is_some_and(|c| st.heads.iter().any(|h| h == c))
            {
                return error(
                    422,
                    "Unprocessable Entity: commit_id is not a commit of the pull request",
                );
            }
            let ranges = st.ranges();
            let comments = body["comments"].as_array().cloned().unwrap_or_default();
            for c in &comments {
                let path = c["path"].as_str().unwrap_or("");
                let line = c["line"].as_u64().unwrap_or(0) as u32;
                let side_ok = matches!(c["side"].as_str(), Some("RIGHT") | Some("LEFT"));
                let text_ok = c["body"]
                    .as_str()
                    .is_some_and(|b| b.chars().count() <= 65_536);
                let in_hunk = ranges
                    .get(path)
                    .is_some_and(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&line)));
                if !(side_ok && text_ok && in_hunk) {
                    return ResponseTemplate::new(422).set_body_json(json!({
                        "message": "Unprocessable Entity",
                        "errors": ["Line could not be resolved"],
                        "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"
                    }));
                }
            }
            let review_id = st.id();
            for c in comments {
                let id = st.id();
                st.review_comments.push(json!({
                    "id": id, "pull_request_review_id": review_id, "user": me, "body": c["body"],
                    "path": c["path"], "line": c["line"], "side": c["side"], "in_reply_to_id": null,
                    "commit_id": body["commit_id"]
                }));
                st.threads.insert(id, (false, false));
            }
            let review = json!({"id": review_id, "user": me, "body": body["body"], "state": "COMMENTED", "commit_id": body["commit_id"]});
            st.reviews.push(review.clone());
            ResponseTemplate::new(200).set_body_json(review)
        }
        ("POST", ["pulls", n, "comments", parent, "replies"]) if *n == number => {
            let parent: u64 = parent.parse().unwrap_or(0);
            let Some(p) = st
                .review_comments
                .iter()
                .find(|c| c["id"] == parent)
                .cloned()
            else {
                return error(404, "Not Found");
            };
            let id = st.id();
            let c = json!({"id": id, "user": me, "body": body["body"], "path": p["path"], "line": p["line"], "in_reply_to_id": parent});
            st.review_comments.push(c.clone());
            ResponseTemplate::new(201).set_body_json(c)
        }
        ("GET", ["issues", n, "comments"]) if *n == number => {
            let items = st.issue_comments.clone();
            page(st, items, path, query, base)
        }
        ("POST", ["issues", n, "comments"]) if *n == number => {
            let id = st.id();
            let c = json!({"id": id, "user": me, "body": body["body"]});
            st.issue_comments.push(c.clone());
            ResponseTemplate::new(201).set_body_json(c)
        }
        ("PATCH", ["issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            match st.issue_comments.iter_mut().find(|c| c["id"] == id) {
                Some(c) if c["user"]["id"] == VIEWER_ID => {
                    c["body"] = body["body"].clone();
                    let c = c.clone();
                    ResponseTemplate::new(200).set_body_json(c)
                }
                Some(_) => {
                    st.violations
                        .push(format!("PATCH of comment {id}, which kpsa did not write"));
                    error(403, "Forbidden")
                }
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["issues", n, "events"]) if *n == number => {
            let items = st.events.clone();
            page(st, items, path, query, base)
        }
        ("GET", ["collaborators", user, "permission"]) => {
            let p = st
                .permissions
                .get(*user)
                .cloned()
                .unwrap_or_else(|| "read".into());
            ResponseTemplate::new(200)
                .set_body_json(json!({"permission": p, "role_name": p, "user": {"login": user}}))
        }
        ("POST", ["statuses", sha]) => {
            if *sha != st.head_sha {
                st.violations
                    .push(format!("status on {sha}, not the head {}", st.head_sha));
            }
            st.statuses.push(body.clone());
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1, "state": body["state"], "context": body["context"]}))
        }
        ("POST", ["code-scanning", "sarifs"]) => {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(body["sarif"].as_str().unwrap_or(""))
                .unwrap_or_default();
            let mut text = String::new();
            if flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .is_err()
            {
                return error(400, "sarif is not gzip");
            }
            let sarif: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            st.sarifs.push(
                json!({"commit_sha": body["commit_sha"], "ref": body["ref"], "sarif": sarif}),
            );
            ResponseTemplate::new(202).set_body_json(json!({"id": "47177e22-5596-11eb-80a1-c1e54ef945c6", "url": "https://example/sarifs/1"}))
        }
        _ => {
            st.violations
                .push(format!("{method} {path}: not handled by the fake"));
            error(404, "Not Found")
        }
    }
}

fn pull(st: &State) -> Value {
    json!({
        "number": st.number, "state": "open",
        "head": {"sha": st.head_sha, "ref": "feature"},
        "base": {"sha": "0000000000000000000000000000000000000000", "ref": "main"},
        "labels": st.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>()
    })
}

fn graphql(st: &mut State, body: &Value) -> ResponseTemplate {
    let q = body["query"].as_str().unwrap_or("");
    let vars = &body["variables"];
    if st.fork && q.trim_start().starts_with("mutation") {
        return ResponseTemplate::new(200).set_body_json(json!({"errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}]}));
    }
    let data = if q.contains("viewer") {
        json!({"viewer": {"login": VIEWER_LOGIN, "databaseId": VIEWER_ID}})
    } else if q.trim_start().starts_with("mutation") && q.contains("resolveReviewThread") {
        let id = vars["id"].as_str().unwrap_or("");
        let Some(first) = id.strip_prefix("PRRT_").and_then(|i| i.parse::<u64>().ok()) else {
            return ResponseTemplate::new(200).set_body_json(json!({"errors": [{"message": format!("Could not resolve to a node with the global id of '{id}'")}]}));
        };
        match st.threads.get_mut(&first) {
            Some(t) => t.0 = true,
            None => {
                return ResponseTemplate::new(200)
                    .set_body_json(json!({"errors": [{"message": "not found"}]}));
            }
        }
        json!({"resolveReviewThread": {"thread": {"id": id, "isResolved": true}}})
    } else if q.contains("reviewThreads") {
        if vars["owner"] != json!(st.owner)
            || vars["name"] != json!(st.repo)
            || vars["number"] != json!(st.number)
        {
            st.violations
                .push(format!("graphql reviewThreads for {vars}"));
        }
        let all: Vec<Value> = st
            .threads
            .iter()
            .map(|(first, (resolved, outdated))| {
                json!({"id": format!("PRRT_{first}"), "isResolved": resolved, "isOutdated": outdated,
                       "comments": {"nodes": [{"databaseId": first}]}})
            })
            .collect();
        let per = st.page_cap.min(100);
        let start: usize = vars["cursor"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let nodes: Vec<Value> = all.iter().skip(start).take(per).cloned().collect();
        let more = start + per < all.len();
        json!({"repository": {"pullRequest": {"reviewThreads": {
            "pageInfo": {"hasNextPage": more, "endCursor": if more { json!((start + per).to_string()) } else { Value::Null }},
            "nodes": nodes}}}})
    } else {
        st.violations
            .push(format!("unknown GraphQL operation: {q}"));
        return ResponseTemplate::new(200)
            .set_body_json(json!({"errors": [{"message": "unknown"}]}));
    };
    ResponseTemplate::new(200).set_body_json(json!({"data": data}))
}
