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

pub fn render(target: &Target, dir: &Path, r: &Renderers) -> Result<Rendered, RenderError> {
    let fail = |m: String| RenderError {
        target: target.id.clone(),
        command: None,
        message: m,
    };
    let real = std::fs::canonicalize(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
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
