//! `--upload-sarif FILE`: a SARIF report uploaded through the code-scanning
//! REST API (`POST …/code-scanning/sarifs`: gzip, then base64), for CI
//! systems other than GitHub Actions, where `github/codeql-action/upload-sarif`
//! does this. GitHub refuses more than 10 MB gzipped; kpsa checks first.

use std::io::Write;

use base64::Engine;
use http::Method;
use serde_json::json;

use super::Failure;
use super::api::Api;

/// The most gzipped bytes GitHub accepts (10 MB).
pub const MAX_GZIPPED: usize = 10_000_000;

/// gzip + base64 of a SARIF file, checked to be JSON and within the limit.
pub fn encode(path: &std::path::Path) -> Result<String, Failure> {
    let name = path.display();
    let text =
        std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {name}: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
        Failure::Usage(format!("{name}:{}:{}: not JSON: {e}", e.line(), e.column()))
    })?;
    if v.get("version").and_then(|v| v.as_str()) != Some("2.1.0") {
        return Err(Failure::Usage(format!(
            "{name} is not a SARIF 2.1.0 report"
        )));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text)
        .and_then(|_| gz.flush())
        .map_err(|e| Failure::Usage(format!("{name}: {e}")))?;
    let gz = gz
        .finish()
        .map_err(|e| Failure::Usage(format!("{name}: {e}")))?;
    if gz.len() > MAX_GZIPPED {
        return Err(Failure::Usage(format!(
            "{name} is {} bytes gzipped; GitHub accepts at most {MAX_GZIPPED} (split the run with --shard, or raise --fail-on)",
            gz.len()
        )));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(gz))
}

/// Upload; prints the analysis URL GitHub answers with.
pub fn sarif(
    api: &Api,
    repo: &str,
    path: &std::path::Path,
    head: &str,
    git_ref: &str,
) -> Result<(), Failure> {
    if !git_ref.starts_with("refs/") || git_ref.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Failure::Usage(format!(
            "--sarif-ref {git_ref:?} is not a ref (refs/…)"
        )));
    }
    let body = json!({
        "commit_sha": head,
        "ref": git_ref,
        "sarif": encode(path)?,
        "tool_name": "kpsa",
    });
    let answer = api.write(
        Method::POST,
        &format!("{repo}/code-scanning/sarifs"),
        &body,
        &|_| Ok(false),
    )?;
    if let Some(id) = answer
        .as_ref()
        .and_then(|a| a.get("id"))
        .and_then(|v| v.as_str())
    {
        eprintln!(
            "kpsa: SARIF uploaded (analysis {})",
            crate::report::escape::log(id)
        );
    }
    Ok(())
}
