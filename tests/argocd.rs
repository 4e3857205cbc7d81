//! `kpsa argocd generate` as Argo CD's repo server runs it: in the
//! application's directory of a checkout without `.git`, with the build
//! environment, the Application's plugin env and nothing else.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Run, copy_tree, path_with_tools};

const METRICS_SERVER: &str = "realworld/charts/kubernetes-sigs/metrics-server";
const BLACKBOX: &str = "realworld/charts/prometheus-community/prometheus-blackbox-exporter";

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// A checkout as the repo server makes it: `testdata/<fixture>` copied to
/// `<tmp>/repo/<at>`, no `.git`.
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    fn new(fixture: &str, at: &str) -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&testdata(fixture), &dir.path().join("repo").join(at));
        Checkout { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// Run `kpsa <args>` in `<root>/<app>` with Argo CD's environment and `env`
/// on top, and nothing else of the caller's environment but PATH and HOME.
fn argocd(root: &Path, app: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let cwd = root.join(app);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpsa"));
    cmd.args(args)
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", path_with_tools())
        .env("HOME", home.path())
        .env("ARGOCD_APP_NAME", "shop")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .env("ARGOCD_APP_SOURCE_PATH", app)
        .env(
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .env("KUBE_VERSION", "v1.30.2+k3s1")
        .env("KUBE_API_VERSIONS", "v1,apps/v1,batch/v1,policy/v1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("kpsa runs").into()
}

fn generate(root: &Path, app: &str, env: &[(&str, &str)]) -> Run {
    argocd(root, app, &["argocd", "generate"], env)
}

/// What `helm template` prints for the chart as Argo CD calls it.
fn helm_template(chart: &Path, release: &str, extra: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec![
        "template".to_string(),
        release.into(),
        chart.display().to_string(),
        "--namespace".into(),
        "shop".into(),
        "--kube-version".into(),
        "v1.30.2+k3s1".into(),
        "--include-crds".into(),
    ];
    for a in ["v1", "apps/v1", "batch/v1", "policy/v1"] {
        args.push("--api-versions".into());
        args.push(a.into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new(common::helm())
        .args(&args)
        .env("PATH", path_with_tools())
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn kustomize_build(dir: &Path) -> String {
    let out = match common::on_path("kustomize") {
        Some(k) => Command::new(k).arg("build").arg(dir).output().unwrap(),
        None => Command::new(common::on_path("kubectl").expect("kustomize or kubectl on PATH"))
            .arg("kustomize")
            .arg(dir)
            .output()
            .unwrap(),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_clean_chart_is_handed_over_byte_for_byte() {
    let c = Checkout::new(METRICS_SERVER, "apps/metrics-server");
    let run = generate(&c.root(), "apps/metrics-server", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = helm_template(&c.root().join("apps/metrics-server"), "shop", &[]);
    assert!(expected.contains("kind: Deployment"));
    assert_eq!(run.stdout, expected, "stderr: {}", run.stderr);
    assert!(!run.stderr.contains("refused"), "{}", run.stderr);
}

#[test]
fn values_files_and_set_reach_helm_as_argo_cd_passes_them() {
    let c = Checkout::new(METRICS_SERVER, "apps/metrics-server");
    c.write("apps/metrics-server/values-prod.yaml", "replicas: 3\n");
    let run = generate(
        &c.root(),
        "apps/metrics-server",
        &[
            ("ARGOCD_ENV_KPSA_VALUES", "values-prod.yaml"),
            ("ARGOCD_ENV_KPSA_SET", "fullnameOverride=ms"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = c.root().join("apps/metrics-server");
    let values = dir.join("values-prod.yaml").display().to_string();
    let expected = helm_template(
        &dir,
        "shop",
        &["--values", &values, "--set", "fullnameOverride=ms"],
    );
    assert!(expected.contains("replicas: 3") && expected.contains("name: ms\n"));
    assert_eq!(run.stdout, expected);

    // A values file outside the repository is never read.
    std::fs::write(c.dir.path().join("secret.yaml"), "replicas: 9\n").unwrap();
    let run = generate(
        &c.root(),
        "apps/metrics-server",
        &[("ARGOCD_ENV_KPSA_VALUES", "../../../secret.yaml")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("leaves the repository"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_violating_chart_hands_over_nothing() {
    let c = Checkout::new(BLACKBOX, "apps/blackbox");
    let run = generate(&c.root(), "apps/blackbox", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("kpsa: refused: 1 finding(s) in application shop (Kubernetes v1.30, fail on restricted findings); nothing was handed over"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "medium seccompProfile_restricted: Deployment shop/shop-prometheus-blackbox-exporter container \"blackbox-exporter\""
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("(apps/blackbox/templates/"),
        "{}",
        run.stderr
    );

    // Adoption: warn-only hands the manifests over and says what it let through.
    let run = argocd(
        &c.root(),
        "apps/blackbox",
        &["argocd", "generate", "--warn-only"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        helm_template(&c.root().join("apps/blackbox"), "shop", &[])
    );
    assert!(
        run.stderr
            .contains("warning (warn-only): 1 finding(s) would stop"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_mounted_accepted_findings_file_lets_known_findings_through() {
    let c = Checkout::new(BLACKBOX, "apps/blackbox");
    let mounted = tempfile::tempdir().unwrap();
    let accepted = mounted.path().join("accepted.yaml");
    // Today's findings, recorded by the platform team with `kpsa accept`.
    // From the repository root, the chart as Argo CD renders it.
    let out = Command::new(env!("CARGO_BIN_EXE_kpsa"))
        .args(["accept", "--write"])
        .arg(&accepted)
        .args([
            "--reason",
            "adopted as is; SEC-42",
            "--release",
            "shop",
            "--namespace",
            "shop",
            "--kube-version",
            "v1.30.2+k3s1",
            "--kubernetes-version",
            "v1.30",
            "--include-crds",
            "-q",
            "apps/blackbox",
        ])
        .current_dir(c.root())
        .env("PATH", path_with_tools())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = argocd(
        &c.root(),
        "apps/blackbox",
        &[
            "argocd",
            "generate",
            "--accepted",
            accepted.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("kind: Deployment"));
}

#[test]
fn the_repository_cannot_loosen_the_platform_policy() {
    let c = Checkout::new(BLACKBOX, "apps/blackbox");
    // The application team's own config tries every loosening key …
    c.write(
        ".kpsa.yaml",
        "version: 1\nlevel: baseline\nfail-on: never\nexemptions:\n- check: seccompProfile_restricted\n  reason: ours\n",
    );
    // … and an annotation on the Deployment.
    let values = c.root().join("apps/blackbox/values.yaml");
    let mut text = std::fs::read_to_string(&values).unwrap();
    text = text.replacen(
        "podAnnotations: {}",
        "podAnnotations:\n  kpsa.io/ignore: seccompProfile_restricted\n  kpsa.io/ignore-reason: we said so",
        1,
    );
    assert!(
        text.contains("kpsa.io/ignore"),
        "the values file changed shape"
    );
    std::fs::write(&values, text).unwrap();
    let platform = tempfile::tempdir().unwrap();
    let policy = platform.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "version: 1\nlevel: restricted\nfail-on: restricted\n",
    )
    .unwrap();
    let run = argocd(
        &c.root(),
        "apps/blackbox",
        &["argocd", "generate", "--config", policy.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    for ignored in [
        "`level` is ignored",
        "`fail-on` is ignored",
        "`exemptions` is ignored",
    ] {
        assert!(run.stderr.contains(ignored), "{ignored}: {}", run.stderr);
    }
    // The platform may trust annotations.
    let run = argocd(
        &c.root(),
        "apps/blackbox",
        &[
            "argocd",
            "generate",
            "--config",
            policy.to_str().unwrap(),
            "--allow-suppressions",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A policy file inside the repository is not the platform's.
    c.write("platform.yaml", "version: 1\nfail-on: never\n");
    let inside = c.root().join("platform.yaml");
    let run = argocd(
        &c.root(),
        "apps/blackbox",
        &["argocd", "generate", "--config", inside.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("inside the repository"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_overlay_is_built_as_kustomize_builds_it_and_may_use_its_base() {
    let c = Checkout::new("platform/deploy", "deploy");
    let run = generate(&c.root(), "deploy/base", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, kustomize_build(&c.root().join("deploy/base")));
    assert!(!run.stdout.contains("config.kubernetes.io/origin"));

    let run = generate(&c.root(), "deploy/overlays/staging", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("high privileged:"), "{}", run.stderr);
}

#[test]
fn remote_bases_need_the_platforms_consent() {
    let c = Checkout::new("platform/deploy", "deploy");
    c.write(
        "deploy/remote/kustomization.yaml",
        "resources:\n  - https://github.com/example/manifests//base?ref=v1\n",
    );
    let run = generate(&c.root(), "deploy/remote", &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("names the remote resource"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--allow-remote-resources"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_plain_directory_is_read_without_recursion() {
    let c = Checkout::new("platform/deploy/base", "app");
    c.write("app/nested/privileged.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: true}}\n");
    std::fs::remove_file(c.root().join("app/kustomization.yaml")).unwrap();
    let run = generate(&c.root(), "app", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let d = std::fs::read_to_string(c.root().join("app/deployment.yaml")).unwrap();
    let s = std::fs::read_to_string(c.root().join("app/service.yaml")).unwrap();
    assert_eq!(run.stdout, format!("{d}---\n{s}"));
    let run = argocd(&c.root(), "app", &["argocd", "discover"], &[]);
    assert_eq!(run.stdout, "directory\n");
}

#[test]
fn an_empty_render_is_refused_unless_allowed() {
    let c = Checkout::new(METRICS_SERVER, "apps/ms");
    // Everything off: the chart renders no object.
    std::fs::remove_dir_all(c.root().join("apps/ms/templates")).unwrap();
    c.write(
        "apps/ms/templates/empty.yaml",
        "{{- if .Values.never }}\nkind: x\n{{- end }}\n",
    );
    let run = generate(&c.root(), "apps/ms", &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("rendered no objects; with prune on"),
        "{}",
        run.stderr
    );
    let run = argocd(
        &c.root(),
        "apps/ms",
        &["argocd", "generate", "--allow-empty"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn kube_version_decides_with_the_policy_of_that_version() {
    // net.ipv4.tcp_slow_start_after_idle is an allowed sysctl from v1.37 on.
    let c = Checkout::new("platform/deploy/base", "app");
    let d = c.root().join("app/deployment.yaml");
    let text = std::fs::read_to_string(&d).unwrap().replacen(
        "      securityContext:\n        runAsNonRoot: true\n",
        "      securityContext:\n        sysctls:\n          - name: net.ipv4.tcp_slow_start_after_idle\n            value: \"0\"\n        runAsNonRoot: true\n",
        1,
    );
    assert!(text.contains("sysctls"));
    std::fs::write(&d, text).unwrap();
    let run = generate(&c.root(), "app", &[("KUBE_VERSION", "1.36.3-eks-4096722")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("Kubernetes v1.36"), "{}", run.stderr);
    assert!(run.stderr.contains("high sysctls:"), "{}", run.stderr);
    let run = generate(&c.root(), "app", &[("KUBE_VERSION", "v1.37.0")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("tcp_slow_start_after_idle"));
    // Newer than kpsa knows: the newest policy, with a warning.
    let run = generate(&c.root(), "app", &[("KUBE_VERSION", "v1.99.0")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("evaluating v1.99 as v1.37"),
        "{}",
        run.stderr
    );
}

#[test]
fn settings_outside_the_documented_list_are_errors() {
    let c = Checkout::new(METRICS_SERVER, "apps/ms");
    let run = generate(
        &c.root(),
        "apps/ms",
        &[("ARGOCD_ENV_KPSA_FAIL_ON", "never")],
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("ARGOCD_ENV_KPSA_FAIL_ON is not a kpsa plugin setting"),
        "{}",
        run.stderr
    );
    let run = generate(
        &c.root(),
        "apps/ms",
        &[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"kpsa-level","string":"baseline"}]"#,
        )],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("\"kpsa-level\" is not a kpsa setting"),
        "{}",
        run.stderr
    );
    // Another plugin's settings are not ours to judge.
    let run = generate(
        &c.root(),
        "apps/ms",
        &[("ARGOCD_ENV_HELM_ARGS", "--post-renderer=/bin/sh")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_render_that_would_outlive_argo_cds_timeout_is_stopped() {
    let c = Checkout::new(METRICS_SERVER, "apps/ms");
    let bin = tempfile::tempdir().unwrap();
    // A duration no other process has: what `ps` looks for afterwards.
    let marker = format!("sleep 29.{}", std::process::id());
    let helm = bin.path().join("helm");
    std::fs::write(&helm, format!("#!/bin/sh\nexec {marker}\n")).unwrap();
    let mut perms = std::fs::metadata(&helm).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&helm, perms).unwrap();
    let start = std::time::Instant::now();
    let run = generate(
        &c.root(),
        "apps/ms",
        &[
            ("ARGOCD_EXEC_TIMEOUT", "7s"),
            ("KPSA_HELM", helm.to_str().unwrap()),
        ],
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("timed out after"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Argo CD's ARGOCD_EXEC_TIMEOUT"),
        "{}",
        run.stderr
    );
    // No helm is left behind.
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(&marker));
}

#[test]
fn discover_names_what_kpsa_would_render() {
    let c = Checkout::new(METRICS_SERVER, "apps/ms");
    c.write("empty/README.md", "nothing to deploy\n");
    assert_eq!(
        argocd(&c.root(), "apps/ms", &["argocd", "discover"], &[]).stdout,
        "helm\n"
    );
    assert_eq!(
        argocd(&c.root(), "empty", &["argocd", "discover"], &[]).stdout,
        ""
    );
}

/// The hook objects of a `generate` output.
fn hook_part(stdout: &str) -> &str {
    let at = stdout
        .find("---\n# Source: kpsa PreSync hook")
        .expect("the hook is appended");
    &stdout[at..]
}

#[test]
fn the_presync_hook_is_least_privilege_restricted_and_valid() {
    let c = Checkout::new(METRICS_SERVER, "apps/ms");
    let run = generate(
        &c.root(),
        "apps/ms",
        &[("ARGOCD_ENV_KPSA_PRESYNC_HOOK", "true")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plain = helm_template(&c.root().join("apps/ms"), "shop", &[]);
    assert!(
        run.stdout.starts_with(&plain),
        "the application's manifests come first, unchanged"
    );
    let hook = hook_part(&run.stdout);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hook.yaml");
    std::fs::write(&file, hook).unwrap();

    // kpsa's own hardened level (restricted and K01) passes.
    let scan = common::kpsa(
        dir.path(),
        &[
            "scan",
            "--manifests",
            "hook.yaml",
            "--level",
            "hardened",
            "--fail-on",
            "hardened",
        ],
    );
    assert_eq!(scan.code, 0, "{}{}", scan.stdout, scan.stderr);
    assert!(scan.stdout.contains("0 findings"), "{}", scan.stdout);

    // Five objects, each a PreSync hook; the helpers at an earlier wave.
    let docs: Vec<serde_json::Value> = hook
        .split("---\n# Source: kpsa PreSync hook\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Job"
        ]
    );
    for d in &docs {
        assert_eq!(
            d["metadata"]["annotations"]["argocd.argoproj.io/hook"],
            "PreSync"
        );
        let wave = d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .unwrap();
        assert_eq!(wave, if d["kind"] == "Job" { "0" } else { "-1" });
    }
    assert_eq!(
        docs[4]["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"],
        "BeforeHookCreation,HookSucceeded"
    );
    // The ClusterRole may only get the namespaces the pods land in.
    assert_eq!(
        docs[2]["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["shop"], "verbs": ["get"]}])
    );
    // The ConfigMap holds the pod specs, as `kpsa cluster check` reads them.
    let held: serde_json::Value =
        serde_json::from_str(docs[0]["data"]["manifests.json"].as_str().unwrap()).unwrap();
    assert_eq!(held["items"][0]["kind"], "Deployment");
    assert_eq!(
        docs[4]["spec"]["template"]["spec"]["containers"][0]["args"],
        serde_json::json!([
            "cluster",
            "check",
            "--manifests",
            "/etc/kpsa/manifests.json",
            "--namespace",
            "shop",
            "--in-cluster"
        ])
    );

    // The Kubernetes schemas accept every object, at the oldest and newest
    // versions kpsa supports the hook on.
    let validate = common::ci_tool("kubernetes-validate");
    for v in ["1.25.0", "1.37.0"] {
        let out = Command::new(&validate)
            .args(["--strict", "-k", v])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{v}: {text}");
        assert_eq!(
            text.matches("passed for resource").count(),
            5,
            "{v}: {text}"
        );
    }
}
