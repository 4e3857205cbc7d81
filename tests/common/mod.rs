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
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
