//! The GitLab REST API (v4) as `kpsa publish gitlab` uses it: reqwest with
//! rustls, the token in `PRIVATE-TOKEN` (marked sensitive, never logged),
//! no redirects, and the retry policy of `crate::publish::http` (429 after
//! `Retry-After` or `RateLimit-Reset`; a 5xx on a write re-sent only after
//! asking GitLab whether it landed).
//!
//! Lists are read with `per_page=100` and followed by `x-next-page`, a page
//! number: the next request is built here, on the same path, so an answer
//! cannot send the token elsewhere. `--dry-run` performs every read and
//! prints each write as one JSON line instead of sending it.

use std::cell::Cell;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

use crate::publish::http::{
    self as shared, Answer, ApiError, Calls, MAX_PAGES, Retry, Verdict, error_chain, parse,
    print_planned,
};

pub struct Api {
    client: reqwest::Client,
    /// `scheme://host[:port]/api/v4`.
    base: String,
    rt: tokio::runtime::Runtime,
    dry_run: bool,
    calls: Cell<Calls>,
    backoff: Duration,
}

impl Api {
    pub fn new(api_url: &str, token: &str, dry_run: bool) -> Result<Self, String> {
        let (origin, path) = shared::origin_and_path(api_url, "--api-url")?;
        let mut headers = HeaderMap::new();
        let mut secret = HeaderValue::from_str(token)
            .map_err(|_| "the token has characters a header cannot hold".to_string())?;
        secret.set_sensitive(true);
        headers.insert("private-token", secret);
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        Ok(Api {
            client: shared::client(headers)?,
            base: format!("{origin}{path}"),
            rt: shared::runtime()?,
            dry_run,
            calls: Cell::new(Calls::default()),
            backoff: Duration::from_secs(1),
        })
    }

    pub fn calls(&self) -> Calls {
        self.calls.get()
    }

    fn send(&self, method: &Method, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method.clone(), format!("{}{path}", self.base));
            if let Some(b) = body.filter(|b| !b.is_null()) {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp
                .text()
                .await
                .map_err(|e| format!("{method} {path}: reading the answer: {}", error_chain(&e)))?;
            Ok(Answer {
                status,
                headers,
                body,
            })
        })
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        landed: &dyn Fn(&Api) -> Result<bool, ApiError>,
    ) -> Result<Option<Answer>, ApiError> {
        let what = format!("{method} {path}");
        let retry = Retry {
            what: what.clone(),
            write: method != Method::GET,
            backoff: self.backoff,
            calls: &self.calls,
            server: "GitLab",
        };
        let judge = |a: &Answer| {
            if a.status == StatusCode::TOO_MANY_REQUESTS {
                Verdict::Limited
            } else if a.status.is_server_error() {
                Verdict::Ambiguous
            } else {
                Verdict::Fail(ApiError::Status {
                    status: a.status.as_u16(),
                    message: message_of(&a.body),
                    what: what.clone(),
                })
            }
        };
        retry.run(
            &|| self.send(&method, path, body),
            &judge,
            &message_of,
            &|| landed(self),
        )
    }

    /// GET one JSON document.
    pub fn get(&self, path: &str) -> Result<Value, ApiError> {
        let a = self
            .request(Method::GET, path, None, &|_| Ok(false))?
            .expect("a read is never skipped");
        parse(&a.body, path)
    }

    /// GET every page of a list (`per_page=100`, `x-next-page`).
    pub fn get_all(&self, path: &str) -> Result<Vec<Value>, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut page = 1u64;
        for _ in 0..MAX_PAGES {
            let p = format!("{path}{sep}per_page=100&page={page}");
            let a = self
                .request(Method::GET, &p, None, &|_| Ok(false))?
                .expect("a read is never skipped");
            match parse(&a.body, &p)? {
                Value::Array(items) => out.extend(items),
                _ => {
                    return Err(ApiError::Transport(format!(
                        "GET {p}: the answer is not a list"
                    )));
                }
            }
            let next = a
                .headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .unwrap_or("");
            if next.is_empty() {
                return Ok(out);
            }
            match next.parse::<u64>() {
                Ok(n) if n > page => page = n,
                _ => {
                    return Err(ApiError::Transport(format!(
                        "GET {p}: x-next-page {next:?} is not a later page"
                    )));
                }
            }
        }
        Err(ApiError::Transport(format!(
            "GET {path}: more than {MAX_PAGES} pages; kpsa stops reading"
        )))
    }

    /// A write (`Value::Null`: no body). In a dry run it is printed, not
    /// sent, and `None` returned; also `None` when an ambiguous failure
    /// turned out to have landed.
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
        shared::written(self.request(method, path, Some(body), landed)?, path)
    }
}

/// GitLab's error text: `message` (a string, or an object of field
/// errors), else `error`, else the start of the body; one line.
fn message_of(body: &str) -> String {
    let m = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| match v.get("message").or_else(|| v.get("error"))? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
        .unwrap_or_else(|| body.to_string());
    shared::one_line(&m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_as_gitlab_writes_them() {
        assert_eq!(
            message_of(r#"{"message":"401 Unauthorized"}"#),
            "401 Unauthorized"
        );
        assert_eq!(
            message_of(r#"{"message":{"line_code":["can't be blank"]}}"#),
            r#"{"line_code":["can't be blank"]}"#
        );
        assert_eq!(
            message_of(r#"{"error":"insufficient_scope"}"#),
            "insufficient_scope"
        );
        assert_eq!(message_of("Retry later\n"), "Retry later ");
    }
}
