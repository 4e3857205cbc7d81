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

use crate::publish::http::{
    self as shared, Answer, MAX_PAGES, Retry, Verdict, error_chain, header_u64, parse,
    print_planned,
};
pub use crate::publish::http::{ApiError, Calls};

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

impl Api {
    pub fn new(
        api_url: &str,
        graphql_url: &str,
        token: &str,
        dry_run: bool,
    ) -> Result<Self, String> {
        let (rest_origin, rest_path) = shared::origin_and_path(api_url, "--api-url")?;
        let (gql_origin, graphql_path) = shared::origin_and_path(graphql_url, "--graphql-url")?;
        let build = |base: &str| -> Result<octocrab::Octocrab, String> {
            octocrab::Octocrab::builder()
                .base_uri(base)
                .map_err(|e| format!("API URL {base:?}: {e}"))?
                .personal_token(token.to_string())
                .add_header(
                    http::header::ACCEPT,
                    "application/vnd.github+json".to_string(),
                )
                .build_with_reqwest(shared::client(HeaderMap::new())?)
                .map_err(|e| format!("cannot build the GitHub client: {e}"))
        };
        let base = format!("{rest_origin}{rest_path}");
        let rt = shared::runtime()?;
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

    /// Send with retries (`crate::publish::http::Retry`). `landed` is
    /// asked, after an ambiguous failure of a write, whether it took effect.
    fn request(
        &self,
        graphql: bool,
        method: Method,
        path: &str,
        body: Option<&Value>,
        landed: &dyn Fn(&Api) -> Result<bool, ApiError>,
    ) -> Result<Option<Answer>, ApiError> {
        let what = format!("{method} {}", if graphql { "graphql" } else { path });
        let retry = Retry {
            what: what.clone(),
            write: method != Method::GET,
            backoff: self.backoff,
            calls: &self.calls,
            server: "GitHub",
        };
        let judge = |a: &Answer| {
            let message = message_of(&a.body);
            if a.status == StatusCode::FORBIDDEN
                && message.contains("Resource not accessible by integration")
            {
                return Verdict::Fail(ApiError::NotAllowed(what.clone()));
            }
            let limited = a.status == StatusCode::TOO_MANY_REQUESTS
                || (a.status == StatusCode::FORBIDDEN
                    && (message.to_lowercase().contains("rate limit")
                        || a.headers.contains_key(http::header::RETRY_AFTER)
                        || header_u64(&a.headers, "x-ratelimit-remaining") == Some(0)));
            if limited {
                Verdict::Limited
            } else if a.status.is_server_error() {
                Verdict::Ambiguous
            } else {
                Verdict::Fail(ApiError::Status {
                    status: a.status.as_u16(),
                    message,
                    what: what.clone(),
                })
            }
        };
        retry.run(
            &|| self.send(graphql, &method, path, body),
            &judge,
            &message_of,
            &|| landed(self),
        )
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
            print_planned(&method, path, body);
            return Ok(None);
        }
        shared::written(self.request(false, method, path, Some(body), landed)?, path)
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
            print_planned(&Method::POST, "graphql", &body);
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
}
