//! The `kpsa` binary: output contracts, exit codes, bad input.

mod common;

use common::{PRIVILEGED_DEPLOYMENT, assert_valid, kpsa, kpsa_stdin};
use std::fs;

fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn restricted_v1_37_fail_fixtures_each_get_findings_with_path_and_line() {
    // Rebuild upstream's restricted/v1.37/fail directory from the vendored index.
    let dir = workdir();
    let fail_dir = dir.path().join("restricted/v1.37/fail");
    fs::create_dir_all(&fail_dir).unwrap();
    let index = fs::read_to_string("testdata/psa/INDEX.tsv").unwrap();
    let mut names = Vec::new();
    for line in index.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        if c[1] == "restricted" && c[2] == "v1.37" && c[3] == "fail" {
            let name = c[0].rsplit('/').next().unwrap().to_string();
            fs::copy(
                format!("testdata/psa/pods/{}.yaml", c[7]),
                fail_dir.join(&name),
            )
            .unwrap();
            names.push(name);
        }
    }
    assert_eq!(names.len(), 76);
    let run = kpsa(
        dir.path(),
        &[
            "scan",
            "restricted/v1.37/fail",
            "--level",
            "restricted",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_valid("docs/kpsa-report.schema.json", &report);
    let findings = report["findings"].as_array().unwrap();
    for name in &names {
        let path = format!("restricted/v1.37/fail/{name}");
        let text = fs::read_to_string(fail_dir.join(name)).unwrap();
        let mine: Vec<_> = findings
            .iter()
            .filter(|f| f["location"]["path"] == path.as_str())
            .collect();
        assert!(!mine.is_empty(), "no finding for {path}");
        for f in mine {
            let line = f["location"]["line"].as_u64().unwrap() as usize;
            assert!(
                line >= 1 && line <= text.lines().count(),
                "{path}: line {line} outside the file"
            );
        }
    }
}

#[test]
fn finding_points_at_the_offending_field() {
    let dir = workdir();
    fs::write(dir.path().join("d.yaml"), PRIVILEGED_DEPLOYMENT).unwrap();
    let run = kpsa(
        dir.path(),
        &["scan", "d.yaml", "--level", "baseline", "--format", "json"],
    );
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_valid("docs/kpsa-report.schema.json", &report);
    let f = &report["findings"][0];
    assert_eq!(f["check"], "privileged");
    assert_eq!(f["tier"], "baseline");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["container"], "app");
    assert_eq!(f["object"]["kind"], "Deployment");
    assert_eq!(f["object"]["namespace"], "shop");
    assert_eq!(
        f["field"],
        "spec.template.spec.containers[name=app].securityContext.privileged"
    );
    assert_eq!(
        f["message"],
        "privileged (container \"app\" must not set securityContext.privileged=true)"
    );
    assert_eq!(f["location"]["line"], 13);
    assert_eq!(f["location"]["column"], 11);
    assert_eq!(report["workloads"][0]["level"], "privileged");
    assert_eq!(
        report["workloads"][0]["baseline"],
        "violates PodSecurity \"baseline:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
    );
}

#[test]
fn text_output_has_a_code_frame_and_no_colour_when_piped() {
    let dir = workdir();
    fs::write(dir.path().join("d.yaml"), PRIVILEGED_DEPLOYMENT).unwrap();
    let run = kpsa(dir.path(), &["scan", "d.yaml", "--level", "baseline"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[privileged]"), "{}", run.stdout);
    assert!(run.stdout.contains("--> d.yaml:13:11"), "{}", run.stdout);
    assert!(
        run.stdout.contains("13 |           privileged: true"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("^^^^^^^^^^"), "{}", run.stdout);
    assert!(
        !run.stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert!(
        run.stdout.contains("1 finding (1 high, 0 medium, 0 low)"),
        "{}",
        run.stdout
    );
    let forced = kpsa(dir.path(), &["scan", "d.yaml", "--color", "always"]);
    assert!(forced.stdout.contains('\x1b'));
}

#[test]
fn exit_codes_follow_the_gate() {
    let dir = workdir();
    let clean = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  securityContext:\n    runAsNonRoot: true\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n";
    fs::write(dir.path().join("clean.yaml"), clean).unwrap();
    fs::write(dir.path().join("priv.yaml"), PRIVILEGED_DEPLOYMENT).unwrap();
    // Restricted-clean pod: only hardened findings, which the default gate ignores.
    assert_eq!(kpsa(dir.path(), &["scan", "clean.yaml"]).code, 0);
    assert_eq!(
        kpsa(dir.path(), &["scan", "clean.yaml", "--fail-on", "hardened"]).code,
        1
    );
    assert_eq!(kpsa(dir.path(), &["scan", "priv.yaml"]).code, 1);
    assert_eq!(
        kpsa(dir.path(), &["scan", "priv.yaml", "--fail-on", "never"]).code,
        0
    );
    // Usage errors win over everything.
    for bad in ["1.30", "v1.030", "v2.0"] {
        let run = kpsa(
            dir.path(),
            &["scan", "priv.yaml", "--kubernetes-version", bad],
        );
        assert_eq!(run.code, 2, "{bad}");
        assert!(
            run.stderr.contains("invalid Kubernetes version"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(kpsa(dir.path(), &["scan", "--level", "paranoid"]).code, 2);
    assert_eq!(kpsa(dir.path(), &["explain", "noSuchCheck"]).code, 2);
    // An unreadable input (3) wins over findings (1).
    fs::write(dir.path().join("broken.yaml"), "a: [\n").unwrap();
    assert_eq!(
        kpsa(dir.path(), &["scan", "priv.yaml", "broken.yaml"]).code,
        3
    );
    assert_eq!(kpsa(dir.path(), &["scan", "missing.yaml"]).code, 3);
}

#[test]
fn newer_versions_evaluate_as_the_newest_policy_with_a_warning() {
    let dir = workdir();
    fs::write(dir.path().join("d.yaml"), PRIVILEGED_DEPLOYMENT).unwrap();
    let run = kpsa(
        dir.path(),
        &[
            "scan",
            "d.yaml",
            "--kubernetes-version",
            "v1.40",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("evaluating v1.40 as v1.37"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["kubernetes_version"], "v1.37");
}

#[test]
fn bad_inputs_fail_alone_and_the_rest_is_still_reported() {
    let dir = workdir();
    let p = dir.path();
    fs::write(p.join("good.yaml"), PRIVILEGED_DEPLOYMENT).unwrap();
    // Malformed YAML in the middle of a stream: the documents around it still count.
    fs::write(
        p.join("malformed.yaml"),
        format!(
            "{PRIVILEGED_DEPLOYMENT}---\nkind: [oops\n---\n{}",
            PRIVILEGED_DEPLOYMENT.replace("web", "web2")
        ),
    )
    .unwrap();
    // A billion-laughs alias bomb that would expand to about a gigabyte.
    let mut bomb = String::from("a0: &a0 [\"lol_lol_lol_lol_lol_lol_lol_lol_lol_lol\"]\n");
    for i in 1..10 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(",")
        ));
    }
    fs::write(p.join("bomb.yaml"), bomb).unwrap();
    // 10,000 levels of nesting, block and flow style.
    let deep = format!("{}x\n", "- ".repeat(10_000));
    fs::write(p.join("deep.yaml"), deep).unwrap();
    fs::write(
        p.join("deepflow.yaml"),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
    )
    .unwrap();
    // A binary file and a non-UTF-8 file.
    fs::write(
        p.join("binary.yaml"),
        [0x7f, b'E', b'L', b'F', 0, 1, 2, 3, 0xff],
    )
    .unwrap();
    fs::write(
        p.join("latin1.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    )
    .unwrap();
    fs::write(p.join("empty.yaml"), "# only a comment\n").unwrap();

    let run = kpsa(p, &["scan", ".", "--level", "baseline", "--format", "json"]);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let report = run.json();
    assert_valid("docs/kpsa-report.schema.json", &report);
    let errors = report["errors"].as_array().unwrap();
    let error_for = |file: &str| {
        errors
            .iter()
            .find(|e| e["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("no error for {file}: {errors:?}"))
            .clone()
    };
    let malformed = error_for("malformed.yaml");
    assert_eq!(malformed["line"], 16, "{malformed}");
    assert!(
        error_for("bomb.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("alias")
    );
    assert!(
        error_for("deep.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("nesting")
    );
    assert!(
        error_for("deepflow.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("invalid YAML")
    );
    assert!(
        error_for("binary.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("binary")
    );
    let latin = error_for("latin1.yaml");
    assert!(latin["message"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(latin["line"], 3);
    assert_eq!(errors.len(), 6, "{errors:?}");
    // good.yaml and both good documents of malformed.yaml are reported.
    let names: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["object"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "web").count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "web2").count(),
        1,
        "{names:?}"
    );

    // The text report names each bad file and line too.
    let text = kpsa(p, &["scan", "malformed.yaml", "--level", "baseline"]);
    assert_eq!(text.code, 3);
    assert!(
        text.stdout.contains("--> malformed.yaml:16"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("1 input error"), "{}", text.stdout);
}

#[test]
fn stdin_is_an_input() {
    let dir = workdir();
    let run = kpsa_stdin(
        dir.path(),
        &["scan", "-", "--level", "baseline"],
        Some(PRIVILEGED_DEPLOYMENT.as_bytes()),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("--> <stdin>:13:11"), "{}", run.stdout);
    assert!(
        run.stdout.contains("privileged: true"),
        "code frame from stdin: {}",
        run.stdout
    );
}

#[test]
fn lists_and_cronjobs_and_service_accounts_across_documents() {
    let dir = workdir();
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: CronJob\n  metadata: {name: nightly}\n  spec:\n    jobTemplate:\n      spec:\n        template:\n          spec:\n            serviceAccountName: runner\n            hostPID: true\n            containers:\n            - name: job\n              image: busybox\n";
    let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner}\nautomountServiceAccountToken: false\n";
    // The ServiceAccount comes in a later file: it still settles the check.
    fs::write(dir.path().join("a-list.yaml"), list).unwrap();
    fs::write(dir.path().join("b-sa.yaml"), sa).unwrap();
    let run = kpsa(dir.path(), &["scan", ".", "--format", "json"]);
    let report = run.json();
    let checks: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"hostNamespaces"), "{checks:?}");
    assert!(
        !checks.contains(&"automountServiceAccountToken"),
        "{checks:?}"
    );
    let host = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "hostNamespaces")
        .unwrap();
    assert_eq!(host["field"], "spec.jobTemplate.spec.template.spec.hostPID");
    assert_eq!(host["object"]["kind"], "CronJob");
    assert_eq!(host["location"]["line"], 13);
    // Without the ServiceAccount the token is automounted.
    fs::remove_file(dir.path().join("b-sa.yaml")).unwrap();
    let again = kpsa(dir.path(), &["scan", ".", "--format", "json"]).json();
    let auto = again["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "automountServiceAccountToken")
        .unwrap();
    assert_eq!(
        auto["message"],
        "automountServiceAccountToken (pod or ServiceAccount \"runner\" must set automountServiceAccountToken=false)"
    );
}

#[test]
fn explain_and_checks_print_the_check_docs() {
    let dir = workdir();
    let run = kpsa(dir.path(), &["explain", "privileged"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .starts_with("privileged (baseline tier, high severity)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Fix:"));
    let checks = kpsa(dir.path(), &["checks"]);
    assert_eq!(checks.stdout.lines().count(), 22);
    // The policy versions, as its help says: where a check's rule changes.
    let proc_mount = checks
        .stdout
        .lines()
        .find(|l| l.starts_with("procMount "))
        .unwrap();
    assert!(proc_mount.contains(" v1.0, v1.35 "), "{proc_mount}");
    let hardened = checks
        .stdout
        .lines()
        .find(|l| l.starts_with("readOnlyRootFilesystem "))
        .unwrap();
    assert!(hardened.contains(" all (kpsa) "), "{hardened}");
}

/// `kpsa targets | head` stops reading early: kpsa exits quietly, with no
/// panic, and names from the repository reach the terminal escaped.
#[test]
fn a_target_list_to_a_closed_pipe_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1500 {
        let d = dir.path().join(format!("charts/app-{i:04}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("Chart.yaml"),
            format!("apiVersion: v2\nname: app-{i}\nversion: 1.0.0\n"),
        )
        .unwrap();
    }
    let d = dir.path().join("raw/\u{1b}[2Jx");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )
    .unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' targets | head -n 1; echo \"status=${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_kpsa")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.ends_with("status=0\n"), "{stdout}\n{stderr}");
    let all = kpsa(dir.path(), &["targets"]);
    assert!(all.stdout.contains("raw/[2Jx"), "{}", all.stdout);
    assert!(
        !all.stdout.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );
}
