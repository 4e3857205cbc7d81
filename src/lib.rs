//! kpsa: Pod Security Standards and OWASP K01 hardening checks for the
//! Kubernetes manifests a repository deploys.
//!
//! Data flows one way: [`manifest`] (parse, extract) → [`policy`] (evaluate,
//! no I/O) → [`finding`] (identity, location) → [`scan`] (orchestration) →
//! [`report`] (bytes for people and machines).

pub mod accepted;
pub mod admission;
pub mod argocd;
pub mod attribute;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod diff;
pub mod docs;
pub mod finding;
pub mod git;
pub mod interrupt;
pub mod manifest;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod provenance;
pub mod publish;
pub mod render;
pub mod report;
pub mod scan;
pub mod shard;
pub mod suppress;
pub mod templates;
pub mod tree;
