//! `kustomize build` / `kubectl kustomize` through a temporary wrapper.
//!
//! The wrapper kustomization lives in a temporary directory, lists the
//! target by a relative path as its only resource and sets
//! `buildMetadata: [originAnnotations, transformerAnnotations]`, so every
//! object says which file it came from and which kustomizations changed it.
//! Plugins and exec functions stay off: kpsa never passes
//! `--enable-alpha-plugins`, `--enable-exec` or `--enable-helm`.

use std::path::{Path, PathBuf};

use super::process::{Invocation, which};
use super::{Producer, RenderError, Rendered, Renderers, relative_path, run_program};
use crate::plan::Target;

/// `kustomize build` or `kubectl kustomize`, whichever is configured or found.
pub fn invocation(r: &Renderers, dir: &Path) -> Result<Invocation, String> {
    let (program, kubectl) = match &r.kustomize {
        Some(p) => {
            let found = which(p).ok_or_else(|| {
                format!(
                    "{} not found; check --kustomize or KPSA_KUSTOMIZE",
                    p.display()
                )
            })?;
            let kubectl = p.file_name().is_some_and(|n| n == "kubectl");
            (found, kubectl)
        }
        None => match which(Path::new("kustomize")) {
            Some(p) => (p, false),
            None => match which(Path::new("kubectl")) {
                Some(p) => (p, true),
                None => {
                    return Err("neither kustomize nor kubectl was found on PATH; install kustomize \
                                (https://kubectl.docs.kubernetes.io/installation/kustomize/) or pass \
                                --kustomize PATH"
                        .into());
                }
            },
        },
    };
    let args = if kubectl {
        vec!["kustomize".into(), dir.into()]
    } else {
        vec!["build".into(), dir.into()]
    };
    Ok(Invocation { program, args })
}

/// The first remote resource of a kustomization or of one it uses, with
/// the kustomization file and line that name it.
fn remote_resource(dir: &Path) -> Option<(String, PathBuf, u32)> {
    let tree = crate::tree::Disk {
        root: dir.to_path_buf(),
    };
    let mut queue = vec![dir.to_path_buf()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(d) = queue.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        let Ok(refs) = crate::plan::kustomization_refs(&tree, &d) else {
            continue;
        };
        if let Some((name, line)) = refs.remote.first() {
            let file = crate::plan::kustomization_file_in(&tree, &d).unwrap_or(d.clone());
            return Some((name.clone(), file, *line));
        }
        queue.extend(refs.dirs);
    }
    None
}

pub fn render(target: &Target, dir: &Path, r: &Renderers) -> Result<Rendered, RenderError> {
    let fail = |m: String| RenderError {
        target: target.id.clone(),
        command: None,
        message: m,
    };
    if !r.allow_remote {
        if let Some((name, file, line)) = remote_resource(dir) {
            return Err(fail(format!(
                "{}:{line} (from the target's directory) names the remote resource {name:?}; kpsa does \
                 not fetch remote resources (the repository under review would choose what the CI job \
                 downloads): vendor it, or pass --allow-remote-resources in a job you trust",
                relative_path(dir, &file).display()
            )));
        }
    }
    let real = std::fs::canonicalize(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    if !r.origin_annotations {
        // Exactly what `kustomize build DIR` prints.
        let inv = invocation(r, &real).map_err(fail)?;
        return run_program(
            target,
            &inv,
            &real,
            r,
            Producer::Kustomize {
                wrapper: real.clone(),
            },
        );
    }
    let tmp = crate::interrupt::temp_dir("kpsa-kustomize-")
        .map_err(|e| fail(format!("cannot create a temporary directory: {e}")))?;
    let wrapper: PathBuf =
        std::fs::canonicalize(tmp.path()).unwrap_or_else(|_| tmp.path().to_path_buf());
    let rel = relative_path(&wrapper, &real);
    let text = format!(
        "# Written by kpsa to read origin annotations; never in the user's tree.\n\
         apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
         resources:\n- {}\nbuildMetadata: [originAnnotations, transformerAnnotations]\n",
        serde_json::to_string(&rel.to_string_lossy()).expect("a string serializes")
    );
    std::fs::write(wrapper.join("kustomization.yaml"), text)
        .map_err(|e| fail(format!("cannot write the wrapper kustomization: {e}")))?;
    let inv = invocation(r, Path::new(".")).map_err(fail)?;
    let mut rendered = run_program(
        target,
        &inv,
        &wrapper,
        r,
        Producer::Kustomize {
            wrapper: wrapper.clone(),
        },
    );
    // Say what the user would run, not the wrapper.
    let shown = Invocation {
        program: inv.program.clone(),
        args: {
            let mut a = inv.args.clone();
            if let Some(last) = a.last_mut() {
                *last = dir.into();
            }
            a
        },
    };
    match &mut rendered {
        Ok(ok) => ok.command = shown.display(),
        Err(e) => e.command = Some(shown.display()),
    }
    rendered
}
