//! Reading a saved JSON report (`--format json`) back: the input of
//! publishing, merging shards and rendering other formats later. A saved
//! report may come from another job, even a fork's, so it is untrusted
//! data: it must be exactly a version this kpsa knows and match that
//! version's schema (`docs/kpsa-report.schema.json`), or it is refused
//! with a clear error.

use std::sync::OnceLock;

/// The report versions this kpsa reads.
pub const KNOWN_VERSIONS: [u64; 1] = [super::json::SCHEMA_VERSION as u64];

/// Most bytes of a saved report read.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

const SCHEMA: &str = include_str!("../../docs/kpsa-report.schema.json");

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema compiles")
    })
}

/// Check a saved report's text; `name` names it in errors. Returns the
/// report as JSON when it is a known version that matches its schema.
pub fn read(text: &str, name: &str) -> Result<serde_json::Value, String> {
    if text.len() > MAX_BYTES {
        return Err(format!(
            "{name}: the report is larger than {MAX_BYTES} bytes; kpsa does not read it"
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "{name}:{}:{}: not a kpsa JSON report: {e}",
            e.line(),
            e.column()
        )
    })?;
    let version = value
        .get("schema_version")
        .ok_or_else(|| format!("{name}: not a kpsa JSON report (no schema_version)"))?;
    match version.as_u64() {
        Some(v) if KNOWN_VERSIONS.contains(&v) => {}
        _ => {
            let by = value
                .pointer("/tool/version")
                .and_then(|v| v.as_str())
                .map(|v| format!(" (written by kpsa {v})"))
                .unwrap_or_default();
            return Err(format!(
                "{name}: report schema_version {version}{by} is not one this kpsa {} reads ({}); \
                 produce the report with this kpsa version",
                env!("CARGO_PKG_VERSION"),
                KNOWN_VERSIONS
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "{name}: the report does not match the schema of version {version}:\n{}",
            errors.join("\n")
        ));
    }
    Ok(value)
}
