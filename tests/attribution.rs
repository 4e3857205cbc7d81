//! Attribution on real chart code: twelve scenarios, each a real git change
//! to charts vendored in `testdata/realworld/` (bitnami `common`, `apache`
//! and `minio`, prometheus-community's blackbox-exporter, the platform
//! fixture's Kustomize overlays), and every new finding of `kpsa diff`
//! checked against the line that introduced it — or "not attributed".
//! A finding attributed to any other line fails the test. The rate over all
//! of them is in docs/attribution.md.

mod common;

use std::path::Path;

use common::{Repo, copy_tree};
use serde_json::Value;

const BLACKBOX: &str = "prometheus-community/prometheus-blackbox-exporter";

fn vendored(repo: &Repo, chart: &str, at: &str) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/realworld/charts")
        .join(chart);
    copy_tree(&from, &repo.path().join(at));
    if chart.starts_with("bitnami/") {
        // `common` from the OCI registry, as `helm dependency build` leaves it.
        let common = from.parent().unwrap().join("common");
        copy_tree(&common, &repo.path().join(at).join("charts/common"));
    }
}

/// A repository with `charts` (vendored chart, directory) committed on `main`.
fn repo_with(charts: &[(&str, &str)]) -> Repo {
    let repo = Repo::new("");
    repo.write(".kpsa.yaml", "version: 1\nlevel: hardened\n");
    for (chart, at) in charts {
        vendored(&repo, chart, at);
    }
    repo.commit("the charts");
    repo
}

/// Replace the one occurrence of `old` in `file`; the line `new` starts on.
fn edit(repo: &Repo, file: &str, old: &str, new: &str) -> u64 {
    let text = repo.read(file);
    assert_eq!(
        text.matches(old).count(),
        1,
        "{old:?} is not unique in {file}"
    );
    let at = text.find(old).unwrap();
    repo.write(file, &text.replacen(old, new, 1));
    text[..at].matches('\n').count() as u64 + 1
}

/// What a new finding must be attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct At {
    path: String,
    line: u64,
}

fn at(path: &str, line: u64) -> Option<At> {
    Some(At {
        path: path.into(),
        line,
    })
}

/// Commit the change on `feature`, diff it, and check every new finding
/// with `expect(check, container, field)`. Returns (attributed, total).
fn check(
    repo: &Repo,
    expect: impl Fn(&str, Option<&str>, &str) -> Option<At>,
) -> (Vec<Value>, usize, usize) {
    repo.commit("the change");
    let run = repo.kpsa(
        ".",
        &["diff", "main..feature", "--format", "json", "-q"],
        &[],
    );
    let r = run.json();
    common::assert_valid("docs/kpsa-report.schema.json", &r);
    assert!(
        r["errors"].as_array().unwrap().is_empty(),
        "{}",
        r["errors"]
    );
    let news: Vec<Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new")
        .cloned()
        .collect();
    assert!(
        !news.is_empty(),
        "the change introduces findings: {}",
        run.stderr
    );
    let mut attributed = 0;
    for f in &news {
        let want = expect(
            f["check"].as_str().unwrap(),
            f["container"].as_str(),
            f["field"].as_str().unwrap(),
        );
        let got = f["attributed_location"].as_object().map(|a| At {
            path: a["path"].as_str().unwrap().into(),
            line: a["line"].as_u64().unwrap(),
        });
        assert_eq!(got, want, "{} {}: {f}", f["check"], f["field"]);
        if let Some(a) = &got {
            attributed += 1;
            // An attributed line is always a line the change added or modified.
            let diff = repo.git(&["diff", "-U0", "main..feature", "--", &a.path]);
            assert!(
                diff.lines()
                    .any(|l| l.starts_with("@@") && hunk_covers(l, a.line)),
                "{}:{} is not a changed line",
                a.path,
                a.line
            );
        }
    }
    let total = news.len();
    // For docs/attribution.md: `cargo test --test attribution -- --nocapture`.
    eprintln!(
        "attribution: {}: {attributed} of {total} new findings attributed, all to the expected line",
        std::thread::current().name().unwrap_or("?")
    );
    (news, attributed, total)
}

/// Whether `@@ -a,b +c,d @@` adds line `n` of the new side.
fn hunk_covers(hunk: &str, n: u64) -> bool {
    let plus = hunk
        .split(' ')
        .find(|p| p.starts_with('+'))
        .unwrap_or("+0,0");
    let mut it = plus[1..].split(',');
    let start: u64 = it.next().unwrap().parse().unwrap();
    let len: u64 = it.next().map_or(1, |l| l.parse().unwrap());
    n >= start && n < start + len
}

fn through(f: &Value) -> Vec<String> {
    f["attributed_location"]["through"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn s01_a_values_key_through_one_chart_helper() {
    let repo = repo_with(&[(BLACKBOX, "bb")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "bb/values.yaml",
        "hostNetwork: false",
        "hostNetwork: true",
    );
    let (news, n, total) = check(&repo, |_, _, _| at("bb/values.yaml", line));
    assert_eq!((n, total), (1, 1));
    assert_eq!(through(&news[0]), ["prometheus-blackbox-exporter.podSpec"]);
}

#[test]
fn s02_a_chart_helper_calling_a_common_helper() {
    let repo = repo_with(&[("bitnami/minio", "minio")]);
    edit(
        &repo,
        "minio/values.yaml",
        "owner and group of the persistent volume\n    ##\n    enabled: false",
        "owner and group of the persistent volume\n    ##\n    enabled: true",
    );
    repo.commit("the volume-permissions init container, as it is");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "minio/values.yaml",
        "      runAsUser: 0\n      privileged: false",
        "      runAsUser: 0\n      privileged: true",
    ) + 1;
    let (news, n, total) = check(&repo, |_, c, _| {
        assert_eq!(c, Some("volume-permissions"));
        at("minio/values.yaml", line)
    });
    assert_eq!(n, total);
    assert!(
        total >= 2,
        "privileged, and capabilities the helper drops: {news:?}"
    );
    for f in &news {
        assert_eq!(
            through(f)[0],
            "minio.defaultInitContainers.volumePermissions",
            "{f}"
        );
    }
    let caps = news
        .iter()
        .find(|f| f["check"] == "capabilities_restricted")
        .unwrap();
    assert_eq!(
        through(caps),
        [
            "minio.defaultInitContainers.volumePermissions",
            "common.compatibility.renderSecurityContext"
        ]
    );
}

#[test]
fn s03_a_to_yaml_of_a_values_map() {
    let repo = repo_with(&[(BLACKBOX, "bb")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let user = edit(
        &repo,
        "bb/values.yaml",
        "securityContext:\n  runAsUser: 1000",
        "securityContext:\n  runAsUser: 0",
    ) + 1;
    let add = edit(
        &repo,
        "bb/values.yaml",
        "    drop: [\"ALL\"]\n# Add NET_RAW to enable ICMP\n#    add: [\"NET_RAW\"]",
        "    drop: [\"ALL\"]\n    add: [\"NET_RAW\", \"SYS_ADMIN\"]",
    ) + 1;
    let (_, n, total) = check(&repo, |check, _, field| {
        if field.ends_with(".runAsUser") {
            at("bb/values.yaml", user)
        } else {
            assert!(check.starts_with("capabilities"), "{check}");
            at("bb/values.yaml", add)
        }
    });
    assert_eq!(n, total);
}

#[test]
fn s04_an_enabled_toggle_is_the_cause_of_what_its_block_holds() {
    let repo = repo_with(&[("bitnami/minio", "minio")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "minio/values.yaml",
        "owner and group of the persistent volume\n    ##\n    enabled: false",
        "owner and group of the persistent volume\n    ##\n    enabled: true",
    ) + 2;
    let (_, n, total) = check(&repo, |_, c, _| {
        assert_eq!(c, Some("volume-permissions"));
        at("minio/values.yaml", line)
    });
    assert_eq!(n, total);
    assert!(total >= 3, "a root init container");
}

#[test]
fn s05_privileged_makes_a_helper_drop_capabilities() {
    let repo = repo_with(&[("bitnami/apache", "apache")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "apache/values.yaml",
        "  runAsNonRoot: true\n  privileged: false\n  allowPrivilegeEscalation: false\n  readOnlyRootFilesystem: true\n  capabilities:\n    drop: [\"ALL\"]\n  seccompProfile:\n    type: \"RuntimeDefault\"\n## @param command",
        "  runAsNonRoot: true\n  privileged: true\n  allowPrivilegeEscalation: false\n  readOnlyRootFilesystem: true\n  capabilities:\n    drop: [\"ALL\"]\n  seccompProfile:\n    type: \"RuntimeDefault\"\n## @param command",
    ) + 1;
    let (news, n, total) = check(&repo, |_, _, _| at("apache/values.yaml", line));
    assert_eq!(n, total);
    let caps: Vec<&Value> = news
        .iter()
        .filter(|f| f["check"] == "capabilities_restricted")
        .collect();
    assert_eq!(caps.len(), 2, "the init container and apache: {news:?}");
    for f in caps {
        assert_eq!(through(f), ["common.compatibility.renderSecurityContext"]);
    }
}

#[test]
fn s06_an_edit_inside_helpers_tpl() {
    let repo = repo_with(&[(BLACKBOX, "bb")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "bb/templates/_helpers.tpl",
        "serviceAccountName: {{ template \"prometheus-blackbox-exporter.serviceAccountName\" . }}\n",
        "serviceAccountName: {{ template \"prometheus-blackbox-exporter.serviceAccountName\" . }}\nhostPID: true\n",
    ) + 1;
    let (news, n, total) = check(&repo, |_, _, _| at("bb/templates/_helpers.tpl", line));
    assert_eq!((n, total), (1, 1));
    assert_eq!(news[0]["attributed_location"]["via"], "location");
}

#[test]
fn s07_a_subchart_value_set_from_the_parents_values() {
    let repo = repo_with(&[(BLACKBOX, "parent/charts/prometheus-blackbox-exporter")]);
    repo.write(
        "parent/Chart.yaml",
        "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n  - name: prometheus-blackbox-exporter\n    version: 11.17.2\n    repository: https://prometheus-community.github.io/helm-charts\n    alias: probe\n",
    );
    repo.write("parent/values.yaml", "probe:\n  replicas: 1\n");
    repo.commit("a parent chart");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "parent/values.yaml",
        "  replicas: 1\n",
        "  replicas: 1\n  hostNetwork: true\n",
    ) + 1;
    let (news, n, total) = check(&repo, |_, _, _| at("parent/values.yaml", line));
    assert_eq!((n, total), (1, 1));
    // Located in the subchart's own template, under its alias.
    assert_eq!(
        news[0]["location"]["path"],
        "parent/charts/prometheus-blackbox-exporter/templates/deployment.yaml"
    );
}

#[test]
fn s08_a_raw_object_in_extra_deploy_below_a_licence_header() {
    let repo = repo_with(&[("bitnami/apache", "apache")]);
    assert!(
        repo.read("apache/templates/extra-list.yaml")
            .starts_with("{{- /*\nCopyright")
    );
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let start = edit(
        &repo,
        "apache/values.yaml",
        "extraDeploy: []",
        "extraDeploy:\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: node-debugger\n    spec:\n      hostPID: true\n      containers:\n        - name: shell\n          image: busybox:1.36",
    );
    let (_, n, total) = check(&repo, |check, c, _| match (check, c) {
        ("hostNamespaces", None) => at("apache/values.yaml", start + 6),
        // A pod-level setting the object does not make: the list that
        // brings the object (it was `[]`).
        ("automountServiceAccountToken", None) => at("apache/values.yaml", start),
        (_, Some("shell")) => at("apache/values.yaml", start + 8),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(n, total);
}

#[test]
fn s09_a_sidecar_added_through_values() {
    let repo = repo_with(&[("bitnami/apache", "apache")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let start = edit(
        &repo,
        "apache/values.yaml",
        "sidecars: []",
        "sidecars:\n  - name: debug\n    image: busybox:1.36\n    securityContext:\n      privileged: true",
    );
    let (_, n, total) = check(&repo, |check, c, _| {
        assert_eq!(c, Some("debug"));
        if check == "privileged" {
            at("apache/values.yaml", start + 4)
        } else {
            // Settings the sidecar does not make: the item that adds it.
            at("apache/values.yaml", start + 1)
        }
    });
    assert_eq!(n, total);
}

#[test]
fn s10_a_kustomize_component_added_to_an_overlay() {
    let repo = Repo::new("platform");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let text = repo.read("deploy/overlays/prod/kustomization.yaml");
    let line = text.lines().count() as u64 + 2;
    repo.write(
        "deploy/overlays/prod/kustomization.yaml",
        &format!("{text}components:\n  - ../../components/debug\n"),
    );
    let (news, n, total) = check(&repo, |_, _, _| {
        at("deploy/overlays/prod/kustomization.yaml", line)
    });
    assert_eq!(n, total);
    for f in &news {
        assert_eq!(
            f["location"]["path"],
            "deploy/components/debug/sidecar.yaml"
        );
        assert_eq!(f["attributed_location"]["via"], "kustomization");
    }
}

#[test]
fn s11_two_changed_keys_the_value_beats_the_condition() {
    let repo = repo_with(&[("bitnami/apache", "apache")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let start = edit(
        &repo,
        "apache/values.yaml",
        "  privileged: false\n  allowPrivilegeEscalation: false\n  readOnlyRootFilesystem: true\n  capabilities:\n    drop: [\"ALL\"]\n  seccompProfile:\n    type: \"RuntimeDefault\"\n## @param command",
        "  privileged: true\n  allowPrivilegeEscalation: false\n  readOnlyRootFilesystem: true\n  capabilities:\n    drop: []\n  seccompProfile:\n    type: \"RuntimeDefault\"\n## @param command",
    );
    // capabilities_restricted: `privileged: true` makes the helper drop
    // `capabilities` (a condition), `drop: []` is the value the field
    // carries: the value decides.
    let (_, n, total) = check(&repo, |check, _, _| match check {
        "privileged" => at("apache/values.yaml", start),
        "capabilities_restricted" => at("apache/values.yaml", start + 4),
        other => panic!("unexpected {other}"),
    });
    assert_eq!(n, total);
}

#[test]
fn s12_a_default_moved_in_a_helper() {
    let repo = repo_with(&[(BLACKBOX, "bb")]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let line = edit(
        &repo,
        "bb/templates/_helpers.tpl",
        "automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}",
        "automountServiceAccountToken: {{ default true .Values.automountServiceAccountToken }}",
    );
    let (news, n, total) = check(&repo, |_, _, _| at("bb/templates/_helpers.tpl", line));
    assert_eq!((n, total), (1, 1));
    assert_eq!(through(&news[0]), ["prometheus-blackbox-exporter.podSpec"]);
}
