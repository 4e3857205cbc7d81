//! Publishing a saved `diff` report to a pull or merge request: the pure
//! parts shared by GitHub and GitLab — which lines a comment may go on, the
//! suggested fixes, and the plan of writes (inline comments, summary,
//! replies to threads whose finding is gone). `github` and `gitlab` execute
//! a plan through their APIs (`http` holds what they share); the rest never
//! touches the network.

pub mod footer;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod hunks;
pub mod input;
pub mod plan;
pub mod suggest;

/// Why publishing stopped.
#[derive(Debug)]
pub enum Failure {
    /// Nothing was posted: a bad report, context or flag (exit 2).
    Usage(String),
    /// The platform failed after retries (exit 3).
    Api(String),
}

impl From<http::ApiError> for Failure {
    fn from(e: http::ApiError) -> Self {
        Failure::Api(e.to_string())
    }
}
