//! `kpsa argocd generate` and `kpsa argocd discover`: the commands of the
//! Argo CD config-management plugin (`deploy/argocd/plugin.yaml`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;
use crate::argocd::{self, Gate, env::AppEnv};

#[derive(Subcommand, Debug)]
pub(super) enum ArgocdCommand {
    /// The plugin's `generate`: render the application directory as Argo CD would,
    /// evaluate it with the platform's policy, and print the manifests only when
    /// the gate passes (else the findings on standard error and a non-zero exit).
    Generate(GenerateArgs),
    /// The plugin's `discover`: print what kpsa would render in the working
    /// directory (helm, kustomize or directory); print nothing when there is nothing.
    Discover,
}

#[derive(clap::Args, Debug)]
pub(super) struct GenerateArgs {
    /// The platform's policy: a .kpsa.yaml-format file mounted into the sidecar,
    /// outside the repository. The repository's own .kpsa.yaml may only tighten it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Accepted findings (`kpsa accept --write`), mounted by the platform: they
    /// do not stop the manifests.
    #[arg(long, value_name = "FILE")]
    accepted: Option<PathBuf>,
    /// Adoption: print the findings on standard error but hand the manifests over.
    #[arg(long)]
    warn_only: bool,
    /// Hand over a render with no objects (with prune on, Argo CD then deletes
    /// every resource of the application); refused by default.
    #[arg(long)]
    allow_empty: bool,
    /// Let `kpsa.io/ignore` annotations in the repository waive findings (by
    /// default they do not: the repository would waive its own findings).
    #[arg(long)]
    allow_suppressions: bool,
    /// The image of the PreSync hook's Job (pin it by digest).
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_HOOK_IMAGE)]
    hook_image: String,
    /// Seconds Argo CD waits for the manifests: the application controller's
    /// --repo-server-timeout-seconds (default 60). kpsa stops 5 s before the
    /// smaller of this and ARGOCD_EXEC_TIMEOUT.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(10..=3600))]
    repo_server_timeout: u64,
    /// The helm program (default: $KPSA_HELM, else `helm` on PATH).
    #[arg(long, value_name = "PATH")]
    helm: Option<PathBuf>,
    /// The kustomize program, or a kubectl (default: $KPSA_KUSTOMIZE, else
    /// kustomize on PATH, else kubectl).
    #[arg(long, value_name = "PATH")]
    kustomize: Option<PathBuf>,
    /// Forbid every network access by the render programs (no Helm dependency downloads).
    #[arg(long)]
    offline: bool,
    /// Let Kustomize fetch remote bases and resources (git and HTTP URLs), as Argo CD's own
    /// Kustomize does; refused by default (the repository would choose what the sidecar
    /// downloads).
    #[arg(long)]
    allow_remote_resources: bool,
}

/// The image the PreSync hook runs by default.
pub const DEFAULT_HOOK_IMAGE: &str = concat!("ghcr.io/kpsa-dev/kpsa:", env!("CARGO_PKG_VERSION"));

/// What is left of Argo CD's time when kpsa must be done.
const MARGIN: Duration = Duration::from_secs(5);

pub(super) fn run(cmd: ArgocdCommand) -> i32 {
    match cmd {
        ArgocdCommand::Generate(a) => generate(a),
        ArgocdCommand::Discover => discover(),
    }
}

fn fail(code: i32, message: &str) -> i32 {
    eprintln!("{}", report::escape::log(&format!("kpsa: {message}")));
    code
}

/// What the working directory is, as Argo CD's own tools would see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppKind {
    Helm,
    Kustomize,
    Directory,
}

fn app_kind(dir: &Path) -> Option<AppKind> {
    if dir.join("Chart.yaml").is_file() {
        Some(AppKind::Helm)
    } else if plan::kustomization_file(dir).is_some() {
        Some(AppKind::Kustomize)
    } else if !directory_files(dir).ok()?.is_empty() {
        Some(AppKind::Directory)
    } else {
        None
    }
}

/// The manifests of a plain directory, as Argo CD reads them by default:
/// `*.yaml`, `*.yml` and `*.json` files directly in it (no recursion), in
/// name order.
fn directory_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    files.sort();
    Ok(files)
}

fn discover() -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if let Some(kind) = app_kind(&cwd) {
        println!(
            "{}",
            match kind {
                AppKind::Helm => "helm",
                AppKind::Kustomize => "kustomize",
                AppKind::Directory => "directory",
            }
        );
    }
    EXIT_OK
}

/// The repository root: the working directory minus `ARGOCD_APP_SOURCE_PATH`.
fn repository_root(cwd: &Path, source_path: &str) -> Result<PathBuf, String> {
    let rel = Path::new(source_path.trim_matches('/'));
    let parts: Vec<_> = rel
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if parts
        .iter()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "ARGOCD_APP_SOURCE_PATH {source_path:?} is not a path inside the repository"
        ));
    }
    let mut root = cwd.to_path_buf();
    for part in parts.iter().rev() {
        if root.file_name() != Some(part.as_os_str()) {
            return Err(format!(
                "the working directory {} does not end with ARGOCD_APP_SOURCE_PATH {source_path:?}",
                cwd.display()
            ));
        }
        root.pop();
    }
    Ok(root)
}

fn generate(a: GenerateArgs) -> i32 {
    let start = Instant::now();
    let vars: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let app = match argocd::env::read(&vars) {
        Ok(e) => e,
        Err(m) => return fail(EXIT_USAGE, &m),
    };
    for w in &app.warnings {
        eprintln!("{}", report::escape::log(&format!("kpsa: warning: {w}")));
    }
    let cwd = match std::env::current_dir().and_then(std::fs::canonicalize) {
        Ok(d) => d,
        Err(e) => {
            return fail(
                EXIT_INPUT,
                &format!("cannot read the working directory: {e}"),
            );
        }
    };
    let root = match repository_root(&cwd, &app.source_path) {
        Ok(r) => r,
        Err(m) => return fail(EXIT_USAGE, &m),
    };
    let budget = app
        .exec_timeout
        .min(Duration::from_secs(a.repo_server_timeout))
        .saturating_sub(MARGIN);
    if budget.is_zero() {
        return fail(
            EXIT_USAGE,
            &format!(
                "ARGOCD_EXEC_TIMEOUT {:?} leaves no time to render (kpsa stops {} s before Argo CD's timeout)",
                app.exec_timeout,
                MARGIN.as_secs()
            ),
        );
    }

    // The policy: the platform's, tightened by the repository's.
    let platform = match &a.config {
        None => None,
        Some(f) => {
            let real = std::fs::canonicalize(f).unwrap_or_else(|_| absolute(f));
            if real.starts_with(&root) {
                return fail(
                    EXIT_USAGE,
                    &format!(
                        "--config {} is inside the repository; the platform's policy must be mounted from outside it",
                        f.display()
                    ),
                );
            }
            match config::load(f) {
                Ok(c) => Some(c),
                Err(e) => return fail(EXIT_USAGE, &format!("error in the platform's config: {e}")),
            }
        }
    };
    let repo_config = match config::find(&cwd, Some(&root)) {
        None => None,
        Some(f) => match config::load(&f).and_then(|c| config::confine(&c, &root).map(|()| c)) {
            Ok(c) => Some(c),
            Err(e) => {
                return fail(
                    EXIT_USAGE,
                    &format!("error in the repository's config: {e}"),
                );
            }
        },
    };
    let (mut policy, warnings) = argocd::policy::tighten(platform, repo_config.as_ref());
    for w in &warnings {
        eprintln!("{}", report::escape::log(&format!("kpsa: warning: {w}")));
    }
    if let Some(v) = &app.kube_version {
        policy.kubernetes_version = Some(VersionSpec::Exact(v.policy));
    }
    let admission_text = match &policy.admission_config {
        Some(p) if app.presync_hook => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => {
                return fail(
                    EXIT_USAGE,
                    &format!(
                        "cannot read the admission configuration {}: {e}",
                        p.display()
                    ),
                );
            }
        },
        _ => None,
    };

    let common = CommonArgs {
        config: None,
        helm: a.helm.clone(),
        kustomize: a.kustomize.clone(),
        render_timeout: None,
        max_render_bytes: None,
        max_tree_entries: None,
        allow_remote_resources: a.allow_remote_resources,
        offline: a.offline,
    };
    let eval = quiet_eval_args();
    let mut r = match resolve(&eval, &common, Some(&policy), &Default::default()) {
        Ok(r) => r,
        Err(m) => return fail(EXIT_USAGE, &m),
    };
    r.renderers.origin_annotations = false;
    r.renderers.timeout = budget
        .saturating_sub(start.elapsed())
        .max(Duration::from_secs(1));

    let target = match app_target(&app, &cwd, &root, r.version) {
        Ok(t) => t,
        Err(m) => return fail(EXIT_USAGE, &m),
    };
    let rendered = pipeline::render_all(
        std::slice::from_ref(&target),
        &[],
        &r.renderers,
        Progress::detect(true),
        &root,
    );
    let text = match &target.source {
        Source::Manifests { files } => {
            let mut text = String::new();
            for f in files {
                match std::fs::read_to_string(f) {
                    Ok(t) => {
                        if !text.is_empty() {
                            text.push_str("---\n");
                        }
                        text.push_str(&t);
                        if !text.ends_with('\n') {
                            text.push('\n');
                        }
                    }
                    Err(e) => {
                        return fail(
                            EXIT_INPUT,
                            &format!("cannot read {}: {e}", relative(&root, f)),
                        );
                    }
                }
            }
            text
        }
        _ => rendered.texts().collect::<Vec<_>>().concat(),
    };
    let mut result = pipeline::evaluate(&root, rendered, &r.opts).result;
    if result.errors.is_empty() && start.elapsed() >= budget {
        return fail(
            EXIT_INPUT,
            &format!(
                "application {}: evaluation did not finish within {} s (Argo CD stops the plugin after {} s); nothing was handed over",
                app.name,
                budget.as_secs(),
                (budget + MARGIN).as_secs()
            ),
        );
    }
    if let Some(path) = &a.accepted {
        if let Err(m) = apply_accepted(&mut result, path) {
            return fail(EXIT_USAGE, &m);
        }
    }
    if !a.allow_suppressions {
        argocd::distrust_annotations(&mut result.findings);
    }

    let gate = Gate {
        fail_on: r.fail_on,
        enforced: r.gate_enforced,
    };
    let where_ = format!(
        "application {} (Kubernetes {}, {})",
        app.name,
        r.label,
        gate.describe()
    );
    if !result.errors.is_empty() {
        let mut msg = format!(
            "refused: {} could not be rendered or read; nothing was handed over\n",
            where_
        );
        for e in &mut result.errors {
            if e.message.contains("timed out after") {
                e.message.push_str(&format!(
                    "\n(kpsa gives a render what is left of {} s: Argo CD's ARGOCD_EXEC_TIMEOUT and repo-server timeout, less {} s)",
                    budget.as_secs() + MARGIN.as_secs(),
                    MARGIN.as_secs()
                ));
            }
        }
        msg.push_str(&argocd::lines(
            &[],
            &result.errors,
            argocd::MAX_STDERR_BYTES,
        ));
        eprint!("kpsa: {msg}");
        return EXIT_INPUT;
    }
    if result.stats.objects == 0 && !a.allow_empty {
        return fail(
            EXIT_INPUT,
            &format!(
                "refused: {where_} rendered no objects; with prune on, Argo CD would delete every resource of the application \
                 (the platform can allow it with --allow-empty)"
            ),
        );
    }
    let stopping: Vec<&crate::finding::Finding> =
        result.findings.iter().filter(|f| gate.stops(f)).collect();
    if !stopping.is_empty() {
        let lines = argocd::lines(&stopping, &[], argocd::MAX_STDERR_BYTES);
        if a.warn_only {
            eprint!(
                "kpsa: warning (warn-only): {} finding(s) would stop {where_}; the manifests are handed over\n{lines}",
                stopping.len()
            );
        } else {
            eprint!(
                "kpsa: refused: {} finding(s) in {where_}; nothing was handed over\n{lines}",
                stopping.len()
            );
            return EXIT_FINDINGS;
        }
    }

    let mut out = text;
    if app.presync_hook {
        let input = argocd::hook::HookInput {
            app: &app.name,
            namespace: &app.namespace,
            image: &a.hook_image,
            manifests: &out,
            kinds: &r.opts.kinds,
            admission_config: admission_text.as_deref(),
        };
        match argocd::hook::objects_for(&input) {
            Ok(hook) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&hook);
            }
            Err(m) => return fail(EXIT_INPUT, &format!("application {}: {m}", app.name)),
        }
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return fail(EXIT_INPUT, &format!("cannot write the manifests: {e}"));
    }
    EXIT_OK
}

/// The evaluation flags of a quiet `scan` with nothing set: the policy
/// comes from the config.
fn quiet_eval_args() -> EvalArgs {
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        eval: EvalArgs,
    }
    Only::parse_from(["kpsa", "--quiet"]).eval
}

/// The application as one target, rendered the way Argo CD renders it.
fn app_target(
    app: &AppEnv,
    cwd: &Path,
    root: &Path,
    version: crate::policy::Version,
) -> Result<Target, String> {
    let tree = crate::tree::Disk {
        root: root.to_path_buf(),
    };
    let kind = app_kind(cwd).ok_or_else(|| {
        format!(
            "{} holds no Chart.yaml, kustomization or *.yaml / *.yml / *.json file",
            relative(root, cwd)
        )
    })?;
    if kind != AppKind::Helm && (!app.values.is_empty() || !app.set.is_empty()) {
        return Err(
            "values files and --set entries apply to a Helm chart; this application is not one"
                .into(),
        );
    }
    // The target is named as `kpsa scan` names the directory from the
    // repository root, so `kpsa accept` there writes fingerprints that match.
    let id = relative(root, cwd);
    let plan_error = |e: plan::PlanError| match e.line {
        Some(l) => format!("{}:{l}: {}", e.path, e.message),
        None => format!("{}: {}", e.path, e.message),
    };
    match kind {
        AppKind::Helm => {
            if let Some(why) = config::release_name_error(&app.name) {
                return Err(format!(
                    "the application name {:?} is not a valid Helm release name: {why}",
                    app.name
                ));
            }
            let mut values = Vec::new();
            for v in &app.values {
                let p = plan::normalize(&cwd.join(v));
                if let Some(why) = config::outside(root, &p) {
                    return Err(format!("the values file {v:?} {why}"));
                }
                if !p.is_file() {
                    return Err(format!("the values file {v:?} does not exist"));
                }
                values.push(p);
            }
            let spec = HelmSpec {
                chart: cwd.to_path_buf(),
                values,
                set: app.set.clone(),
                set_string: Vec::new(),
                release: Some(app.name.clone()),
                namespace: Some(app.namespace.clone()),
                kube_version: Some(
                    app.kube_version
                        .as_ref()
                        .map_or_else(|| format!("{version}.0"), |k| k.raw.clone()),
                ),
                api_versions: app.api_versions.clone(),
                include_crds: true,
            };
            plan::helm_target(&tree, Some(id), spec, "Argo CD application".into())
                .map_err(plan_error)
        }
        AppKind::Kustomize => plan::kustomize_target(
            &tree,
            Some(id),
            cwd.to_path_buf(),
            "Argo CD application".into(),
        )
        .map_err(plan_error),
        AppKind::Directory => {
            let files = directory_files(cwd)
                .map_err(|e| format!("cannot read {}: {e}", relative(root, cwd)))?;
            for f in &files {
                if let Some(why) = config::outside(root, f) {
                    return Err(format!("{} {why}", relative(root, f)));
                }
            }
            Ok(Target {
                id,
                inputs: files.clone(),
                source: Source::Manifests { files },
                reason: "Argo CD application (directory)".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_directory_minus_the_source_path() {
        let cwd = Path::new("/tmp/repo/apps/shop");
        assert_eq!(
            repository_root(cwd, "apps/shop").unwrap(),
            Path::new("/tmp/repo")
        );
        assert_eq!(
            repository_root(cwd, "./apps/shop/").unwrap(),
            Path::new("/tmp/repo")
        );
        assert_eq!(repository_root(cwd, "").unwrap(), cwd);
        assert_eq!(repository_root(cwd, ".").unwrap(), cwd);
        assert!(repository_root(cwd, "apps/other").is_err());
        assert!(repository_root(cwd, "../shop").is_err());
    }
}
