//! What the upstream fixtures do not cover: ephemeral containers, the
//! AppArmor field, `container_engine_t`, Windows pods at 1.25–1.28,
//! `hostUsers: false` relief, every version boundary, clamping, workloads
//! wrapping pods, the tier rule for overridden checks, and upstream's wording
//! for several containers (transcribed from upstream `policy/check_*_test.go`).

mod common;

use common::evaluate_yaml;
use kpsa::policy::{Context, PssLevel, Tier, Version, VersionSpec};

/// A pod whose spec is `spec` (YAML, indented two spaces under `spec:`).
fn pod(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{spec}")
}

/// The restricted-clean pod at the newest version, with extra spec lines.
fn clean_pod(extra: &str) -> String {
    pod(&format!(
        "  securityContext:\n    runAsNonRoot: true\n    seccompProfile: {{type: RuntimeDefault}}\n{extra}  containers:\n  - name: a\n    image: x\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities: {{drop: [ALL]}}\n"
    ))
}

struct Eval {
    failed_baseline: Vec<String>,
    failed_restricted: Vec<String>,
    findings: Vec<(String, Tier, String)>,
}

fn run(yaml: &str, minor: u32) -> Eval {
    let e = evaluate_yaml(yaml, minor, &Context::default());
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    Eval {
        failed_baseline: e.verdict(PssLevel::Baseline).messages,
        failed_restricted: e.verdict(PssLevel::Restricted).messages,
        findings: e
            .violations(Tier::Restricted)
            .into_iter()
            .map(|v| (v.check.to_string(), v.tier, v.message))
            .collect(),
    }
}

fn checks(e: &Eval) -> Vec<&str> {
    e.findings.iter().map(|(c, _, _)| c.as_str()).collect()
}

#[test]
fn the_clean_pod_is_clean() {
    let e = run(&clean_pod(""), 37);
    assert!(
        e.failed_restricted.is_empty() && e.findings.is_empty(),
        "{:?}",
        e.findings
    );
}

#[test]
fn ephemeral_containers_are_visited() {
    let yaml = clean_pod(
        "  ephemeralContainers:\n  - name: debug\n    image: busybox\n    securityContext:\n      privileged: true\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n",
    );
    let e = run(&yaml, 37);
    assert_eq!(
        e.failed_baseline,
        vec!["privileged (container \"debug\" must not set securityContext.privileged=true)"]
    );
}

#[test]
fn apparmor_field_is_checked_at_every_version() {
    let yaml = clean_pod("").replace(
        "    seccompProfile: {type: RuntimeDefault}\n",
        "    seccompProfile: {type: RuntimeDefault}\n    appArmorProfile: {type: Unconfined}\n",
    );
    for minor in [0, 20, 37] {
        let e = run(&yaml, minor);
        assert_eq!(
            e.failed_baseline,
            vec![
                "forbidden AppArmor profile (pod must not set AppArmor profile type to \"Unconfined\")"
            ],
            "v1.{minor}"
        );
    }
    let ok = yaml.replace("Unconfined", "Localhost");
    assert!(run(&ok, 37).failed_baseline.is_empty());
}

#[test]
fn apparmor_wording_for_pod_containers_and_annotations() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    container.apparmor.security.beta.kubernetes.io/a: unconfined\nspec:\n  securityContext:\n    appArmorProfile: {type: Unconfined}\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      appArmorProfile: {type: Unconfined}\n  - name: b\n    image: x\n    securityContext:\n      appArmorProfile: {type: Bad}\n";
    let e = run(yaml, 37);
    assert_eq!(
        e.failed_baseline[0],
        "forbidden AppArmor profiles (pod and containers \"a\", \"b\" and annotation must not set AppArmor profile type to \"Bad\", \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\")"
    );
}

#[test]
fn selinux_container_engine_t_is_allowed_from_1_31() {
    let yaml = clean_pod("").replace(
        "    runAsNonRoot: true\n",
        "    runAsNonRoot: true\n    seLinuxOptions: {type: container_engine_t}\n",
    );
    assert_eq!(run(&yaml, 30).failed_baseline.len(), 1);
    assert!(run(&yaml, 31).failed_baseline.is_empty());
}

#[test]
fn selinux_wording_matches_upstream_tests() {
    let yaml = pod(
        "  securityContext:\n    seLinuxOptions: {type: foo, user: bar, role: baz}\n  containers:\n  - {name: a, image: x, securityContext: {seLinuxOptions: {type: container_t}}}\n  - {name: d, image: x, securityContext: {seLinuxOptions: {type: container_engine_t}}}\n  - {name: e, image: x, securityContext: {seLinuxOptions: {type: bar}}}\n  - {name: f, image: x, securityContext: {seLinuxOptions: {user: bar}}}\n  - {name: g, image: x, securityContext: {seLinuxOptions: {role: baz}}}\n",
    );
    assert_eq!(
        run(&yaml, 37).failed_baseline,
        vec![
            "seLinuxOptions (pod and containers \"e\", \"f\", \"g\" set forbidden securityContext.seLinuxOptions: types \"bar\", \"foo\"; user may not be set; role may not be set)"
        ]
    );
    let user_only = pod(
        "  securityContext:\n    seLinuxOptions: {user: bad}\n  containers:\n  - {name: a, image: x}\n",
    );
    assert_eq!(
        run(&user_only, 37).failed_baseline,
        vec![
            "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set)"
        ]
    );
}

#[test]
fn windows_pods_are_exempt_from_three_restricted_checks_from_1_25() {
    let yaml = pod(
        "  os: {name: windows}\n  securityContext:\n    runAsNonRoot: true\n  containers:\n  - {name: a, image: x}\n",
    );
    let at24 = run(&yaml, 24);
    assert_eq!(
        at24.failed_restricted.len(),
        3,
        "{:?}",
        at24.failed_restricted
    );
    for minor in 25..=28 {
        assert!(run(&yaml, minor).failed_restricted.is_empty(), "v1.{minor}");
    }
    // runAsNonRoot still applies to Windows pods.
    let no_root = yaml.replace("    runAsNonRoot: true\n", "");
    assert_eq!(run(&no_root, 26).failed_restricted.len(), 1);
}

#[test]
fn host_users_false_relieves_baseline_proc_mount_and_run_as_checks_from_1_35() {
    let unmasked = clean_pod("  hostUsers: false\n").replace(
        "      allowPrivilegeEscalation: false\n",
        "      allowPrivilegeEscalation: false\n      procMount: Unmasked\n",
    );
    let at34 = run(&unmasked, 34);
    assert_eq!(at34.failed_baseline.len(), 1);
    let at35 = run(&unmasked, 35);
    assert!(at35.failed_baseline.is_empty());
    // Restricted keeps Unmasked forbidden through procMount_restricted.
    assert_eq!(
        at35.failed_restricted,
        vec!["procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\")"]
    );
    assert_eq!(checks(&at35), vec!["procMount_restricted"]);
    assert_eq!(at35.findings[0].1, Tier::Restricted);

    let root = clean_pod("  hostUsers: false\n").replace(
        "    runAsNonRoot: true\n",
        "    runAsNonRoot: false\n    runAsUser: 0\n",
    );
    assert_eq!(run(&root, 34).failed_restricted.len(), 2);
    assert!(run(&root, 35).failed_restricted.is_empty());
    let host_users = root.replace("hostUsers: false", "hostUsers: true");
    assert_eq!(run(&host_users, 35).failed_restricted.len(), 2);
}

#[test]
fn every_version_boundary() {
    // (yaml, the minor where the outcome changes, level, fails before?)
    let ape = clean_pod("").replace("      allowPrivilegeEscalation: false\n", "");
    assert!(run(&ape, 7).failed_restricted.is_empty());
    assert_eq!(run(&ape, 8).failed_restricted.len(), 1);

    let no_seccomp = clean_pod("").replace("    seccompProfile: {type: RuntimeDefault}\n", "");
    assert!(run(&no_seccomp, 18).failed_restricted.is_empty());
    assert_eq!(run(&no_seccomp, 19).failed_restricted.len(), 1);
    let ann = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: unconfined\nspec:\n  containers:\n  - {name: a, image: x}\n";
    assert_eq!(
        run(ann, 18).failed_baseline,
        vec![
            "seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")"
        ]
    );
    assert!(run(ann, 19).failed_baseline.is_empty());

    let no_drop = clean_pod("").replace("      capabilities: {drop: [ALL]}\n", "");
    assert!(run(&no_drop, 21).failed_restricted.is_empty());
    assert_eq!(run(&no_drop, 22).failed_restricted.len(), 1);

    let root = clean_pod("").replace(
        "    runAsNonRoot: true\n",
        "    runAsNonRoot: true\n    runAsUser: 0\n",
    );
    assert!(run(&root, 22).failed_restricted.is_empty());
    assert_eq!(
        run(&root, 23).failed_restricted,
        vec!["runAsUser=0 (pod must not set runAsUser=0)"]
    );

    let sysctl = |name: &str| {
        clean_pod("").replace(
            "    runAsNonRoot: true\n",
            &format!(
                "    runAsNonRoot: true\n    sysctls:\n    - {{name: {name}, value: \"1\"}}\n"
            ),
        )
    };
    for (name, from) in [
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_keepalive_intvl", 29),
        ("net.ipv4.tcp_keepalive_probes", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_wmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
        ("net.ipv4.tcp_notsent_lowat", 37),
    ] {
        assert_eq!(
            run(&sysctl(name), from - 1).failed_baseline,
            vec![format!("forbidden sysctls ({name})")],
            "{name}"
        );
        assert!(
            run(&sysctl(name), from).failed_baseline.is_empty(),
            "{name} at v1.{from}"
        );
        assert!(
            run(&sysctl(name), 37).failed_baseline.is_empty(),
            "{name} at v1.37"
        );
    }

    let probe = clean_pod("").replace(
        "    image: x\n",
        "    image: x\n    livenessProbe: {tcpSocket: {host: 127.0.0.1, port: 80}}\n",
    );
    assert!(run(&probe, 33).failed_baseline.is_empty());
    assert_eq!(
        run(&probe, 34).failed_baseline,
        vec![
            "probe or lifecycle host (container \"a\" uses probe or lifecycle host \"127.0.0.1\")"
        ]
    );
}

#[test]
fn versions_above_the_newest_clamp_to_it() {
    let spec: VersionSpec = "v1.99".parse().unwrap();
    assert_eq!(spec.resolve(), Version::v1(37));
    let yaml = clean_pod("");
    assert!(run(&yaml, spec.resolve().minor).findings.is_empty());
}

#[test]
fn workloads_are_evaluated_through_their_pod_template() {
    let template = "    spec:\n      securityContext:\n        runAsNonRoot: true\n        seccompProfile: {type: RuntimeDefault}\n      hostIPC: true\n      containers:\n      - name: a\n        image: x\n        securityContext:\n          allowPrivilegeEscalation: false\n          capabilities: {drop: [ALL]}\n";
    for (api, kind) in [
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "ReplicaSet"),
        ("batch/v1", "Job"),
        ("v1", "ReplicationController"),
    ] {
        let yaml = format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata: {{name: w}}\nspec:\n  template:\n    metadata:\n      labels: {{app: w}}\n{template}"
        );
        let e = run(&yaml, 37);
        assert_eq!(
            e.failed_baseline,
            vec!["host namespaces (hostIPC=true)"],
            "{kind}"
        );
        assert!(
            e.failed_restricted.len() == 1,
            "{kind}: {:?}",
            e.failed_restricted
        );
    }
    let pt = "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t}\ntemplate:\n  metadata:\n    annotations:\n      container.apparmor.security.beta.kubernetes.io/a: unconfined\n  spec:\n    containers:\n    - {name: a, image: x}\n";
    assert_eq!(
        run(pt, 37).failed_baseline.len(),
        1,
        "template annotations are evaluated"
    );
}

#[test]
fn a_field_breaking_baseline_is_reported_once_at_baseline() {
    let yaml = clean_pod("  volumes:\n  - name: host\n    hostPath: {path: /}\n  - name: share\n    nfs: {server: s, path: /}\n  - name: scratch\n").replace("capabilities: {drop: [ALL]}", "capabilities: {drop: [ALL], add: [SYS_ADMIN, CHOWN]}");
    let e = run(&yaml, 37);
    // Verdicts stay upstream's: restricted fails through the overriding checks.
    assert!(e.failed_restricted.iter().any(|m| m.starts_with("restricted volume types (volumes \"host\", \"share\" use restricted volume types \"hostPath\", \"nfs\")")), "{:?}", e.failed_restricted);
    let by_check: Vec<(&str, Tier, &str)> = e
        .findings
        .iter()
        .map(|(c, t, m)| (c.as_str(), *t, m.as_str()))
        .collect();
    assert!(
        by_check.contains(&(
            "hostPathVolumes",
            Tier::Baseline,
            "hostPath volumes (volume \"host\")"
        )),
        "{by_check:?}"
    );
    assert!(
        by_check.contains(&(
            "restrictedVolumes",
            Tier::Restricted,
            "restricted volume types (volume \"share\" uses restricted volume type \"nfs\")"
        )),
        "{by_check:?}"
    );
    assert!(
        !by_check
            .iter()
            .any(|(c, _, m)| *c == "restrictedVolumes" && m.contains("hostPath")),
        "hostPath reported twice: {by_check:?}"
    );
    assert!(by_check.contains(&("capabilities_baseline", Tier::Baseline, "non-default capabilities (container \"a\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add)")));
    assert!(by_check.contains(&("capabilities_restricted", Tier::Restricted, "unrestricted capabilities (container \"a\" must not include \"CHOWN\" in securityContext.capabilities.add)")));
    // The source-less volume is an emptyDir, as the API server defaults it.
    assert!(!by_check.iter().any(|(_, _, m)| m.contains("scratch")));
}

#[test]
fn several_containers_are_worded_like_upstream() {
    let yaml = pod(
        "  initContainers:\n  - {name: init, image: x, ports: [{containerPort: 80, hostPort: 9090}]}\n  containers:\n  - {name: a, image: x, ports: [{containerPort: 1, hostPort: 10000}, {containerPort: 2, hostPort: 9090}], securityContext: {privileged: true}}\n  - {name: b, image: x, securityContext: {privileged: true, runAsNonRoot: false}}\n",
    );
    let e = run(&yaml, 37);
    assert!(
        e.failed_baseline.contains(
            &"hostPort (containers \"init\", \"a\" use hostPorts 10000, 9090)".to_string()
        ),
        "{:?}",
        e.failed_baseline
    );
    assert!(
        e.failed_baseline.contains(
            &"privileged (containers \"a\", \"b\" must not set securityContext.privileged=true)"
                .to_string()
        )
    );
    assert!(e.failed_restricted.contains(&"allowPrivilegeEscalation != false (containers \"init\", \"a\", \"b\" must set securityContext.allowPrivilegeEscalation=false)".to_string()));
    assert!(e.failed_restricted.contains(&"runAsNonRoot != true (container \"b\" must not set securityContext.runAsNonRoot=false)".to_string()));
    assert!(e.failed_restricted.contains(&"unrestricted capabilities (containers \"init\", \"a\", \"b\" must set securityContext.capabilities.drop=[\"ALL\"])".to_string()));
    // Findings: one per container, and one per host port.
    let privileged = e
        .findings
        .iter()
        .filter(|(c, _, _)| c == "privileged")
        .count();
    assert_eq!(privileged, 2);
    let ports: Vec<&str> = e
        .findings
        .iter()
        .filter(|(c, _, _)| c == "hostPorts")
        .map(|(_, _, m)| m.as_str())
        .collect();
    assert_eq!(
        ports,
        vec![
            "hostPort (container \"init\" uses hostPort 9090)",
            "hostPort (container \"a\" uses hostPort 10000)",
            "hostPort (container \"a\" uses hostPort 9090)"
        ]
    );
    // Upstream report order: baseline ids sorted, then restricted ids sorted.
    let b: Vec<&str> = e
        .failed_baseline
        .iter()
        .map(|m| m.split(" (").next().unwrap())
        .collect();
    assert_eq!(b, vec!["hostPort", "privileged"]);
}

#[test]
fn mistyped_fields_are_errors_not_silent_passes() {
    let yaml = pod(
        "  hostNetwork: \"true\"\n  containers:\n  - {name: a, image: x, securityContext: {privileged: yes}}\n",
    );
    let e = evaluate_yaml(&yaml, 37, &Context::default());
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    assert_eq!(e.errors[0].field, "spec.hostNetwork");
    assert_eq!(
        e.errors[0].mismatch.to_string(),
        "expected a boolean, found string \"true\""
    );
    // `yes` is a YAML 1.1 boolean, as Kubernetes reads it.
    assert_eq!(
        e.verdict(PssLevel::Baseline).messages,
        vec!["privileged (container \"a\" must not set securityContext.privileged=true)"]
    );
}

#[test]
fn hardened_checks() {
    let yaml = clean_pod("  automountServiceAccountToken: false\n").replace("      capabilities: {drop: [ALL]}\n", "      capabilities: {drop: [ALL]}\n      readOnlyRootFilesystem: true\n    resources: {limits: {cpu: 100m, memory: 64Mi}}\n");
    let e = evaluate_yaml(&yaml, 37, &Context::default());
    assert!(
        e.violations(Tier::Hardened).is_empty(),
        "{:?}",
        e.violations(Tier::Hardened)
    );
    let bare = clean_pod("").replace(
        "  - name: a\n",
        "  - name: a\n    resources: {limits: {cpu: 1}}\n",
    );
    let e = evaluate_yaml(&bare, 37, &Context::default());
    let msgs: Vec<String> = e
        .violations(Tier::Hardened)
        .into_iter()
        .map(|v| v.message)
        .collect();
    assert_eq!(
        msgs,
        vec![
            "automountServiceAccountToken (pod or ServiceAccount \"default\" must set automountServiceAccountToken=false)",
            "readOnlyRootFilesystem != true (container \"a\" must set securityContext.readOnlyRootFilesystem=true)",
            "resource limits (container \"a\" must set resources.limits.memory)",
        ]
    );
    assert!(e.violations(Tier::Restricted).is_empty());
    // A ServiceAccount in the context that disables automount settles it.
    let mut ctx = Context::default();
    ctx.service_accounts
        .insert((String::new(), "default".into()), Some(false));
    let e = evaluate_yaml(&bare, 37, &ctx);
    assert!(
        !e.violations(Tier::Hardened)
            .iter()
            .any(|v| v.check == "automountServiceAccountToken")
    );
}
