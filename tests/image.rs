//! The container image and the Argo CD install: `hadolint` over the
//! Dockerfile, the pins it must keep, and `deploy/argocd/` built with
//! Kustomize, scanned by kpsa and run as Argo CD runs the plugin. (No
//! container engine runs here: .github/workflows/image.yml builds and
//! smoke-tests the images.)

mod common;

use std::path::Path;

use common::ci_tool;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

#[test]
fn hadolint_finds_nothing() {
    let out = Command::new(ci_tool("hadolint"))
        .current_dir(root())
        .args(["--no-color", "Dockerfile"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "hadolint:\n{text}"
    );
    // The linter does catch what it should (an unpinned, root image).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM alpine:3.22\nRUN apk add git\n",
    )
    .unwrap();
    let out = Command::new(ci_tool("hadolint"))
        .current_dir(dir.path())
        .arg("Dockerfile")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("DL3018"));
}

#[test]
fn every_input_of_the_image_is_pinned() {
    let dockerfile = read("Dockerfile");
    // Base images: by digest (through an ARG), a stage, or scratch.
    let args: Vec<(String, String)> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("ARG "))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .filter_map(|l| l.split(" AS ").nth(1))
        .collect();
    for from in dockerfile.lines().filter_map(|l| l.strip_prefix("FROM ")) {
        let image = from.split_whitespace().next().unwrap();
        let resolved = match image.strip_prefix("${").and_then(|i| i.strip_suffix('}')) {
            Some(arg) => args
                .iter()
                .find(|(k, _)| k == arg)
                .map(|(_, v)| v.clone())
                .expect("the ARG has a default"),
            None => image.to_string(),
        };
        let pinned = resolved == "scratch"
            || stages.contains(&resolved.as_str())
            || resolved
                .split_once("@sha256:")
                .is_some_and(|(_, d)| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(pinned, "FROM {from} is not pinned by digest");
    }
    // Helm and kubectl: the sha256 values tools/setup-renderers.sh checks.
    let setup = read("tools/setup-renderers.sh");
    let row = setup
        .split("\"helm4 ")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let sums: Vec<&str> = row.split_whitespace().skip(1).collect();
    assert_eq!(sums.len(), 4, "{row}");
    for s in sums {
        assert!(dockerfile.contains(s), "the Dockerfile does not check {s}");
    }
    assert!(dockerfile.contains("ADD --checksum=sha256:"));
    // Both final targets run as 999 with HOME=/tmp; the scratch one starts
    // kpsa, the shell one (for CI runners, which start their own shell in
    // it) has no entrypoint.
    for target in ["kpsa-shell", "kpsa"] {
        let stage = dockerfile
            .split(&format!(" AS {target}\n"))
            .nth(1)
            .unwrap()
            .split("\nFROM ")
            .next()
            .unwrap();
        assert!(stage.contains("USER 999:999"), "{target}");
        assert!(stage.contains("HOME=/tmp"), "{target}");
        assert_eq!(
            stage.contains("ENTRYPOINT [\"/usr/local/bin/kpsa\"]"),
            target == "kpsa",
            "{target}"
        );
        assert_eq!(stage.contains("ENTRYPOINT"), target == "kpsa", "{target}");
    }
}

#[test]
fn the_sidecar_meets_restricted_and_the_component_builds() {
    // The restricted level over the sidecar (the pod-level K01 settings,
    // such as the service account token, belong to Argo CD's own manifest).
    let scan = common::kpsa(
        &root().join("deploy/argocd"),
        &[
            "scan",
            "--manifests",
            "repo-server-sidecar.yaml",
            "--level",
            "restricted",
            "--fail-on",
            "restricted",
        ],
    );
    assert_eq!(scan.code, 0, "{}{}", scan.stdout, scan.stderr);
    assert!(scan.stdout.contains("0 findings"), "{}", scan.stdout);

    // The component, applied to a repo-server as Argo CD's install.yaml declares it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("repo-server.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: argocd-repo-server}\nspec:\n  selector: {matchLabels: {app: r}}\n  template:\n    metadata: {labels: {app: r}}\n    spec:\n      containers:\n      - {name: argocd-repo-server, image: quay.io/argoproj/argocd}\n      volumes:\n      - {name: var-files, emptyDir: {}}\n      - {name: plugins, emptyDir: {}}\n",
    )
    .unwrap();
    common::copy_tree(&root().join("deploy/argocd"), &dir.path().join("kpsa"));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [repo-server.yaml]\ncomponents: [kpsa]\n",
    )
    .unwrap();
    let kubectl = common::on_path("kubectl").expect("kubectl on PATH");
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = String::from_utf8(out.stdout).unwrap();
    assert!(built.contains("name: kpsa\n"), "{built}");
    assert!(
        built.contains("mountPath: /home/argocd/cmp-server/config/plugin.yaml"),
        "{built}"
    );
    // The generated ConfigMaps are referenced by their hashed names.
    let cm = built
        .split("name: kpsa-plugin-")
        .nth(1)
        .unwrap()
        .split('\n')
        .next()
        .unwrap();
    assert_eq!(
        built.matches(&format!("kpsa-plugin-{cm}")).count(),
        2,
        "{built}"
    );
}

#[test]
fn plugin_yaml_runs_as_argo_cd_runs_it() {
    let plugin = read("deploy/argocd/plugin.yaml");
    // The generate argv, with the image's paths mapped to this checkout.
    let argv: Vec<String> = plugin
        .split("generate:\n    command:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("      "))
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(str::to_string)
        .collect();
    assert_eq!(argv[..3], ["/usr/local/bin/kpsa", "argocd", "generate"]);
    let mounted = root().join("deploy/argocd");
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|a| a.replace("/etc/kpsa/", &format!("{}/", mounted.display())))
        .collect();
    let checkout = tempfile::tempdir().unwrap();
    let app = checkout.path().join("apps/ms");
    common::copy_tree(
        &root().join("testdata/realworld/charts/kubernetes-sigs/metrics-server"),
        &app,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kpsa"))
        .args(&args)
        .current_dir(&app)
        .env_clear()
        .env("PATH", common::path_with_tools())
        .env("HOME", checkout.path())
        .env("ARGOCD_APP_NAME", "ms")
        .env("ARGOCD_APP_NAMESPACE", "kube-system")
        .env("ARGOCD_APP_SOURCE_PATH", "apps/ms")
        .env("KUBE_VERSION", "1.33.1")
        .env(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"kpsa-presync-hook","string":"true"}]"#,
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\"image\": \"ghcr.io/kpsa-dev/kpsa:"),
        "the hook image flag reached the Job"
    );
    // The parameters it announces are the ones kpsa reads.
    for p in kpsa::argocd::env::PARAMETERS {
        assert!(plugin.contains(&format!("- name: {p}\n")), "{p}");
    }
    assert_eq!(
        plugin.matches("      - name: ").count(),
        kpsa::argocd::env::PARAMETERS.len()
    );
    // The discover command prints for a chart.
    let argv: Vec<&str> = plugin
        .split("command: [")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .split(", ")
        .collect();
    assert_eq!(argv, ["/usr/local/bin/kpsa", "argocd", "discover"]);
    let out = Command::new(env!("CARGO_BIN_EXE_kpsa"))
        .args(&argv[1..])
        .current_dir(&app)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "helm\n");
}
