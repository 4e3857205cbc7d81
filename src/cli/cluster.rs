//! `kpsa cluster check`: what the live cluster's Pod Security Admission
//! would do with the pods of some manifests (the PreSync hook's command).
//!
//! Exit codes: 0 no pod would be refused, 1 some pod would be refused
//! (enforce), 2 usage, 3 the manifests or the API could not be read
//! (403, unreachable, untrusted certificate).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::cluster::kube::{Cluster, SERVICEACCOUNT_DIR};
use crate::cluster::{self, Live, Manifests};

#[derive(Subcommand, Debug)]
pub(super) enum ClusterCommand {
    /// Read the cluster's version and the Pod Security labels of the namespaces the
    /// manifests' pods land in, and report what admission would do with each pod
    /// (exit 1 when enforce would refuse one).
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub(super) struct CheckArgs {
    /// Manifests: files, or directories (every *.yaml, *.yml and *.json below).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    manifests: Vec<PathBuf>,
    /// The namespace of objects that name none (Argo CD's destination namespace).
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// The API server's PodSecurityConfiguration (bare, or in an
    /// AdmissionConfiguration): defaults for unlabelled namespaces and exemptions.
    /// It cannot be read through the API; without it the defaults are the API
    /// server's own (privileged).
    #[arg(long, value_name = "FILE")]
    admission_config: Option<PathBuf>,
    /// Use the pod's service account (the default when KUBERNETES_SERVICE_HOST is set).
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    in_cluster: bool,
    /// A kubeconfig (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current-context).
    #[arg(long)]
    context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ListFormat,
}

pub(super) fn run(cmd: ClusterCommand) -> i32 {
    match cmd {
        ClusterCommand::Check(a) => check(a),
    }
}

fn say(line: &str) {
    eprintln!("{}", report::escape::log(&format!("kpsa: {line}")));
}

fn connect(a: &CheckArgs) -> Result<Cluster, String> {
    let in_cluster = a.in_cluster
        || (a.kubeconfig.is_none()
            && a.context.is_none()
            && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty()));
    if in_cluster {
        let dir = std::env::var_os("KPSA_SERVICEACCOUNT_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(SERVICEACCOUNT_DIR), PathBuf::from);
        return Cluster::in_cluster(&dir);
    }
    let file = a
        .kubeconfig
        .clone()
        .or_else(|| {
            std::env::var_os("KUBECONFIG")
                .filter(|k| !k.is_empty())
                .map(|k| {
                    // The first file of a KUBECONFIG list.
                    std::env::split_paths(&k).next().unwrap_or_default()
                })
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
        .ok_or("no cluster: pass --kubeconfig or --in-cluster")?;
    Cluster::from_kubeconfig(&file, a.context.as_deref())
}

fn read_manifests(paths: &[PathBuf]) -> Result<Vec<Manifests>, String> {
    let mut out = Vec::new();
    for p in paths {
        let files: Vec<PathBuf> = if p.is_dir() {
            let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(p)
                .standard_filters(false)
                .follow_links(false)
                .build()
                .filter_map(Result::ok)
                .map(ignore::DirEntry::into_path)
                .filter(|f| {
                    f.is_file()
                        && f.extension()
                            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                })
                .collect();
            files.sort();
            files
        } else {
            vec![p.clone()]
        };
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            out.push(Manifests {
                name: f.display().to_string(),
                text,
            });
        }
    }
    Ok(out)
}

fn check(a: CheckArgs) -> i32 {
    if let Some(why) = config::dns1123_label_error(&a.namespace) {
        say(&format!(
            "--namespace {:?} is not a namespace: {why}",
            a.namespace
        ));
        return EXIT_USAGE;
    }
    let manifests = match read_manifests(&a.manifests) {
        Ok(m) => m,
        Err(m) => {
            say(&m);
            return EXIT_INPUT;
        }
    };
    let (defaults, exemptions, mut warnings) = match &a.admission_config {
        Some(f) => match crate::admission::load_config(f) {
            Ok(x) => x,
            Err(e) => {
                say(&format!("error in the admission configuration: {e}"));
                return EXIT_USAGE;
            }
        },
        None => (Default::default(), Default::default(), vec![
            "no --admission-config: namespaces without labels are judged with the API server's own defaults \
             (privileged); pass the cluster's PodSecurityConfiguration if it sets others".to_string(),
        ]),
    };
    let (used, defined, errors) = cluster::namespaces(&manifests, &a.namespace);
    if !errors.is_empty() {
        for e in &errors {
            say(&format!(
                "error: {}{}: {}",
                e.path,
                e.line.map(|l| format!(":{l}")).unwrap_or_default(),
                e.message
            ));
        }
        return EXIT_INPUT;
    }
    let api = match connect(&a) {
        Ok(c) => c,
        Err(m) => {
            say(&format!("error: {m}"));
            return EXIT_INPUT;
        }
    };
    let git_version = match api.version() {
        Ok(v) => v,
        Err(e) => {
            say(&format!("error: {} ({}): {e}", api.server, api.origin));
            return EXIT_INPUT;
        }
    };
    let Some(requested) = crate::policy::Version::of_release(&git_version) else {
        say(&format!(
            "error: the API server's version {git_version:?} is not a Kubernetes version"
        ));
        return EXIT_INPUT;
    };
    warnings.extend(requested.beyond_newest());
    let version = VersionSpec::Exact(requested).resolve();
    let mut live = Live {
        version,
        namespaces: BTreeMap::new(),
        defaults,
        exemptions,
    };
    let mut missing = Vec::new();
    for ns in used.difference(&defined) {
        match api.namespace(ns) {
            Ok(Some(labels)) => {
                live.namespaces.insert(ns.clone(), labels);
            }
            Ok(None) => missing.push(ns.clone()),
            Err(e) => {
                say(&format!("error: {} ({}): {e}", api.server, api.origin));
                return EXIT_INPUT;
            }
        }
    }
    for ns in &missing {
        warnings.push(format!(
            "namespace {ns} does not exist in the cluster yet: judged with the cluster defaults{}",
            if a.admission_config.is_some() {
                " of the admission configuration"
            } else {
                " (privileged: no --admission-config)"
            }
        ));
    }
    let checked = cluster::check(&manifests, &a.namespace, &live);
    let refused: Vec<&crate::finding::Workload> = checked
        .workloads
        .iter()
        .filter(|w| w.admission.as_ref().is_some_and(|x| x.refused))
        .collect();
    let code = if refused.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    };
    if a.format == ListFormat::Json {
        let pods: Vec<serde_json::Value> = checked
            .workloads
            .iter()
            .map(|w| {
                serde_json::json!({
                    "object": w.object,
                    "location": w.location,
                    "admission": w.admission,
                    "baseline": w.baseline,
                    "restricted": w.restricted,
                })
            })
            .collect();
        let namespaces: serde_json::Map<String, serde_json::Value> = used
            .iter()
            .chain(defined.iter())
            .map(|ns| {
                let source = if defined.contains(ns) {
                    "manifests"
                } else if live.namespaces.contains_key(ns) {
                    "cluster"
                } else {
                    "defaults"
                };
                (
                    ns.clone(),
                    serde_json::json!({"source": source, "labels": live.namespaces.get(ns)}),
                )
            })
            .collect();
        let out = serde_json::json!({
            "cluster": {"server": api.server, "gitVersion": git_version, "policyVersion": version.to_string()},
            "namespaces": namespaces,
            "pods": pods,
            "refused": refused.len(),
            "warnings": warnings,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON serializes")
        );
        return code;
    }
    for w in &warnings {
        say(&format!("warning: {w}"));
    }
    let esc = |s: &str| report::escape::log(s).into_owned();
    println!(
        "cluster {} ({}): Kubernetes {}, Pod Security policy {version}",
        esc(&api.server),
        esc(&api.origin),
        esc(&git_version)
    );
    for w in &checked.workloads {
        let Some(adm) = &w.admission else { continue };
        let verdict = if adm.refused {
            "REFUSED"
        } else if adm.exempt.is_some() {
            "exempt "
        } else if adm.warn.is_some() || adm.audit.is_some() {
            "warned "
        } else {
            "admitted"
        };
        println!(
            "{verdict} {}: {}",
            esc(&w.object.display()),
            esc(&adm.describe())
        );
        if adm.refused || adm.warn.is_some() || adm.audit.is_some() {
            for m in [&w.baseline, &w.restricted].into_iter().flatten() {
                println!("         {}", esc(m));
            }
        }
    }
    println!(
        "{} of {} pod spec(s) would be refused by Pod Security Admission{}",
        refused.len(),
        checked.workloads.len(),
        if refused.is_empty() {
            ""
        } else {
            ": stop the sync"
        }
    );
    code
}
