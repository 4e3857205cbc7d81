//! `kpsa scan` for plain manifests: read inputs as streams, split them into
//! documents, and parse, extract and evaluate the documents in parallel
//! batches. Memory stays bounded by one batch plus the results; results keep
//! input order whatever the number of threads.
//!
//! Errors never stop the run: a file that cannot be read, a document that does
//! not parse, an object that is not what its kind promises each become an
//! [`InputError`] naming the file and line, and everything else is still
//! evaluated and reported.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::admission;
use crate::finding::{
    Finding, Location, Origin, Position, Workload, assign_fingerprints, container_of,
};
use crate::manifest::chunk::{Chunk, Chunker};
use crate::manifest::workload::{objects, pod_view};
use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, PodTemplateKind};
use crate::policy::{self, Context, PssLevel, ServiceAccountKey, Tier, Version};

/// One input: a file or directory, standard input, or a target's rendered
/// output.
#[derive(Debug, Clone)]
pub enum Input {
    /// Findings name `target`, or the file itself when None.
    Path {
        path: PathBuf,
        target: Option<String>,
    },
    Stdin,
    Rendered(RenderedInput),
}

/// A render program's output for one target.
#[derive(Debug, Clone)]
pub struct RenderedInput {
    pub target: String,
    /// How the stream is named in errors (`charts/web (helm template)`).
    pub name: String,
    pub text: String,
    /// Kustomize output: read and strip the origin annotations.
    pub kustomize: bool,
    /// The namespace the renderer puts objects in that name none (Helm's
    /// release namespace).
    pub namespace: Option<String>,
}

/// One stream to read.
struct Stream {
    name: String,
    target: String,
    source: StreamSource,
    /// The namespace of objects that name none.
    namespace: Option<String>,
}

enum StreamSource {
    Stdin,
    Disk(PathBuf),
    /// Index into the rendered inputs; `kustomize` as above.
    Rendered(usize, bool),
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// `kpsa diff` under the base's policy: the base's Namespace labels. A
    /// rendered Namespace whose Pod Security labels are weaker than these
    /// is evaluated with these (the change lowers them: pending review).
    pub label_floor: Option<Arc<BTreeMap<String, Labels>>>,
    pub tier: Tier,
    pub version: Version,
    /// How the version is printed in admission messages (`v1.30`, `latest`).
    pub version_label: String,
    pub kinds: Vec<PodTemplateKind>,
    pub limits: Limits,
    /// Documents' bytes per parallel batch.
    pub batch_bytes: usize,
    /// Namespace policies, cluster defaults and exemptions known before the
    /// scan; Namespaces found in the input are added to it.
    pub admission: Option<Arc<admission::Context>>,
    /// Exemptions from the config, and the config's name for messages.
    pub exemptions: Vec<crate::config::Exemption>,
    pub exemptions_source: String,
    /// Today (days since 1970-01-01, UTC), for suppression expiry.
    pub today: i64,
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
            admission: None,
            exemptions: Vec::new(),
            exemptions_source: String::new(),
            today: crate::suppress::today(),
            label_floor: None,
        }
    }
}

/// Something in the input that could not be read, parsed or understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputError {
    pub path: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    /// The target that failed to render, for render errors.
    pub target: Option<String>,
    /// For an error in a rendered object: what provenance needs to move it
    /// to the source file.
    #[serde(skip)]
    pub rendered: Option<Box<RenderedError>>,
}

/// An error in a field of a rendered object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedError {
    pub target: String,
    pub object: crate::manifest::ObjectRef,
    pub field: String,
    pub origin: Origin,
}

/// Counts for the summary line and the JSON `summary`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Stats {
    /// Files and standard input read.
    pub files: usize,
    /// Rendered target outputs read.
    pub rendered: usize,
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
    /// What `--accepted FILE` matched, and its stale entries.
    pub accepted: Option<crate::accepted::Applied>,
    /// Pod Security labels of the Namespaces in the input (prefix removed).
    pub namespace_labels: BTreeMap<String, Labels>,
    /// Namespaces whose labels the input lowers below `label_floor`: the
    /// floor's labels were used.
    pub lowered_namespaces: Vec<Lowered>,
}

/// Pod Security labels (prefix removed).
pub type Labels = BTreeMap<String, String>;

/// A Namespace whose labels the input lowers: `(namespace, floor, input)`.
pub type Lowered = (String, Labels, Labels);

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
    let mut files: Vec<Stream> = Vec::new();
    let mut rendered: Vec<&str> = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => files.push(Stream {
                name: STDIN_NAME.into(),
                target: STDIN_NAME.into(),
                source: StreamSource::Stdin,
                namespace: None,
            }),
            Input::Path { path, target } => {
                let mut found = Vec::new();
                expand(path, &mut found, &mut result.errors);
                for (name, path) in found {
                    files.push(Stream {
                        target: target.clone().unwrap_or_else(|| name.clone()),
                        name,
                        source: StreamSource::Disk(path),
                        namespace: None,
                    });
                }
            }
            Input::Rendered(r) => {
                files.push(Stream {
                    name: r.name.clone(),
                    target: r.target.clone(),
                    source: StreamSource::Rendered(rendered.len(), r.kustomize),
                    namespace: r.namespace.clone(),
                });
                rendered.push(&r.text);
            }
        }
    }
    result.stats.rendered = rendered.len();
    result.stats.files = files.len() - rendered.len();

    let mut batch: Vec<(usize, Chunk)> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut outcomes: Vec<Outcome> = Vec::new();
    // Standard input is read whole, once: reports show code frames from it.
    let mut stdin_bytes: Option<Vec<u8>> = None;
    if files
        .iter()
        .any(|f| matches!(f.source, StreamSource::Stdin))
    {
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
    // Namespaces anywhere in the input decide the admission context of
    // every pod spec: find them first (a byte search skips files without one).
    let mut scan_opts = opts.clone();
    if let Some(ctx) = &opts.admission {
        let mut ctx = (**ctx).clone();
        for stream in &files {
            let owned;
            let bytes: &[u8] = match &stream.source {
                StreamSource::Stdin => stdin_bytes.as_deref().unwrap_or_default(),
                StreamSource::Rendered(i, _) => rendered[*i].as_bytes(),
                StreamSource::Disk(p) => {
                    if !file_mentions_namespace(p) {
                        continue;
                    }
                    owned = std::fs::read(p).unwrap_or_default();
                    &owned
                }
            };
            if memchr::memmem::find(bytes, b"Namespace").is_none() {
                continue;
            }
            for chunk in Chunker::new(
                bytes,
                opts.limits.max_document_bytes,
                opts.limits.max_file_bytes,
            )
            .flatten()
            {
                let Ok(text) = chunk.text else { continue };
                if !text.contains("Namespace") {
                    continue;
                }
                for doc in parse_documents(&text, chunk.first_line, opts.limits).unwrap_or_default()
                {
                    for object in objects(&doc) {
                        if let Some((ns, labels)) = admission::namespace_labels(object.node) {
                            result.namespace_labels.insert(ns.clone(), labels.clone());
                            let floor = opts.label_floor.as_ref().and_then(|f| f.get(&ns));
                            match floor.filter(|f| admission::lowers(f, &labels)) {
                                Some(f) => {
                                    let source = format!(
                                        "Namespace {ns} as the base labels it (this change lowers its labels: pending review)"
                                    );
                                    result
                                        .lowered_namespaces
                                        .push((ns.clone(), f.clone(), labels));
                                    ctx.labels.insert(ns, (f.clone(), source));
                                }
                                None => {
                                    let source = format!("Namespace {ns} in {}", stream.target);
                                    ctx.labels.insert(ns, (labels, source));
                                }
                            }
                        }
                    }
                }
            }
        }
        scan_opts.admission = (!ctx.is_empty()).then(|| Arc::new(ctx));
    }
    let opts = &scan_opts;
    for (index, stream) in files.iter().enumerate() {
        let name = &stream.name;
        let reader: Box<dyn BufRead> = match &stream.source {
            StreamSource::Stdin => match &stdin_bytes {
                Some(bytes) => Box::new(bytes.as_slice()),
                None => continue,
            },
            StreamSource::Rendered(i, _) => Box::new(rendered[*i].as_bytes()),
            StreamSource::Disk(p) => match File::open(p) {
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
                        outcomes.extend(run_batch(std::mem::take(&mut batch), &files, opts));
                        batch_bytes = 0;
                    }
                }
                Err(e) => {
                    // Flush so the error lands after what was read before it.
                    outcomes.extend(run_batch(std::mem::take(&mut batch), &files, opts));
                    batch_bytes = 0;
                    outcomes.push(Outcome {
                        errors: vec![error(name, e.line, e.message)],
                        ..Outcome::default()
                    });
                }
            }
        }
    }
    outcomes.extend(run_batch(batch, &files, opts));
    result.stdin_text = stdin_bytes.and_then(|bytes| String::from_utf8(bytes).ok());
    merge(outcomes, &mut result);
    crate::suppress::apply_config(
        &mut result.findings,
        &opts.exemptions,
        &opts.exemptions_source,
        opts.today,
    );
    result
}

/// Whether a file contains `Namespace`, read in blocks (never whole).
fn file_mentions_namespace(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let finder = memchr::memmem::Finder::new(b"Namespace");
    let mut buf = vec![0u8; 1 << 20];
    let mut kept = 0usize;
    loop {
        let n = match f.read(&mut buf[kept..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let end = kept + n;
        if finder.find(&buf[..end]).is_some() {
            return true;
        }
        // Keep the tail, in case the word spans two blocks.
        let tail = end.min(8);
        buf.copy_within(end - tail..end, 0);
        kept = tail;
    }
}

fn error_at(path: &str, pos: crate::manifest::Pos, message: String) -> InputError {
    InputError {
        path: path.to_string(),
        line: Some(pos.line),
        column: Some(pos.column),
        message,
        target: None,
        rendered: None,
    }
}

fn error(path: &str, line: Option<u32>, message: String) -> InputError {
    InputError {
        path: path.to_string(),
        line,
        column: None,
        message,
        target: None,
        rendered: None,
    }
}

/// Files of a path: the file itself, or every `*.yaml` / `*.yml` below a
/// directory (sorted; hidden entries and symlinked directories skipped).
fn expand(path: &Path, files: &mut Vec<(String, PathBuf)>, errors: &mut Vec<InputError>) {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push(error(&name, None, format!("cannot read: {e}")));
            return;
        }
    };
    if !meta.is_dir() {
        files.push((name, path.to_path_buf()));
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
            files.push((entry.display().to_string(), entry));
        }
    }
}

fn run_batch(batch: Vec<(usize, Chunk)>, files: &[Stream], opts: &ScanOptions) -> Vec<Outcome> {
    batch
        .into_par_iter()
        .map(|(index, chunk)| process_chunk(&files[index], chunk, opts))
        .collect()
}

/// Annotations Kustomize adds on kpsa's request; read, then removed before
/// evaluation.
const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";
const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";

/// Helm's `# Source: chart/templates/x.yaml` comment at the top of a document.
fn helm_source(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with('#') || l.starts_with("---"))
        .find_map(|l| l.strip_prefix("# Source: "))
        .map(|s| s.trim().to_string())
}

/// Read Kustomize's origin annotations of an object.
fn kustomize_origin(object: &crate::manifest::Node) -> Origin {
    let annotation = |key: &str| {
        object
            .path(&["metadata", "annotations", key])
            .and_then(crate::manifest::Node::scalar_text)
            .and_then(|t| parse_documents(t, 1, Limits::default()).ok())
            .and_then(|d| d.into_iter().next())
    };
    let path = annotation(ORIGIN_ANNOTATION).and_then(|n| {
        n.get("path")
            .and_then(|p| p.scalar_text())
            .map(str::to_string)
    });
    let configured_in = annotation(TRANSFORMATIONS_ANNOTATION)
        .map(|n| {
            n.items()
                .iter()
                .filter_map(|t| {
                    t.get("configuredIn")
                        .and_then(|c| c.scalar_text())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    Origin {
        source: path,
        configured_in,
        ..Origin::default()
    }
}

/// Remove the origin annotations (and an annotations map left empty) from
/// an object and the items of a List.
fn strip_origin(node: &mut crate::manifest::Node) {
    use crate::manifest::Value;
    if let Value::Map(entries) = &mut node.value {
        for e in entries.iter_mut() {
            if e.key == "items" {
                if let Value::Seq(items) = &mut e.value.value {
                    items.iter_mut().for_each(strip_origin);
                }
            }
            if e.key == "metadata" {
                if let Value::Map(meta) = &mut e.value.value {
                    for m in meta.iter_mut() {
                        if m.key == "annotations" {
                            if let Value::Map(a) = &mut m.value.value {
                                a.retain(|x| {
                                    x.key != ORIGIN_ANNOTATION
                                        && x.key != TRANSFORMATIONS_ANNOTATION
                                });
                            }
                        }
                    }
                    meta.retain(|m| {
                        !(m.key == "annotations"
                            && matches!(&m.value.value, Value::Map(a) if a.is_empty()))
                    });
                }
            }
        }
    }
}

/// Parse, extract and evaluate one document chunk.
fn process_chunk(stream: &Stream, chunk: Chunk, opts: &ScanOptions) -> Outcome {
    let path = stream.name.as_str();
    let (is_rendered, is_kustomize) = match stream.source {
        StreamSource::Rendered(_, k) => (true, k),
        _ => (false, false),
    };
    let mut out = Outcome::default();
    let text = match chunk.text {
        Ok(text) => text,
        Err(e) => {
            out.errors.push(error_at(path, e.pos, e.message));
            return out;
        }
    };
    let source = if is_rendered && !is_kustomize {
        helm_source(&text)
    } else {
        None
    };
    let mut docs =
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
    let mut origins: Vec<Vec<Origin>> = Vec::new();
    if is_kustomize {
        for doc in &mut docs {
            origins.push(
                objects(doc)
                    .iter()
                    .map(|o| kustomize_origin(o.node))
                    .collect(),
            );
            strip_origin(doc);
        }
    }
    for (doc_index, doc) in docs.iter().enumerate() {
        out.documents += 1;
        for (object_index, object) in objects(doc).into_iter().enumerate() {
            let origin = is_rendered.then(|| {
                match origins.get(doc_index).and_then(|o| o.get(object_index)) {
                    Some(o) => o.clone(),
                    None => Origin {
                        source: source.clone(),
                        ..Origin::default()
                    },
                }
            });
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
                let mut err = error_at(
                    path,
                    e.mismatch.pos,
                    format!("{} {}: {}", r.display(), e.field, e.mismatch),
                );
                err.rendered = origin.as_ref().map(|o| {
                    Box::new(RenderedError {
                        target: stream.target.clone(),
                        object: r.clone(),
                        field: e.field.clone(),
                        origin: o.clone(),
                    })
                });
                out.errors.push(err);
            }
            let baseline = evaluation.verdict(PssLevel::Baseline);
            let restricted = evaluation.verdict(PssLevel::Restricted);
            // An object's namespace: its own, else the renderer's, else `default`.
            let namespace = r
                .namespace
                .clone()
                .or_else(|| stream.namespace.clone())
                .unwrap_or_else(|| "default".into());
            let rule = crate::suppress::annotation_rule(object.node, view.metadata, || r.display());
            // A misspelt check id would suppress nothing without a word.
            for (_, check) in rule.iter().flat_map(|rule| &rule.entries) {
                if crate::policy::registry::find(check).is_some() {
                    continue;
                }
                let in_template = view
                    .metadata
                    .and_then(|m| m.path(&["annotations", crate::suppress::IGNORE]));
                let (node, field) = match in_template {
                    Some(n) => (Some(n), format!("{}metadata.annotations", view.prefix)),
                    None => (
                        object
                            .node
                            .path(&["metadata", "annotations", crate::suppress::IGNORE]),
                        "metadata.annotations".to_string(),
                    ),
                };
                let pos = node.map_or(view.object_pos, |n| n.pos);
                let mut err = error_at(
                    path,
                    pos,
                    format!(
                        "{} on {}: {check:?} is not a check, so it suppresses nothing{}; the checks are listed by `kpsa checks`",
                        crate::suppress::IGNORE,
                        r.display(),
                        crate::policy::registry::closest(check)
                            .map(|c| format!(" (did you mean {c:?}?)"))
                            .unwrap_or_default()
                    ),
                );
                err.rendered = origin.as_ref().map(|o| {
                    Box::new(RenderedError {
                        target: stream.target.clone(),
                        object: r.clone(),
                        field,
                        origin: o.clone(),
                    })
                });
                out.errors.push(err);
            }
            let assessed = opts
                .admission
                .as_ref()
                .and_then(|a| admission::assess(a, &namespace, &view, &evaluation, &ctx));
            let at = |pos: crate::manifest::Pos| Location {
                path: path.into(),
                line: pos.line,
                column: pos.column,
            };
            let rendered_at = |pos: crate::manifest::Pos| {
                is_rendered.then_some(Position {
                    line: pos.line,
                    column: pos.column,
                })
            };
            out.workloads.push(Workload {
                target: stream.target.clone(),
                object: r.clone(),
                location: at(view.object_pos),
                rendered: rendered_at(view.object_pos),
                origin: origin.clone().map(Box::new),
                template: view.prefix.trim_end_matches('.').to_string(),
                level: PssLevel::met(&baseline, &restricted),
                baseline: baseline.admission_message(PssLevel::Baseline, &opts.version_label),
                restricted: restricted.admission_message(PssLevel::Restricted, &opts.version_label),
                admission: assessed.as_ref().map(|a| Box::new(a.outcome(None))),
            });
            for v in evaluation.violations(opts.tier) {
                let field = format!("{}{}", view.prefix, v.field);
                let origin = origin.clone().map(|mut o| {
                    // Only Kustomize's JSON6902 patches are matched by position.
                    if is_kustomize {
                        o.pointer = crate::manifest::field::pointer(
                            object.node,
                            &crate::manifest::field::parse(&field),
                        );
                    }
                    Box::new(o)
                });
                let mut finding = Finding {
                    check: v.check,
                    tier: v.tier,
                    severity: v.tier.severity(),
                    target: stream.target.clone(),
                    object: r.clone(),
                    container: container_of(&v.subject),
                    field,
                    message: v.message,
                    location: at(v.pos),
                    rendered: rendered_at(v.pos),
                    origin,
                    admission: assessed
                        .as_ref()
                        .map(|a| Box::new(a.outcome(Some(v.check)))),
                    suppression: None,
                    accepted: false,
                    namespace: namespace.clone(),
                    fingerprint: String::new(),
                    values: v.values,
                    unless_service_account: v.unless_service_account,
                };
                finding.suppression = rule
                    .as_ref()
                    .and_then(|x| x.apply(&finding, opts.today))
                    .map(Box::new);
                out.findings.push(finding);
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
