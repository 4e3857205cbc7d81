//! Render: run `helm template` and `kustomize build` (or `kubectl
//! kustomize`) for a target and return the YAML stream they print.
//!
//! kpsa never writes into the user's tree: a chart whose dependencies are
//! missing is copied to a temporary directory (with its `file://`
//! dependencies at the same relative places) and `helm dependency build`
//! runs there; a Kustomize target is built through a temporary wrapper
//! kustomization that turns on origin annotations and refers to the target
//! by a relative path.

pub mod helm;
pub mod kustomize;
pub mod process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plan::{Source, Target};
use process::{Invocation, RunError};

/// Which programs to run and how long to wait for each render.
#[derive(Debug, Clone)]
pub struct Renderers {
    /// `helm`, or a path.
    pub helm: PathBuf,
    /// `kustomize` / `kubectl`, or None to pick `kustomize` from PATH and
    /// fall back to `kubectl kustomize`.
    pub kustomize: Option<PathBuf>,
    pub timeout: Duration,
    /// Where built chart dependencies are cached (None: no cache).
    pub cache_dir: Option<PathBuf>,
    /// The Kubernetes version Helm is told when a target does not say
    /// (`v1.N.0`).
    pub kube_version: String,
    /// Most bytes one render may print (`--max-render-bytes`).
    pub max_output_bytes: u64,
    /// `--allow-remote-resources`: Kustomize may fetch remote resources.
    pub allow_remote: bool,
    /// `--offline`: no program reaches the network.
    pub offline: bool,
    /// Render Kustomize through a wrapper that adds origin annotations
    /// (for locations). Off where the output itself is handed on (Argo CD):
    /// then it is exactly what `kustomize build` prints.
    pub origin_annotations: bool,
}

/// The default `--max-render-bytes`: 64 MiB.
pub const DEFAULT_MAX_RENDER_BYTES: u64 = 64 * 1024 * 1024;

impl Renderers {
    /// The bounds of one program run; `network` says whether this kind of
    /// run may use the network at all (Helm dependency downloads may,
    /// unless `--offline`).
    pub fn limits(&self, network: bool) -> process::Limits {
        process::Limits {
            timeout: self.timeout,
            max_output: self.max_output_bytes,
            network: network && !self.offline,
        }
    }
}

/// How the stream was produced, so provenance knows how to read it.
#[derive(Debug, Clone)]
pub enum Producer {
    Helm {
        chart: crate::plan::Chart,
    },
    /// Origin annotations are relative to `wrapper` (a directory that no
    /// longer exists; paths are resolved lexically).
    Kustomize {
        wrapper: PathBuf,
    },
}

/// A target's rendered YAML.
#[derive(Debug)]
pub struct Rendered {
    pub text: String,
    pub producer: Producer,
    pub command: String,
    pub elapsed: Duration,
    /// What the program printed on standard error although it succeeded.
    pub warnings: String,
}

/// A target that could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub target: String,
    /// The command that failed, when one ran.
    pub command: Option<String>,
    pub message: String,
}

/// The part of a render program's error output that says what failed, on
/// one line: the last `Error: …` block (Helm 4 continues it on indented
/// lines), not the `Use --debug flag …` hint Helm prints after it; else the
/// last non-empty line.
pub fn cause(message: &str) -> String {
    let lines: Vec<&str> = message.lines().collect();
    let start = lines.iter().rposition(|l| {
        l.trim_start().starts_with("Error:") || l.trim_start().starts_with("error:")
    });
    match start {
        Some(i) => {
            let mut out = lines[i].trim().to_string();
            for l in &lines[i + 1..] {
                if l.trim().is_empty() || !l.starts_with([' ', '\t']) {
                    break;
                }
                out.push(' ');
                out.push_str(l.trim());
            }
            out
        }
        None => lines
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with("Use --debug flag"))
            .unwrap_or("")
            .to_string(),
    }
}

impl RenderError {
    fn new(target: &Target, command: Option<&Invocation>, message: String) -> Self {
        RenderError {
            target: target.id.clone(),
            command: command.map(Invocation::display),
            message,
        }
    }
}

/// Render one Helm or Kustomize target (manifests need no rendering).
pub fn render(target: &Target, r: &Renderers) -> Result<Rendered, RenderError> {
    match &target.source {
        Source::Helm(h) => helm::render(target, h, r),
        Source::Kustomize { dir } => kustomize::render(target, dir, r),
        Source::Manifests { .. } | Source::Stdin => Err(RenderError::new(
            target,
            None,
            "plain manifests are read, not rendered".into(),
        )),
    }
}

/// Run a render program and turn its output into UTF-8 text.
fn run_program(
    target: &Target,
    inv: &Invocation,
    cwd: &Path,
    r: &Renderers,
    producer: Producer,
) -> Result<Rendered, RenderError> {
    // Rendering itself never needs the network: Helm's dependencies are
    // built beforehand, and Kustomize fetches remote resources only with
    // --allow-remote-resources.
    let network = matches!(producer, Producer::Kustomize { .. }) && r.allow_remote;
    let out = process::run(inv, cwd, &r.limits(network)).map_err(|e| {
        let message = match &e {
            RunError::Spawn(io) if io.kind() == std::io::ErrorKind::NotFound => {
                format!("{} not found", inv.program.display())
            }
            other => format!("{} {other}", program_name(&inv.program)),
        };
        RenderError::new(target, Some(inv), message)
    })?;
    let text = String::from_utf8(out.stdout).map_err(|e| {
        RenderError::new(
            target,
            Some(inv),
            format!(
                "{} printed invalid UTF-8 (byte {})",
                program_name(&inv.program),
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(Rendered {
        text,
        producer,
        command: inv.display(),
        elapsed: out.elapsed,
        warnings: out.stderr,
    })
}

fn program_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `to` written relative to `from` (both absolute, normalized).
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// The default cache directory: `KPSA_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/kpsa`, else `~/.cache/kpsa`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |n: &str| {
        std::env::var_os(n)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("KPSA_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kpsa")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("kpsa")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_helms_error_not_its_debug_hint() {
        // Helm 3.17 and 4.1, as they print a `required` failure.
        let required = "Error: execution error at (c/templates/x.yaml:1:6): set .Values.ipc\n\nUse --debug flag to render out invalid YAML\n";
        assert_eq!(
            cause(required),
            "Error: execution error at (c/templates/x.yaml:1:6): set .Values.ipc"
        );
        // Helm 4's nil pointer error continues on indented lines.
        let nil = "Error: c/templates/x.yaml:1:13\n  executing \"c/templates/x.yaml\" at <.Values.x.y.z>:\n    nil pointer evaluating interface {}.y\n\nUse --debug flag to render out invalid YAML\n";
        assert_eq!(
            cause(nil),
            "Error: c/templates/x.yaml:1:13 executing \"c/templates/x.yaml\" at <.Values.x.y.z>: nil pointer evaluating interface {}.y"
        );
        assert_eq!(cause("warning: x\nsomething broke\n"), "something broke");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/tmp/w/x"), Path::new("/repo/o/p")),
            PathBuf::from("../../../repo/o/p")
        );
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b/c")),
            PathBuf::from("c")
        );
    }
}
