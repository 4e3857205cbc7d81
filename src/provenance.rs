//! Provenance: move each rendered finding to the file and line of the
//! repository a person can open.
//!
//! - Helm: the `# Source: chart/templates/x.yaml` path is mapped to the
//!   template in the chart directory (subcharts through `charts/` or their
//!   `file://` dependency directory). In the template, the line that writes
//!   the field is found by its keys and indentation (templates are not YAML,
//!   so this is a careful text match: the key chain must agree with the
//!   field path, and a literal `- name: x` must agree with the container).
//!   A field that comes from `toYaml` of a values block lands on the line
//!   that writes its nearest literal parent; a field with no literal parent
//!   lands on the object's first line. A subchart from a remote `.tgz` has no
//!   file in the repository: its findings land on its `dependencies` entry in
//!   `Chart.yaml`.
//! - Kustomize: the origin annotation names the resource file; the
//!   transformer annotation names the kustomizations whose patches changed
//!   the object. Their patches (strategic-merge and JSON6902, in files or
//!   inline) are searched, last applied first, for the field; then the
//!   resource file. The deepest match wins; an exact match in a patch is
//!   the line that set the field.
//! - Plain manifests are exact already.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::finding::{Finding, Location, Origin, Workload};
use crate::manifest::field::{self, Seg};
use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, Node, Pos, Value};
use crate::plan::{Chart, kustomization_file, normalize, read_chart, relative};
use crate::render::Producer;
use crate::scan::InputError;

/// A place found in a source file: how many steps of the field path it
/// covers, and whether it is the field itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    pos: Pos,
    depth: usize,
    exact: bool,
}

/// Source files, read once; only files of the repository are opened,
/// whatever paths the input's annotations name.
struct Files {
    root: PathBuf,
    text: HashMap<PathBuf, Option<String>>,
    /// Helm templates with their comments blanked, once per file.
    templates: HashMap<PathBuf, Option<String>>,
    /// Parsed YAML, by file and the line a (possibly inline) body starts at.
    yaml: HashMap<(PathBuf, u32), Rc<Vec<Node>>>,
}

impl Files {
    fn new(root: &Path) -> Files {
        Files {
            root: root.to_path_buf(),
            text: HashMap::new(),
            templates: HashMap::new(),
            yaml: HashMap::new(),
        }
    }

    fn get(&mut self, path: &Path) -> Option<&str> {
        self.text
            .entry(path.to_path_buf())
            .or_insert_with(|| crate::plan::read_inside(&self.root, path))
            .as_deref()
    }

    /// A Helm template with its comments blanked ([`blank_template_comments`]).
    fn template(&mut self, path: &Path) -> Option<&str> {
        if !self.templates.contains_key(path) {
            let blanked = self.get(path).map(blank_template_comments);
            self.templates.insert(path.to_path_buf(), blanked);
        }
        self.templates[path].as_deref()
    }

    /// The documents of `body` (a file, or an inline patch of it starting
    /// at line `at`), parsed once per run; none if it does not parse.
    fn docs(&mut self, path: &Path, at: u32, body: &str) -> Rc<Vec<Node>> {
        self.yaml
            .entry((path.to_path_buf(), at))
            .or_insert_with(|| {
                Rc::new(parse_documents(body, 1, Limits::default()).unwrap_or_default())
            })
            .clone()
    }
}

/// Rewrite the locations of rendered findings and workloads to source files.
pub fn locate(
    findings: &mut [Finding],
    workloads: &mut [Workload],
    producers: &HashMap<String, Producer>,
    root: &Path,
) {
    let mut files = Files::new(root);
    for f in findings.iter_mut() {
        let (Some(origin), Some(producer)) = (&f.origin, producers.get(&f.target)) else {
            continue;
        };
        let segs = field::parse(&f.field);
        if let Some(loc) = place(
            producer,
            origin,
            &f.object.kind,
            &f.object.name,
            &segs,
            root,
            &mut files,
        ) {
            f.location = loc;
        }
    }
    for w in workloads.iter_mut() {
        let (Some(origin), Some(producer)) = (&w.origin, producers.get(&w.target)) else {
            continue;
        };
        if let Some(loc) = place(
            producer,
            origin,
            &w.object.kind,
            &w.object.name,
            &[],
            root,
            &mut files,
        ) {
            w.location = loc;
        }
    }
}

/// Move errors in fields of rendered objects to the source line; the
/// message keeps the position in the rendered output.
pub fn locate_errors(
    errors: &mut [InputError],
    producers: &HashMap<String, Producer>,
    root: &Path,
) {
    let mut files = Files::new(root);
    for e in errors.iter_mut() {
        let Some(r) = &e.rendered else { continue };
        let Some(producer) = producers.get(&r.target) else {
            continue;
        };
        let segs = field::parse(&r.field);
        if let Some(loc) = place(
            producer,
            &r.origin,
            &r.object.kind,
            &r.object.name,
            &segs,
            root,
            &mut files,
        ) {
            if let Some(line) = e.line {
                e.message.push_str(&format!(
                    " (target {}, line {line} of its rendered output)",
                    r.target
                ));
            }
            e.path = loc.path;
            e.line = Some(loc.line);
            e.column = Some(loc.column);
        }
    }
}

fn place(
    producer: &Producer,
    origin: &Origin,
    kind: &str,
    name: &str,
    segs: &[Seg],
    root: &Path,
    files: &mut Files,
) -> Option<Location> {
    let at = |path: &Path, pos: Pos| Location {
        path: relative(root, path),
        line: pos.line,
        column: pos.column,
    };
    match producer {
        Producer::Helm { chart } => match resolve_helm(chart, origin.source.as_deref()?) {
            HelmSource::File(path) => {
                let text = files.template(&path)?;
                let pos = find_in_template(text, kind, segs)
                    .map(|h| h.pos)
                    .or_else(|| first_literal_line(text, kind))
                    .or_else(|| output_action(text))
                    .unwrap_or(Pos { line: 1, column: 1 });
                Some(at(&path, pos))
            }
            HelmSource::Dependency(chart_yaml, line) => {
                Some(at(&chart_yaml, Pos { line, column: 1 }))
            }
        },
        Producer::Kustomize { wrapper } => {
            let resource = normalize(&wrapper.join(origin.source.as_deref()?));
            let mut best: Option<(PathBuf, Hit)> = None;
            let mut consider = |path: PathBuf, hit: Hit| {
                let better = match &best {
                    None => true,
                    Some((_, b)) => (hit.exact, hit.depth) > (b.exact, b.depth),
                };
                if better {
                    best = Some((path, hit));
                }
            };
            if !segs.is_empty() {
                for k in origin.configured_in.iter().rev() {
                    let kfile = normalize(&wrapper.join(k));
                    let pointer: Vec<&str> = origin.pointer.split('/').skip(1).collect();
                    for (path, hit) in search_patches(&kfile, kind, name, segs, &pointer, files) {
                        consider(path, hit);
                    }
                }
            }
            let text = files.get(&resource)?.to_string();
            if let Some(hit) = find_in_yaml(&files.docs(&resource, 0, &text), kind, name, segs) {
                consider(resource.clone(), hit);
            }
            match best {
                Some((path, hit)) => Some(at(&path, hit.pos)),
                None => Some(at(&resource, first_line(&text, kind))),
            }
        }
    }
}

enum HelmSource {
    File(PathBuf),
    /// A subchart with no directory in the repository: `Chart.yaml` and the
    /// line of its dependency entry.
    Dependency(PathBuf, u32),
}

/// Map `web/charts/redis/templates/sts.yaml` to a file of the repository.
fn resolve_helm(chart: &Chart, source: &str) -> HelmSource {
    let mut chart = chart.clone();
    let mut rest = match source.strip_prefix(&format!("{}/", chart.name)) {
        Some(r) => r.to_string(),
        None => source.to_string(),
    };
    while let Some(after) = rest.strip_prefix("charts/") {
        let (sub, tail) = after.split_once('/').unwrap_or((after, ""));
        let in_charts = chart.dir.join("charts").join(sub);
        let next = if in_charts.join("Chart.yaml").is_file() {
            read_chart(&in_charts).ok()
        } else {
            let dep = chart
                .dependencies
                .iter()
                .find(|d| d.alias.as_deref().unwrap_or(&d.name) == sub || d.name == sub);
            match dep {
                Some(d) => match d.local_dir(&chart.dir) {
                    Some(dir) => read_chart(&dir).ok(),
                    // Vendored in `charts/` under its name, rendered under
                    // its alias.
                    None => match vendored(&chart.dir, &d.name) {
                        Some(c) => Some(c),
                        None => {
                            return HelmSource::Dependency(chart.dir.join("Chart.yaml"), d.line);
                        }
                    },
                },
                None => None,
            }
        };
        match next {
            Some(c) => {
                chart = c;
                rest = tail.to_string();
            }
            None => return HelmSource::Dependency(chart.dir.join("Chart.yaml"), 1),
        }
    }
    HelmSource::File(chart.dir.join(rest))
}

/// The chart directory in `dir/charts/` whose `Chart.yaml` names `name`.
fn vendored(dir: &Path, name: &str) -> Option<Chart> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir.join("charts"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .find_map(|p| read_chart(&p).ok().filter(|c| c.name == name))
}

/// A template with its comments (`{{/* … */}}`, `{{- /* … */ -}}`, over any
/// number of lines) blanked out: every character but newlines becomes a
/// space, so line and column numbers stay, and no line inside a licence
/// header can be taken for the one that writes a field.
pub fn blank_template_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let open = ["{{/*", "{{- /*"].iter().filter_map(|o| rest.find(o)).min();
        let Some(start) = open else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let close = ["*/}}", "*/ -}}"]
            .iter()
            .filter_map(|c| after.find(c).map(|i| i + c.len()))
            .min()
            .unwrap_or(after.len());
        out.extend(
            after[..close]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &after[close..];
    }
}

/// A template whose object has no literal line (`{{ toYaml . }}` of a
/// values entry, `{{ include … }}`): the first action that writes output,
/// not a control (`if`, `range`, `with`, `end`, `else`, `define`) or an
/// assignment.
fn output_action(text: &str) -> Option<Pos> {
    text.lines().enumerate().find_map(|(i, l)| {
        let t = l.trim_start();
        let inner = t.strip_prefix("{{")?.trim_start_matches('-').trim_start();
        let control = [
            "if ",
            "else",
            "end",
            "range ",
            "with ",
            "define ",
            "block ",
            "template ",
        ]
        .iter()
        .any(|k| inner.starts_with(k))
            || inner.starts_with('$')
            || inner.starts_with("/*");
        (!control).then(|| Pos {
            line: i as u32 + 1,
            column: (l.len() - t.len()) as u32 + 1,
        })
    })
}

/// The first line of the object in a source file: the first line of the
/// document that names its kind, else of the file.
fn first_line(text: &str, kind: &str) -> Pos {
    first_literal_line(text, kind).unwrap_or(Pos { line: 1, column: 1 })
}

/// The first literal line (not a comment, action or separator) of the
/// document that names the kind, else of the first document.
fn first_literal_line(text: &str, kind: &str) -> Option<Pos> {
    let docs = documents(text);
    let doc = docs
        .iter()
        .find(|d| names_kind(text, d, kind))
        .or(docs.first());
    let line = doc.and_then(|d| {
        text.lines()
            .enumerate()
            .skip(d.0)
            .take(d.1 - d.0)
            .find(|(_, l)| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#') && !t.starts_with("{{") && t != "---"
            })
            .map(|(i, _)| i as u32 + 1)
    })?;
    Some(Pos { line, column: 1 })
}

/// Line ranges `[start, end)` (0-based) of the documents of a file.
fn documents(text: &str) -> Vec<(usize, usize)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        n = i + 1;
        if line.starts_with("---") {
            if i > start {
                docs.push((start, i));
            }
            start = i + 1;
        }
    }
    if n > start {
        docs.push((start, n));
    }
    docs
}

fn names_kind(text: &str, doc: &(usize, usize), kind: &str) -> bool {
    text.lines()
        .skip(doc.0)
        .take(doc.1 - doc.0)
        .any(|l| l.trim_end() == format!("kind: {kind}"))
}

/// A key line of a template, with the chain of keys and list items above it.
#[derive(Debug, Clone)]
enum Label {
    Key(String),
    /// A list item; `Some((key, value))` when a literal `key: value` of the
    /// item (its `name`) is known.
    Item(Option<(String, String)>),
}

/// Find the line of a template that writes the field, or its deepest
/// literal parent.
fn find_in_template(text: &str, kind: &str, segs: &[Seg]) -> Option<Hit> {
    let docs = documents(text);
    let candidates: Vec<&(usize, usize)> =
        docs.iter().filter(|d| names_kind(text, d, kind)).collect();
    let ranges: Vec<(usize, usize)> = if candidates.is_empty() {
        docs.clone()
    } else {
        candidates.into_iter().copied().collect()
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut keyed: Vec<(usize, usize, Vec<Label>)> = Vec::new(); // (line, column, chain)
    for (start, end) in ranges {
        let mut stack: Vec<(usize, Label)> = Vec::new();
        for (i, raw) in lines.iter().enumerate().take(end).skip(start) {
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            let mut rest = &raw[indent..];
            if rest.is_empty() || rest.starts_with('#') || rest.starts_with("{{") {
                continue;
            }
            let mut col = indent;
            while let Some(r) = rest.strip_prefix("- ") {
                while stack.last().is_some_and(|(d, _)| *d > 2 * col) {
                    stack.pop();
                }
                stack.push((2 * col + 1, Label::Item(None)));
                let skipped = r.len() - r.trim_start_matches(' ').len();
                col += 2 + skipped;
                rest = &r[skipped..];
            }
            let Some((key, value)) = split_key(rest) else {
                continue;
            };
            while stack.last().is_some_and(|(d, _)| *d >= 2 * col) {
                stack.pop();
            }
            if key == "name" {
                if let Some((d, Label::Item(None))) = stack.last_mut() {
                    if *d + 1 == 2 * col || *d < 2 * col {
                        let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
                        if !v.is_empty() && !v.contains("{{") {
                            stack.last_mut().expect("checked").1 =
                                Label::Item(Some(("name".into(), v.to_string())));
                        }
                    }
                }
            }
            stack.push((2 * col, Label::Key(key.to_string())));
            keyed.push((i, col, stack.iter().map(|(_, l)| l.clone()).collect()));
        }
    }
    // The field itself, else its deepest literal parent.
    let mut path: Vec<Seg> = segs.to_vec();
    while !path.is_empty() {
        let target: Vec<Seg> = match path.last() {
            Some(Seg::Key(_)) => path.clone(),
            // An item: look for its `name:` line.
            Some(_) => {
                let mut p = path.clone();
                p.push(Seg::Key("name".into()));
                p
            }
            None => break,
        };
        let need = target.len().min(2);
        let best = keyed
            .iter()
            .filter_map(|(line, col, chain)| chain_score(chain, &target).map(|s| (s, *line, *col)))
            .filter(|(s, _, _)| *s >= need)
            .max_by_key(|(s, line, _)| (*s, std::cmp::Reverse(*line)));
        if let Some((_, line, col)) = best {
            return Some(Hit {
                pos: Pos {
                    line: line as u32 + 1,
                    column: col as u32 + 1,
                },
                depth: path.len(),
                exact: path.len() == segs.len(),
            });
        }
        path.pop();
    }
    None
}

/// `key: value` at the start of a line; the key must be a plain word.
fn split_key(rest: &str) -> Option<(&str, &str)> {
    let (key, value) = rest.split_once(':')?;
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return None;
    }
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    Some((key, value))
}

/// How many steps of `path`, from its end, the chain agrees with; None when
/// the leaf differs or a literal item name contradicts the path.
fn chain_score(chain: &[Label], path: &[Seg]) -> Option<usize> {
    let mut score = 0;
    let (mut i, mut j) = (path.len(), chain.len());
    while i > 0 && j > 0 {
        match (&path[i - 1], &chain[j - 1]) {
            (Seg::Key(a), Label::Key(b)) if a == b => score += 1,
            (Seg::Named(k, v), Label::Item(Some((k2, v2)))) => {
                if k == k2 && v != v2 {
                    return None;
                }
                score += 1;
            }
            (Seg::Named(..) | Seg::Index(_), Label::Item(_)) => {}
            _ => break,
        }
        i -= 1;
        j -= 1;
    }
    if score == 0 { None } else { Some(score) }
}

/// Find the field (or its deepest parent) in the document of a YAML source
/// file that holds the object (matched by kind, and by name allowing a
/// prefix or suffix that Kustomize added).
fn find_in_yaml(docs: &[Node], kind: &str, name: &str, segs: &[Seg]) -> Option<Hit> {
    docs.iter()
        .filter(|d| same_object(d, kind, name))
        .map(|d| {
            let (node, depth) = field::deepest(d, segs);
            Hit {
                pos: node.pos,
                depth,
                exact: depth == segs.len(),
            }
        })
        .max_by_key(|h| h.depth)
}

fn same_object(doc: &Node, kind: &str, name: &str) -> bool {
    let doc_kind = doc.get("kind").and_then(Node::scalar_text);
    let doc_name = doc.path(&["metadata", "name"]).and_then(Node::scalar_text);
    doc_kind == Some(kind) && doc_name.is_some_and(|n| !n.is_empty() && name.contains(n))
}

/// Search the patches a kustomization applies for the field.
fn search_patches(
    kfile: &Path,
    kind: &str,
    name: &str,
    segs: &[Seg],
    pointer: &[&str],
    files: &mut Files,
) -> Vec<(PathBuf, Hit)> {
    let mut hits = Vec::new();
    let Some(kfile) = (if kfile.is_dir() {
        kustomization_file(kfile)
    } else {
        Some(kfile.to_path_buf())
    }) else {
        return hits;
    };
    let Some(text) = files.get(&kfile).map(str::to_string) else {
        return hits;
    };
    let docs = files.docs(&kfile, 0, &text);
    let Some(k) = docs.first() else {
        return hits;
    };
    let dir = kfile.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut patches: Vec<(&Node, Option<&Node>)> = Vec::new(); // (path-or-inline node, target)
    for key in ["patches", "patchesJson6902"] {
        for item in k.get(key).map(Node::items).unwrap_or_default() {
            if let Some(p) = item.get("path").or_else(|| item.get("patch")) {
                patches.push((p, item.get("target")));
            }
        }
    }
    for item in k
        .get("patchesStrategicMerge")
        .map(Node::items)
        .unwrap_or_default()
    {
        patches.push((item, None));
    }
    for (p, target) in patches.into_iter().rev() {
        if let Some(t) = target {
            let tk = t.get("kind").and_then(Node::scalar_text);
            let tn = t.get("name").and_then(Node::scalar_text);
            if tk.is_some_and(|x| x != kind) || tn.is_some_and(|x| !name.contains(x)) {
                continue;
            }
        }
        let Some(value) = p.scalar_text() else {
            continue;
        };
        let inline =
            value.contains('\n') || value.trim_start().starts_with("- op") || value.contains(": ");
        let (file, body, offset) = if inline {
            // A block scalar starts on the line after its key.
            let block = text
                .lines()
                .nth(p.pos.line as usize - 1)
                .is_some_and(|l| l.trim_end().ends_with(['|', '>', '-']));
            (
                kfile.clone(),
                value.to_string(),
                p.pos.line - 1 + u32::from(block),
            )
        } else {
            let path = normalize(&dir.join(value));
            match files.get(&path) {
                Some(t) => (path, t.to_string(), 0),
                None => continue,
            }
        };
        let shift = |mut h: Hit| {
            h.pos.line += offset;
            h
        };
        let docs = files.docs(&file, offset, &body);
        if let Some(h) = json6902(&docs, segs, pointer, target.is_some()) {
            hits.push((file, shift(h)));
        } else if let Some(h) = find_in_yaml(&docs, kind, name, segs) {
            // Also a partial match: a patch that adds the container is a
            // better place for its missing fields than the base.
            hits.push((file, shift(h)));
        } else if target.is_some() {
            // A strategic-merge patch selected by target may omit or change the name.
            if let Some(h) = docs
                .iter()
                .filter(|d| d.is_map())
                .map(|d| field::deepest(d, segs))
                .filter(|(_, depth)| *depth == segs.len())
                .map(|(n, depth)| Hit {
                    pos: n.pos,
                    depth,
                    exact: true,
                })
                .next()
            {
                hits.push((file, shift(h)));
            }
        }
    }
    hits
}

/// A JSON6902 operation that writes the field (or a part of it). List
/// positions in the operation's path must be the item's position in the
/// rendered object (`pointer`), or `-`.
fn json6902(docs: &[Node], segs: &[Seg], pointer: &[&str], targeted: bool) -> Option<Hit> {
    if !targeted {
        return None;
    }
    let ops = docs.first()?;
    let Value::Seq(ops) = &ops.value else {
        return None;
    };
    let mut best: Option<Hit> = None;
    for op in ops {
        let Some(path) = op.get("path").and_then(Node::scalar_text) else {
            continue;
        };
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        let mut matched = 0;
        let mut ok = true;
        for (i, (part, seg)) in parts.iter().zip(segs).enumerate() {
            let agrees = match seg {
                Seg::Key(k) => part == k,
                Seg::Named(..) | Seg::Index(_) => match pointer.get(i) {
                    Some(index) => *part == "-" || part == index,
                    None => *part == "-" || part.parse::<usize>().is_ok(),
                },
            };
            if !agrees {
                ok = false;
                break;
            }
            matched += 1;
        }
        if !ok {
            continue;
        }
        let value = op.get("value");
        let hit = if parts.len() >= segs.len() {
            Hit {
                pos: value.map_or(op.pos, |v| v.pos),
                depth: segs.len(),
                exact: true,
            }
        } else {
            match value {
                Some(v) => {
                    let (node, depth) = field::deepest(v, &segs[matched..]);
                    Hit {
                        pos: node.pos,
                        depth: matched + depth,
                        exact: matched + depth == segs.len(),
                    }
                }
                None => continue,
            }
        };
        if best.is_none_or(|b| (hit.exact, hit.depth) > (b.exact, b.depth)) {
            best = Some(hit);
        }
    }
    best
}

/// The repository file and line of a Helm error, in the layouts Helm 3 and
/// 4 print: `execution error at (web/templates/secret.yaml:4:11): …`,
/// `parse error at (web/templates/x.yaml:7): …`, Helm 3's `template:
/// web/templates/x.yaml:1:13: executing …` and Helm 4's `Error:
/// web/templates/x.yaml:1:13` followed by the `executing …` lines.
pub fn helm_error_location(chart: &Chart, message: &str, root: &Path) -> Option<Location> {
    let prefix = format!("{}/", chart.name);
    for (i, _) in message.match_indices(&prefix) {
        let before = message[..i].chars().next_back();
        if !matches!(before, None | Some('(' | ' ' | '\n' | '\t')) {
            continue;
        }
        let rest = &message[i..];
        let end = rest
            .find(|c: char| c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        let mut parts = rest[..end].trim_end_matches(':').split(':');
        let source = parts.next().unwrap_or_default();
        let Some(line) = parts.next().and_then(|l| l.parse::<u32>().ok()) else {
            continue;
        };
        let column: u32 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
        if let HelmSource::File(path) = resolve_helm(chart, source) {
            if path.is_file() {
                return Some(Location {
                    path: relative(root, &path),
                    line,
                    column,
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
spec:
  template:
    spec:
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: app
          image: "{{ .Values.image.repository }}"
          securityContext:
            privileged: {{ .Values.privileged }}
        - name: sidecar
          securityContext:
            privileged: true
"#;

    #[test]
    fn comments_are_blanked_keeping_lines_and_columns() {
        let t = "{{- /*\nheader\n*/}}\nkind: Pod {{/* x */}}y\n{{- /* a */ -}}\n";
        let b = blank_template_comments(t);
        assert_eq!(b.lines().count(), t.lines().count());
        assert_eq!(b.lines().nth(1), Some("      "));
        let third = format!("kind: Pod {}y", " ".repeat("{{/* x */}}".len()));
        assert_eq!(b.lines().nth(3), Some(third.as_str()));
        assert_eq!(b.lines().nth(4).map(str::trim), Some(""));
        // An unclosed comment blanks to the end, never past it.
        assert_eq!(
            blank_template_comments("a\n{{/* open\nb"),
            format!("a\n{}\n ", " ".repeat("{{/* open".len()))
        );
        // The first action that writes output, past controls.
        let p = output_action("{{- range .Values.x }}\n---\n  {{ toYaml . }}\n{{- end }}\n");
        assert_eq!(p.map(|p| (p.line, p.column)), Some((3, 3)));
    }

    #[test]
    fn template_lines() {
        let find = |f: &str| {
            find_in_template(TEMPLATE, "Deployment", &field::parse(f))
                .map(|h| (h.pos.line, h.exact))
        };
        assert_eq!(
            find("spec.template.spec.containers[name=app].securityContext.privileged"),
            Some((16, true))
        );
        assert_eq!(
            find("spec.template.spec.containers[name=sidecar].securityContext.privileged"),
            Some((19, true))
        );
        // From toYaml: the nearest literal parent.
        assert_eq!(
            find("spec.template.spec.securityContext.runAsNonRoot"),
            Some((9, false))
        );
        // A container that is not literal in the template: its list.
        assert_eq!(
            find("spec.template.spec.containers[name=other].securityContext.privileged"),
            Some((12, false))
        );
        assert_eq!(first_line(TEMPLATE, "Deployment").line, 1);
    }

    fn yaml(text: &str) -> Vec<Node> {
        parse_documents(text, 1, Limits::default()).unwrap()
    }

    #[test]
    fn yaml_patch_lines() {
        let patch = "- op: add\n  path: /spec/template/spec/hostPID\n  value: true\n";
        let hit = json6902(
            &yaml(patch),
            &field::parse("spec.template.spec.hostPID"),
            &[],
            true,
        )
        .unwrap();
        assert_eq!((hit.pos.line, hit.exact), (3, true));
        // The operation's list position must be the container's.
        let patch = "- op: add\n  path: /spec/containers/1/securityContext\n  value:\n    privileged: true\n";
        let segs = field::parse("spec.containers[name=b].securityContext.privileged");
        let patch = yaml(patch);
        let hit = json6902(
            &patch,
            &segs,
            &["spec", "containers", "1", "securityContext", "privileged"],
            true,
        )
        .unwrap();
        assert_eq!((hit.pos.line, hit.exact), (4, true));
        assert_eq!(
            json6902(
                &patch,
                &segs,
                &["spec", "containers", "0", "securityContext", "privileged"],
                true
            ),
            None
        );
        let smp = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        securityContext:\n          privileged: true\n";
        let hit = find_in_yaml(
            &yaml(smp),
            "Deployment",
            "prod-api",
            &field::parse("spec.template.spec.containers[name=api].securityContext.privileged"),
        )
        .unwrap();
        assert_eq!((hit.pos.line, hit.exact), (11, true));
    }
}
