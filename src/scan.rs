//! `kpsa scan` for plain manifests: read inputs as streams, split them into
//! documents, and parse, extract and evaluate the documents in parallel
//! batches. Memory stays bounded by one batch plus the results; results keep
//! input order whatever the number of threads.
//!
//! Errors never stop the run: a file that cannot be read, a document that does
//! not parse, an object that is not what its kind promises each become an
//! [`InputError`] naming the file and line, and everything else is still
//! evaluated and reported.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::finding::{Finding, Location, Workload, assign_fingerprints, container_of};
use crate::manifest::chunk::{Chunk, Chunker};
use crate::manifest::workload::{objects, pod_view};
use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, PodTemplateKind};
use crate::policy::{self, Context, PssLevel, ServiceAccountKey, Tier, Version};

/// One input: a file or directory, or standard input.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub tier: Tier,
    pub version: Version,
    /// How the version is printed in admission messages (`v1.30`, `latest`).
    pub version_label: String,
    pub kinds: Vec<PodTemplateKind>,
    pub limits: Limits,
    /// Documents' bytes per parallel batch.
    pub batch_bytes: usize,
}

impl ScanOptions {
    pub fn new(tier: Tier, version: Version, version_label: String) -> Self {
        ScanOptions {
            tier,
            version,
            version_label,
            kinds: crate::manifest::workload::default_pod_template_kinds(),
            limits: Limits::default(),
            batch_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Something in the input that could not be read, parsed or understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub path: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

/// Counts for the summary line and the JSON `summary`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    pub pod_specs: usize,
}

/// Everything a scan produced.
#[derive(Debug, Default)]
pub struct ScanResult {
    pub findings: Vec<Finding>,
    pub workloads: Vec<Workload>,
    pub errors: Vec<InputError>,
    pub stats: Stats,
    /// Standard input as read, so reports can show code frames for it.
    pub stdin_text: Option<String>,
}

/// The display name of standard input.
pub const STDIN_NAME: &str = "<stdin>";

#[derive(Default)]
struct Outcome {
    findings: Vec<Finding>,
    workloads: Vec<Workload>,
    errors: Vec<InputError>,
    service_accounts: Vec<(ServiceAccountKey, Option<bool>)>,
    documents: usize,
    objects: usize,
}

/// Scan the inputs.
pub fn scan(inputs: &[Input], opts: &ScanOptions) -> ScanResult {
    let mut result = ScanResult::default();
    let mut files: Vec<(String, Option<PathBuf>)> = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => files.push((STDIN_NAME.to_string(), None)),
            Input::Path(p) => expand(p, &mut files, &mut result.errors),
        }
    }
    result.stats.files = files.len();

    let mut batch: Vec<(usize, Chunk)> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut outcomes: Vec<Outcome> = Vec::new();
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    // Standard input is read whole, once: reports show code frames from it.
    let mut stdin_bytes: Option<Vec<u8>> = None;
    if files.iter().any(|(_, path)| path.is_none()) {
        let mut bytes = Vec::new();
        match std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes) {
            Ok(_) => stdin_bytes = Some(bytes),
            Err(e) => result.errors.push(error(
                STDIN_NAME,
                None,
                format!("cannot read standard input: {e}"),
            )),
        }
    }
    for (index, (name, path)) in files.iter().enumerate() {
        let reader: Box<dyn BufRead> = match path {
            None => match &stdin_bytes {
                Some(bytes) => Box::new(bytes.as_slice()),
                None => continue,
            },
            Some(p) => match File::open(p) {
                Ok(f) => Box::new(BufReader::with_capacity(256 * 1024, f)),
                Err(e) => {
                    result
                        .errors
                        .push(error(name, None, format!("cannot open: {e}")));
                    continue;
                }
            },
        };
        for item in Chunker::new(
            reader,
            opts.limits.max_document_bytes,
            opts.limits.max_file_bytes,
        ) {
            match item {
                Ok(chunk) => {
                    batch_bytes += chunk.text.as_ref().map_or(0, String::len);
                    batch.push((index, chunk));
                    if batch_bytes >= opts.batch_bytes {
                        outcomes.extend(run_batch(std::mem::take(&mut batch), &names, opts));
                        batch_bytes = 0;
                    }
                }
                Err(e) => {
                    // Flush so the error lands after what was read before it.
                    outcomes.extend(run_batch(std::mem::take(&mut batch), &names, opts));
                    batch_bytes = 0;
                    outcomes.push(Outcome {
                        errors: vec![error(name, e.line, e.message)],
                        ..Outcome::default()
                    });
                }
            }
        }
    }
    outcomes.extend(run_batch(batch, &names, opts));
    result.stdin_text = stdin_bytes.and_then(|bytes| String::from_utf8(bytes).ok());
    merge(outcomes, &mut result);
    result
}

fn error_at(path: &str, pos: crate::manifest::Pos, message: String) -> InputError {
    InputError {
        path: path.to_string(),
        line: Some(pos.line),
        column: Some(pos.column),
        message,
    }
}

fn error(path: &str, line: Option<u32>, message: String) -> InputError {
    InputError {
        path: path.to_string(),
        line,
        column: None,
        message,
    }
}

/// Files of a path: the file itself, or every `*.yaml` / `*.yml` below a
/// directory (sorted; hidden entries and symlinked directories skipped).
fn expand(path: &Path, files: &mut Vec<(String, Option<PathBuf>)>, errors: &mut Vec<InputError>) {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push(error(&name, None, format!("cannot read: {e}")));
            return;
        }
    };
    if !meta.is_dir() {
        files.push((name, Some(path.to_path_buf())));
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            errors.push(error(&name, None, format!("cannot list directory: {e}")));
            return;
        }
    };
    entries.sort();
    for entry in entries {
        let file_name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if file_name.starts_with('.') {
            continue;
        }
        let Ok(link_meta) = std::fs::symlink_metadata(&entry) else {
            continue;
        };
        if link_meta.is_dir() {
            expand(&entry, files, errors);
        } else if (file_name.ends_with(".yaml") || file_name.ends_with(".yml"))
            && std::fs::metadata(&entry).is_ok_and(|m| m.is_file())
        {
            files.push((entry.display().to_string(), Some(entry)));
        }
    }
}

fn run_batch(batch: Vec<(usize, Chunk)>, names: &[String], opts: &ScanOptions) -> Vec<Outcome> {
    batch
        .into_par_iter()
        .map(|(index, chunk)| process_chunk(&names[index], chunk, opts))
        .collect()
}

/// Parse, extract and evaluate one document chunk.
fn process_chunk(path: &str, chunk: Chunk, opts: &ScanOptions) -> Outcome {
    let mut out = Outcome::default();
    let text = match chunk.text {
        Ok(text) => text,
        Err(e) => {
            out.errors.push(error_at(path, e.pos, e.message));
            return out;
        }
    };
    let docs =
        match std::panic::catch_unwind(|| parse_documents(&text, chunk.first_line, opts.limits)) {
            Ok(Ok(docs)) => docs,
            Ok(Err(e)) => {
                out.errors.push(error_at(
                    path,
                    e.pos,
                    format!("invalid YAML: {}", e.message),
                ));
                return out;
            }
            Err(_) => {
                out.errors.push(error(
                    path,
                    Some(chunk.first_line),
                    "internal error while parsing this document".into(),
                ));
                return out;
            }
        };
    let ctx = Context::default();
    for doc in &docs {
        out.documents += 1;
        for object in objects(doc) {
            out.objects += 1;
            let r = &object.reference;
            if r.kind == "ServiceAccount" && r.api_version == "v1" {
                let automount = object
                    .node
                    .get("automountServiceAccountToken")
                    .and_then(|n| n.as_bool().ok().flatten());
                out.service_accounts.push((
                    (r.namespace.clone().unwrap_or_default(), r.name.clone()),
                    automount,
                ));
            }
            let view = match pod_view(&object, &opts.kinds) {
                Ok(Some(view)) => view,
                Ok(None) => continue,
                Err(e) => {
                    out.errors.push(error_at(path, e.pos, e.message));
                    continue;
                }
            };
            let evaluation = policy::evaluate(&view, opts.version, &ctx);
            for e in &evaluation.errors {
                out.errors.push(error_at(
                    path,
                    e.mismatch.pos,
                    format!("{} {}: {}", r.display(), e.field, e.mismatch),
                ));
            }
            let baseline = evaluation.verdict(PssLevel::Baseline);
            let restricted = evaluation.verdict(PssLevel::Restricted);
            let at = |pos: crate::manifest::Pos| Location {
                path: path.into(),
                line: pos.line,
                column: pos.column,
            };
            out.workloads.push(Workload {
                target: path.into(),
                object: r.clone(),
                location: at(view.object_pos),
                template: view.prefix.trim_end_matches('.').to_string(),
                level: PssLevel::met(&baseline, &restricted),
                baseline: baseline.admission_message(PssLevel::Baseline, &opts.version_label),
                restricted: restricted.admission_message(PssLevel::Restricted, &opts.version_label),
            });
            for v in evaluation.violations(opts.tier) {
                out.findings.push(Finding {
                    check: v.check,
                    tier: v.tier,
                    severity: v.tier.severity(),
                    target: path.into(),
                    object: r.clone(),
                    container: container_of(&v.subject),
                    field: format!("{}{}", view.prefix, v.field),
                    message: v.message,
                    location: at(v.pos),
                    fingerprint: String::new(),
                    values: v.values,
                    unless_service_account: v.unless_service_account,
                });
            }
        }
    }
    out
}

fn merge(outcomes: Vec<Outcome>, result: &mut ScanResult) {
    let mut service_accounts: HashMap<ServiceAccountKey, Option<bool>> = HashMap::new();
    for o in &outcomes {
        service_accounts.extend(o.service_accounts.iter().cloned());
    }
    for o in outcomes {
        result.stats.documents += o.documents;
        result.stats.objects += o.objects;
        result.stats.pod_specs += o.workloads.len();
        result.workloads.extend(o.workloads);
        result.errors.extend(o.errors);
        // ServiceAccounts seen anywhere in the input settle the automount check.
        result.findings.extend(o.findings.into_iter().filter(|f| {
            f.unless_service_account
                .as_ref()
                .is_none_or(|key| service_accounts.get(key) != Some(&Some(false)))
        }));
    }
    assign_fingerprints(&mut result.findings);
}
