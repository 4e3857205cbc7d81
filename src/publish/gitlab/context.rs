//! Where to publish on GitLab: the API, the project and the merge request,
//! from flags or GitLab CI's predefined variables (`CI_API_V4_URL`,
//! `CI_MERGE_REQUEST_PROJECT_ID` / `CI_PROJECT_ID`, `CI_MERGE_REQUEST_IID`),
//! and the head commit the job expects: `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`
//! when set (in merged-results pipelines `CI_COMMIT_SHA` is a temporary
//! merge commit), else `CI_COMMIT_SHA`.

/// Flags that override the environment.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub api_url: Option<String>,
    pub project: Option<String>,
    pub mr: Option<u64>,
    pub head_sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub api_url: String,
    /// The project as an API path segment: a number, or a full path with
    /// its slashes encoded (`group%2Fproject`).
    pub project: String,
    pub mr: u64,
    /// The head commit the job was run for, if known.
    pub expected_head: Option<String>,
}

/// Resolve the context; `env` reads an environment variable.
pub fn resolve(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Context, String> {
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let api_url = flags
        .api_url
        .clone()
        .or_else(|| set("CI_API_V4_URL"))
        .unwrap_or_else(|| "https://gitlab.com/api/v4".into())
        .trim_end_matches('/')
        .to_string();
    let project = flags
        .project
        .clone()
        .or_else(|| set("CI_MERGE_REQUEST_PROJECT_ID"))
        .or_else(|| set("CI_PROJECT_ID"))
        .ok_or("no project: pass --project ID|GROUP/NAME or run in GitLab CI (CI_PROJECT_ID)")?;
    let project = project_segment(&project)?;
    let mr = match flags.mr {
        Some(n) => n,
        None => set("CI_MERGE_REQUEST_IID")
            .ok_or(
                "no merge request: pass --mr IID, or run in a merge request pipeline \
                 (CI_MERGE_REQUEST_IID is set only there)",
            )?
            .trim()
            .parse()
            .map_err(|_| "CI_MERGE_REQUEST_IID is not a number".to_string())?,
    };
    let expected_head = flags
        .head_sha
        .clone()
        .or_else(|| set("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"))
        .or_else(|| set("CI_COMMIT_SHA"))
        .map(|h| h.trim().to_string());
    if let Some(h) = &expected_head {
        if !crate::publish::input::is_sha(h) {
            return Err(format!("the head commit {h:?} is not a full commit id"));
        }
    }
    Ok(Context {
        api_url,
        project,
        mr,
        expected_head,
    })
}

/// A project id or `group/sub/name` path, as one path segment.
fn project_segment(p: &str) -> Result<String, String> {
    let p = p.trim();
    if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
        return Ok(p.to_string());
    }
    let ok = !p.is_empty()
        && p.len() <= 255
        && p.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if !ok {
        return Err(format!(
            "project {p:?} is neither a number nor a GROUP/NAME path"
        ));
    }
    Ok(p.replace('/', "%2F"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_merged_results_pipeline_expects_the_source_branch_head() {
        let head = "a".repeat(40);
        let merge = "b".repeat(40);
        let env = env_of(&[
            ("CI_API_V4_URL", "https://gitlab.example/api/v4/"),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_COMMIT_SHA", &merge),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", &head),
        ]);
        let c = resolve(&Flags::default(), &env).unwrap();
        assert_eq!(c.api_url, "https://gitlab.example/api/v4");
        assert_eq!(c.project, "42");
        assert_eq!(c.mr, 7);
        assert_eq!(c.expected_head.as_deref(), Some(head.as_str()));
        // A merge request pipeline: the source branch SHA is empty.
        let env = env_of(&[
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_COMMIT_SHA", &merge),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
        ]);
        let c = resolve(&Flags::default(), &env).unwrap();
        assert_eq!(c.expected_head.as_deref(), Some(merge.as_str()));
    }

    #[test]
    fn projects_are_one_path_segment() {
        assert_eq!(
            project_segment("group/sub/app").unwrap(),
            "group%2Fsub%2Fapp"
        );
        for bad in ["../x", "a//b", "a/b?x", "a%2F..", ""] {
            assert!(project_segment(bad).is_err(), "{bad}");
        }
        let env = env_of(&[("CI_PROJECT_ID", "42")]);
        assert!(
            resolve(&Flags::default(), &env)
                .unwrap_err()
                .contains("merge request pipeline")
        );
    }
}
