//! Rendering, end to end: real git repositories built from `testdata/`,
//! the real binary, Helm's own SDK behind `tools/helm`, and `kubectl
//! kustomize` (Kustomize v5.5.0) from the machine image.

mod common;

use common::{Repo, assert_valid};
use serde_json::Value;

/// Findings as (target, check, container, location "path:line").
fn findings(report: &Value) -> Vec<(String, String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_string(),
                f["check"].as_str().unwrap().to_string(),
                f["container"].as_str().unwrap_or("").to_string(),
                format!(
                    "{}:{}",
                    f["location"]["path"].as_str().unwrap(),
                    f["location"]["line"]
                ),
            )
        })
        .collect()
}

fn location_of(report: &Value, target: &str, check: &str, container: &str) -> String {
    let all = findings(report);
    let hits: Vec<&String> = all
        .iter()
        .filter(|(t, c, k, _)| t == target && c == check && k == container)
        .map(|(_, _, _, l)| l)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{target} {check} {container:?}: expected one finding, got {hits:?}\nall: {all:#?}"
    );
    hits[0].clone()
}

/// Assert the finding is at `path:line` and that line writes `key`.
fn assert_at(
    repo: &Repo,
    report: &Value,
    target: &str,
    check: &str,
    container: &str,
    expected: &str,
    key: &str,
) {
    let loc = location_of(report, target, check, container);
    assert_eq!(loc, expected, "{target} {check} {container}");
    let (path, line) = loc.rsplit_once(':').unwrap();
    let text = repo.line(path, line.parse().unwrap());
    assert!(
        text.contains(key),
        "{loc} is {text:?}, which does not write {key:?}"
    );
}

#[test]
fn helm_chart_two_environments_locations_in_templates() {
    let repo = Repo::new("platform");
    let before = repo.snapshot();
    let run = repo.kpsa(".", &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    assert_valid("docs/kpsa-report.schema.json", &r);
    assert_eq!(r["errors"], Value::Array(vec![]), "{}", run.stderr);

    // values-dev.yaml turns on hostNetwork and the debug sidecar: written in the template.
    let tpl = "charts/web/templates/deployment.yaml";
    assert_at(
        &repo,
        &r,
        "web-dev",
        "hostNamespaces",
        "",
        &format!("{tpl}:18"),
        "hostNetwork:",
    );
    assert_at(
        &repo,
        &r,
        "web-dev",
        "privileged",
        "debug",
        &format!("{tpl}:33"),
        "privileged: true",
    );
    assert_at(
        &repo,
        &r,
        "web-dev",
        "resourceLimits",
        "debug",
        &format!("{tpl}:35"),
        "limits:",
    );
    // A field from toYaml lands on its nearest literal parent.
    assert_at(
        &repo,
        &r,
        "web-dev",
        "capabilities_restricted",
        "debug",
        &format!("{tpl}:32"),
        "securityContext:",
    );
    // The subchart's template, through charts/cache.
    let sts = "charts/web/charts/cache/templates/statefulset.yaml";
    assert_at(
        &repo,
        &r,
        "web-dev",
        "runAsUser",
        "redis",
        &format!("{sts}:19"),
        "runAsUser: 0",
    );
    assert_at(
        &repo,
        &r,
        "web-prod",
        "runAsUser",
        "redis",
        &format!("{sts}:19"),
        "runAsUser: 0",
    );

    // values-prod.yaml keeps the chart's secure defaults: nothing from the web pod.
    let prod: Vec<_> = findings(&r)
        .into_iter()
        .filter(|(t, _, c, _)| t == "web-prod" && c != "redis")
        .collect();
    let prod_pod_level: Vec<_> = prod
        .iter()
        .filter(|(_, check, _, _)| check != "automountServiceAccountToken")
        .collect();
    assert!(
        prod_pod_level.is_empty(),
        "web-prod should be clean apart from the cache: {prod:?}"
    );

    // Each environment is its own target: same finding, different identity.
    let fp = |target: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["target"] == target && f["check"] == "runAsUser")
            .unwrap()["fingerprint"]
            .clone()
    };
    assert_ne!(fp("web-dev"), fp("web-prod"));
    // Every rendered finding also says where it is in the rendered output.
    for f in r["findings"].as_array().unwrap() {
        assert!(f["rendered"]["line"].as_u64().unwrap() >= 1, "{f}");
    }
    // The library chart came in through `file://../common` without a committed
    // charts/ directory, and nothing was written into the tree.
    assert_eq!(repo.snapshot(), before, "kpsa changed the user's tree");
}

#[test]
fn helm_values_precedence_and_set_flags() {
    let repo = Repo::new("platform");
    let checks = |args: &[&str]| -> Vec<(String, String)> {
        let mut all = vec!["scan", "charts/web", "--format", "json", "-q"];
        all.extend_from_slice(args);
        let run = repo.kpsa(".", &all, &[]);
        assert!(run.code <= 1, "{}\n{}", run.stdout, run.stderr);
        findings(&run.json())
            .into_iter()
            .filter(|(_, _, c, _)| c != "redis")
            .map(|(_, check, c, _)| (check, c))
            .collect()
    };
    let has =
        |v: &[(String, String)], check: &str, c: &str| v.iter().any(|(k, x)| k == check && x == c);

    let dev = checks(&["-f", "charts/web/values-dev.yaml"]);
    assert!(has(&dev, "hostNamespaces", ""), "{dev:?}");
    assert!(has(&dev, "privileged", "debug"), "{dev:?}");
    // A later values file wins only for the keys it sets.
    let both = checks(&[
        "-f",
        "charts/web/values-dev.yaml",
        "-f",
        "charts/web/values-prod.yaml",
    ]);
    assert!(has(&both, "hostNamespaces", ""), "{both:?}");
    // --set wins over every values file.
    let set = checks(&[
        "-f",
        "charts/web/values-dev.yaml",
        "--set",
        "hostNetwork=false,debug.enabled=false",
    ]);
    assert!(
        !has(&set, "hostNamespaces", "") && !has(&set, "privileged", "debug"),
        "{set:?}"
    );
    // --set parses `false` as a boolean; --set-string keeps it a string,
    // which the API server would refuse to decode: an error, never a pass.
    let set = checks(&[
        "--set",
        "containerSecurityContext.readOnlyRootFilesystem=false",
    ]);
    assert!(has(&set, "readOnlyRootFilesystem", "web"), "{set:?}");
    assert!(!has(&dev, "readOnlyRootFilesystem", "web"), "{dev:?}");
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "charts/web",
            "-q",
            "--set-string",
            "containerSecurityContext.readOnlyRootFilesystem=false",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    // The error is placed on the template line that writes the field, and
    // says where it is in the rendered output.
    assert!(
        run.stdout.contains("readOnlyRootFilesystem: expected a boolean, found string \"false\" (target charts/web, line ")
            && run.stdout.contains("--> charts/web/templates/deployment.yaml:25:11"),
        "{}",
        run.stdout
    );

    // Release flags apply to one chart only.
    let run = repo.kpsa(".", &["scan", "--set", "a=b"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("apply to one chart directory"),
        "{}",
        run.stderr
    );
}

#[test]
fn kustomize_overlays_patches_components_name_prefix() {
    let repo = Repo::new("platform");
    let before = repo.snapshot();
    let run = repo.kpsa(".", &["scan", "--format", "json"], &[]);
    let r = run.json();
    let staging = "deploy/overlays/staging";
    // Strategic-merge patch of the overlay.
    assert_at(
        &repo,
        &r,
        staging,
        "privileged",
        "api",
        "deploy/overlays/staging/privileged.yaml:12",
        "privileged: true",
    );
    // The component's patch adds a container.
    assert_at(
        &repo,
        &r,
        staging,
        "capabilities_baseline",
        "debugger",
        "deploy/components/debug/sidecar.yaml:13",
        "add: [SYS_PTRACE]",
    );
    // Missing fields of that container: its securityContext in the component.
    assert_at(
        &repo,
        &r,
        staging,
        "allowPrivilegeEscalation",
        "debugger",
        "deploy/components/debug/sidecar.yaml:11",
        "securityContext:",
    );
    // JSON6902 patch of the other overlay.
    let prod = "deploy/overlays/prod";
    assert_at(
        &repo,
        &r,
        prod,
        "hostNamespaces",
        "",
        "deploy/overlays/prod/host-pid.yaml:4",
        "value: true",
    );
    // The base's own resource, for what the base sets.
    assert_at(
        &repo,
        &r,
        prod,
        "resourceLimits",
        "api",
        "deploy/base/deployment.yaml:28",
        "limits:",
    );
    // namePrefix and namespace come through; the origin annotations do not.
    let objects: Vec<String> = r["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["target"] == staging)
        .map(|w| {
            format!(
                "{}/{}",
                w["object"]["namespace"].as_str().unwrap(),
                w["object"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(objects, vec!["staging/staging-api"]);
    assert_eq!(repo.snapshot(), before, "kpsa changed the user's tree");
}

#[test]
fn discovery_finds_roots_and_honours_gitignore() {
    let repo = Repo::new("platform");
    repo.write(".gitignore", "ignored/\nforced/\n");
    // What git tracks is deployed: dotfiles, and files .gitignore matches
    // but that were added anyway.
    repo.write(".hidden/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n");
    repo.write("forced/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: f}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n");
    repo.git(&["add", "-f", "forced/pod.yaml"]);
    repo.write("ignored/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n");
    repo.write(
        "raw/rollout.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: canary}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: x\n        securityContext: {privileged: true}\n",
    );
    // A file inside a kustomization directory belongs to it.
    repo.write("deploy/base/unused.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: y}\nspec:\n  hostIPC: true\n  containers: [{name: c, image: x}]\n");
    repo.commit("more");
    let run = repo.kpsa(".", &["targets", ".", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = run.json();
    let ids: Vec<(String, String)> = t["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().into(),
                t["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = |k: &str, id: &str| (k.to_string(), id.to_string());
    assert_eq!(
        ids,
        vec![
            expect("helm", "charts/web"),
            expect("kustomize", "deploy/overlays/prod"),
            expect("kustomize", "deploy/overlays/staging"),
            expect("manifests", ".hidden"),
            expect("manifests", "forced"),
            expect("manifests", "raw"),
        ],
        "the subchart, the library chart, the base and the component are not roots; untracked ignored/ \
         is ignored; the tracked dotfile and the tracked file .gitignore matches are not"
    );
    let web = &t["targets"][0];
    let inputs: Vec<&str> = web["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        inputs.contains(&"charts/common"),
        "file:// dependency is an input: {inputs:?}"
    );
    let staging = &t["targets"][2];
    let inputs: Vec<&str> = staging["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for p in [
        "deploy/overlays/staging",
        "deploy/base",
        "deploy/components/debug",
        "deploy/overlays/staging/privileged.yaml",
        "deploy/components/debug/sidecar.yaml",
    ] {
        assert!(inputs.contains(&p), "{p} missing from {inputs:?}");
    }

    // The text form says why.
    let run = repo.kpsa(".", &["targets", "."], &[]);
    assert!(
        run.stdout
            .contains("kustomization that no other kustomization uses"),
        "{}",
        run.stdout
    );

    // Scanning the discovered targets: the Rollout is only a workload once configured.
    let run = repo.kpsa(".", &["scan", ".", "--format", "json", "-q"], &[]);
    let r = run.json();
    assert!(
        !findings(&r).iter().any(|(t, ..)| t == "raw"),
        "{:?}",
        findings(&r)
    );
    assert!(
        !findings(&r)
            .iter()
            .any(|(_, _, _, l)| l.starts_with("ignored/") || l.starts_with("deploy/base/unused"))
    );
    repo.write(
        "custom.kpsa.yaml",
        "version: 1\npod-templates:\n  - {group: argoproj.io, kind: Rollout, path: spec.template}\n",
    );
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "raw",
            "--config",
            "custom.kpsa.yaml",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(
        location_of(&run.json(), "raw", "privileged", "app"),
        "raw/rollout.yaml:10"
    );
}

#[test]
fn demo_discovers_and_renders_its_chart_overlay_and_manifests() {
    // The README's first command, from the project root.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = common::path_with_tools();
    let cache = tempfile::tempdir().unwrap();
    let cache_s = cache.path().display().to_string();
    let run = common::kpsa_stdin(
        root,
        &["scan", "testdata/demo", "--format", "json"],
        None,
        &[("PATH", &path), ("KPSA_CACHE_DIR", &cache_s)],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    assert_valid("docs/kpsa-report.schema.json", &r);
    let targets: std::collections::BTreeSet<String> =
        findings(&r).into_iter().map(|f| f.0).collect();
    assert_eq!(
        targets.into_iter().collect::<Vec<_>>(),
        vec![
            "testdata/demo/charts/checkout",
            "testdata/demo/deploy/overlays/prod",
            "testdata/demo/manifests"
        ]
    );
    assert_eq!(
        location_of(
            &r,
            "testdata/demo/deploy/overlays/prod",
            "hostPathVolumes",
            ""
        ),
        "testdata/demo/deploy/overlays/prod/node-cache.yaml:11"
    );
    assert_eq!(r["summary"]["rendered"], 2);
    assert_eq!(r["summary"]["files"], 2);
}

#[test]
fn config_is_found_upward_and_its_errors_name_the_line() {
    let repo = Repo::new("platform");
    let run = repo.kpsa(
        "charts/web/templates",
        &["targets", "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = run.json();
    let ids: Vec<&str> = listed["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "web-dev",
            "web-prod",
            "deploy/overlays/staging",
            "deploy/overlays/prod"
        ]
    );

    repo.write(".kpsa.yaml", "version: 1\ntargets:\n  - name: web\n    helm:\n      chart: charts/web\n      valuse: [x.yaml]\n");
    let run = repo.kpsa("deploy", &["scan"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(".kpsa.yaml:6:7: unknown key `valuse` in helm"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `values`?"),
        "{}",
        run.stderr
    );

    repo.write(".kpsa.yaml", "version: 1\nrender-timeout: soon\n");
    let run = repo.kpsa(".", &["scan"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains(".kpsa.yaml:2:1: `render-timeout` must be a positive whole number"),
        "{}",
        run.stderr
    );

    // Flags override the config, which overrides the defaults.
    repo.write(".kpsa.yaml", "version: 1\nlevel: baseline\nfail-on: never\ntargets:\n  - kustomize: {path: deploy/overlays/staging}\n");
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 0, "fail-on: never from the config");
    let r = run.json();
    assert_eq!(r["level"], "baseline");
    assert!(findings(&r).iter().all(|f| f.1 != "readOnlyRootFilesystem"));
    let run = repo.kpsa(
        ".",
        &[
            "scan",
            "--format",
            "json",
            "-q",
            "--fail-on",
            "baseline",
            "--level",
            "hardened",
        ],
        &[],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["level"], "hardened");
}

const CAPS_TEMPLATE: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: caps
  annotations:
    kube: "{{ .Capabilities.KubeVersion.Version }}"
spec:
  {{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}
  hostPID: true
  {{- end }}
  containers:
    - name: app
      image: app:1
"#;

#[test]
fn helm_is_told_the_kubernetes_version_api_versions_and_crds() {
    let repo = Repo::new("");
    repo.write(
        "charts/caps/Chart.yaml",
        "apiVersion: v2\nname: caps\nversion: 1.0.0\nkubeVersion: \">=1.30.0-0\"\n",
    );
    repo.write("charts/caps/templates/pod.yaml", CAPS_TEMPLATE);
    repo.write(
        "charts/caps/crds/widget.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
    );
    repo.commit("caps");
    let scan = |args: &[&str]| {
        let mut all = vec!["scan", "charts/caps", "--format", "json", "-q"];
        all.extend_from_slice(args);
        repo.kpsa(".", &all, &[])
    };
    // --kubernetes-version v1.29 reaches helm as --kube-version=v1.29.0: the chart refuses it.
    let run = scan(&["--kubernetes-version", "v1.29"]);
    assert_eq!(run.code, 3);
    let msg = run.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("--kube-version=v1.29.0")
            && msg.contains("incompatible with Kubernetes v1.29.0"),
        "{msg}"
    );
    // An explicit --kube-version wins.
    let run = scan(&["--kubernetes-version", "v1.29", "--kube-version", "v1.31.2"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let r = run.json();
    assert!(!findings(&r).iter().any(|f| f.1 == "hostNamespaces"));
    assert_eq!(r["summary"]["objects"], 1);
    // --api-versions turns on the template's branch; the finding is on its line.
    let run = scan(&["--api-versions", "monitoring.coreos.com/v1"]);
    assert_eq!(
        location_of(&run.json(), "charts/caps", "hostNamespaces", ""),
        "charts/caps/templates/pod.yaml:9"
    );
    // --include-crds adds the chart's CRDs to the output.
    let run = scan(&["--include-crds"]);
    assert_eq!(run.json()["summary"]["objects"], 2);
}

#[test]
fn configured_manifest_globs() {
    let repo = Repo::new("");
    let pod = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  hostIPC: true\n  containers: [{{name: c, image: x}}]\n"
        )
    };
    repo.write("cluster/a/pod.yaml", &pod("a"));
    repo.write("cluster/b/c/pod.yml", &pod("c"));
    repo.write("cluster/b/c/pod.yaml", &pod("c2"));
    repo.write("cluster/notes.txt", "not yaml");
    repo.write(
        ".kpsa.yaml",
        "version: 1\ntargets:\n  - name: addons\n    manifests: {paths: [\"cluster/**/*.yaml\"]}\n  - manifests: {paths: [\"cluster/*/c/*.yml\"]}\n",
    );
    repo.commit("globs");
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let r = run.json();
    let hosts: Vec<(String, String)> = findings(&r)
        .into_iter()
        .filter(|f| f.1 == "hostNamespaces")
        .map(|f| (f.0, f.3))
        .collect();
    let pair = |t: &str, l: &str| (t.to_string(), l.to_string());
    assert_eq!(
        hosts,
        vec![
            pair("addons", "cluster/a/pod.yaml:6"),
            pair("addons", "cluster/b/c/pod.yaml:6"),
            pair("cluster/*/c/*.yml", "cluster/b/c/pod.yml:6"),
        ]
    );
    repo.write(
        ".kpsa.yaml",
        "version: 1\ntargets:\n  - manifests: {paths: [\"nothing/*.yaml\"]}\n",
    );
    // A glob that matches nothing is a configuration error with its line.
    let run = repo.kpsa(".", &["scan", "--format", "json", "-q"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "kpsa: error in the config: .kpsa.yaml:3: no file matches the manifest paths nothing/*.yaml (relative to .)"
        ),
        "{}",
        run.stderr
    );
    let run = repo.kpsa(".", &["targets"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}
