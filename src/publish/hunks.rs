//! The lines a pull request adds or changes, from the unified diff GitHub
//! (`GET …/pulls/{n}/files`, field `patch`) and GitLab (a version's
//! `diffs[].diff`) give per file. An inline comment may only go on one of
//! them: a review with a comment elsewhere is rejected whole.

use std::collections::{BTreeMap, BTreeSet};

/// Added lines (new-side line numbers) by file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hunks {
    files: BTreeMap<String, BTreeSet<u32>>,
}

impl Hunks {
    /// Record a file's patch; a file without one (binary, too large) adds
    /// no line, so its findings go to the summary.
    pub fn add(&mut self, path: &str, patch: Option<&str>) -> Result<(), String> {
        let lines = match patch {
            Some(p) => added_lines(p).map_err(|e| format!("{path}: {e}"))?,
            None => BTreeSet::new(),
        };
        self.files
            .entry(path.to_string())
            .or_default()
            .extend(lines);
        Ok(())
    }

    /// Whether `line` of `path` is added or changed by the pull request.
    pub fn contains(&self, path: &str, line: u32) -> bool {
        self.files.get(path).is_some_and(|l| l.contains(&line))
    }
}

/// The new-side numbers of the `+` lines of a unified diff.
pub fn added_lines(patch: &str) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    let mut new_line: Option<u32> = None;
    for line in patch.lines() {
        if let Some(header) = line.strip_prefix("@@ ") {
            // @@ -a,b +c,d @@ …
            let plus = header
                .split_whitespace()
                .find(|p| p.starts_with('+'))
                .ok_or_else(|| format!("malformed hunk header {line:?}"))?;
            let start = plus[1..].split(',').next().unwrap_or("");
            new_line = Some(
                start
                    .parse()
                    .map_err(|_| format!("malformed hunk header {line:?}"))?,
            );
            continue;
        }
        let Some(n) = new_line.as_mut() else {
            continue; // before the first hunk: file headers
        };
        match line.chars().next() {
            Some('+') => {
                out.insert(*n);
                *n += 1;
            }
            Some('-') | Some('\\') => {}
            _ => *n += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_of_a_patch() {
        let patch = "@@ -3,4 +3,5 @@ spec:\n   containers:\n-  - image: a\n+  - image: b\n+    securityContext:\n     name: x\n@@ -20 +21,2 @@\n+  hostPID: true\n+\n\\ No newline at end of file\n";
        assert_eq!(
            added_lines(patch).unwrap(),
            [4, 5, 21, 22].into_iter().collect()
        );
        let mut h = Hunks::default();
        h.add("a.yaml", Some(patch)).unwrap();
        h.add("big.bin", None).unwrap();
        assert!(h.contains("a.yaml", 21) && !h.contains("a.yaml", 3) && !h.contains("big.bin", 1));
        assert!(added_lines("@@ nonsense @@\n+x").is_err());
    }
}
