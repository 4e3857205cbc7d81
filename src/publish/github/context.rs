//! Where to publish: the repository, the pull request and the API URLs,
//! from flags or the GitHub Actions environment (`GITHUB_REPOSITORY`,
//! `GITHUB_EVENT_PATH`, `GITHUB_API_URL`, `GITHUB_GRAPHQL_URL`).
//!
//! `GITHUB_SHA` is not the head to check the report against: on
//! `pull_request` it is the test merge commit. The head comes from the
//! pull request itself, through the API.

use serde_json::Value;

use crate::publish::input::is_sha;

/// The pull request is named by the event (`pull_request`,
/// `pull_request_target`), or must be looked up by the run's head commit
/// (`workflow_run`, whose `pull_requests` is empty for forks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pull {
    Number(u64),
    ByHead(String),
}

#[derive(Debug, Clone)]
pub struct Context {
    pub owner: String,
    pub repo: String,
    pub pull: Pull,
    pub api_url: String,
    pub graphql_url: String,
}

/// Flags that override the environment.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub repo: Option<String>,
    pub pr: Option<u64>,
    pub api_url: Option<String>,
    pub graphql_url: Option<String>,
}

/// Resolve the context; `env` reads an environment variable.
pub fn resolve(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Context, String> {
    let full = flags
        .repo
        .clone()
        .or_else(|| env("GITHUB_REPOSITORY"))
        .ok_or("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")?;
    let (owner, repo) = split_repo(&full)?;
    let api_url = flags
        .api_url
        .clone()
        .or_else(|| env("GITHUB_API_URL"))
        .unwrap_or_else(|| "https://api.github.com".into());
    let api_url = api_url.trim_end_matches('/').to_string();
    let graphql_url = flags
        .graphql_url
        .clone()
        .or_else(|| env("GITHUB_GRAPHQL_URL"))
        .unwrap_or_else(|| graphql_for(&api_url));
    let pull = match flags.pr {
        Some(n) => Pull::Number(n),
        None => from_event(env)?,
    };
    Ok(Context {
        owner,
        repo,
        pull,
        api_url,
        graphql_url,
    })
}

/// GitHub Enterprise Server answers GraphQL at `/api/graphql`, not under
/// the REST base `/api/v3`.
pub fn graphql_for(api_url: &str) -> String {
    match api_url.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{api_url}/graphql"),
    }
}

fn split_repo(full: &str) -> Result<(String, String), String> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match full.split_once('/') {
        Some((o, r)) if ok(o) && ok(r) => Ok((o.to_string(), r.to_string())),
        _ => Err(format!("{full:?} is not a repository OWNER/NAME")),
    }
}

/// The pull request of the Actions event.
fn from_event(env: &dyn Fn(&str) -> Option<String>) -> Result<Pull, String> {
    let path = env("GITHUB_EVENT_PATH").ok_or(
        "no pull request: pass --pr N, or run in a GitHub Actions job (GITHUB_EVENT_PATH)",
    )?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read the event {path}: {e}"))?;
    let event: Value =
        serde_json::from_str(&text).map_err(|e| format!("{path}: the event is not JSON: {e}"))?;
    if let Some(n) = event
        .pointer("/pull_request/number")
        .and_then(Value::as_u64)
    {
        return Ok(Pull::Number(n));
    }
    if let Some(sha) = event
        .pointer("/workflow_run/head_sha")
        .and_then(Value::as_str)
    {
        if !is_sha(sha) {
            return Err(format!(
                "{path}: workflow_run.head_sha {sha:?} is not a commit"
            ));
        }
        return Ok(Pull::ByHead(sha.to_string()));
    }
    let name = env("GITHUB_EVENT_NAME").unwrap_or_default();
    Err(format!(
        "no pull request in the {name:?} event; kpsa publishes on pull_request, pull_request_target \
         and workflow_run, or pass --pr N"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_graphql_is_beside_the_rest_base() {
        assert_eq!(
            graphql_for("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            graphql_for("https://ghe.example/api/v3"),
            "https://ghe.example/api/graphql"
        );
    }

    #[test]
    fn repositories_are_owner_and_name() {
        assert!(split_repo("octo/kpsa").is_ok());
        for bad in ["octo", "octo/", "/kpsa", "o/r/x", "../x", "o/..", "o/r?x=1"] {
            assert!(split_repo(bad).is_err(), "{bad}");
        }
    }
}
