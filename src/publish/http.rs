//! What the GitHub and GitLab transports share: the URL rule (the token
//! goes over https only), the retry policy, request counts, and the
//! dry-run print.
//!
//! The retry policy: a request the server refused before doing anything
//! (a rate limit) is sent again after the wait the server asks for; a
//! write that failed ambiguously (5xx, no answer) is sent again only after
//! `landed` says the first attempt did not take effect — so a 502 answered
//! after the server stored a comment never posts it twice.

use std::cell::Cell;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

/// Attempts of one request (the first and its retries).
pub const ATTEMPTS: u32 = 4;
/// The longest kpsa waits for a rate limit before giving up.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// Pages followed for one list.
pub const MAX_PAGES: usize = 300;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// The token may not write here (GitHub: a fork's pull request or a
    /// read-only token).
    NotAllowed(String),
    /// The server answered with this status (after retries where they apply).
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
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// What an answer that is not a success means.
pub enum Verdict {
    /// Final: this error.
    Fail(ApiError),
    /// Refused before acting (a rate limit): wait and send again.
    Limited,
    /// The server may have acted (5xx): ask `landed`, then send again.
    Ambiguous,
}

/// One request with the retry policy. `send` makes one attempt;
/// `judge` says what a non-success answer means; `landed` is asked, after
/// an ambiguous failure of a write, whether it took effect (then it is not
/// sent again and `None` is returned).
pub struct Retry<'a> {
    pub what: String,
    pub write: bool,
    pub backoff: Duration,
    pub calls: &'a Cell<Calls>,
    /// Who asks to wait, for the error message ("GitHub", "GitLab").
    pub server: &'a str,
}

impl Retry<'_> {
    fn count(&self, f: impl FnOnce(&mut Calls)) {
        let mut c = self.calls.get();
        f(&mut c);
        self.calls.set(c);
    }

    pub fn run(
        &self,
        send: &dyn Fn() -> Result<Answer, String>,
        judge: &dyn Fn(&Answer) -> Verdict,
        message: &dyn Fn(&str) -> String,
        landed: &dyn Fn() -> Result<bool, ApiError>,
    ) -> Result<Option<Answer>, ApiError> {
        let what = &self.what;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                self.count(|c| c.retries += 1);
            }
            self.count(|c| {
                if self.write {
                    c.writes += 1
                } else {
                    c.reads += 1
                }
            });
            let answer = match send() {
                Ok(a) => a,
                Err(e) => {
                    // No answer: the write may have landed.
                    last = e;
                    std::thread::sleep(self.backoff * 2u32.pow(attempt));
                    if self.write && landed()? {
                        return Ok(None);
                    }
                    continue;
                }
            };
            if answer.status.is_success() {
                return Ok(Some(answer));
            }
            let ambiguous = match judge(&answer) {
                Verdict::Fail(e) => return Err(e),
                Verdict::Limited => false,
                Verdict::Ambiguous => true,
            };
            let status = answer.status.as_u16();
            let text = message(&answer.body);
            if attempt + 1 == ATTEMPTS {
                return Err(ApiError::Status {
                    status,
                    message: text,
                    what: what.clone(),
                });
            }
            let wait = wait_of(&answer.headers).unwrap_or(self.backoff * 2u32.pow(attempt));
            if wait > MAX_WAIT {
                return Err(ApiError::Status {
                    status,
                    message: format!(
                        "{text} ({} asks to wait {} s; kpsa waits at most {} s)",
                        self.server,
                        wait.as_secs(),
                        MAX_WAIT.as_secs()
                    ),
                    what: what.clone(),
                });
            }
            last = format!("HTTP {status}: {text}");
            std::thread::sleep(wait);
            if ambiguous && self.write && landed()? {
                return Ok(None);
            }
        }
        Err(ApiError::Transport(format!(
            "{what}: no answer after {ATTEMPTS} attempts: {last}"
        )))
    }
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
    if uri.query().is_some() {
        return Err(format!("{what} {url:?} must not have a query"));
    }
    let origin = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or(host, |a| a.as_str())
    );
    let path = uri.path().trim_end_matches('/').to_string();
    Ok((origin, path))
}

/// A reqwest client for an API: rustls, timeouts, no redirects (the APIs
/// kpsa calls do not redirect, and a redirect would carry the token's
/// request elsewhere).
pub fn client(headers: HeaderMap) -> Result<reqwest::Client, String> {
    // One crypto provider for rustls; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(90))
        .user_agent(concat!("kpsa/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A runtime for the blocking calls of one publication.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// One planned write of a dry run, as a JSON line on standard output.
pub fn print_planned(method: &Method, path: &str, body: &Value) {
    println!(
        "{}",
        serde_json::json!({"method": method.as_str(), "path": path, "body": body})
    );
}

pub fn parse(body: &str, what: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body)
        .map_err(|e| ApiError::Transport(format!("{what}: the answer is not JSON: {e}")))
}

/// The JSON a write answered (`Null` for an empty body); `None` when the
/// write was skipped because an ambiguous failure had in fact landed.
pub fn written(answer: Option<Answer>, what: &str) -> Result<Option<Value>, ApiError> {
    match answer {
        Some(a) if a.body.trim().is_empty() => Ok(Some(Value::Null)),
        Some(a) => parse(&a.body, what).map(Some),
        None => Ok(None),
    }
}

pub fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long the server asks to wait: `Retry-After` seconds, else until
/// the rate limit's reset (`x-ratelimit-reset` on GitHub, `RateLimit-Reset`
/// on GitLab, both epoch seconds) when no request is left.
pub fn wait_of(h: &HeaderMap) -> Option<Duration> {
    if let Some(s) = header_u64(h, "retry-after") {
        return Some(Duration::from_secs(s));
    }
    for prefix in ["x-ratelimit", "ratelimit"] {
        if header_u64(h, &format!("{prefix}-remaining")) == Some(0) {
            let reset = header_u64(h, &format!("{prefix}-reset"))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
        }
    }
    None
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

/// A server's error text cut to one line of at most 300 characters.
pub fn one_line(s: &str) -> String {
    s.chars()
        .take(300)
        .collect::<String>()
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_over_https_only() {
        assert!(origin_and_path("https://api.github.com", "u").is_ok());
        assert_eq!(
            origin_and_path("http://127.0.0.1:8080/api/v3/", "u").unwrap(),
            ("http://127.0.0.1:8080".to_string(), "/api/v3".to_string())
        );
        assert!(origin_and_path("http://ghe.example/api/v3", "u").is_err());
        assert!(origin_and_path("ftp://ghe.example", "u").is_err());
        assert!(origin_and_path("https://gitlab.example/api/v4?x=1", "u").is_err());
    }

    #[test]
    fn waits_as_the_server_asks() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(wait_of(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "3".parse().unwrap());
        h.insert("x-ratelimit-reset", "1".parse().unwrap());
        assert_eq!(wait_of(&h), None, "requests are left");
        let mut h = HeaderMap::new();
        h.insert("ratelimit-remaining", "0".parse().unwrap());
        h.insert("ratelimit-reset", "1".parse().unwrap());
        assert_eq!(
            wait_of(&h),
            Some(Duration::from_secs(1)),
            "a reset in the past: wait a second"
        );
    }
}
