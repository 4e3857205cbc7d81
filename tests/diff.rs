//! `kpsa diff` end to end: real git repositories, real renders, the real
//! binary. Each test asserts the new and fixed sets, the level transitions,
//! the exit code and the attributed path and line.

mod common;

use common::{Repo, assert_valid};
use serde_json::Value;

/// (target, check, container) of the findings with a status.
fn with_status(r: &Value, status: &str) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_string(),
                f["check"].as_str().unwrap().to_string(),
                f["container"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn t(target: &str, check: &str, container: &str) -> (String, String, String) {
    (target.into(), check.into(), container.into())
}

/// The attributed location of the one new finding with this check.
fn attributed(r: &Value, check: &str) -> Option<(String, u64)> {
    let news: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new" && f["check"] == check)
        .collect();
    assert_eq!(news.len(), 1, "one new {check}: {news:?}");
    let a = &news[0]["attributed_location"];
    (!a.is_null()).then(|| {
        (
            a["path"].as_str().unwrap().to_string(),
            a["line"].as_u64().unwrap(),
        )
    })
}

fn transitions(r: &Value) -> Vec<String> {
    r["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {}: {} -> {}",
                t["target"].as_str().unwrap(),
                t["object"]["name"].as_str().unwrap(),
                t["before"].as_str().unwrap_or("absent"),
                t["after"].as_str().unwrap_or("absent")
            )
        })
        .collect()
}

fn diff(repo: &Repo, spec: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["diff", spec, "--format", "json", "-q"];
    args.extend_from_slice(extra);
    let state = repo.git_state();
    let files = repo.snapshot();
    let run = repo.kpsa(".", &args, &[]);
    assert_eq!(repo.git_state(), state, "kpsa changed git's state");
    assert_eq!(repo.snapshot(), files, "kpsa changed the working tree");
    let r = run.json();
    assert_valid("docs/kpsa-report.schema.json", &r);
    (run.code, r, run.stderr)
}

/// The platform fixture on `main`, with a `feature` branch checked out.
fn platform() -> Repo {
    let repo = Repo::new("platform");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

/// Assert the attributed line exists and holds `text`.
fn assert_line(repo: &Repo, at: &(String, u64), text: &str) {
    let line = repo.line(&at.0, at.1);
    assert!(
        line.contains(text),
        "{}:{} is {line:?}, expected {text:?}",
        at.0,
        at.1
    );
}

#[test]
fn a_values_change_makes_a_container_privileged() {
    let repo = platform();
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!(
            "{prod}containerSecurityContext:\n  # the profiler needs it\n  privileged: true\n"
        ),
    );
    repo.commit("prod: privileged");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        with_status(&r, "new"),
        vec![t("web-prod", "privileged", "web")]
    );
    assert_eq!(with_status(&r, "fixed"), vec![]);
    let at = attributed(&r, "privileged").expect("attributed");
    assert_eq!(at.0, "charts/web/values-prod.yaml");
    assert_line(&repo, &at, "privileged: true");
    assert_eq!(
        transitions(&r),
        vec!["web-prod web-web: restricted -> privileged"]
    );
    // Only the chart's two environments were rendered, on both sides.
    assert_eq!(
        r["targets"]["rendered"],
        serde_json::json!({"base": 2, "head": 2})
    );
    assert_eq!(
        r["targets"]["skipped"],
        serde_json::json!({"base": 2, "head": 2})
    );
    // Only the chart (with its file:// library) is written out, on each
    // side: not the overlays, not the config.
    let files = |side: &str| r["targets"]["materialized"][side].as_u64().unwrap();
    let chart_files = repo.git(&["ls-files", "charts/"]).lines().count() as u64;
    assert_eq!(files("head"), chart_files);
    assert_eq!(files("base"), chart_files);
    // --include-unchanged renders every head target: the overlays' findings
    // come back as unchanged; --all renders both sides in full.
    let (code, r2, _) = diff(&repo, "main..feature", &["--include-unchanged"]);
    assert_eq!(code, 1);
    assert_eq!(
        r2["targets"]["rendered"],
        serde_json::json!({"base": 2, "head": 4})
    );
    assert_eq!(with_status(&r2, "new"), with_status(&r, "new"));
    assert!(
        with_status(&r2, "unchanged")
            .iter()
            .any(|f| f.0 == "deploy/overlays/staging")
    );
    let (_, r3, _) = diff(&repo, "main..feature", &["--all"]);
    assert_eq!(
        r3["targets"]["rendered"],
        serde_json::json!({"base": 4, "head": 4})
    );
    assert_eq!(with_status(&r3, "new"), with_status(&r, "new"));
    assert_eq!(with_status(&r3, "fixed"), vec![]);
    assert_eq!(
        r["base_commit"].as_str().unwrap(),
        repo.git(&["rev-parse", "main"]).trim()
    );
    assert_eq!(
        r["head_commit"].as_str().unwrap(),
        repo.git(&["rev-parse", "feature"]).trim()
    );
}

#[test]
fn a_template_adds_host_network() {
    let repo = platform();
    let tpl = repo.read("charts/web/templates/deployment.yaml");
    repo.write(
        "charts/web/templates/deployment.yaml",
        &tpl.replace(
            "      hostNetwork: {{ .Values.hostNetwork }}\n",
            "      hostNetwork: true\n",
        ),
    );
    repo.commit("host network everywhere");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1);
    // web-dev had hostNetwork already: only prod's is new.
    assert_eq!(
        with_status(&r, "new"),
        vec![t("web-prod", "hostNamespaces", "")]
    );
    let at = attributed(&r, "hostNamespaces").unwrap();
    assert_eq!(at, ("charts/web/templates/deployment.yaml".to_string(), 18));
    assert_line(&repo, &at, "hostNetwork: true");
    assert_eq!(
        transitions(&r),
        vec!["web-prod web-web: restricted -> privileged"]
    );
}

#[test]
fn a_change_that_fixes_a_violation_passes() {
    let repo = platform();
    let dev = repo.read("charts/web/values-dev.yaml");
    repo.write(
        "charts/web/values-dev.yaml",
        &dev.replace("  enabled: true", "  enabled: false"),
    );
    repo.commit("no debug sidecar");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 0);
    assert_eq!(with_status(&r, "new"), vec![]);
    let fixed = with_status(&r, "fixed");
    assert!(
        fixed.contains(&t("web-dev", "privileged", "debug")),
        "{fixed:?}"
    );
    assert!(
        fixed.iter().all(|f| f.0 == "web-dev" && f.2 == "debug"),
        "{fixed:?}"
    );
}

#[test]
fn reordered_values_and_renamed_labels_add_nothing() {
    let repo = platform();
    let values = repo.read("charts/web/values.yaml");
    let (head, tail) = values.split_at(values.find("podSecurityContext:").unwrap());
    repo.write("charts/web/values.yaml", &format!("{tail}{head}"));
    let tpl = repo.read("charts/web/templates/deployment.yaml");
    repo.write(
        "charts/web/templates/deployment.yaml",
        &tpl.replace("app: {{", "app.kubernetes.io/name: {{"),
    );
    repo.commit("tidy");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 0, "{:?}", with_status(&r, "new"));
    assert_eq!(with_status(&r, "new"), vec![]);
    assert_eq!(with_status(&r, "fixed"), vec![]);
    assert!(!with_status(&r, "unchanged").is_empty());
    assert_eq!(transitions(&r), Vec::<String>::new());
}

const TWO_CONTAINERS: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
spec:
  template:
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: agent
          image: agent:1
          securityContext:
            privileged: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            limits: {cpu: 100m, memory: 64Mi}
";

#[test]
fn a_second_violating_container_is_one_new_finding() {
    let repo = Repo::new("");
    repo.write("raw/agent.yaml", TWO_CONTAINERS);
    repo.commit("agent");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let second: String = TWO_CONTAINERS
        .lines()
        .skip(12)
        .take(9)
        .map(|l| format!("{}\n", l.replace("agent", "helper")))
        .collect();
    repo.write("raw/agent.yaml", &format!("{TWO_CONTAINERS}{second}"));
    repo.commit("helper");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        with_status(&r, "new"),
        vec![t("raw", "privileged", "helper")]
    );
    assert_eq!(
        with_status(&r, "unchanged"),
        vec![t("raw", "privileged", "agent")]
    );
    let at = attributed(&r, "privileged").unwrap();
    assert_eq!(at, ("raw/agent.yaml".to_string(), 25));
    assert_line(&repo, &at, "privileged: true");
}

const GOOD_CHART: &str = "apiVersion: v2\nname: NAME\nversion: 1.0.0\n";
const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  hostIPC: true\n  containers:\n    - name: app\n      image: app:1\n";

#[test]
fn a_new_chart_brings_only_new_findings_and_a_renamed_one_none() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", &GOOD_CHART.replace("NAME", "web"));
    repo.write("charts/web/templates/pod.yaml", POD);
    repo.commit("web");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("charts/api/Chart.yaml", &GOOD_CHART.replace("NAME", "api"));
    repo.write("charts/api/templates/pod.yaml", POD);
    repo.commit("api");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1);
    let new = with_status(&r, "new");
    assert!(
        !new.is_empty() && new.iter().all(|f| f.0 == "charts/api"),
        "{new:?}"
    );
    assert_eq!(
        attributed(&r, "hostNamespaces").unwrap(),
        ("charts/api/templates/pod.yaml".to_string(), 6)
    );
    assert_eq!(
        transitions(&r),
        vec!["charts/api api: absent -> privileged"]
    );
    // charts/web did not change: not rendered on either side.
    assert_eq!(
        r["targets"]["rendered"],
        serde_json::json!({"base": 0, "head": 1})
    );
    assert_eq!(
        r["targets"]["skipped"],
        serde_json::json!({"base": 1, "head": 1})
    );

    // A removed chart has only fixed findings.
    repo.git(&["rm", "-q", "-r", "charts/api"]);
    repo.commit("drop api");
    let (code, r, _) = diff(&repo, "feature~1..feature", &[]);
    assert_eq!(code, 0);
    assert_eq!(with_status(&r, "new"), vec![]);
    let fixed = with_status(&r, "fixed");
    assert!(
        !fixed.is_empty() && fixed.iter().all(|f| f.0 == "charts/api"),
        "{fixed:?}"
    );
    assert_eq!(
        transitions(&r),
        vec!["charts/api api: privileged -> absent"]
    );
    repo.git(&["revert", "--no-edit", "HEAD"]);

    // Renaming a chart directory keeps its identity.
    repo.git(&["mv", "charts/web", "charts/storefront"]);
    repo.commit("rename");
    let (code, r, _) = diff(&repo, "feature~1..feature", &[]);
    assert_eq!(code, 0, "{:?}", with_status(&r, "new"));
    assert_eq!(with_status(&r, "new"), vec![]);
    assert_eq!(with_status(&r, "fixed"), vec![]);
    assert!(
        with_status(&r, "unchanged")
            .iter()
            .all(|f| f.0 == "charts/storefront")
    );
    assert_eq!(
        r["targets"]["rendered"],
        serde_json::json!({"base": 1, "head": 1})
    );
}

#[test]
fn an_overlay_patch_adds_host_pid() {
    let repo = platform();
    repo.write(
        "deploy/overlays/staging/host-pid.yaml",
        "- op: add\n  path: /spec/template/spec/hostPID\n  value: true\n",
    );
    let k = repo.read("deploy/overlays/staging/kustomization.yaml");
    repo.write(
        "deploy/overlays/staging/kustomization.yaml",
        &format!(
            "{k}  - path: host-pid.yaml\n    target:\n      kind: Deployment\n      name: api\n"
        ),
    );
    repo.commit("staging: hostPID");
    let (code, r, _) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        with_status(&r, "new"),
        vec![t("deploy/overlays/staging", "hostNamespaces", "")]
    );
    let at = attributed(&r, "hostNamespaces").unwrap();
    assert_eq!(at, ("deploy/overlays/staging/host-pid.yaml".to_string(), 3));
    assert_line(&repo, &at, "value: true");
    // The staging overlay was already privileged: no transition.
    assert_eq!(transitions(&r), Vec::<String>::new());
    assert_eq!(
        r["targets"]["rendered"],
        serde_json::json!({"base": 1, "head": 1})
    );
}

#[test]
fn configuration_changes_are_listed_and_base_config_can_rule() {
    let repo = platform();
    let config = repo.read(".kpsa.yaml");
    repo.write(
        ".kpsa.yaml",
        &config.replace("level: hardened", "level: baseline"),
    );
    repo.commit("lower the level");
    // By default the base's configuration decides: the change is listed as
    // needing review and not applied.
    let (_, r, _) = diff(&repo, "main..feature", &[]);
    let changes = r["configuration_changes"].as_array().unwrap();
    assert_eq!(
        changes,
        &vec![
            serde_json::json!({"setting": "level", "base": "hardened", "head": "baseline", "applied": false})
        ]
    );
    assert_eq!(r["level"], "hardened");
    // A trusted run applies the head's.
    let (_, r, _) = diff(&repo, "main..feature", &["--config-from", "head"]);
    assert_eq!(r["level"], "baseline");
    assert_eq!(r["configuration_changes"][0]["applied"], true);
    // The text report lists it too.
    let run = repo.kpsa(".", &["diff", "main..feature", "-q"], &[]);
    assert!(
        run.stdout.contains(
            "Configuration changes:\n  level: hardened → baseline (not applied: needs review)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_base_that_does_not_render_makes_head_findings_new() {
    let repo = Repo::new("");
    repo.write("charts/web/Chart.yaml", &GOOD_CHART.replace("NAME", "web"));
    repo.write(
        "charts/web/templates/pod.yaml",
        &POD.replace(
            "  hostIPC: true\n",
            "  hostIPC: {{ required \"set .Values.ipc\" .Values.ipc }}\n",
        ),
    );
    repo.commit("broken");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("charts/web/templates/pod.yaml", POD);
    repo.commit("fixed template");
    let (code, r, stderr) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1, "the gate applies to new findings");
    let new: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new")
        .collect();
    assert!(
        !new.is_empty() && new.iter().all(|f| f["base_unavailable"] == true),
        "{new:?}"
    );
    assert!(
        stderr.contains("failed to render on the base side"),
        "{stderr}"
    );
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("set .Values.ipc")
    );
    assert_eq!(r["errors"], serde_json::json!([]));

    // A head that does not render is an error: exit 3.
    repo.write(
        "charts/web/templates/pod.yaml",
        &POD.replace("{{ .Release.Name }}", "{{ .Release.Name "),
    );
    repo.commit("broken again");
    let (code, r, _) = diff(&repo, "feature~1..feature", &[]);
    assert_eq!(code, 3);
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("failed to render")
    );
}

#[test]
fn uncommitted_changes_against_head() {
    let repo = platform();
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!("{prod}hostNetwork: true\n"),
    );
    repo.write("raw/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n");
    let (code, r, _) = diff(&repo, "HEAD", &[]);
    assert_eq!(code, 1);
    assert!(r["head_commit"].is_null());
    let new = with_status(&r, "new");
    assert!(
        new.contains(&t("web-prod", "hostNamespaces", "")),
        "{new:?}"
    );
    let at = attributed(&r, "hostNamespaces");
    assert_eq!(at, Some(("charts/web/values-prod.yaml".to_string(), 5)));
}

#[test]
fn three_dots_compare_with_the_merge_base() {
    let repo = platform();
    // The feature adds hostPID to prod.
    repo.write(
        "deploy/overlays/prod/host-ipc.yaml",
        "- op: add\n  path: /spec/template/spec/hostIPC\n  value: true\n",
    );
    let k = repo.read("deploy/overlays/prod/kustomization.yaml");
    repo.write(
        "deploy/overlays/prod/kustomization.yaml",
        &format!(
            "{k}  - path: host-ipc.yaml\n    target:\n      kind: Deployment\n      name: api\n"
        ),
    );
    repo.commit("feature: hostIPC");
    // Meanwhile main moves on: the web chart's prod values get hostNetwork.
    repo.git(&["checkout", "-q", "main"]);
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!("{prod}hostNetwork: true\n"),
    );
    repo.commit("main: hostNetwork");
    repo.git(&["checkout", "-q", "feature"]);

    let (_, two, _) = diff(&repo, "main..feature", &[]);
    let (code, three, _) = diff(&repo, "main...feature", &[]);
    assert_eq!(code, 1);
    let feature_new = vec![t("deploy/overlays/prod", "hostNamespaces", "")];
    assert_eq!(with_status(&three, "new"), feature_new);
    assert_eq!(with_status(&three, "fixed"), vec![]);
    assert_eq!(three["merge_base"], true);
    // Two dots compare with main's tip: main's own change looks fixed.
    assert_eq!(with_status(&two, "new"), feature_new);
    assert_eq!(
        with_status(&two, "fixed"),
        vec![t("web-prod", "hostNamespaces", "")]
    );
}

#[test]
fn a_shallow_clone_without_the_base_says_how_to_fetch_it() {
    let repo = platform();
    repo.write("raw/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n");
    repo.commit("second");
    let clone = tempfile::tempdir().unwrap();
    common::git(
        clone.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "feature",
            &format!("file://{}", repo.path().display()),
            "c",
        ],
    );
    let run = common::kpsa_stdin(
        &clone.path().join("c"),
        &["diff", "HEAD~1..HEAD", "-q"],
        None,
        &[],
    );
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("shallow clone") && run.stderr.contains("fetch-depth: 0"),
        "{}",
        run.stderr
    );
}

#[test]
fn diff_text_shows_transitions_then_findings_at_the_changed_line() {
    let repo = platform();
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!("{prod}containerSecurityContext:\n  privileged: true\n"),
    );
    repo.commit("prod: privileged");
    let run = repo.kpsa(".", &["diff", "main..feature", "-q"], &[]);
    assert_eq!(run.code, 1);
    let out = &run.stdout;
    let level = out.find("Pod Security level:").expect(out);
    let finding = out.find("error[privileged]").expect(out);
    assert!(level < finding, "{out}");
    assert!(
        out.contains("--> charts/web/values-prod.yaml:6:3\n  |\n6 |   privileged: true"),
        "{out}"
    );
    assert!(
        out.contains("the field is written at charts/web/templates/deployment.yaml:25"),
        "{out}"
    );
    assert!(
        out.contains("1 new finding (1 high, 0 medium, 0 low), 0 fixed,"),
        "{out}"
    );
}

#[test]
fn ctrl_c_stops_the_renders_and_removes_the_snapshots() {
    use std::os::unix::fs::PermissionsExt;
    let repo = platform();
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!("{prod}hostNetwork: true\n"),
    );
    repo.commit("change");
    let bin = tempfile::tempdir().unwrap();
    let pids = bin.path().join("pids");
    let helm = bin.path().join("helm");
    std::fs::write(
        &helm,
        format!("#!/bin/sh\necho $$ >> {}\nsleep 60\n", pids.display()),
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kpsa"))
        .args(["diff", "main..feature", "-q", "--helm"])
        .arg(&helm)
        .current_dir(repo.path())
        .env("TMPDIR", tmp.path())
        .env("KPSA_CACHE_DIR", repo.cache.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !pids.exists() {
        assert!(std::time::Instant::now() < deadline, "helm never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ours = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("kpsa-"))
            .count()
    };
    assert!(ours() > 0, "the snapshots are in TMPDIR while kpsa runs");
    // SAFETY: sends SIGINT to the child we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(ours(), 0, "temporary directories left behind");
    for pid in std::fs::read_to_string(&pids).unwrap().lines() {
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while proc_dir.exists()
            && !std::fs::read_to_string(proc_dir.join("stat"))
                .unwrap_or_default()
                .contains(") Z")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "render program {pid} still runs"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn the_demo_shows_the_new_findings_at_their_changed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = std::process::Command::new(common::tools_dir().join("demo.sh"))
        .env("KPSA_BIN", env!("CARGO_BIN_EXE_kpsa"))
        .env("KPSA_DEMO_DIR", &demo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = &stdout[stdout.find("== kpsa diff main..HEAD").expect(&stdout)..];
    assert!(
        diff.contains("--> charts/checkout/values.yaml:17:3\n   |\n17 |   privileged: true"),
        "{diff}"
    );
    assert!(
        diff.contains("--> deploy/overlays/prod/host-pid.yaml:4:3\n  |\n4 |   value: true"),
        "{diff}"
    );
    assert!(
        diff.contains("2 new findings (2 high, 0 medium, 0 low), 0 fixed, 2 unchanged"),
        "{diff}"
    );
    assert!(
        stdout.contains("13 findings (7 high, 2 medium, 4 low)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("exited 1: the gate found the change's new findings"),
        "the demo says that exit 1 is the gate working: {stdout}"
    );
}

/// Bitnami-style templates open with a multi-line `{{- /* licence */}}`
/// header, and `extraDeploy` objects are written by `{{ toYaml . }}` inside
/// a `range` whose body starts with `---`. The finding is not placed inside
/// the comment, and the changed values line that carries the field is found
/// through the `range`.
#[test]
fn a_licence_header_and_a_range_over_extra_objects() {
    let repo = Repo::new("");
    repo.write(".kpsa.yaml", "version: 1\nfail-on: baseline\n");
    repo.write(
        "charts/x/Chart.yaml",
        "apiVersion: v2\nname: x\nversion: 1.0.0\n",
    );
    repo.write("charts/x/values.yaml", "extraDeploy: []\n");
    repo.write(
        "charts/x/templates/extra.yaml",
        "{{- /*\nCopyright Broadcom, Inc.\nSPDX-License-Identifier: APACHE-2.0\n*/}}\n{{- range .Values.extraDeploy }}\n---\n{{ toYaml . }}\n{{- end }}\n",
    );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "charts/x/values.yaml",
        "extraDeploy:\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: p\n    spec:\n      containers:\n        - name: c\n          image: x\n      volumes:\n        - name: h\n          hostPath:\n            path: /\n",
    );
    repo.commit("an extra pod with a hostPath volume");
    let (code, r, stderr) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1, "{stderr}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "hostPathVolumes")
        .unwrap();
    assert_eq!(
        (
            f["location"]["path"].as_str(),
            f["location"]["line"].as_u64()
        ),
        (Some("charts/x/templates/extra.yaml"), Some(7)),
        "the toYaml line, not the licence header: {f}"
    );
    assert_eq!(
        (
            f["attributed_location"]["path"].as_str(),
            f["attributed_location"]["line"].as_u64()
        ),
        (Some("charts/x/values.yaml"), Some(12)),
        "the hostPath line of the changed values: {f}"
    );
}

#[test]
fn a_forbidden_sysctl_is_attributed_to_its_own_item() {
    let repo = Repo::new("");
    repo.write(".kpsa.yaml", "version: 1\nfail-on: baseline\n");
    repo.write(
        "charts/x/Chart.yaml",
        "apiVersion: v2\nname: x\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/x/values.yaml",
        "podSecurityContext:\n  runAsNonRoot: true\n",
    );
    repo.write(
        "charts/x/templates/d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      securityContext:\n        {{- toYaml .Values.podSecurityContext | nindent 8 }}\n      containers:\n        - name: app\n          image: nginx\n",
    );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "charts/x/values.yaml",
        "podSecurityContext:\n  runAsNonRoot: true\n  sysctls:\n    - name: net.ipv4.ip_local_port_range\n      value: \"1024 65535\"\n    - name: kernel.msgmax\n      value: \"65536\"\n",
    );
    repo.commit("two sysctls, one of them forbidden");
    let (code, r, stderr) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 1, "{stderr}");
    let at = attributed(&r, "sysctls").expect("attributed");
    assert_eq!(
        at,
        ("charts/x/values.yaml".to_string(), 6),
        "not `sysctls:`, nor the allowed item"
    );
    assert_line(&repo, &at, "- name: kernel.msgmax");
}

#[test]
fn manifest_globs_that_the_change_empties_fix_and_globs_that_never_match_are_config_errors() {
    let repo = Repo::new("");
    repo.write(
        ".kpsa.yaml",
        "version: 1\nfail-on: baseline\ntargets:\n  - name: raw\n    manifests: {paths: [\"raw/*.yaml\"]}\n",
    );
    repo.write("raw/pod.yaml", common::PRIVILEGED_DEPLOYMENT);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["rm", "-q", "raw/pod.yaml"]);
    repo.commit("the manifests go");
    let (code, r, stderr) = diff(&repo, "main..feature", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(with_status(&r, "fixed").contains(&t("raw", "privileged", "app")));
    assert!(with_status(&r, "new").is_empty());
    assert!(
        r["errors"].as_array().unwrap().is_empty(),
        "{}",
        r["errors"]
    );

    // A glob that matches nothing on either side names the config line (exit 2).
    repo.git(&["checkout", "-q", "main"]);
    repo.write(
        ".kpsa.yaml",
        "version: 1\nfail-on: baseline\ntargets:\n  - name: raw\n    manifests: {paths: [\"nothing/*.yaml\"]}\n",
    );
    repo.commit("a glob that matches nothing");
    repo.git(&["checkout", "-q", "-b", "other"]);
    repo.write("README.md", "x\n");
    repo.commit("unrelated");
    let run = repo.kpsa(".", &["diff", "main..other", "-q"], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(".kpsa.yaml:4")
            && run
                .stderr
                .contains("no file matches the manifest paths nothing/*.yaml"),
        "{}",
        run.stderr
    );
}
