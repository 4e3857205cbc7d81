//! The GitHub API as `kpsa publish github` uses it: octocrab on a reqwest
//! client with rustls, with no retry of its own (octocrab's default retries
//! every method on a 5xx, and a 502 returned after GitHub stored a review
//! would post it twice). kpsa retries itself: a request GitHub refused
//! before doing anything (429, a secondary rate limit) is sent again after
//! `Retry-After` or `x-ratelimit-reset`; a write that failed ambiguously
//! (5xx, a broken connection) is sent again only after asking GitHub
//! whether the first attempt landed.
//!
//! Paths are relative to the API base (`/repos/…`); pagination follows
//! `Link: rel="next"` only on the API's own origin and base path, so a
//! response cannot send the token elsewhere. `--dry-run` performs every
//! read and prints each write as one JSON line instead of sending it.

use std::cell::Cell;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

/// Attempts of one request (the first and its retries).
const ATTEMPTS: u32 = 4;
/// The longest kpsa waits for a rate limit before giving up.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Pages followed for one list (100 items each).
const MAX_PAGES: usize = 300;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// `403 Resource not accessible by integration`: the token may not
    /// write here (a fork's pull request, a read-only token).
    NotAllowed(String),
    /// GitHub answered with this status (after retries where they apply).
    Status {
        status: u16,
        message: String,
        what: String,
    },
    /// No answer: connection, timeout, an unreadable response.
    Transport(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::NotAllowed(w) => write!(f, "{w}: 403 Resource not accessible by integration"),
            ApiError::Status {
                status,
                message,
                what,
            } => write!(f, "{what}: HTTP {status}: {message}"),
            ApiError::Transport(m) => f.write_str(m),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Requests made, for the summary line and the API-call benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct Calls {
    pub reads: usize,
    pub writes: usize,
    pub retries: usize,
}

/// One answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// A GitHub API endpoint pair (REST and GraphQL) with a token.
pub struct Api {
    rest: octocrab::Octocrab,
    graphql: octocrab::Octocrab,
    graphql_path: String,
    /// The REST base, to check pagination links against.
    base: String,
    rt: tokio::runtime::Runtime,
    dry_run: bool,
    calls: Cell<Calls>,
    /// Base wait of the backoff after a 5xx without `Retry-After`.
    backoff: Duration,
}

/// Split `url` into its origin (`scheme://host[:port]`) and path, refusing
/// anything but https (plain http only to a loopback address, for tests
/// and local proxies): the token travels with every request.
pub fn origin_and_path(url: &str, what: &str) -> Result<(String, String), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{what} {url:?} is not a URL: {e}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{what} {url:?} has no host"))?;
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if loopback => {}
        _ => {
            return Err(format!(
                "{what} {url:?} must be https (http only to a loopback address): the token is sent with every request"
            ));
        }
    }
    let origin = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or(host, |a| a.as_str())
    );
    let path = uri.path().trim_end_matches('/').to_string();
    Ok((origin, path))
}

impl Api {
    pub fn new(
        api_url: &str,
        graphql_url: &str,
        token: &str,
        dry_run: bool,
    ) -> Result<Self, String> {
        // One crypto provider for rustls; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (rest_origin, rest_path) = origin_and_path(api_url, "--api-url")?;
        let (gql_origin, graphql_path) = origin_and_path(graphql_url, "--graphql-url")?;
        let build = |base: &str| -> Result<octocrab::Octocrab, String> {
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(15))
                .timeout(Duration::from_secs(90))
                .user_agent(concat!("kpsa/", env!("CARGO_PKG_VERSION")))
                // GitHub does not redirect the API calls kpsa makes; a
                // redirect would carry the token's request elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
            octocrab::Octocrab::builder()
                .base_uri(base)
                .map_err(|e| format!("API URL {base:?}: {e}"))?
                .personal_token(token.to_string())
                .add_header(
                    http::header::ACCEPT,
                    "application/vnd.github+json".to_string(),
                )
                .build_with_reqwest(client)
                .map_err(|e| format!("cannot build the GitHub client: {e}"))
        };
        let base = format!("{rest_origin}{rest_path}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        // octocrab's service starts its worker on the runtime it is built in.
        let (rest, graphql) = {
            let _in = rt.enter();
            (build(&base)?, build(&gql_origin)?)
        };
        Ok(Api {
            rest,
            graphql,
            graphql_path: if graphql_path.is_empty() {
                "/".into()
            } else {
                graphql_path
            },
            base,
            rt,
            dry_run,
            calls: Cell::new(Calls::default()),
            backoff: Duration::from_secs(1),
        })
    }

    pub fn calls(&self) -> Calls {
        self.calls.get()
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn count(&self, f: impl FnOnce(&mut Calls)) {
        let mut c = self.calls.get();
        f(&mut c);
        self.calls.set(c);
    }

    /// Send one request once.
    fn send(
        &self,
        graphql: bool,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let client = if graphql { &self.graphql } else { &self.rest };
        self.rt.block_on(async {
            let resp = match *method {
                Method::GET => client._get(path).await,
                Method::POST => client._post(path, body).await,
                Method::PATCH => client._patch(path, body).await,
                Method::PUT => client._put(path, body).await,
                _ => unreachable!("kpsa sends GET, POST, PATCH and PUT only"),
            }
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = client
                .body_to_string(resp)
                .await
                .map_err(|e| format!("{method} {path}: reading the answer: {}", error_chain(&e)))?;
            Ok(Answer {
                status,
                headers,
                body,
            })
        })
    }

    /// Send with retries. `landed` is asked, after an ambiguous failure of
    /// a write, whether it took effect; then it is not sent again.
    fn request(
        &self,
        graphql: bool,
        method: Method,
        path: &str,
        body: Option<&Value>,
        landed: &dyn Fn(&Api) -> Result<bool, ApiError>,
    ) -> Result<Option<Answer>, ApiError> {
        let what = format!("{method} {}", if graphql { "graphql" } else { path });
        let write = method != Method::GET;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                self.count(|c| c.retries += 1);
            }
            self.count(|c| if write { c.writes += 1 } else { c.reads += 1 });
            let answer = match self.send(graphql, &method, path, body) {
                Ok(a) => a,
                Err(e) => {
                    // No answer: the write may have landed.
                    last = e;
                    std::thread::sleep(self.backoff * 2u32.pow(attempt));
                    if write && landed(self)? {
                        return Ok(None);
                    }
                    continue;
                }
            };
            let status = answer.status;
            if status.is_success() {
                return Ok(Some(answer));
            }
            let message = message_of(&answer.body);
            if status == StatusCode::FORBIDDEN
                && message.contains("Resource not accessible by integration")
            {
                return Err(ApiError::NotAllowed(what));
            }
            let limited = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN
                    && (message.to_lowercase().contains("rate limit")
                        || answer.headers.contains_key(http::header::RETRY_AFTER)
                        || header_u64(&answer.headers, "x-ratelimit-remaining") == Some(0)));
            let ambiguous = status.is_server_error();
            if !(limited || ambiguous) || attempt + 1 == ATTEMPTS {
                return Err(ApiError::Status {
                    status: status.as_u16(),
                    message,
                    what,
                });
            }
            let wait = wait_of(&answer.headers).unwrap_or(self.backoff * 2u32.pow(attempt));
            if wait > MAX_WAIT {
                return Err(ApiError::Status {
                    status: status.as_u16(),
                    message: format!(
                        "{message} (GitHub asks to wait {} s; kpsa waits at most {} s)",
                        wait.as_secs(),
                        MAX_WAIT.as_secs()
                    ),
                    what,
                });
            }
            last = format!("HTTP {}: {message}", status.as_u16());
            std::thread::sleep(wait);
            if ambiguous && write && landed(self)? {
                return Ok(None);
            }
        }
        Err(ApiError::Transport(format!(
            "{what}: no answer after {ATTEMPTS} attempts: {last}"
        )))
    }

    /// GET one JSON document.
    pub fn get(&self, path: &str) -> Result<Value, ApiError> {
        let a = self
            .request(false, Method::GET, path, None, &|_| Ok(false))?
            .expect("a read is never skipped");
        parse(&a.body, path)
    }

    /// GET every page of a list (`per_page=100`, `Link: rel="next"`).
    pub fn get_all(&self, path: &str) -> Result<Vec<Value>, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}per_page=100"));
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(ApiError::Transport(format!(
                    "GET {path}: more than {MAX_PAGES} pages; kpsa stops reading"
                )));
            }
            let a = self
                .request(false, Method::GET, &p, None, &|_| Ok(false))?
                .expect("a read is never skipped");
            match parse(&a.body, &p)? {
                Value::Array(items) => out.extend(items),
                _ => {
                    return Err(ApiError::Transport(format!(
                        "GET {p}: the answer is not a list"
                    )));
                }
            }
            next = next_link(&a.headers, &self.base)
                .map_err(|e| ApiError::Transport(format!("GET {p}: {e}")))?;
        }
        Ok(out)
    }

    /// A write. In a dry run it is printed, not sent, and `None` returned;
    /// also `None` when an ambiguous failure turned out to have landed.
    pub fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        landed: &dyn Fn(&Api) -> Result<bool, ApiError>,
    ) -> Result<Option<Value>, ApiError> {
        if self.dry_run {
            print_planned(method.as_str(), path, body);
            return Ok(None);
        }
        match self.request(false, method, path, Some(body), landed)? {
            Some(a) if a.body.trim().is_empty() => Ok(Some(Value::Null)),
            Some(a) => parse(&a.body, path).map(Some),
            None => Ok(None),
        }
    }

    /// A GraphQL query (a read: also sent in a dry run).
    pub fn query(&self, query: &str, variables: Value) -> Result<Value, ApiError> {
        let body = serde_json::json!({"query": query, "variables": variables});
        // A GraphQL query is a POST but reads only: retrying it is safe.
        let a = self
            .request(true, Method::POST, &self.graphql_path, Some(&body), &|_| {
                Ok(false)
            })?
            .expect("a query is never skipped");
        graphql_data(&a.body)
    }

    /// A GraphQL mutation (printed, not sent, in a dry run).
    pub fn mutate(&self, query: &str, variables: Value) -> Result<Option<Value>, ApiError> {
        let body = serde_json::json!({"query": query, "variables": variables});
        if self.dry_run {
            print_planned("POST", "graphql", &body);
            return Ok(None);
        }
        match self.request(true, Method::POST, &self.graphql_path, Some(&body), &|_| {
            Ok(false)
        })? {
            Some(a) => graphql_data(&a.body).map(Some),
            None => Ok(None),
        }
    }
}

/// One planned write of a dry run, as a JSON line on standard output.
fn print_planned(method: &str, path: &str, body: &Value) {
    println!(
        "{}",
        serde_json::json!({"method": method, "path": path, "body": body})
    );
}

fn parse(body: &str, what: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body)
        .map_err(|e| ApiError::Transport(format!("{what}: the answer is not JSON: {e}")))
}

/// The `data` of a GraphQL answer; its `errors` are a failure.
fn graphql_data(body: &str) -> Result<Value, ApiError> {
    let v = parse(body, "graphql")?;
    if let Some(errors) = v
        .get("errors")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
    {
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .collect();
        return Err(ApiError::Status {
            status: 200,
            message: messages.join("; "),
            what: "POST graphql".into(),
        });
    }
    Ok(v.get("data").cloned().unwrap_or(Value::Null))
}

/// GitHub's `message` of an error answer, cut to one line.
fn message_of(body: &str) -> String {
    let m = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let base = v.get("message")?.as_str()?.to_string();
            let details: Vec<String> = v
                .get("errors")
                .and_then(Value::as_array)
                .map(|es| {
                    es.iter()
                        .map(|e| {
                            e.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| e.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(if details.is_empty() {
                base
            } else {
                format!("{base} ({})", details.join("; "))
            })
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    m.replace(['\n', '\r'], " ")
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long GitHub asks to wait: `Retry-After` seconds, else until
/// `x-ratelimit-reset` when no request is left.
fn wait_of(h: &HeaderMap) -> Option<Duration> {
    if let Some(s) = header_u64(h, "retry-after") {
        return Some(Duration::from_secs(s));
    }
    if header_u64(h, "x-ratelimit-remaining") == Some(0) {
        let reset = header_u64(h, "x-ratelimit-reset")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    None
}

/// The `rel="next"` link of a page, as a path relative to `base`; a link
/// elsewhere is refused.
fn next_link(h: &HeaderMap, base: &str) -> Result<Option<String>, String> {
    let Some(link) = h.get(http::header::LINK).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    for part in link.split(',') {
        let mut pieces = part.split(';');
        let url = pieces.next().unwrap_or("").trim();
        if !pieces.any(|p| p.trim() == "rel=\"next\"") {
            continue;
        }
        let url = url.trim_start_matches('<').trim_end_matches('>');
        return match url.strip_prefix(base) {
            Some(rest) if rest.starts_with('/') => Ok(Some(rest.to_string())),
            _ => Err(format!(
                "the next page {url:?} is not under the API URL {base:?}; kpsa does not follow it"
            )),
        };
    }
    Ok(None)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_stay_on_the_api() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            "<https://ghe.example/api/v3/repos/o/r/pulls/1/files?per_page=100&page=2>; rel=\"next\", <https://ghe.example/api/v3/x?page=9>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h, "https://ghe.example/api/v3")
                .unwrap()
                .as_deref(),
            Some("/repos/o/r/pulls/1/files?per_page=100&page=2")
        );
        assert!(next_link(&h, "https://api.github.com").is_err());
        assert!(
            next_link(&h, "https://ghe.example/api/v").is_err(),
            "a prefix of a path segment is not the base"
        );
        assert_eq!(next_link(&HeaderMap::new(), "https://x").unwrap(), None);
    }

    #[test]
    fn the_token_goes_over_https_only() {
        assert!(origin_and_path("https://api.github.com", "u").is_ok());
        assert_eq!(
            origin_and_path("http://127.0.0.1:8080/api/v3/", "u").unwrap(),
            ("http://127.0.0.1:8080".to_string(), "/api/v3".to_string())
        );
        assert!(origin_and_path("http://ghe.example/api/v3", "u").is_err());
        assert!(origin_and_path("ftp://ghe.example", "u").is_err());
    }

    #[test]
    fn waits_as_github_asks() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(wait_of(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "3".parse().unwrap());
        h.insert("x-ratelimit-reset", "1".parse().unwrap());
        assert_eq!(wait_of(&h), None, "requests are left");
    }
}
