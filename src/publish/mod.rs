//! Publishing a saved `diff` report to a pull or merge request: the pure
//! parts shared by GitHub and GitLab — which lines a comment may go on, the
//! suggested fixes, and the plan of writes (inline comments, summary,
//! replies to threads whose finding is gone). `github` executes a plan
//! through the GitHub API; the rest never touches the network.

pub mod footer;
pub mod github;
pub mod http;
pub mod hunks;
pub mod input;
pub mod plan;
pub mod suggest;
