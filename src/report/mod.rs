//! Report: findings to bytes, for people (text) and machines (JSON).

pub mod json;
pub mod text;

use crate::policy::{Tier, Version};
use crate::scan::ScanResult;

/// What the run was asked to do, for reports to state.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub command: &'static str,
    pub kubernetes_version: Version,
    pub version_label: String,
    pub level: Tier,
    pub fail_on: Option<Tier>,
    /// The repository root; locations are relative to it.
    pub root: std::path::PathBuf,
}

/// Findings at or above the gate: their tier is the gate's tier or more severe.
pub fn gated(result: &ScanResult, fail_on: Option<Tier>) -> usize {
    match fail_on {
        None => 0,
        Some(gate) => result.findings.iter().filter(|f| f.tier <= gate).count(),
    }
}
