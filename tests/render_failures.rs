//! Fail closed: a target that does not render, a render that hangs, a
//! missing program, a dependency that cannot be built. Each is an error
//! naming the target, the command and the program's own words, exit code 3;
//! the other targets are still evaluated and reported; the user's tree is
//! byte-identical afterwards.

mod common;

use common::Repo;
use serde_json::Value;
use std::path::Path;

const GOOD_CHART: &str = "apiVersion: v2\nname: good\nversion: 1.0.0\n";
const GOOD_TEMPLATE: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: good\nspec:\n  containers:\n    - name: app\n      image: app:1\n      securityContext:\n        privileged: true\n";

/// A repository with a chart that renders, an overlay and a plain manifest.
fn repo_with(extra: &[(&str, &str)]) -> Repo {
    let repo = Repo::new("");
    repo.write("charts/good/Chart.yaml", GOOD_CHART);
    repo.write("charts/good/templates/pod.yaml", GOOD_TEMPLATE);
    repo.write("deploy/kustomization.yaml", "resources:\n  - pod.yaml\n");
    repo.write(
        "deploy/pod.yaml",
        &GOOD_TEMPLATE.replace("good", "kustomized"),
    );
    repo.write("raw/pod.yaml", &GOOD_TEMPLATE.replace("good", "raw"));
    for (path, text) in extra {
        repo.write(path, text);
    }
    repo.commit("fixture");
    repo
}

fn targets_with_findings(r: &Value) -> Vec<String> {
    let mut t: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"].as_str().unwrap().to_string())
        .collect();
    t.dedup();
    t
}

/// The error entry of a target.
fn error_of<'a>(r: &'a Value, target: &str) -> &'a Value {
    r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == target)
        .unwrap_or_else(|| panic!("no error for {target}: {}", r["errors"]))
}

fn error_for<'a>(r: &'a Value, target: &str) -> &'a str {
    error_of(r, target)["message"].as_str().unwrap()
}

/// An executable script in its own temporary directory.
fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.path().join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// Helm 3 prints `template: c/templates/x.yaml:L:C: executing …` on one
/// line, Helm 4 `Error: c/templates/x.yaml:L:C` and the cause below it: both
/// become the error's file and line, and the cause is kept.
#[test]
fn a_nil_pointer_error_points_at_its_template_line() {
    let repo = repo_with(&[
        (
            "charts/nil/Chart.yaml",
            "apiVersion: v2\nname: nil\nversion: 1.0.0\n",
        ),
        (
            "charts/nil/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {{ .Values.x.y.z }}\n",
        ),
    ]);
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let e = error_of(&r, "charts/nil");
    assert_eq!(
        (e["path"].as_str().unwrap(), e["line"].as_u64()),
        ("charts/nil/templates/cm.yaml", Some(6)),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("nil pointer evaluating"),
        "{e}"
    );
}

#[test]
fn a_template_error_fails_its_target_only() {
    let repo = repo_with(&[
        (
            "charts/broken/Chart.yaml",
            "apiVersion: v2\nname: broken\nversion: 1.0.0\n",
        ),
        (
            "charts/broken/templates/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: {{ required \"need .Values.token\" .Values.token }}\n",
        ),
    ]);
    let before = repo.snapshot();
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let msg = error_for(&r, "charts/broken");
    assert!(
        msg.contains("target charts/broken failed to render"),
        "{msg}"
    );
    assert!(
        msg.contains("command: ") && msg.contains(" template ") && msg.contains(" -- broken "),
        "{msg}"
    );
    assert!(
        msg.contains("need .Values.token"),
        "Helm's own error: {msg}"
    );
    // Helm's position in the template becomes the error's file and line.
    let e = error_of(&r, "charts/broken");
    assert_eq!(
        (e["path"].as_str().unwrap(), e["line"].as_u64()),
        ("charts/broken/templates/secret.yaml", Some(6))
    );
    assert_eq!(
        targets_with_findings(&r),
        vec!["charts/good", "deploy", "raw"]
    );
    assert_eq!(repo.snapshot(), before);

    // The text report shows the same.
    let run = repo.kpsa(".", &["scan", "-q"], &[]);
    assert_eq!(run.code, 3);
    assert!(run.stdout.contains("need .Values.token"), "{}", run.stdout);
    assert!(run.stdout.contains("1 input error"), "{}", run.stdout);
}

#[test]
fn a_render_that_hangs_is_killed_at_the_timeout() {
    let repo = repo_with(&[]);
    let bin = tempfile::tempdir().unwrap();
    // The child and a grandchild both hold the output pipe open.
    let slow = script(&bin, "helm", "sleep 60 & sleep 60");
    let before = repo.snapshot();
    let started = std::time::Instant::now();
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "--format",
            "json",
            "-q",
            "--helm",
            &slow,
            "--render-timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let msg = error_for(&r, "charts/good");
    assert!(
        msg.contains("helm timed out after 1 s and was killed"),
        "{msg}"
    );
    assert_eq!(targets_with_findings(&r), vec!["deploy", "raw"]);
    // Not a timing assertion: a render that was not killed would take a minute.
    assert!(started.elapsed() < std::time::Duration::from_secs(50));
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn missing_programs_are_named_with_the_way_to_point_kpsa_at_them() {
    let repo = repo_with(&[]);
    let cases = [
        (
            "--helm",
            "/nonexistent/helm",
            "charts/good",
            vec!["deploy", "raw"],
        ),
        (
            "--kustomize",
            "/nonexistent/kustomize",
            "deploy",
            vec!["charts/good", "raw"],
        ),
    ];
    for (flag, program, failed, rest) in cases {
        let run = repo.kpsa(".", &["scan", "--format", "json", "-q", flag, program], &[]);
        assert_eq!(run.code, 3);
        let r = run.json();
        let msg = error_for(&r, failed);
        assert!(
            msg.contains(&format!("{program} not found")) && msg.contains(flag),
            "{msg}"
        );
        assert_eq!(targets_with_findings(&r), rest);
    }

    // No helm anywhere on PATH: the default program is missing too.
    let run = common::kpsa_stdin(
        repo.path(),
        &["scan", "charts/good", "-q"],
        None,
        &[("PATH", "/nonexistent-bin")],
    );
    assert_eq!(run.code, 3);
    assert!(
        run.stdout.contains("helm not found on PATH; install Helm"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unresolvable_dependency_is_a_clear_error() {
    let repo = repo_with(&[(
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: lib\n    version: 1.0.0\n    repository: file://../lib-that-is-gone\n",
    )]);
    let before = repo.snapshot();
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 3);
    let r = run.json();
    let msg = error_for(&r, "charts/app");
    assert!(
        msg.contains("charts/lib-that-is-gone") && msg.contains("holds no Chart.yaml"),
        "{msg}"
    );
    assert_eq!(
        targets_with_findings(&r),
        vec!["charts/good", "deploy", "raw"]
    );
    assert_eq!(repo.snapshot(), before);

    // A dependency helm itself cannot build: helm's words, through `helm dependency build`.
    let repo = repo_with(&[
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: lib\n    version: 9.9.9\n    repository: file://../lib\n",
        ),
        (
            "charts/lib/Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 1.0.0\n",
        ),
    ]);
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 3);
    let r = run.json();
    let msg = error_for(&r, "charts/app");
    assert!(
        msg.contains("helm dependency build") && msg.contains("command: "),
        "{msg}"
    );
}

#[test]
fn built_dependencies_are_cached_outside_the_tree() {
    let repo = Repo::new("platform");
    let before = repo.snapshot();
    let run = repo.kpsa(".", &["scan", "charts/web", "-q", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let first = run.json()["findings"].clone();
    let cached: Vec<_> = std::fs::read_dir(repo.cache.path().join("helm-deps"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1);
    // Second run: a helm that cannot build dependencies still renders, from the cache.
    let bin = tempfile::tempdir().unwrap();
    let helm = script(
        &bin,
        "helm",
        &format!(
            "[ \"$1\" = dependency ] && {{ echo '...Unable to get an update from the \"https://charts.example\" chart repository'; echo 'Error: no cached repository' >&2; exit 1; }}\nexec {} \"$@\"",
            common::helm().display()
        ),
    );
    let with_helm = [
        "scan",
        "charts/web",
        "-q",
        "--format",
        "json",
        "--helm",
        &helm,
    ];
    let run = repo.kpsa(".", &with_helm, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["findings"], first);
    // A changed library chart is a different key: the build runs (and fails here).
    repo.write(
        "charts/common/templates/_extra.tpl",
        "{{- define \"common.extra\" -}}x{{- end -}}\n",
    );
    let run = repo.kpsa(".", &with_helm, &[]);
    assert_eq!(run.code, 3);
    let r = run.json();
    let msg = error_for(&r, "charts/web");
    assert!(msg.contains("Error: no cached repository"), "{msg}");
    assert!(
        msg.contains("its standard output ended with:\n  ...Unable to get an update from the \"https://charts.example\" chart repository"),
        "Helm's reason, which real Helm prints on standard output: {msg}"
    );
    let mut after = repo.snapshot();
    after.remove("charts/common/templates/_extra.tpl");
    assert_eq!(after, before);
}

#[test]
fn render_programs_get_no_credentials() {
    let repo = repo_with(&[]);
    let bin = tempfile::tempdir().unwrap();
    let dump = bin.path().join("env.txt");
    // The user's home holds an SSH key and a checkout's .git/config holds an
    // authorization header: neither may reach the render program.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/id_ed25519"), "secret8-ssh-key\n").unwrap();
    repo.git(&[
        "config",
        "http.https://github.com/.extraheader",
        "AUTHORIZATION: basic secret9",
    ]);
    let helm = script(
        &bin,
        "helm",
        &format!(
            "env > {d}\ncat \"$HOME/.ssh/id_ed25519\" >> {d} 2>/dev/null\nexec {} \"$@\"",
            common::helm().display(),
            d = dump.display(),
        ),
    );
    let run = repo.kpsa(
        ".",
        &["scan", "charts/good", "-q", "--helm", &helm],
        &[
            ("GITHUB_TOKEN", "ghp_secret1"),
            ("CI_JOB_TOKEN", "glcbt_secret2"),
            ("AWS_SECRET_ACCESS_KEY", "secret3"),
            // What a deny-list missed: GitLab's job token inside a URL,
            // registry auth, personal access tokens, webhook URLs.
            (
                "CI_REPOSITORY_URL",
                "https://gitlab-ci-token:secret4@gitlab.example/g/p.git",
            ),
            (
                "DOCKER_AUTH_CONFIG",
                "{\"auths\":{\"r\":{\"auth\":\"secret5\"}}}",
            ),
            ("DEPLOY_PAT", "secret6"),
            ("SLACK_WEBHOOK_URL", "https://hooks.example/secret7"),
            ("HOME", &home.path().display().to_string()),
            ("KPSA_TEST_MARKER", "visible"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let env = std::fs::read_to_string(dump).unwrap();
    // An allow-list: PATH and locale pass, anything else does not.
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(!env.contains("KPSA_TEST_MARKER"), "{env}");
    for secret in [
        "secret1", "secret2", "secret3", "secret4", "secret5", "secret6", "secret7",
    ] {
        assert!(!env.contains(secret), "{secret} reached helm:\n{env}");
    }
    // HOME is a private, empty directory: not the user's ~/.ssh or ~/.docker.
    let home = env
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .expect("HOME is set");
    assert!(home.contains("kpsa-home-"), "{home}");
    assert!(
        !Path::new(home).exists(),
        "the private HOME is removed after the render"
    );
}

#[test]
fn kustomize_exec_functions_stay_disabled() {
    let marker = tempfile::tempdir().unwrap();
    let marker_file = marker.path().join("PWNED");
    let repo = repo_with(&[
        (
            "evil/kustomization.yaml",
            "resources:\n  - pod.yaml\ntransformers:\n  - fn.yaml\n",
        ),
        ("evil/pod.yaml", &GOOD_TEMPLATE.replace("good", "evil")),
        (
            "evil/fn.yaml",
            "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: evil\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./fn.sh\n",
        ),
        (
            "evil/fn.sh",
            &format!("#!/bin/sh\ntouch {}\ncat\n", marker_file.display()),
        ),
    ]);
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 3);
    let r = run.json();
    let msg = error_for(&r, "evil");
    assert!(msg.contains("plugins disabled"), "{msg}");
    assert!(!marker_file.exists(), "the exec function ran");
}

#[test]
fn a_symlink_out_of_the_repository_is_an_error_and_the_rest_is_reported() {
    let repo = repo_with(&[]);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.yaml"), GOOD_TEMPLATE).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("x.yaml"),
        repo.path().join("raw/escape.yaml"),
    )
    .unwrap();
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 3);
    let r = run.json();
    let e = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "raw/escape.yaml")
        .expect("an error for the symlink");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("symlink leaves the repository")
    );
    assert_eq!(
        targets_with_findings(&r),
        vec!["charts/good", "deploy", "raw"]
    );
}

#[test]
fn a_render_error_reaches_every_format() {
    let repo = repo_with(&[
        (
            "charts/broken/Chart.yaml",
            "apiVersion: v2\nname: broken\nversion: 1.0.0\n",
        ),
        (
            "charts/broken/templates/x.yaml",
            "{{ required \"set .Values.token\" .Values.token }}\n",
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = |f: &str| dir.path().join(f).display().to_string();
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "-q",
            "--format",
            "sarif",
            "--output",
            &out("sarif"),
            "--format",
            "codequality",
            "--output",
            &out("cq"),
            "--format",
            "junit",
            "--output",
            &out("junit"),
            "--format",
            "markdown",
            "--output",
            &out("md"),
        ],
        &[],
    );
    assert_eq!(run.code, 3);
    // Standard error carries it even with --quiet and no text report.
    assert!(
        run.stderr.contains(
            "kpsa: error: charts/broken/templates/x.yaml:1:3: target charts/broken failed to render"
        ) && run.stderr.contains("set .Values.token"),
        "{}",
        run.stderr
    );
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(out("sarif")).unwrap()).unwrap();
    common::assert_valid("testdata/schemas/sarif-2.1.0.json", &sarif);
    let inv = &sarif["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let note = inv["toolExecutionNotifications"][0]["message"]["text"]
        .as_str()
        .unwrap();
    assert!(
        note.contains("charts/broken") && note.contains("set .Values.token"),
        "{note}"
    );
    let cq: Value = serde_json::from_str(&std::fs::read_to_string(out("cq")).unwrap()).unwrap();
    let blocker = cq
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["severity"] == "blocker")
        .expect("a blocker issue for the failed target");
    common::assert_valid(
        "testdata/schemas/gitlab-codeclimate-degradation.schema.json",
        blocker,
    );
    assert!(
        blocker["description"]
            .as_str()
            .unwrap()
            .contains("target charts/broken")
    );
    assert_eq!(
        blocker["location"]["path"],
        "charts/broken/templates/x.yaml"
    );
    assert_eq!(blocker["location"]["lines"]["begin"], 1);
    let junit = std::fs::read_to_string(out("junit")).unwrap();
    assert!(
        junit.contains("<error message=") && junit.contains("set .Values.token"),
        "{junit}"
    );
    let md = std::fs::read_to_string(out("md")).unwrap();
    assert!(
        md.contains("### Errors") && md.contains("set .Values.token"),
        "{md}"
    );
    // A clean run says the analysis succeeded.
    std::fs::remove_dir_all(repo.path().join("charts/broken")).unwrap();
    let run = repo.kpsa(".", &["scan", "-q", "--format", "sarif"], &[]);
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}
