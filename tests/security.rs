//! The repository under review is hostile (docs/security.md). Each test
//! builds an attack repository and runs the real binary on it, asserting the
//! safe outcome: no program from the change runs, no canary secret reaches
//! any output, nothing is read or written outside the repository and kpsa's
//! temporary directories, the change cannot pass its own gate, and every
//! cost the attacker controls ends quickly with a named error.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Repo;
use serde_json::Value;

/// Canary secrets placed where a CI job keeps them.
const CANARY: &str = "c4n4ry-s3cr3t";

fn canary_env() -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_TOKEN", format!("ghs_{CANARY}")),
        ("CI_JOB_TOKEN", format!("glcbt-{CANARY}")),
        (
            "CI_REPOSITORY_URL",
            format!("https://gitlab-ci-token:{CANARY}@gitlab.example/g/p.git"),
        ),
    ]
}

/// Run kpsa with the canaries in its environment; assert none reaches any output.
fn run_with_canaries(repo: &Repo, args: &[&str], extra: &[(&str, &str)]) -> common::Run {
    let env = canary_env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    let run = repo.kpsa(".", args, &all);
    assert!(
        !run.stdout.contains(CANARY) && !run.stderr.contains(CANARY),
        "a canary secret reached the output:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

const PRIVILEGED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: app\n      image: app:1\n      securityContext:\n        privileged: true\n";

const CHART: &str = "apiVersion: v2\nname: web\nversion: 1.0.0\n";

/// A program in the repository that leaves a mark when it runs.
fn evil_program(repo: &Repo) -> std::path::PathBuf {
    let script = "#!/bin/sh\ntouch \"$(dirname \"$0\")/PWNED\"\necho 'apiVersion: v1'\n";
    repo.write("tools/evil.sh", script);
    let p = repo.path().join("tools/evil.sh");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.path().join("tools/PWNED")
}

#[test]
fn the_config_cannot_name_a_program() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", CHART);
    repo.write("charts/web/templates/pod.yaml", PRIVILEGED_POD);
    let mark = evil_program(&repo);
    for key in [
        "helm: tools/evil.sh",
        "kustomize: tools/evil.sh",
        "helm: /bin/sh",
    ] {
        repo.write(".kpsa.yaml", &format!("version: 1\n{key}\n"));
        let run = run_with_canaries(&repo, &["scan", "-q"], &[]);
        assert_eq!(run.code, 2, "{key}: {}", run.stderr);
        assert!(
            run.stderr.contains("is no longer read from the config")
                && run.stderr.contains(".kpsa.yaml:2:"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("KPSA_"),
            "says what to use: {}",
            run.stderr
        );
        assert!(!mark.exists(), "{key}: the repository's program ran");
    }
    // In `diff` the head's config is never trusted with programs either.
    repo.write(".kpsa.yaml", "version: 1\n");
    repo.commit("base");
    repo.write(".kpsa.yaml", "version: 1\nhelm: tools/evil.sh\n");
    repo.write(
        "charts/web/templates/pod.yaml",
        &PRIVILEGED_POD.replace("web", "web2"),
    );
    repo.commit("head");
    for from in ["base", "head"] {
        let run = run_with_canaries(
            &repo,
            &["diff", "HEAD~1..HEAD", "-q", "--config-from", from],
            &[],
        );
        assert!(
            !mark.exists(),
            "--config-from {from}: the repository's program ran"
        );
        if from == "head" {
            assert_eq!(run.code, 2, "{}", run.stderr);
        } else {
            // The base's config decides; the head's is listed, not applied.
            assert!(run.stdout.contains("not applied"), "{}", run.stdout);
        }
    }
}

#[test]
fn programs_come_from_flags_or_the_environment() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", CHART);
    repo.write("charts/web/templates/pod.yaml", PRIVILEGED_POD);
    repo.commit("chart");
    let helm = common::helm().display().to_string();
    // No helm on PATH: KPSA_HELM names it.
    let run = common::kpsa_stdin(
        repo.path(),
        &["scan", "-q", "--format", "json"],
        None,
        &[
            ("PATH", "/usr/bin:/bin"),
            ("KPSA_HELM", &helm),
            ("KPSA_CACHE_DIR", &repo.cache.path().display().to_string()),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json()["findings"][0]["check"], "privileged");
}

#[test]
fn nothing_the_repository_writes_becomes_an_option() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", CHART);
    repo.write("charts/web/templates/pod.yaml", PRIVILEGED_POD);
    repo.commit("chart");
    for (key, value) in [
        ("release", "--show-only=templates/none.yaml"),
        ("release", "--set-file=x=/root/.ssh/id_ed25519"),
        ("namespace", "--output-dir=/tmp/kpsa-pwned"),
        ("namespace", "-f/etc/passwd"),
    ] {
        repo.write(
            ".kpsa.yaml",
            &format!(
                "version: 1\ntargets:\n  - helm:\n      chart: charts/web\n      {key}: {value:?}\n"
            ),
        );
        let run = run_with_canaries(&repo, &["scan", "-q"], &[]);
        assert_eq!(run.code, 2, "{key}={value}: {}", run.stderr);
        assert!(run.stderr.contains(".kpsa.yaml:5:"), "{}", run.stderr);
    }
    std::fs::remove_file(repo.path().join(".kpsa.yaml")).unwrap();
    let run = repo.kpsa(
        ".",
        &["scan", "charts/web", "-q", "--release", "--show-only=x"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    // A discovered chart's name is input: the release named after it is
    // sanitised (and Helm itself then refuses the invalid chart name: an
    // input error, never a silent pass).
    repo.write(
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: \"--show-only=templates/none.yaml\"\nversion: 1.0.0\n",
    );
    let run = repo.kpsa(".", &["scan", "-q", "--format", "json"], &[]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let msg = run.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains(" -- show-only-templates-none-yaml "), "{msg}");
}

#[test]
fn config_paths_stay_inside_the_repository() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("outside.yaml"), "x: 1\n").unwrap();
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", CHART);
    repo.write("charts/web/templates/pod.yaml", PRIVILEGED_POD);
    std::os::unix::fs::symlink(outer.path(), repo.path().join("link")).unwrap();
    let outside = outer.path().join("outside.yaml").display().to_string();
    for (what, spec) in [
        (
            "values ..",
            "helm: {chart: charts/web, values: [\"../../../../../../etc/passwd\"]}".to_string(),
        ),
        (
            "values absolute",
            format!("helm: {{chart: charts/web, values: [{outside:?}]}}"),
        ),
        (
            "values through a symlink",
            "helm: {chart: charts/web, values: [link/outside.yaml]}".to_string(),
        ),
        (
            "values in .git",
            "helm: {chart: charts/web, values: [.git/config]}".to_string(),
        ),
        ("chart", "helm: {chart: /etc}".to_string()),
        ("kustomize", "kustomize: {path: ../..}".to_string()),
        (
            "manifests",
            "manifests: {paths: [\"../**/*.yaml\"]}".to_string(),
        ),
    ] {
        repo.write(".kpsa.yaml", &format!("version: 1\ntargets:\n  - {spec}\n"));
        let run = run_with_canaries(&repo, &["scan", "-q"], &[]);
        assert_eq!(run.code, 2, "{what}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("leaves the repository") || run.stderr.contains(".git"),
            "{what}: {}",
            run.stderr
        );
    }
    repo.write(".kpsa.yaml", "version: 1\nadmission-config: /etc/passwd\n");
    let run = repo.kpsa(".", &["scan", "-q"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// A chart whose `files/a.txt` is a symlink to the checkout's `.git/config`,
/// which (as actions/checkout leaves it) holds an authorization header.
fn leaking_chart(repo: &Repo) {
    repo.git(&[
        "config",
        "http.https://github.com/.extraheader",
        &format!("AUTHORIZATION: basic {CANARY}"),
    ]);
    repo.write(
        "charts/leak/Chart.yaml",
        "apiVersion: v2\nname: leak\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/leak/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: leak\nspec:\n  containers:\n    - name: {{ .Files.Get \"files/a.txt\" | quote }}\n      image: x\n      securityContext:\n        privileged: true\n",
    );
    std::fs::create_dir_all(repo.path().join("charts/leak/files")).unwrap();
    std::os::unix::fs::symlink(
        "../../../.git/config",
        repo.path().join("charts/leak/files/a.txt"),
    )
    .unwrap();
}

#[test]
fn a_symlink_out_of_the_chart_is_refused_in_scan_and_diff() {
    let repo = Repo::new("");
    repo.write("raw/pod.yaml", PRIVILEGED_POD);
    repo.commit("base");
    leaking_chart(&repo);
    // run_with_canaries also asserts the header never reaches an output.
    let check = |run: &common::Run, what: &str| {
        assert_eq!(run.code, 3, "{what}: {}\n{}", run.stdout, run.stderr);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            all.contains("charts/leak/files/a.txt") && all.contains("symlink"),
            "{what}: the error names the link:\n{all}"
        );
    };
    // scan, and the working tree against a commit.
    let run = run_with_canaries(&repo, &["scan", "-q", "--format", "json"], &[]);
    check(&run, "scan");
    let run = run_with_canaries(&repo, &["diff", "HEAD", "-q"], &[]);
    check(&run, "working-tree diff");
    // A commit that adds it.
    repo.commit("leak");
    let run = run_with_canaries(&repo, &["diff", "HEAD~1..HEAD", "-q"], &[]);
    check(&run, "commit diff");
}

/// A commit whose tree holds an entry named `..` (git's own commands refuse
/// to check it out; a snapshot writer must too).
fn crafted_commit(repo: &Repo, name: &str) -> String {
    use std::io::Write;
    let run = |args: &[&str], input: &[u8]| -> String {
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let blob = run(&["hash-object", "-w", "--stdin"], PRIVILEGED_POD.as_bytes());
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let mut inner = b"100644 escaped.yaml\0".to_vec();
    inner.extend(hex(&blob));
    let inner = run(
        &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
        &inner,
    );
    let mut outer = format!("40000 {name}\0").into_bytes();
    outer.extend(hex(&inner));
    let mut deploy = b"40000 deploy\0".to_vec();
    let deploy_tree = run(
        &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
        &outer,
    );
    deploy.extend(hex(&deploy_tree));
    let root = run(
        &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
        &deploy,
    );
    run(&["commit-tree", &root, "-p", "HEAD", "-m", "crafted"], b"")
}

#[test]
fn a_crafted_tree_cannot_write_outside_the_snapshot() {
    let repo = Repo::new("");
    repo.write("deploy/pod.yaml", PRIVILEGED_POD);
    repo.commit("base");
    for name in ["..", ".git", ".GIT"] {
        let commit = crafted_commit(&repo, name);
        let tmp = tempfile::tempdir().unwrap();
        let tmpdir = tmp.path().join("t");
        std::fs::create_dir(&tmpdir).unwrap();
        let run = repo.kpsa(
            ".",
            &["diff", &format!("HEAD..{commit}"), "-q", "--all"],
            &[("TMPDIR", &tmpdir.display().to_string())],
        );
        assert_eq!(run.code, 3, "{name}: {}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("refuses trees"), "{}", run.stderr);
        // Nothing landed beside the temporary directory.
        let beside: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(beside, vec![std::ffi::OsString::from("t")], "{name}");
        assert_eq!(
            std::fs::read_dir(&tmpdir).unwrap().count(),
            0,
            "{name}: temp dirs left"
        );
    }
}

#[test]
fn render_output_is_capped_and_the_program_stopped() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", CHART);
    repo.write("charts/web/templates/pod.yaml", PRIVILEGED_POD);
    repo.write("raw/pod.yaml", &PRIVILEGED_POD.replace("web", "raw"));
    repo.commit("chart");
    let bin = tempfile::tempdir().unwrap();
    let helm = bin.path().join("helm");
    std::fs::write(&helm, "#!/bin/sh\nexec yes 'a: b'\n").unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "-q",
            "--format",
            "json",
            "--helm",
            &helm.display().to_string(),
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let msg = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == "charts/web")
        .expect("an error for the chart")["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("printed more than 67108864 bytes") && msg.contains("--max-render-bytes"),
        "{msg}"
    );
    // The rest of the repository is still evaluated.
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["target"] == "raw")
    );
    // A smaller limit applies to the real renderer too.
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "charts/web",
            "-q",
            "--format",
            "json",
            "--max-render-bytes",
            "50",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[test]
fn render_programs_die_with_kpsa() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", CHART);
    repo.write("charts/web/templates/pod.yaml", PRIVILEGED_POD);
    repo.commit("chart");
    let bin = tempfile::tempdir().unwrap();
    let pidfile = bin.path().join("pid");
    let helm = bin.path().join("helm");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 60\n",
            pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kpsa"))
        .args(["scan", "-q", "--helm"])
        .arg(&helm)
        .current_dir(repo.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
        assert!(std::time::Instant::now() < deadline, "helm never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    child.kill().unwrap(); // SIGKILL: no cleanup code of kpsa's runs.
    child.wait().unwrap();
    let proc_dir = Path::new("/proc").join(&pid);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "helm (pid {pid}) outlived a SIGKILLed kpsa: {stat}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn stale_temporary_directories_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("kpsa-snapshot-old");
    let fresh = tmp.path().join("kpsa-snapshot-fresh");
    let other = tmp.path().join("someone-else");
    for d in [&old, &fresh, &other] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("f"), "x").unwrap();
    }
    for d in [&old, &other] {
        let status = std::process::Command::new("touch")
            .args(["-d", "3 days ago"])
            .arg(d)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let run = common::kpsa_stdin(
        tmp.path(),
        &["checks"],
        None,
        &[("TMPDIR", &tmp.path().display().to_string())],
    );
    assert_eq!(run.code, 0);
    assert!(!old.exists(), "a day-old kpsa directory is removed");
    assert!(fresh.exists(), "a fresh one (another run's) is kept");
    assert!(other.exists(), "what is not kpsa's is kept");
}

#[test]
fn a_vendored_subchart_does_not_poison_the_dependency_cache() {
    let repo = Repo::new("");
    repo.write(
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: lib\n    version: 1.0.0\n    repository: file://../lib\n",
    );
    repo.write(
        "charts/app/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n    - name: app\n      image: x\n",
    );
    repo.write(
        "charts/lib/Chart.yaml",
        "apiVersion: v2\nname: lib\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/lib/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lib\n",
    );
    repo.commit("clean");
    // Another branch vendors a subchart with a privileged pod.
    repo.git(&["checkout", "-q", "-b", "evil"]);
    repo.write(
        "charts/app/charts/extra/Chart.yaml",
        "apiVersion: v2\nname: extra\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/app/charts/extra/templates/pod.yaml",
        &PRIVILEGED_POD.replace("web", "extra"),
    );
    repo.commit("vendored");
    let privileged = |repo: &Repo| -> usize {
        let run = repo.kpsa(".", &["scan", "charts/app", "-q", "--format", "json"], &[]);
        assert!(run.code <= 1, "{}", run.stderr);
        run.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "privileged")
            .count()
    };
    assert_eq!(privileged(&repo), 1, "the evil branch itself shows its pod");
    repo.git(&["checkout", "-q", "main"]);
    assert_eq!(
        privileged(&repo),
        0,
        "main was served the evil branch's cached charts/"
    );
}

/// A pod with the hostile strings in every place a report shows.
fn hostile_repo() -> Repo {
    let repo = Repo::new("");
    let hostile = "x @org/team #12 !3 ~bug /approve <!-- kpsa:summary --> <img src=x onerror=alert(1)> [a](javascript:alert(1)) https://evil.example www.evil.example `code` | cell";
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    kpsa.io/ignore: hostNamespaces\n    kpsa.io/ignore-reason: \"{hostile}\\n/approve\\n::warning file=a::pwn\\e[2J\\u202e\"\nspec:\n  hostPID: true\n  containers:\n    - name: \"{hostile}\\n::error file=x::pwn\\n##[error]pwn\\e]0;title\\a\\e[31m\\u202e\"\n      image: x\n      securityContext:\n        privileged: true\n"
    );
    repo.write("raw/pod.yaml", &pod);
    repo.write(
        "charts/bad/Chart.yaml",
        "apiVersion: v2\nname: bad\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/bad/templates/x.yaml",
        &format!("{{{{ fail \"{}\" }}}}\n", hostile.replace('"', "'")),
    );
    repo.commit("hostile");
    repo
}

fn assert_log_safe(what: &str, text: &str) {
    for c in text.chars() {
        assert!(
            !(('\u{202A}'..='\u{202E}').contains(&c) || c.is_control() && c != '\n' && c != '\t'),
            "{what}: control character {c:?} in:\n{text}"
        );
    }
    for line in text.lines() {
        let t = line.trim_start();
        assert!(
            !t.starts_with("::") && !t.starts_with("##["),
            "{what}: a workflow command line: {line}"
        );
    }
}

#[test]
fn every_format_is_safe_to_print_and_post() {
    let repo = hostile_repo();
    let dir = tempfile::tempdir().unwrap();
    let out = |f: &str| dir.path().join(f).display().to_string();
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "-q",
            "--show-suppressed",
            "--format",
            "text",
            "--format",
            "markdown",
            "--output",
            &out("md"),
            "--format",
            "junit",
            "--output",
            &out("junit"),
            "--format",
            "json",
            "--output",
            &out("json"),
            "--format",
            "sarif",
            "--output",
            &out("sarif"),
            "--format",
            "codequality",
            "--output",
            &out("cq"),
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_log_safe("text", &run.stdout);
    assert_log_safe("stderr", &run.stderr);
    assert!(
        run.stdout.contains("/approve"),
        "the text still shows the name"
    );
    let junit = std::fs::read_to_string(out("junit")).unwrap();
    assert_log_safe("junit", &junit);
    assert!(!junit.contains("<img"), "{junit}");
    // JSON outputs are JSON: the strings survive as data.
    for f in ["json", "sarif", "cq"] {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(out(f)).unwrap()).unwrap();
        assert!(v.to_string().contains("@org/team"), "{f} keeps the data");
    }

    let md = std::fs::read_to_string(out("md")).unwrap();
    assert_markdown_safe(&md);
}

/// Markdown that GitHub or GitLab would render: no HTML from the input, no
/// comment or marker but kpsa's one summary marker, no link, no mention,
/// reference, autolink or quick action.
fn assert_markdown_safe(md: &str) {
    assert_log_safe("markdown", md);
    // What the text reads as once rendered: the zero-width space kpsa puts
    // after `@`, `#`… stays, other character references are opaque.
    let mut text = String::new();
    let mut rest = md;
    while let Some(at) = rest.find('&') {
        text.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .map(|e| at + e + 1)
            .unwrap_or(rest.len());
        text.push(if &rest[at..end] == "&#8203;" {
            '\u{200B}'
        } else {
            '¤'
        });
        rest = &rest[end..];
    }
    text.push_str(rest);
    assert_eq!(md.matches("<!--").count(), 1, "only kpsa's marker:\n{md}");
    assert!(md.starts_with("<!-- kpsa:summary -->"), "{md}");
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("/approve"),
            "quick action: {line}"
        );
        for (i, c) in line.char_indices() {
            let next = line[i + c.len_utf8()..].chars().next();
            assert!(
                !(matches!(c, '@' | '#' | '!' | '~') && next.is_some_and(|n| n.is_alphanumeric())),
                "a mention or reference can form at {c}{next:?} in: {line}"
            );
        }
        assert!(
            !line.contains("://evil") && !line.contains("www.evil"),
            "autolink: {line}"
        );
    }
    let mut options = comrak::Options::default();
    options.extension.autolink = true;
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.render.r#unsafe = true;
    let html = comrak::markdown_to_html(md, &options);
    // Only the tags kpsa's templates write; no link at all.
    let allowed = [
        "h2",
        "h3",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "ul",
        "li",
        "strong",
        "code",
        "details",
        "summary",
        "b",
        "pre",
        "blockquote",
        "br",
        "hr",
        "em",
    ];
    for (i, _) in html.match_indices('<') {
        let tag: String = html[i + 1..]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if html[i..].starts_with("<!-- kpsa:summary -->") {
            continue;
        }
        assert!(
            allowed.contains(&tag.as_str()),
            "<{tag} in the rendered HTML:\n{html}"
        );
    }
    assert!(
        !html.contains("href="),
        "a link in the rendered HTML:\n{html}"
    );
    assert!(
        html.contains("@"),
        "the text still reads as it was:\n{html}"
    );
}

#[test]
fn a_change_cannot_approve_itself() {
    let repo = Repo::new("");
    repo.write(
        "raw/ok.yaml",
        &PRIVILEGED_POD
            .replace("privileged: true", "runAsNonRoot: true")
            .replace("web", "ok"),
    );
    // An old, reviewed suppression stays in force.
    repo.write(
        "raw/old.yaml",
        &PRIVILEGED_POD
            .replace("name: web", "name: old\n  annotations:\n    kpsa.io/ignore: privileged\n    kpsa.io/ignore-reason: reviewed in SEC-1"),
    );
    repo.write(".kpsa.yaml", "version: 1\nfail-on: baseline\n");
    repo.commit("base");
    // The change adds a privileged pod and suppresses it itself, and widens
    // the config's exemptions and lowers its gate.
    repo.write(
        "raw/new.yaml",
        &PRIVILEGED_POD.replace(
            "name: web",
            "name: new\n  annotations:\n    kpsa.io/ignore: privileged\n    kpsa.io/ignore-reason: trust me",
        ),
    );
    repo.write(
        ".kpsa.yaml",
        "version: 1\nfail-on: never\nexemptions:\n  - {check: \"*\", reason: everything}\n",
    );
    repo.commit("head");
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1..HEAD", "-q", "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    let new: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new" && f["check"] == "privileged")
        .collect();
    assert_eq!(new.len(), 1, "{r}");
    assert_eq!(new[0]["object"]["name"], "new");
    assert_eq!(new[0]["suppression"]["pending"], true);
    assert_eq!(new[0]["suppression"]["active"], false);
    let changes = r["configuration_changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["setting"] == "fail-on" && c["applied"] == false),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|c| c["setting"]
            .as_str()
            .unwrap()
            .starts_with("suppression: privileged")
            && c["applied"] == false),
        "{changes:?}"
    );
    common::assert_valid("docs/kpsa-report.schema.json", &r);
    // Approved by a trusted job: the new suppression applies.
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1..HEAD", "-q", "--allow-new-suppressions"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    // A trusted run (a push to main) takes the head's config as approved.
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1..HEAD", "-q", "--config-from", "head"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_change_cannot_drop_or_narrow_its_own_target() {
    let repo = Repo::new("");
    repo.write(
        "apps/a/pod.yaml",
        &PRIVILEGED_POD.replace("privileged: true", "runAsNonRoot: true"),
    );
    repo.write(
        ".kpsa.yaml",
        "version: 1\nfail-on: baseline\ntargets:\n  - name: apps\n    manifests: {paths: [\"apps/**/*.yaml\"]}\n",
    );
    repo.commit("base");
    // The change makes the pod privileged, and narrows the target to miss it,
    // and adds a target of its own with a privileged pod.
    repo.write("apps/a/pod.yaml", PRIVILEGED_POD);
    repo.write("other/pod.yaml", &PRIVILEGED_POD.replace("web", "other"));
    repo.write(
        ".kpsa.yaml",
        "version: 1\nfail-on: baseline\ntargets:\n  - name: apps\n    manifests: {paths: [\"apps/none/*.yaml\"]}\n  - name: other\n    manifests: {paths: [\"other/*.yaml\"]}\n",
    );
    repo.commit("head");
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1..HEAD", "-q", "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    let new: Vec<(String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new")
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_string(),
                f["object"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        new.contains(&("apps".into(), "web".into())),
        "the base's target still renders: {new:?}"
    );
    assert!(
        new.contains(&("other".into(), "other".into())),
        "the new target is scanned: {new:?}"
    );
    assert!(
        r["configuration_changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["setting"] == "targets.apps" && c["applied"] == false),
        "{}",
        r["configuration_changes"]
    );
}

/// Run kpsa as an unprivileged user when the tests run as root (root reads
/// every directory, so "unreadable" needs another user).
fn kpsa_as_user(dir: &Path, args: &[&str]) -> common::Run {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kpsa"));
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", common::path_with_tools());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534).env("HOME", "/tmp");
    }
    let out = cmd.output().unwrap();
    common::Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn an_unreadable_directory_is_an_error_and_nothing_to_scan_is_not_a_pass() {
    let repo = Repo::new("");
    repo.write("raw/pod.yaml", PRIVILEGED_POD);
    repo.write("secret/pod.yaml", &PRIVILEGED_POD.replace("web", "hidden"));
    repo.commit("pods");
    // Let the other user reach the repository, but not secret/.
    let mut p = repo.path().to_path_buf();
    loop {
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        if !p.pop() || p == Path::new("/tmp") || p == Path::new("/") {
            break;
        }
    }
    let secret = repo.path().join("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let run = kpsa_as_user(repo.path(), &["scan", "--format", "json", "-q"]);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let e = &r["errors"][0];
    assert_eq!(e["path"], "secret", "{r}");
    assert!(
        e["message"].as_str().unwrap().contains("cannot be read"),
        "{e}"
    );
    // The readable rest is still reported.
    assert_eq!(r["findings"][0]["object"]["name"], "web");

    // Nothing to scan: with a path named, a usage error; with discovery, a warning.
    std::fs::create_dir(repo.path().join("empty")).unwrap();
    let run = repo.kpsa(".", &["scan", "empty", "-q"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing to scan in empty"),
        "{}",
        run.stderr
    );
    let bare = Repo::new("");
    let run = bare.kpsa(".", &["scan", "-q"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: nothing to scan under"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_misspelt_check_in_a_suppression_is_reported() {
    let repo = Repo::new("");
    repo.write(
        "raw/pod.yaml",
        &PRIVILEGED_POD.replace(
            "name: web",
            "name: web\n  annotations:\n    kpsa.io/ignore: priviliged\n    kpsa.io/ignore-reason: reviewed",
        ),
    );
    repo.commit("typo");
    let run = repo.kpsa(".", &["scan", "-q", "--format", "json"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let e = &r["errors"][0];
    assert_eq!(e["path"], "raw/pod.yaml");
    assert_eq!(e["line"], 6, "the annotation's line: {e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("\"priviliged\" is not a check")
            && msg.contains("did you mean \"privileged\""),
        "{msg}"
    );
    // The finding it meant to suppress is still reported.
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "privileged")
    );
}

#[test]
fn remote_resources_and_private_downloads_are_refused() {
    let repo = Repo::new("");
    repo.write(
        "deploy/kustomization.yaml",
        "resources:\n  - pod.yaml\n  - https://169.254.169.254/latest/meta-data/x.yaml\n",
    );
    repo.write("deploy/pod.yaml", PRIVILEGED_POD);
    repo.write(
        "deploy2/kustomization.yaml",
        "resources:\n  - github.com/org/repo//deploy?ref=main\n",
    );
    for (repository, why) in [
        ("http://charts.example.com", "only https:// and oci://"),
        (
            "https://127.0.0.1:8443/charts",
            "loopback, private or link-local",
        ),
        (
            "https://169.254.169.254/x",
            "loopback, private or link-local",
        ),
        ("oci://localhost/charts", "is this machine"),
    ] {
        let dir = format!("charts/c{}", repository.len());
        repo.write(
            &format!("{dir}/Chart.yaml"),
            &format!("apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n  - name: lib\n    version: 1.0.0\n    repository: {repository}\n"),
        );
        repo.write(&format!("{dir}/templates/pod.yaml"), PRIVILEGED_POD);
        let run = repo.kpsa(".", &["scan", &dir, "-q", "--format", "json"], &[]);
        assert_eq!(run.code, 3, "{repository}: {}", run.stderr);
        let msg = run.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            msg.contains(why) && msg.contains(repository),
            "{repository}: {msg}"
        );
        std::fs::remove_dir_all(repo.path().join(&dir)).unwrap();
    }
    // --offline: no download at all.
    repo.write(
        "charts/pub/Chart.yaml",
        "apiVersion: v2\nname: pub\nversion: 1.0.0\ndependencies:\n  - name: lib\n    version: 1.0.0\n    repository: https://charts.example.com\n",
    );
    repo.write("charts/pub/templates/pod.yaml", PRIVILEGED_POD);
    let run = repo.kpsa(
        ".",
        &["scan", "charts/pub", "-q", "--format", "json", "--offline"],
        &[],
    );
    assert_eq!(run.code, 3);
    assert!(
        run.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("--offline forbids it")
    );
    std::fs::remove_dir_all(repo.path().join("charts")).unwrap();

    let run = repo.kpsa(".", &["scan", "-q", "--format", "json"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = run.json();
    let msg_for = |t: &str| {
        r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["target"] == t)
            .unwrap_or_else(|| panic!("no error for {t}: {r}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let m = msg_for("deploy");
    assert!(
        m.contains("kustomization.yaml:3")
            && m.contains("169.254.169.254")
            && m.contains("--allow-remote-resources"),
        "{m}"
    );
    assert!(msg_for("deploy2").contains("github.com/org/repo//deploy?ref=main"));

    // Allowed, the program runs; without it, its network goes nowhere even
    // when the syntax check is not enough: a closed proxy and local-only git.
    let bin = tempfile::tempdir().unwrap();
    let dump = bin.path().join("env");
    let kustomize = bin.path().join("kustomize");
    std::fs::write(
        &kustomize,
        format!("#!/bin/sh\nenv > {}\nexit 1\n", dump.display()),
    )
    .unwrap();
    std::fs::set_permissions(&kustomize, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.write("deploy/kustomization.yaml", "resources:\n  - pod.yaml\n");
    let k = kustomize.display().to_string();
    repo.kpsa(
        ".",
        &["scan", "deploy", "-q", "--kustomize", &k],
        &[("HTTPS_PROXY", "http://corp:3128")],
    );
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(
        env.contains("HTTPS_PROXY=http://127.0.0.1:9") && env.contains("GIT_ALLOW_PROTOCOL=file"),
        "{env}"
    );
    repo.kpsa(
        ".",
        &[
            "scan",
            "deploy",
            "-q",
            "--kustomize",
            &k,
            "--allow-remote-resources",
        ],
        &[("HTTPS_PROXY", "http://corp:3128")],
    );
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(
        env.contains("HTTPS_PROXY=http://corp:3128") && !env.contains("GIT_ALLOW_PROTOCOL"),
        "{env}"
    );
}

#[test]
fn a_tree_that_expands_to_millions_of_paths_stops_at_the_cap() {
    let repo = Repo::new("");
    repo.write("raw/pod.yaml", PRIVILEGED_POD);
    repo.commit("base");
    // 256 KB of objects naming 10^7 paths: one tree reused at every level.
    let script = r#"set -e
blob=$(echo 'kind: x' | git hash-object -w --stdin)
t=$( (for i in 0 1 2 3 4 5 6 7 8 9; do printf "100644 blob $blob\tf$i.yaml\n"; done) | git mktree)
for lvl in 1 2 3 4 5 6; do
  t=$( (for i in 0 1 2 3 4 5 6 7 8 9; do printf "040000 tree $t\td$i\n"; done) | git mktree)
done
git -c user.name=a -c user.email=a@b commit-tree "$t" -p HEAD -m bomb"#;
    let out = std::process::Command::new("sh")
        .args(["-c", script])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let commit = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            &format!("HEAD..{commit}"),
            "-q",
            "--max-tree-entries",
            "20000",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("more than 20000 paths") && run.stderr.contains("--max-tree-entries"),
        "{}",
        run.stderr
    );
    // Discovery on disk is capped the same way.
    let run = repo.kpsa(".", &["scan", "-q", "--max-tree-entries", "2"], &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.contains("more than 2 paths"), "{}", run.stdout);
}

#[test]
fn a_change_cannot_lower_its_namespace_to_pass() {
    let ns = |level: &str| {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: {level}\n"
        )
    };
    let pod = |extra: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n{extra}  containers:\n    - name: app\n      image: x\n"
        )
    };
    let repo = Repo::new("");
    repo.write("raw/ns.yaml", &ns("baseline"));
    repo.write("raw/pod.yaml", &pod(""));
    repo.commit("base");
    repo.write("raw/ns.yaml", &ns("privileged"));
    repo.write("raw/pod.yaml", &pod("  hostPID: true\n"));
    repo.commit("lower and break");
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            "HEAD~1..HEAD",
            "-q",
            "--format",
            "json",
            "--fail-on",
            "enforced",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "judged with the base's labels: {}", run.stdout);
    let r = run.json();
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "hostNamespaces")
        .unwrap();
    assert_eq!(f["status"], "new");
    assert_eq!(f["admission"]["refused"], true, "{f}");
    assert!(
        r["configuration_changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| {
                c["setting"] == "namespace shop: Pod Security labels"
                    && c["base"] == "enforce=baseline"
                    && c["head"] == "enforce=privileged"
                    && c["applied"] == false
            }),
        "{}",
        r["configuration_changes"]
    );
    // A trusted run takes the head's labels.
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            "HEAD~1..HEAD",
            "-q",
            "--fail-on",
            "enforced",
            "--config-from",
            "head",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_saved_report_is_read_only_in_a_known_version_and_shape() {
    let repo = Repo::new("");
    repo.write("raw/pod.yaml", PRIVILEGED_POD);
    repo.commit("base");
    repo.write("raw/pod2.yaml", &PRIVILEGED_POD.replace("web", "web2"));
    repo.commit("head");
    let scan = repo
        .kpsa(".", &["scan", "-q", "--format", "json"], &[])
        .stdout;
    let diff = repo
        .kpsa(
            ".",
            &["diff", "HEAD~1..HEAD", "-q", "--format", "json"],
            &[],
        )
        .stdout;
    for text in [&scan, &diff] {
        let v = kpsa::report::saved::read(text, "report.json").unwrap();
        assert_eq!(v["schema_version"], 2);
    }
    let d: Value = serde_json::from_str(&diff).unwrap();
    let findings = d["findings"].as_array().unwrap();
    let f = findings
        .iter()
        .find(|f| f["check"] == "privileged")
        .unwrap();
    assert_eq!(f["family"], "pss", "{f}");
    assert_eq!(f["frameworks"][0]["id"], "baseline", "{f}");
    let k = findings.iter().find(|f| f["tier"] == "hardened").unwrap();
    assert_eq!(k["family"], "k01", "{k}");
    assert!(f["source"].as_str().is_some(), "the location's text: {f}");
    assert_eq!(d["shard"], Value::Null);
    assert!(
        d["settings_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    // Another version, another shape, or no JSON: refused, saying why.
    let old = scan.replacen("\"schema_version\": 2", "\"schema_version\": 1", 1);
    let e = kpsa::report::saved::read(&old, "old.json").unwrap_err();
    assert!(
        e.contains("schema_version 1") && e.contains("reads (2)"),
        "{e}"
    );
    let forged = scan.replacen("\"check\":", "\"injected\": true, \"check\":", 1);
    let e = kpsa::report::saved::read(&forged, "forged.json").unwrap_err();
    assert!(
        e.contains("does not match the schema") && e.contains("/findings/0"),
        "{e}"
    );
    let e = kpsa::report::saved::read("{\"schema_version\": 2,", "cut.json").unwrap_err();
    assert!(e.starts_with("cut.json:1:"), "{e}");
}

#[test]
fn files_the_policy_names_are_read_from_the_base() {
    let psc = |enforce: &str| {
        format!(
            "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: {enforce}\n"
        )
    };
    let repo = Repo::new("");
    repo.write("policy/psc.yaml", &psc("baseline"));
    repo.write(
        ".kpsa.yaml",
        "version: 1\nadmission-config: policy/psc.yaml\nfail-on: enforced\n",
    );
    repo.write("ci/summary.md.hbs", "REAL {{counts.total}}\n");
    repo.write(
        "raw/ok.yaml",
        &PRIVILEGED_POD.replace("privileged: true", "runAsNonRoot: true"),
    );
    repo.commit("base");
    // The change weakens the cluster defaults and forges the summary template.
    repo.write("policy/psc.yaml", &psc("privileged"));
    repo.write("ci/summary.md.hbs", "✅ all good\n");
    repo.write("raw/bad.yaml", PRIVILEGED_POD);
    repo.commit("head");
    for (args, code) in [
        (vec![], 1),
        (vec!["--admission-config", "policy/psc.yaml"], 1),
        (vec!["--config-from", "head"], 0),
    ] {
        let mut all = vec![
            "diff",
            "HEAD~1..HEAD",
            "-q",
            "--format",
            "markdown",
            "--template",
            "summary=ci/summary.md.hbs",
        ];
        all.extend(&args);
        let run = repo.kpsa(".", &all, &[]);
        assert_eq!(run.code, code, "{args:?}: {}\n{}", run.stdout, run.stderr);
        if code == 1 {
            assert!(
                run.stdout.starts_with("REAL "),
                "the base's template: {}",
                run.stdout
            );
        } else {
            assert_eq!(run.stdout, "✅ all good\n", "a trusted run uses the head's");
        }
    }
}

#[test]
fn annotations_in_the_input_cannot_point_provenance_outside() {
    let repo = Repo::new("");
    // A kustomization outside the repository (another checkout on the
    // runner, say) whose patch matches the object, and whose lines hold a
    // secret; pre-set transformer annotations point provenance at it.
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(
        outer.path().join("kustomization.yaml"),
        "patches:\n  - path: patch.yaml\n",
    )
    .unwrap();
    std::fs::write(
        outer.path().join("patch.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: app\n      securityContext:\n        privileged: true # root:SECRET-CANARY\n",
    )
    .unwrap();
    let rel_outer = format!("../../../../../../../../..{}", outer.path().display());
    repo.write(
        "deploy/base/pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    alpha.config.kubernetes.io/transformations: |\n      - configuredIn: {rel_outer}/kustomization.yaml\n        configuredBy:\n          kind: PatchTransformer\nspec:\n  containers:\n    - name: app\n      image: x\n      securityContext:\n        privileged: true\n"
        ),
    );
    repo.write(
        "deploy/base/kustomization.yaml",
        "resources:\n  - pod.yaml\n",
    );
    repo.write(
        "deploy/prod/kustomization.yaml",
        "resources:\n  - ../base\n",
    );
    repo.commit("overlay");
    let run = repo.kpsa(".", &["scan", "deploy/prod", "-q"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("--> deploy/base/pod.yaml:"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("SECRET-CANARY"),
        "a line from outside was printed:\n{}",
        run.stdout
    );
    let run = repo.kpsa(".", &["scan", "deploy/prod", "-q", "--format", "json"], &[]);
    for f in run.json()["findings"].as_array().unwrap() {
        let p = f["location"]["path"].as_str().unwrap();
        assert!(p.starts_with("deploy/"), "{p}");
        assert!(
            !f["source"].as_str().unwrap_or("").contains("SECRET-CANARY"),
            "{f}"
        );
    }
}

#[test]
fn a_config_named_inside_the_repository_is_the_bases_in_diff() {
    let repo = Repo::new("");
    repo.write("ci/kpsa.yaml", "version: 1\nfail-on: baseline\n");
    repo.write(
        "raw/ok.yaml",
        &PRIVILEGED_POD.replace("privileged: true", "runAsNonRoot: true"),
    );
    repo.commit("base");
    repo.write("ci/kpsa.yaml", "version: 1\nfail-on: never\n");
    repo.write("raw/bad.yaml", PRIVILEGED_POD);
    repo.commit("head");
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1..HEAD", "-q", "--config", "ci/kpsa.yaml"],
        &[],
    );
    assert_eq!(run.code, 1, "the base's gate: {}", run.stdout);
    assert!(
        run.stdout
            .contains("fail-on: baseline → never (not applied: needs review)"),
        "{}",
        run.stdout
    );
    // Edited in the working tree only: still the base's.
    repo.write(
        "ci/kpsa.yaml",
        "version: 1\nfail-on: never\nlevel: baseline\n",
    );
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1", "-q", "--config", "ci/kpsa.yaml"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn a_hostile_suppression_reason_cannot_hide_the_summary() {
    let repo = Repo::new("");
    repo.write(
        "raw/ok.yaml",
        &PRIVILEGED_POD.replace("privileged: true", "runAsNonRoot: true"),
    );
    repo.commit("base");
    // A reason that closes a code span, opens a comment, mentions and runs quick actions.
    repo.write(
        "raw/bad.yaml",
        &PRIVILEGED_POD.replace(
            "name: web",
            "name: bad\n  annotations:\n    kpsa.io/ignore: privileged\n    kpsa.io/ignore-reason: \"ok`\\n\\n<!-- @org/security-team /approve #1\\n::add-mask::x\"",
        ),
    );
    repo.commit("head");
    let run = repo.kpsa(
        ".",
        &["diff", "HEAD~1..HEAD", "-q", "--format", "markdown"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_markdown_safe(&run.stdout);
    assert!(
        run.stdout.contains("### New findings"),
        "the findings are still visible:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("not applied: needs review"),
        "{}",
        run.stdout
    );
    let run = repo.kpsa(".", &["diff", "HEAD~1..HEAD", "-q"], &[]);
    assert_log_safe("text", &run.stdout);
}
