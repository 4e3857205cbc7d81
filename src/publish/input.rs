//! The report a publisher posts: untrusted data (it may come from a fork's
//! job). Read with a size cap, checked against its schema, a `kpsa diff`
//! report of two commits, and — when the caller names one — for the
//! expected head commit. Nothing is posted from a report that fails here.

use std::path::Path;

use crate::report::{self, saved::Saved};

/// A checked report and its head commit.
pub struct Input {
    pub saved: Saved,
    pub head: String,
}

/// Whether `s` looks like a full commit id (SHA-1 or SHA-256, hex).
pub fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Read and check `path` (`-`: standard input) for `kpsa publish {tool}`.
pub fn load(path: &Path, tool: &str, expected_head: Option<&str>) -> Result<Input, String> {
    let name = path.display().to_string();
    let text = read_capped(path)?;
    let saved = report::saved::load(&text, &name)?;
    drop(text);
    if saved.command != "diff" {
        return Err(format!(
            "{name} is a `kpsa {}` report; kpsa publish {tool} needs a `kpsa diff --format json` report",
            saved.command
        ));
    }
    let head = match &saved.head_commit {
        Some(h) if is_sha(h) => h.to_ascii_lowercase(),
        _ => {
            return Err(format!(
                "{name} has no head commit (a diff against the working tree): publish a diff of two commits"
            ));
        }
    };
    if let Some(h) = expected_head {
        if !h.eq_ignore_ascii_case(&head) {
            return Err(format!(
                "{name} is for head {head}, not the expected head {h}; nothing was posted"
            ));
        }
    }
    Ok(Input { saved, head })
}

fn read_capped(path: &Path) -> Result<String, String> {
    let name = path.display().to_string();
    let mut text = String::new();
    let limit = report::saved::MAX_BYTES as u64 + 1;
    let r = if path.as_os_str() == "-" {
        std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), limit), &mut text)
    } else {
        std::fs::File::open(path).and_then(|f| {
            std::io::Read::read_to_string(&mut std::io::Read::take(f, limit), &mut text)
        })
    };
    r.map_err(|e| format!("cannot read {name}: {e}"))?;
    Ok(text)
}
