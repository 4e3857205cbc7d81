//! `kpsa cluster check` against a fake Kubernetes API over TLS with a test
//! CA: in-cluster discovery from temp files, kubeconfig, live labels at
//! every level and pinned versions, missing namespaces, and every way the
//! API can say no.

mod common;
mod fake_kube;

use std::path::Path;
use std::process::{Command, Stdio};

use common::Run;
use fake_kube::{FakeKube, TOKEN, service_account};

const PRIVILEGED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: x\n        securityContext: {privileged: true}\n";

/// Meets baseline, not restricted.
const BASELINE: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: jobs}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - {name: m, image: y}\n";

/// A sysctl baseline allows from v1.37 on.
const SYSCTL: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: tuned, namespace: net}\nspec:\n  securityContext:\n    sysctls:\n    - {name: net.ipv4.tcp_slow_start_after_idle, value: \"0\"}\n  containers:\n  - {name: c, image: z}\n";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(manifests: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifests.yaml"), manifests).unwrap();
        Setup { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `kpsa cluster check` in a pod: the service account files in a temp
    /// directory, `KUBERNETES_SERVICE_HOST` / `_PORT` pointing at the fake.
    fn in_cluster(&self, api: &FakeKube, token: &str, args: &[&str]) -> Run {
        let sa = self.path().join("sa");
        service_account(&sa, &api.ca_pem, token);
        self.run(
            &[
                ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
                ("KUBERNETES_SERVICE_PORT", &api.port.to_string()),
                ("KPSA_SERVICEACCOUNT_DIR", sa.to_str().unwrap()),
            ],
            args,
        )
    }

    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpsa"));
        cmd.args([
            "cluster",
            "check",
            "--manifests",
            "manifests.yaml",
            "--namespace",
            "shop",
        ])
        .args(args)
        .current_dir(self.path())
        .env_clear()
        .env("HOME", self.path())
        .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap().into()
    }
}

#[test]
fn enforce_levels_of_the_live_namespaces_decide() {
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[("enforce", "baseline")]);
    api.namespace("jobs", &[("enforce", "restricted"), ("warn", "restricted")]);
    let s = Setup::new(&format!("{PRIVILEGED}---\n{BASELINE}"));
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Kubernetes v1.30.2, Pod Security policy v1.30"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("REFUSED Deployment web: namespace shop: the workload is admitted, but its pods are refused when they are created (enforce baseline:latest)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("REFUSED Job jobs/migrate: namespace jobs:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("(enforce restricted:latest)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2 of 2 pod spec(s) would be refused"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("no --admission-config"),
        "{}",
        run.stderr
    );
    let mut log = api.log();
    log.sort();
    assert_eq!(
        log,
        [
            "GET /api/v1/namespaces/jobs",
            "GET /api/v1/namespaces/shop",
            "GET /version"
        ]
    );
    assert!(api.violations().is_empty(), "{:?}", api.violations());

    // Privileged (and warn-only) namespaces admit both.
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[("enforce", "privileged")]);
    api.namespace("jobs", &[("warn", "restricted"), ("audit", "baseline")]);
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("admitted Deployment web"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("warned  Job jobs/migrate: namespace jobs: the API server returns a warning (warn restricted:latest)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("0 of 2 pod spec(s) would be refused"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_pinned_version_newer_than_the_cluster_is_evaluated_at_the_clusters() {
    let s = Setup::new(SYSCTL);
    // The namespace pins v1.37, where the sysctl is allowed; a v1.36 API
    // server evaluates v1.36, where it is not.
    let api = FakeKube::start("v1.36.1+k3s1");
    api.namespace(
        "net",
        &[("enforce", "baseline"), ("enforce-version", "v1.37")],
    );
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "REFUSED Pod net/tuned: namespace net: rejected at admission (enforce baseline:v1.36)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("forbidden sysctls (net.ipv4.tcp_slow_start_after_idle)"),
        "{}",
        run.stdout
    );

    let api = FakeKube::start("v1.37.0");
    api.namespace(
        "net",
        &[("enforce", "baseline"), ("enforce-version", "v1.37")],
    );
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // An older pin holds on a newer cluster.
    api.namespace(
        "net",
        &[("enforce", "baseline"), ("enforce-version", "v1.36")],
    );
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_namespace_in_the_manifests_wins_and_a_missing_one_takes_the_defaults() {
    let own = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n";
    let s = Setup::new(&format!("{own}---\n{PRIVILEGED}---\n{BASELINE}"));
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[("enforce", "restricted")]);
    // `jobs` does not exist yet; the cluster's defaults enforce baseline.
    std::fs::write(
        s.path().join("admission.yaml"),
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: baseline\n  enforce-version: latest\nexemptions: {}\n",
    )
    .unwrap();
    let run = s.in_cluster(&api, TOKEN, &["--admission-config", "admission.yaml"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "admitted Deployment web: namespace shop: admitted (Namespace shop in manifests.yaml)"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("namespace jobs does not exist in the cluster yet: judged with the cluster defaults of the admission configuration"), "{}", run.stderr);
    // Only the namespace the manifests do not define was read.
    assert!(
        api.log()
            .contains(&"GET /api/v1/namespaces/jobs".to_string())
    );
    assert!(
        !api.log()
            .contains(&"GET /api/v1/namespaces/shop".to_string())
    );

    // The same with defaults that enforce restricted: the Job is refused.
    std::fs::write(
        s.path().join("admission.yaml"),
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: restricted\n  enforce-version: latest\nexemptions: {}\n",
    )
    .unwrap();
    let run = s.in_cluster(
        &api,
        TOKEN,
        &["--admission-config", "admission.yaml", "--format", "json"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    common::assert_valid(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/kpsa-cluster-check.schema.json"
        ),
        &v,
    );
    assert_eq!(v["refused"], 1);
    assert_eq!(v["namespaces"]["jobs"]["source"], "defaults");
    assert_eq!(v["namespaces"]["shop"]["source"], "manifests");
    assert_eq!(v["cluster"]["policyVersion"], "v1.30");
}

#[test]
fn a_forbidden_namespace_is_an_error_not_a_pass() {
    let api = FakeKube::start("v1.30.2");
    api.state.lock().unwrap().forbidden.insert("shop".into());
    let s = Setup::new(PRIVILEGED);
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("GET /api/v1/namespaces/shop: HTTP 403: namespaces \"shop\" is forbidden"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wrong_token_and_an_untrusted_certificate_are_errors() {
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[]);
    let s = Setup::new(PRIVILEGED);
    let run = s.in_cluster(&api, "not-the-token", &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("GET /version: HTTP 401: Unauthorized"),
        "{}",
        run.stderr
    );

    // Another CA: the TLS handshake fails and no token is sent.
    let other = fake_kube::pki();
    let sa = s.path().join("sa-other");
    service_account(&sa, &other.ca_pem, TOKEN);
    let before = api.log().len();
    let run = s.run(
        &[
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", &api.port.to_string()),
            ("KPSA_SERVICEACCOUNT_DIR", sa.to_str().unwrap()),
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );
    assert_eq!(api.log().len(), before, "nothing reached the API");

    // No service account files: a clear error.
    let run = s.run(
        &[
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KPSA_SERVICEACCOUNT_DIR", "/nonexistent"),
        ],
        &[],
    );
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("cannot read /nonexistent/token"),
        "{}",
        run.stderr
    );
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[("enforce", "baseline")]);
    api.state.lock().unwrap().faults.extend([429, 503]);
    let s = Setup::new(PRIVILEGED);
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(api.log().len(), 4, "{:?}", api.log());
}

#[test]
fn kubeconfigs_with_a_token_or_a_client_certificate_work_and_credential_programs_are_refused() {
    use base64::Engine;
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[("enforce", "baseline")]);
    let s = Setup::new(PRIVILEGED);
    let ca = base64::engine::general_purpose::STANDARD.encode(&api.ca_pem);
    let kubeconfig = |user: &str| {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\ncontexts:\n- name: test\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user:\n{user}",
            api.url
        )
    };
    std::fs::write(
        s.path().join("kubeconfig"),
        kubeconfig(&format!("    token: {TOKEN}\n")),
    )
    .unwrap();
    let run = s.run(&[], &["--kubeconfig", "kubeconfig"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("context \"test\" of kubeconfig"),
        "{}",
        run.stdout
    );

    // $KUBECONFIG is read too.
    let run = s.run(&[("KUBECONFIG", "kubeconfig")], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);

    let marker = s.path().join("ran");
    std::fs::write(
        s.path().join("kubeconfig"),
        kubeconfig(&format!("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: touch\n      args: [{}]\n", marker.display())),
    )
    .unwrap();
    let run = s.run(&[], &["--kubeconfig", "kubeconfig"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("kpsa runs no credential plugins"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists());

    // A client certificate (with the token, as kubectl sends both) against
    // an API server that requires one; without it the handshake fails.
    let api = FakeKube::start_with("v1.30.2", true);
    api.namespace("shop", &[("enforce", "baseline")]);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let with_cert = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: test\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user:\n    token: {TOKEN}\n    client-certificate-data: {}\n    client-key-data: {}\n",
        api.url,
        b64(&api.ca_pem),
        b64(&api.client.0),
        b64(&api.client.1)
    );
    std::fs::write(s.path().join("kubeconfig"), &with_cert).unwrap();
    let run = s.run(&[], &["--kubeconfig", "kubeconfig"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let without = with_cert
        .lines()
        .filter(|l| !l.contains("client-"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(s.path().join("kubeconfig"), without).unwrap();
    let run = s.run(&[], &["--kubeconfig", "kubeconfig"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        api.log().iter().filter(|l| *l == "GET /version").count() == 1,
        "{:?}",
        api.log()
    );
    // A certificate without its key is a clear error.
    let half = with_cert
        .lines()
        .filter(|l| !l.contains("client-key"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(s.path().join("kubeconfig"), half).unwrap();
    let run = s.run(&[], &["--kubeconfig", "kubeconfig"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("a client certificate without its key"),
        "{}",
        run.stderr
    );

    let insecure = kubeconfig(&format!("    token: {TOKEN}\n")).replace(
        "    certificate-authority-data:",
        "    insecure-skip-tls-verify: true\n    x-ignored:",
    );
    std::fs::write(s.path().join("kubeconfig"), insecure).unwrap();
    let run = s.run(&[], &["--kubeconfig", "kubeconfig"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("sets insecure-skip-tls-verify"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_hooks_configmap_is_what_cluster_check_reads() {
    // generate's ConfigMap payload, fed to cluster check as the Job mounts it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), PRIVILEGED).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpsa"))
        .args(["argocd", "generate", "--warn-only"])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .env("ARGOCD_APP_NAME", "shop")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .env("ARGOCD_ENV_KPSA_PRESYNC_HOOK", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let cm = text
        .split("---\n# Source: kpsa PreSync hook\n")
        .nth(1)
        .expect("the ConfigMap");
    let cm: serde_json::Value = serde_json::from_str(cm).unwrap();
    let s = Setup::new(cm["data"]["manifests.json"].as_str().unwrap());
    let api = FakeKube::start("v1.30.2");
    api.namespace("shop", &[("enforce", "baseline")]);
    let run = s.in_cluster(&api, TOKEN, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("REFUSED Deployment shop/web"),
        "{}",
        run.stdout
    );
}
