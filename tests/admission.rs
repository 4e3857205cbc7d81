//! Admission context, suppressions and the accepted-findings file, end to
//! end on real repositories with the real binary.

mod common;

use common::{Repo, assert_valid};
use serde_json::Value;

const SCHEMA: &str = "docs/kpsa-report.schema.json";

fn ns(name: &str, labels: &[(&str, &str)]) -> String {
    let mut s = format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    if !labels.is_empty() {
        s.push_str("  labels:\n");
        for (k, v) in labels {
            s.push_str(&format!("    pod-security.kubernetes.io/{k}: \"{v}\"\n"));
        }
    }
    s
}

/// A pod spec that meets restricted except for what `extra` adds to it.
fn pod(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    extra_spec: &str,
    extra_container: &str,
) -> String {
    let ns = namespace
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    let spec = format!(
        "automountServiceAccountToken: false\nsecurityContext:\n  runAsNonRoot: true\n  seccompProfile: {{type: RuntimeDefault}}\n{extra_spec}containers:\n  - name: app\n    image: app:1\n    resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}\n    securityContext: {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {{drop: [ALL]}}}}\n{extra_container}"
    );
    let indent = |s: &str, n: usize| {
        s.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    if kind == "Pod" {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{ns}spec:\n{}",
            indent(&spec, 2)
        )
    } else {
        format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n{ns}spec:\n  template:\n    spec:\n{}",
            indent(&spec, 6)
        )
    }
}

fn scan(repo: &Repo, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["scan", "--format", "json", "-q"];
    args.extend_from_slice(extra);
    let run = repo.kpsa(".", &args, &[]);
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_valid(SCHEMA, &v);
    (run.code, v, run.stderr)
}

/// The admission outcome of the finding with this check on this object.
fn outcome<'a>(r: &'a Value, name: &str, check: &str) -> &'a Value {
    &r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["name"] == name && f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} on {name}: {}", r["findings"]))["admission"]
}

const RUN_AS_ROOT: &str = "  runAsUser: 0\n";

#[test]
fn rendered_namespaces_decide_what_admission_does() {
    let repo = Repo::new("");
    let mut m = String::new();
    m.push_str(&ns(
        "prod",
        &[("enforce", "restricted"), ("enforce-version", "v1.33")],
    ));
    m.push_str(&ns(
        "staging",
        &[("enforce", "baseline"), ("audit", "restricted")],
    ));
    m.push_str(&ns(
        "weird",
        &[
            ("enforce", "strict"),
            ("audit", "loose"),
            ("warn-version", "1.30"),
        ],
    ));
    m.push_str(&ns(
        "old",
        &[("enforce", "restricted"), ("enforce-version", "v1.21")],
    ));
    m.push_str(&ns("open", &[]));
    m.push_str(&pod("Pod", "bare", Some("prod"), RUN_AS_ROOT, ""));
    m.push_str(&pod("Deployment", "web", Some("prod"), RUN_AS_ROOT, ""));
    m.push_str(&pod("Pod", "stage", Some("staging"), RUN_AS_ROOT, ""));
    m.push_str(&pod("Pod", "odd", Some("weird"), RUN_AS_ROOT, ""));
    // Only capabilities_restricted (in force from v1.22) fails: no drop ALL.
    m.push_str(
        &pod("Pod", "legacy", Some("old"), "", "")
            .replace("capabilities: {drop: [ALL]}", "capabilities: {}"),
    );
    m.push_str(&pod("Pod", "free", Some("open"), RUN_AS_ROOT, ""));
    m.push_str(&pod("Pod", "nowhere", None, RUN_AS_ROOT, ""));
    repo.write("cluster/all.yaml", &m);
    repo.commit("namespaces");
    let (code, r, _) = scan(&repo, &["--fail-on", "enforced"]);
    assert_eq!(
        code, 1,
        "the bare Pod and the Deployment pods are refused: {}",
        r["errors"]
    );

    let bare = outcome(&r, "bare", "runAsUser");
    assert_eq!(bare["namespace"], "prod");
    assert_eq!(
        bare["enforce"],
        "rejected at admission (enforce restricted:v1.33)"
    );
    assert_eq!(
        bare["warn"], "the API server returns a warning (warn restricted:v1.33)",
        "warn copies a stricter enforce"
    );
    assert_eq!(bare["refused"], true);
    assert_eq!(bare["source"], "Namespace prod in cluster");

    let web = outcome(&r, "web", "runAsUser");
    assert_eq!(
        web["enforce"],
        "the workload is admitted, but its pods are refused when they are created (enforce restricted:v1.33)"
    );
    assert_eq!(web["refused"], true);

    // Baseline enforce admits a restricted violation; audit records it.
    let stage = outcome(&r, "stage", "runAsUser");
    assert!(stage["enforce"].is_null());
    assert_eq!(
        stage["audit"],
        "recorded in the audit log (audit restricted:latest)"
    );
    assert_eq!(stage["refused"], false);

    // Invalid labels: enforce fails closed, audit open, version latest.
    let odd = outcome(&r, "odd", "runAsUser");
    assert_eq!(
        odd["enforce"],
        "rejected at admission (enforce restricted:latest)"
    );
    assert!(odd["audit"].is_null());
    let problems: Vec<&str> = odd["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0]
            .contains("pod-security.kubernetes.io/enforce \"strict\": evaluated as restricted")
    );

    // The policy version decides: capabilities_restricted is not enforced at v1.21.
    let legacy = outcome(&r, "legacy", "capabilities_restricted");
    assert!(
        legacy["enforce"].is_null() && legacy["refused"] == false,
        "{legacy}"
    );

    // A Namespace without labels: privileged defaults admit everything.
    let free = outcome(&r, "free", "runAsUser");
    assert!(free["enforce"].is_null() && free["warn"].is_null() && free["audit"].is_null());
    // No namespace: `default`, of which nothing is known.
    assert!(outcome(&r, "nowhere", "runAsUser").is_null());
    // K01 hardening is no admission matter.
    let hardened = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tier"] == "hardened")
        .count();
    assert_eq!(
        hardened, 0,
        "the pods are hardened except where the test says"
    );

    // --kubernetes-version clamps the namespace's version.
    let (_, r, _) = scan(&repo, &["--kubernetes-version", "v1.30"]);
    assert_eq!(
        outcome(&r, "bare", "runAsUser")["enforce"],
        "rejected at admission (enforce restricted:v1.30)"
    );

    // Text shows it.
    let run = repo.kpsa(".", &["scan", "-q", "cluster"], &[]);
    assert!(run.stdout.contains("= admission: namespace prod: rejected at admission (enforce restricted:v1.33); the API server returns a warning (warn restricted:v1.33) (Namespace prod in cluster)"), "{}", run.stdout);

    // Without refused findings, --fail-on enforced passes.
    repo.write(
        "cluster/all.yaml",
        &format!(
            "{}{}",
            ns("staging", &[("enforce", "baseline")]),
            pod("Pod", "stage", Some("staging"), RUN_AS_ROOT, "")
        ),
    );
    let (code, r, _) = scan(&repo, &["--fail-on", "enforced"]);
    assert_eq!(code, 0);
    assert_eq!(r["fail_on"], "enforced");
    let (code, _, _) = scan(&repo, &[]);
    assert_eq!(
        code, 1,
        "the default gate still sees the restricted finding"
    );
}

const PSC: &str = "apiVersion: pod-security.admission.config.k8s.io/VERSION
kind: PodSecurityConfiguration
defaults:
  enforce: baseline
  enforce-version: v1.30
  warn: restricted
exemptions:
  usernames: [system:serviceaccount:ci:deployer]
  runtimeClasses: [kata]
  namespaces: [kube-system]
";

#[test]
fn a_pod_security_configuration_sets_defaults_and_exemptions_in_each_form() {
    let repo = Repo::new("");
    let mut m = String::new();
    m.push_str(&pod("Pod", "host", Some("apps"), "hostPID: true\n", ""));
    m.push_str(&pod(
        "Pod",
        "system",
        Some("kube-system"),
        "hostPID: true\n",
        "",
    ));
    m.push_str(&pod(
        "Pod",
        "sandboxed",
        Some("apps"),
        "hostPID: true\nruntimeClassName: kata\n",
        "",
    ));
    repo.write("cluster/pods.yaml", &m);
    for (name, text) in [
        ("bare-v1.yaml", PSC.replace("VERSION", "v1")),
        ("bare-v1beta1.yaml", PSC.replace("VERSION", "v1beta1")),
        ("bare-v1alpha1.yaml", PSC.replace("VERSION", "v1alpha1")),
        (
            "inline.yaml",
            format!(
                "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n  - name: PodSecurity\n    configuration:\n{}",
                PSC.replace("VERSION", "v1").lines().map(|l| format!("      {l}\n")).collect::<String>()
            ),
        ),
        (
            "by-path.yaml",
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n  - name: PodSecurity\n    path: bare-v1.yaml\n".to_string(),
        ),
    ] {
        repo.write(&format!("admission/{name}"), &text);
    }
    repo.commit("admission");
    for name in [
        "bare-v1.yaml",
        "bare-v1beta1.yaml",
        "bare-v1alpha1.yaml",
        "inline.yaml",
        "by-path.yaml",
    ] {
        let file = format!("admission/{name}");
        let (code, r, stderr) = scan(
            &repo,
            &[
                "cluster",
                "--admission-config",
                &file,
                "--fail-on",
                "enforced",
            ],
        );
        assert_eq!(code, 1, "{name}");
        let host = outcome(&r, "host", "hostNamespaces");
        assert_eq!(
            host["enforce"], "rejected at admission (enforce baseline:v1.30)",
            "{name}"
        );
        assert_eq!(
            host["warn"], "the API server returns a warning (warn restricted:latest)",
            "{name}"
        );
        assert_eq!(host["source"], "the admission configuration's defaults");
        let system = outcome(&r, "system", "hostNamespaces");
        assert_eq!(
            system["exempt"], "namespace kube-system is exempt",
            "{name}"
        );
        assert_eq!(system["refused"], false);
        let sandboxed = outcome(&r, "sandboxed", "hostNamespaces");
        assert_eq!(sandboxed["exempt"], "runtimeClass kata is exempt", "{name}");
        assert!(
            stderr.contains("exemptions.usernames (system:serviceaccount:ci:deployer) are ignored"),
            "{stderr}"
        );
    }
    // Invalid files are errors with file:line.
    for (text, expected) in [
        (
            PSC.replace("VERSION", "v1").replace(
                "  warn: restricted\n",
                "  warn: restricted\n  enforcee: baseline\n",
            ),
            "admission/bad.yaml:7:3: unknown field \"enforcee\" in defaults",
        ),
        (
            PSC.replace("VERSION", "v2"),
            "admission/bad.yaml:1:1: PodSecurityConfiguration apiVersion must be",
        ),
    ] {
        repo.write("admission/bad.yaml", &text);
        let run = repo.kpsa(
            ".",
            &[
                "scan",
                "cluster",
                "--admission-config",
                "admission/bad.yaml",
            ],
            &[],
        );
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
    }
}

#[test]
fn configured_namespaces_and_helm_release_namespaces() {
    let repo = Repo::new("");
    repo.write(
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/app/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: x}]\n",
    );
    repo.write(
        ".kpsa.yaml",
        "version: 1\nnamespaces:\n  payments: {enforce: baseline, enforce-version: v1.32}\ntargets:\n  - helm: {chart: charts/app, namespace: payments}\n",
    );
    repo.commit("chart");
    let (code, r, _) = scan(&repo, &["--fail-on", "enforced"]);
    assert_eq!(code, 1);
    let o = outcome(&r, "app", "hostNamespaces");
    assert_eq!(o["namespace"], "payments", "the release namespace");
    assert_eq!(
        o["enforce"],
        "rejected at admission (enforce baseline:v1.32)"
    );
    assert_eq!(o["source"], "namespaces.payments in .kpsa.yaml:3");
}

fn annotated(annotations: &[(&str, &str)]) -> String {
    let mut d = pod(
        "Deployment",
        "web",
        Some("shop"),
        "hostNetwork: true\n",
        "  - name: debug\n    image: busybox\n    resources: {limits: {cpu: 10m, memory: 8Mi}}\n    securityContext:\n      privileged: true\n      allowPrivilegeEscalation: false\n      readOnlyRootFilesystem: true\n      capabilities: {drop: [ALL]}\n",
    );
    let mut a = String::from("  annotations:\n");
    for (k, v) in annotations {
        a.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    d = d.replace("  namespace: shop\n", &format!("  namespace: shop\n{a}"));
    d
}

fn suppression<'a>(r: &'a Value, check: &str, container: Option<&str>) -> &'a Value {
    &r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["container"].as_str() == container)
        .unwrap_or_else(|| panic!("no {check}"))["suppression"]
}

#[test]
fn suppressions_by_annotation_container_and_config() {
    let repo = Repo::new("");
    repo.write(
        "raw/web.yaml",
        &annotated(&[
            ("kpsa.io/ignore", "hostNamespaces,debug/privileged"),
            ("kpsa.io/ignore-reason", "node agent, SEC-123"),
            ("kpsa.io/ignore-until", "2999-12-31"),
        ]),
    );
    repo.commit("annotated");
    let (code, r, _) = scan(&repo, &[]);
    assert_eq!(code, 0, "everything at the gate is suppressed");
    let s = suppression(&r, "hostNamespaces", None);
    assert_eq!(s["active"], true);
    assert_eq!(s["by"], "annotation");
    assert_eq!(s["reason"], "node agent, SEC-123");
    assert_eq!(
        s["source"],
        "annotation kpsa.io/ignore on Deployment shop/web"
    );
    assert_eq!(suppression(&r, "privileged", Some("debug"))["active"], true);
    assert_eq!(r["summary"]["suppressed"], 2);
    assert_eq!(r["summary"]["findings"]["total"], 0);
    // Text hides them but counts them; --show-suppressed lists them.
    let run = repo.kpsa(".", &["scan", "-q"], &[]);
    assert!(
        !run.stdout.contains("error[hostNamespaces]")
            && run.stdout.contains("; 2 suppressed or accepted"),
        "{}",
        run.stdout
    );
    let run = repo.kpsa(".", &["scan", "-q", "--show-suppressed"], &[]);
    assert!(run.stdout.contains("= suppressed by annotation kpsa.io/ignore on Deployment shop/web: node agent, SEC-123 (until 2999-12-31)"), "{}", run.stdout);
    // SARIF keeps them, with suppressions.
    let run = repo.kpsa(".", &["scan", "-q", "--format", "sarif"], &[]);
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_valid("testdata/schemas/sarif-2.1.0.json", &sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let host = results
        .iter()
        .find(|r| r["ruleId"] == "hostNamespaces")
        .unwrap();
    assert_eq!(host["suppressions"][0]["kind"], "inSource");
    assert_eq!(host["suppressions"][0]["status"], "accepted");
    assert!(
        host["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .starts_with("node agent, SEC-123")
    );

    // Container-scoped: the same check on another container is not suppressed.
    repo.write(
        "raw/web.yaml",
        &annotated(&[
            ("kpsa.io/ignore", "debug/privileged"),
            ("kpsa.io/ignore-reason", "r"),
        ])
        .replacen(
            "readOnlyRootFilesystem: true,",
            "readOnlyRootFilesystem: true, privileged: true,",
            1,
        ),
    );
    let (_, r, _) = scan(&repo, &[]);
    assert_eq!(suppression(&r, "privileged", Some("debug"))["active"], true);
    assert!(
        suppression(&r, "privileged", Some("app")).is_null(),
        "scoped to the debug container"
    );
    assert!(suppression(&r, "hostNamespaces", None).is_null());

    // Expired, and without a reason: they do not suppress, and say why.
    repo.write(
        "raw/web.yaml",
        &annotated(&[
            ("kpsa.io/ignore", "hostNamespaces"),
            ("kpsa.io/ignore-reason", "old"),
            ("kpsa.io/ignore-until", "2000-01-01"),
        ]),
    );
    let (code, r, _) = scan(&repo, &[]);
    assert_eq!(code, 1);
    let s = suppression(&r, "hostNamespaces", None);
    assert_eq!(
        (s["active"].clone(), s["problem"].clone()),
        (Value::Bool(false), Value::from("expired on 2000-01-01"))
    );
    repo.write(
        "raw/web.yaml",
        &annotated(&[("kpsa.io/ignore", "hostNamespaces")]),
    );
    let (_, r, _) = scan(&repo, &[]);
    assert_eq!(
        suppression(&r, "hostNamespaces", None)["problem"],
        "no kpsa.io/ignore-reason: a suppression needs a reason"
    );
    let run = repo.kpsa(".", &["scan", "-q"], &[]);
    assert!(run.stdout.contains("= suppression not applied (annotation kpsa.io/ignore on Deployment shop/web): no kpsa.io/ignore-reason"), "{}", run.stdout);

    // Config exemptions, by glob.
    repo.write("raw/web.yaml", &annotated(&[]));
    repo.write(
        ".kpsa.yaml",
        "version: 1\nexemptions:\n  - {namespace: sh*, kind: Deploy*, name: \"w?b\", container: deb*, check: priv*, reason: debug image, until: 2999-01-01}\n  - {check: hostNamespaces}\n",
    );
    let (_, r, _) = scan(&repo, &[]);
    let s = suppression(&r, "privileged", Some("debug"));
    assert_eq!(
        (
            s["by"].as_str(),
            s["active"].as_bool(),
            s["source"].as_str()
        ),
        (Some("config"), Some(true), Some(".kpsa.yaml:3"))
    );
    assert_eq!(
        suppression(&r, "hostNamespaces", None)["problem"],
        "no `reason`: a suppression needs a reason"
    );
    let run = repo.kpsa(".", &["scan", "-q", "--format", "sarif"], &[]);
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    let p = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "privileged")
        .unwrap();
    assert_eq!(p["suppressions"][0]["kind"], "external");
}

#[test]
fn a_diff_that_removes_a_suppression_makes_its_finding_new() {
    let repo = Repo::new("");
    let with = annotated(&[
        ("kpsa.io/ignore", "hostNamespaces"),
        ("kpsa.io/ignore-reason", "node agent"),
    ]);
    repo.write("raw/web.yaml", &with);
    repo.commit("suppressed");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("raw/web.yaml", &annotated(&[]));
    repo.commit("unsuppressed");
    let run = repo.kpsa(
        ".",
        &["diff", "main..feature", "--format", "json", "-q"],
        &[],
    );
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_valid(SCHEMA, &r);
    let new: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new")
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(new, vec!["hostNamespaces"]);
    assert_eq!(run.code, 1);
    let change = &r["configuration_changes"][0];
    assert_eq!(
        change["setting"],
        "suppression: hostNamespaces on Deployment shop/web (target raw)"
    );
    assert_eq!(
        change["base"],
        "suppressed by annotation kpsa.io/ignore on Deployment shop/web: node agent"
    );
    assert!(change["head"].is_null());

    // Adding one back: nothing new, and listed.
    repo.write("raw/web.yaml", &with);
    repo.commit("suppressed again");
    let run = repo.kpsa(
        ".",
        &["diff", "feature~1..feature", "--format", "json", "-q"],
        &[],
    );
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] != "new")
    );
    // The change added the suppression: it is pending review, and lifts
    // nothing; the finding was there before, so nothing is new either.
    assert_eq!(
        r["configuration_changes"][0]["head"],
        "pending: suppressed by annotation kpsa.io/ignore on Deployment shop/web: node agent"
    );
    assert_eq!(r["configuration_changes"][0]["applied"], false);
    assert_eq!(
        run.code, 0,
        "the privileged debug container is unchanged; hostNamespaces is not new"
    );
    let run = repo.kpsa(
        ".",
        &[
            "diff",
            "feature~1..feature",
            "--format",
            "json",
            "-q",
            "--allow-new-suppressions",
        ],
        &[],
    );
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        r["configuration_changes"][0]["head"],
        "suppressed by annotation kpsa.io/ignore on Deployment shop/web: node agent"
    );
    assert_eq!(r["configuration_changes"][0]["applied"], true);
}

#[test]
fn accepted_findings_round_trip() {
    let repo = Repo::new("");
    repo.write(
        "raw/a.yaml",
        &pod("Pod", "a", Some("x"), "hostPID: true\n", ""),
    );
    repo.write("raw/b.yaml", &pod("Pod", "b", Some("x"), RUN_AS_ROOT, ""));
    repo.commit("two");
    let run = repo.kpsa(
        ".",
        &[
            "accept",
            "--write",
            "kpsa-accepted.json",
            "-q",
            "--reason",
            "adopted 2026-11",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = repo.read("kpsa-accepted.json");
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["version"], 1);
    let entries = file["findings"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let fps: Vec<&str> = entries
        .iter()
        .map(|e| e["fingerprint"].as_str().unwrap())
        .collect();
    let mut sorted = fps.clone();
    sorted.sort();
    assert_eq!(fps, sorted, "sorted by fingerprint");
    assert_eq!(entries[0]["reason"], "adopted 2026-11");
    // Writing again keeps what people wrote.
    repo.write(
        "kpsa-accepted.json",
        &text.replace("adopted 2026-11", "reviewed by SEC"),
    );
    // `accept` needs a reason: an entry without one accepts nothing.
    let run = repo.kpsa(".", &["accept", "--write", "kpsa-accepted.json", "-q"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = repo.kpsa(
        ".",
        &[
            "accept",
            "--write",
            "kpsa-accepted.json",
            "-q",
            "--reason",
            " ",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    repo.kpsa(
        ".",
        &[
            "accept",
            "--write",
            "kpsa-accepted.json",
            "-q",
            "--reason",
            "new",
        ],
        &[],
    );
    assert!(
        repo.read("kpsa-accepted.json")
            .matches("reviewed by SEC")
            .count()
            == 2
    );

    // Unchanged: nothing to report.
    let (code, r, _) = scan(&repo, &["raw", "--accepted", "kpsa-accepted.json"]);
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["findings"]["total"], 0);
    assert_eq!(r["accepted"]["matched"], 2);
    // A new violation: one finding.
    repo.write(
        "raw/c.yaml",
        &pod("Pod", "c", Some("x"), "hostIPC: true\n", ""),
    );
    let (code, r, _) = scan(&repo, &["raw", "--accepted", "kpsa-accepted.json"]);
    assert_eq!(code, 1);
    assert_eq!(r["summary"]["findings"]["total"], 1);
    // Fix an old one: its entry is stale.
    repo.write("raw/b.yaml", &pod("Pod", "b", Some("x"), "", ""));
    let (_, r, _) = scan(&repo, &["raw", "--accepted", "kpsa-accepted.json"]);
    let stale = r["accepted"]["stale"].as_array().unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["object"], "Pod x/b");
    let run = repo.kpsa(
        ".",
        &["scan", "raw", "-q", "--accepted", "kpsa-accepted.json"],
        &[],
    );
    assert!(
        run.stdout.contains(
            "1 of its entries no longer occur (stale, remove them):\n  stale: runAsUser Pod x/b"
        ),
        "{}",
        run.stdout
    );
    // An entry whose reason was emptied accepts nothing, and says so.
    let mut file: Value = serde_json::from_str(&repo.read("kpsa-accepted.json")).unwrap();
    let entry = file["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["object"] == "Pod x/a")
        .expect("an entry for Pod x/a");
    entry["reason"] = "".into();
    let first_fp = entry["fingerprint"].as_str().unwrap().to_string();
    repo.write("kpsa-accepted.json", &file.to_string());
    let (code, r, _) = scan(&repo, &["raw", "--accepted", "kpsa-accepted.json"]);
    assert_eq!(code, 1);
    assert_eq!(
        r["accepted"]["without_reason"][0]["fingerprint"],
        first_fp.as_str()
    );
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fingerprint"] == first_fp.as_str() && f["accepted"] == false),
        "{r}"
    );
    // A broken file is a usage error.
    repo.write("kpsa-accepted.json", "{\"version\": 2, \"findings\": []}");
    let run = repo.kpsa(
        ".",
        &["scan", "raw", "--accepted", "kpsa-accepted.json"],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("version 2 is not supported"),
        "{}",
        run.stderr
    );
}
