//! Helpers shared by the integration tests: run the real binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use kpsa::manifest::workload::{default_pod_template_kinds, objects, pod_view};
use kpsa::manifest::yaml::{Limits, parse_documents};
use kpsa::policy::{Context, Evaluation, Version, evaluate};

/// Parse one YAML document, take its first object's pod spec and evaluate it
/// at policy version `v1.<minor>`.
pub fn evaluate_yaml(yaml: &str, minor: u32, ctx: &Context) -> Evaluation {
    let root = parse_documents(yaml, 1, Limits::default())
        .expect("valid YAML")
        .remove(0);
    let objs = objects(&root);
    let view = pod_view(&objs[0], &default_pod_template_kinds())
        .expect("a pod spec")
        .expect("a kind that holds a pod spec");
    evaluate(&view, Version::v1(minor), ctx)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().expect("exited, not killed by a signal"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A CI tool `tools/setup-ci-tools.sh` installs under `.tools/ci-venv/bin`.
pub fn ci_tool(name: &str) -> std::path::PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/ci-venv/bin")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: run .ci/run (or tools/setup-ci-tools.sh) first",
        p.display()
    );
    p
}

/// The first `name` on the tests' PATH (`path_with_tools`).
pub fn on_path(name: &str) -> Option<std::path::PathBuf> {
    path_with_tools()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

pub fn kpsa(dir: &Path, args: &[&str]) -> Run {
    kpsa_stdin(dir, args, None, &[])
}

pub fn kpsa_stdin(dir: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpsa"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("kpsa runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    child.wait_with_output().unwrap().into()
}

/// Validate a JSON value against a JSON Schema file of the repository.
pub fn assert_valid(schema_path: &str, value: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap())
            .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match {schema_path}:\n{}",
        errors.join("\n")
    );
}

pub const PRIVILEGED_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        securityContext:
          privileged: true
";

/// The project's test tooling (`tools/helm`, the helm shim on Helm's SDK).
pub fn tools_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools")
}

/// The `helm` the tests run: the real one of `KPSA_TEST_RENDERERS` when it
/// is set, else the stand-in `tools/helm`.
pub fn helm() -> std::path::PathBuf {
    match std::env::var("KPSA_TEST_RENDERERS") {
        Ok(d) if !d.is_empty() => Path::new(env!("CARGO_MANIFEST_DIR")).join(d).join("helm"),
        _ => tools_dir().join("helm"),
    }
}

/// PATH with the test tooling first: the real Helm and kubectl of
/// `KPSA_TEST_RENDERERS` (a directory `tools/setup-renderers.sh` fills, e.g.
/// `.tools/renderers/helm4`) when it is set, then `tools/` (the Helm-SDK
/// stand-in as `helm`).
pub fn path_with_tools() -> String {
    let real = match std::env::var("KPSA_TEST_RENDERERS") {
        Ok(d) if !d.is_empty() => {
            let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(d);
            assert!(
                d.join("helm").exists(),
                "KPSA_TEST_RENDERERS={}: no helm there; run tools/setup-renderers.sh",
                d.display()
            );
            format!("{}:", d.display())
        }
        _ => String::new(),
    };
    format!(
        "{real}{}:{}",
        tools_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A real git repository in a temporary directory, made from a fixture.
pub struct Repo {
    pub dir: tempfile::TempDir,
    pub cache: tempfile::TempDir,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "kpsa tests")
        .env("GIT_AUTHOR_EMAIL", "tests@kpsa.invalid")
        .env("GIT_COMMITTER_NAME", "kpsa tests")
        .env("GIT_COMMITTER_EMAIL", "tests@kpsa.invalid")
        // Fixed dates: the same commits get the same SHAs in every run.
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

impl Repo {
    /// Copy `testdata/<fixture>` (or nothing, for "") into a new repository and commit it.
    pub fn new(fixture: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        if !fixture.is_empty() {
            copy_tree(
                &Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("testdata")
                    .join(fixture),
                dir.path(),
            );
        }
        git(dir.path(), &["init", "-q", "-b", "main"]);
        let repo = Repo {
            dir,
            cache: tempfile::tempdir().unwrap(),
        };
        repo.commit("fixture");
        repo
    }

    /// Everything git knows that kpsa must not change: status, index, refs.
    pub fn git_state(&self) -> String {
        [
            self.git(&["status", "--porcelain", "--untracked-files=all"]),
            self.git(&["ls-files", "--stage"]),
            self.git(&["for-each-ref"]),
            self.git(&["rev-parse", "HEAD"]),
        ]
        .join("\n")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run git in the repository; its standard output.
    pub fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }

    /// The text of a file of the repository.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn commit(&self, message: &str) {
        git(self.path(), &["add", "-A"]);
        git(
            self.path(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
    }

    /// Run kpsa in `cwd` (relative to the repository) with the test tooling
    /// on PATH and a private render cache.
    pub fn kpsa(&self, cwd: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let path = path_with_tools();
        let cache = self.cache.path().display().to_string();
        let mut all: Vec<(&str, &str)> = vec![("PATH", &path), ("KPSA_CACHE_DIR", &cache)];
        all.extend_from_slice(env);
        kpsa_stdin(&self.path().join(cwd), args, None, &all)
    }

    /// Every file below the root except `.git`, with its bytes.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let t = std::fs::symlink_metadata(&p).unwrap().file_type();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                if rel == ".git" {
                    continue;
                }
                if t.is_dir() {
                    out.insert(format!("{rel}/"), Vec::new());
                    walk(root, &p, out);
                } else if t.is_symlink() {
                    out.insert(
                        rel,
                        std::fs::read_link(&p)
                            .unwrap()
                            .display()
                            .to_string()
                            .into_bytes(),
                    );
                } else {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = std::collections::BTreeMap::new();
        walk(self.path(), self.path(), &mut out);
        out
    }

    /// The text of line `line` of a repository file.
    pub fn line(&self, rel: &str, line: u64) -> String {
        std::fs::read_to_string(self.path().join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .lines()
            .nth(line as usize - 1)
            .unwrap_or_else(|| panic!("{rel} has no line {line}"))
            .to_string()
    }
}

/// The platform fixture with a change on `feature`: a values key that makes
/// a container privileged (Helm, attributed to the values line), a patch
/// that adds hostIPC (Kustomize, attributed to the patch line), and a
/// patch that removes `runAsNonRoot` (new, but no added line writes it).
pub fn changed_platform() -> Repo {
    let repo = Repo::new("platform");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let prod = repo.read("charts/web/values-prod.yaml");
    repo.write(
        "charts/web/values-prod.yaml",
        &format!("{prod}containerSecurityContext:\n  privileged: true\n"),
    );
    repo.write(
        "deploy/overlays/prod/host-ipc.yaml",
        "- op: add\n  path: /spec/template/spec/hostIPC\n  value: true\n",
    );
    repo.write(
        "deploy/overlays/prod/no-nonroot.yaml",
        "- op: remove\n  path: /spec/template/spec/securityContext/runAsNonRoot\n",
    );
    let k = repo.read("deploy/overlays/prod/kustomization.yaml");
    repo.write(
        "deploy/overlays/prod/kustomization.yaml",
        &format!(
            "{k}  - path: host-ipc.yaml\n    target:\n      kind: Deployment\n      name: api\n  - path: no-nonroot.yaml\n    target:\n      kind: Deployment\n      name: api\n"
        ),
    );
    repo.commit("feature");
    repo
}

/// A change that adds a privileged pod and suppresses it itself.
pub fn self_suppressing_change() -> Repo {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: app\n      image: app:1\n      securityContext:\n        runAsNonRoot: true\n";
    let repo = Repo::new("");
    repo.write(".kpsa.yaml", "version: 1\nfail-on: baseline\n");
    repo.write("raw/web.yaml", pod);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "raw/web.yaml",
        &pod.replace("name: web", "name: web\n  annotations:\n    kpsa.io/ignore: privileged\n    kpsa.io/ignore-reason: needs the GPU driver")
            .replace("runAsNonRoot: true", "runAsNonRoot: true\n        privileged: true"),
    );
    repo.commit("privileged, suppressed by the change itself");
    repo
}

/// A change that adds 1,000 privileged pods in 50 files (20 each, every
/// line added): the API-call benchmarks of the publishers.
pub fn thousand_privileged_pods() -> Repo {
    let repo = Repo::new("");
    repo.write(".kpsa.yaml", "version: 1\nfail-on: baseline\n");
    repo.write(
        "raw/keep.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n",
    );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    for f in 0..50 {
        let pods: Vec<String> = (0..20)
            .map(|p| format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{f}-{p}\nspec:\n  containers:\n    - name: app\n      image: app:1\n      securityContext:\n        privileged: true\n        runAsNonRoot: true\n        allowPrivilegeEscalation: false\n        capabilities:\n          drop: [ALL]\n        seccompProfile:\n          type: RuntimeDefault\n"))
            .collect();
        repo.write(&format!("raw/f{f:02}.yaml"), &pods.join("---\n"));
    }
    repo.commit("1,000 privileged pods");
    repo
}
