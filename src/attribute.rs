//! Attribution: the changed line (head side) that most plausibly introduced
//! a new finding. Method and limits: `docs/attribution.md`.
//!
//! 1. The finding's own location, when that line was added or modified
//!    (a template line, a patch line, a manifest line).
//! 2. For a Helm target, a changed key of one of its values files whose
//!    value reaches the field: the template around the finding's location
//!    is searched for `.Values.x.y` references — on the location line, in
//!    the lines nested under it (`{{ toYaml .Values.securityContext |
//!    nindent 12 }}`), and in the `if` / `with` / `range` blocks that
//!    enclose it — and a changed key matches a reference when it is the
//!    reference, lies below it with a path that ends like the field
//!    (`containerSecurityContext.privileged` for `…securityContext.privileged`),
//!    or, for an enclosing condition, is the condition or lies above it.
//!    Later values files (higher precedence) win.
//! 3. For a Kustomize target, a changed line of one of its kustomizations
//!    that names the file holding the location (`- path: privileged.yaml`).
//!
//! An attributed location is always an added or modified line of the diff.

use std::collections::BTreeSet;
use std::path::Path;

use crate::diff::Attributed;
use crate::finding::Finding;
use crate::git::Changes;
use crate::manifest::yaml::parse_documents;
use crate::manifest::{Limits, Node, Value};
use crate::plan::{KUSTOMIZATION_FILES, Source, Target, relative};

/// The 1-based column of a line's first non-blank character.
fn first_column(line: &str) -> u32 {
    (line.chars().take_while(|c| c.is_whitespace()).count() + 1) as u32
}

/// Attribute a new finding of `target` (head side, files under `root`).
pub fn attribute(
    f: &Finding,
    target: Option<&Target>,
    changes: &Changes,
    root: &Path,
) -> Option<Attributed> {
    let loc = &f.location;
    if changes
        .added
        .get(&loc.path)
        .is_some_and(|l| l.contains(&loc.line))
    {
        return Some(Attributed {
            path: loc.path.clone(),
            line: loc.line,
            column: loc.column.max(1),
            via: "location",
        });
    }
    match &target?.source {
        Source::Helm(h) => {
            let mut values: Vec<String> = vec![relative(root, &h.chart.dir.join("values.yaml"))];
            values.extend(h.spec.values.iter().map(|v| relative(root, v)));
            let template = crate::provenance::blank_template_comments(&crate::plan::read_inside(
                root,
                Path::new(&loc.path),
            )?);
            let refs = references(&template, loc.line);
            values.iter().rev().find_map(|file| {
                let lines = changes.added.get(file)?;
                let text = crate::plan::read_inside(root, Path::new(file))?;
                let keys = changed_keys(&text, lines);
                best_key(&keys, &refs, &f.field).map(|line| Attributed {
                    path: file.clone(),
                    line,
                    column: first_column(text.lines().nth(line as usize - 1).unwrap_or("")),
                    via: "values",
                })
            })
        }
        Source::Kustomize { .. } => {
            let name = Path::new(&loc.path)
                .file_name()?
                .to_string_lossy()
                .into_owned();
            let target = target?;
            target.inputs.iter().find_map(|input| {
                let rel = relative(root, input);
                let file = KUSTOMIZATION_FILES
                    .iter()
                    .map(|k| {
                        if rel == "." {
                            k.to_string()
                        } else {
                            format!("{rel}/{k}")
                        }
                    })
                    .find(|k| changes.added.contains_key(k))?;
                let text = crate::plan::read_inside(root, Path::new(&file))?;
                let lines = &changes.added[&file];
                text.lines()
                    .enumerate()
                    .find(|(i, l)| lines.contains(&(*i as u32 + 1)) && l.contains(&name))
                    .map(|(i, l)| Attributed {
                        path: file.clone(),
                        line: i as u32 + 1,
                        column: first_column(l),
                        via: "kustomization",
                    })
            })
        }
        Source::Manifests { .. } | Source::Stdin => None,
    }
}

/// `.Values` references that can reach a field at `line` of a template:
/// `(path, enclosing)`; `enclosing` marks those of `if`/`with`/`range`
/// blocks around the line.
fn references(template: &str, line: u32) -> Vec<(String, bool)> {
    let lines: Vec<&str> = template.lines().collect();
    let at = (line as usize).saturating_sub(1);
    let Some(first) = lines.get(at) else {
        return Vec::new();
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out: Vec<(String, bool)> = values_refs(first).into_iter().map(|r| (r, false)).collect();
    // Lines nested under the location line.
    for l in lines.iter().skip(at + 1) {
        if l.trim().is_empty() {
            continue;
        }
        if indent(l) <= indent(first) && !l.trim_start().starts_with("{{") {
            break;
        }
        if indent(l) <= indent(first) && is_control(l).is_some() {
            break;
        }
        out.extend(values_refs(l).into_iter().map(|r| (r, false)));
    }
    // Blocks that enclose it, walking up: `end` opens a level to skip.
    let mut depth = 0usize;
    // A `---` does not stop the walk: a `range` that emits one document per
    // item encloses the separator too, and blocks closed above are skipped
    // by counting their `end`s.
    for l in lines[..at].iter().rev() {
        match is_control(l) {
            Some("end") => depth += 1,
            Some("else") => {}
            Some(_) if depth > 0 => depth -= 1,
            Some(kind) => {
                let refs = values_refs(l);
                // `with .Values.x` makes `.` mean x inside it, and `range
                // .Values.x` each item of x: a direct source.
                let direct = kind == "with" || kind == "range";
                out.extend(refs.into_iter().map(|r| (r, !direct)));
            }
            None => {}
        }
    }
    out
}

/// The control keyword of a template line (`if`, `with`, `range`, `end`,
/// `else`), if it is one.
fn is_control(line: &str) -> Option<&'static str> {
    let t = line.trim_start();
    let inner = t.strip_prefix("{{")?.trim_start_matches('-').trim_start();
    ["if", "with", "range", "end", "else"]
        .into_iter()
        .find(|k| inner.starts_with(k) && inner[k.len()..].starts_with([' ', '}', '-']))
}

/// `.Values.a.b` references in a line, as `a.b`.
fn values_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(".Values.") {
        let tail = &rest[i + 8..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .unwrap_or(tail.len());
        let r = tail[..end].trim_end_matches('.');
        if !r.is_empty() {
            out.push(r.to_string());
        }
        rest = &tail[end..];
    }
    out
}

/// The dotted key paths of a values file whose line was added or modified,
/// with their lines (list items are named by their parent key).
fn changed_keys(text: &str, lines: &BTreeSet<u32>) -> Vec<(String, u32)> {
    let Ok(docs) = parse_documents(text, 1, Limits::default()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    fn walk(node: &Node, path: &str, lines: &BTreeSet<u32>, out: &mut Vec<(String, u32)>) {
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    let p = if path.is_empty() {
                        e.key.clone()
                    } else {
                        format!("{path}.{}", e.key)
                    };
                    if lines.contains(&e.value.pos.line) {
                        out.push((p.clone(), e.value.pos.line));
                    }
                    walk(&e.value, &p, lines, out);
                }
            }
            Value::Seq(items) => {
                for item in items {
                    if lines.contains(&item.pos.line) {
                        // An item with a name is that item (`sysctls[name=x]`),
                        // as kpsa's field paths name list items.
                        let name = item.get("name").and_then(Node::scalar_text);
                        out.push((
                            name.map_or_else(|| path.to_string(), |n| format!("{path}[name={n}]")),
                            item.pos.line,
                        ));
                    }
                    walk(item, path, lines, out);
                }
            }
            Value::Scalar(_) => {}
        }
    }
    for d in &docs {
        walk(d, "", lines, &mut out);
    }
    // Items of a flow list share their key's line.
    out.dedup();
    out
}

/// The line of the changed key that best explains the field.
fn best_key(keys: &[(String, u32)], refs: &[(String, bool)], field: &str) -> Option<u32> {
    let segs = crate::manifest::field::parse(field);
    let field_keys: Vec<&str> = segs
        .iter()
        .filter_map(|s| match s {
            crate::manifest::field::Seg::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let mut best: Option<(u32, u32)> = None; // (score, line)
    for (key, line) in keys {
        // A named list item (`podSecurityContext.sysctls[name=x]`): the
        // item the field names is the most precise cause; another item of
        // the same list is none.
        if let Some((list, item)) = key.strip_suffix(']').and_then(|k| k.rsplit_once('[')) {
            let last = list.rsplit('.').next().unwrap_or(list);
            if !field.contains(&format!("{last}[")) {
                continue;
            }
            let named = format!("{last}[{item}]");
            let reaches = refs.iter().any(|(r, enclosing)| {
                !enclosing && (list == r || list.starts_with(&format!("{r}.")))
            });
            // The item is the field itself (`sysctls[name=x]`): the most
            // precise cause; the field lies inside it (`volumes[name=h].hostPath`):
            // below a changed key that is the field.
            let score = if field.ends_with(&named) {
                12
            } else if field.contains(&format!("{named}.")) {
                9
            } else {
                continue;
            };
            if reaches && best.is_none_or(|(s, _)| s < score) {
                best = Some((score, *line));
            }
            continue;
        }
        for (r, enclosing) in refs {
            let score = if key == r {
                if *enclosing { 4 } else { 8 }
            } else if let Some(suffix) = key.strip_prefix(&format!("{r}.")) {
                if *enclosing {
                    continue;
                }
                let suffix: Vec<&str> = suffix.split('.').collect();
                if field_keys.ends_with(&suffix) {
                    10
                } else if field_keys.contains(&suffix[0]) {
                    6
                } else {
                    continue;
                }
            } else if *enclosing && r.starts_with(&format!("{key}.")) {
                2
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, *line));
            }
        }
    }
    best.map(|(_, line)| line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "spec:\n  template:\n    spec:\n      hostNetwork: {{ .Values.hostNetwork }}\n      containers:\n        - name: web\n          securityContext:\n            {{- toYaml .Values.containerSecurityContext | nindent 12 }}\n        {{- if .Values.debug.enabled }}\n        - name: debug\n          securityContext:\n            privileged: true\n        {{- end }}\n";

    #[test]
    fn references_around_a_line() {
        let r = references(TEMPLATE, 7);
        assert_eq!(r, vec![("containerSecurityContext".to_string(), false)]);
        let r = references(TEMPLATE, 12);
        assert_eq!(r, vec![("debug.enabled".to_string(), true)]);
        assert_eq!(
            references(TEMPLATE, 4),
            vec![("hostNetwork".to_string(), false)]
        );
    }

    #[test]
    fn changed_values_keys_match_fields() {
        let values = "containerSecurityContext:\n  privileged: true\n  capabilities:\n    add: [NET_ADMIN]\ndebug:\n  enabled: true\n";
        let keys = changed_keys(values, &[2, 4, 6].into_iter().collect());
        assert_eq!(
            keys,
            vec![
                ("containerSecurityContext.privileged".to_string(), 2),
                ("containerSecurityContext.capabilities.add".to_string(), 4),
                ("debug.enabled".to_string(), 6),
            ]
        );
        let refs = references(TEMPLATE, 7);
        let field = "spec.template.spec.containers[name=web].securityContext.privileged";
        assert_eq!(best_key(&keys, &refs, field), Some(2));
        let field = "spec.template.spec.containers[name=web].securityContext.capabilities.add";
        assert_eq!(best_key(&keys, &refs, field), Some(4));
        let refs = references(TEMPLATE, 12);
        let field = "spec.template.spec.containers[name=debug].securityContext.privileged";
        assert_eq!(best_key(&keys, &refs, field), Some(6));
    }

    #[test]
    fn a_named_list_item_is_the_cause_not_its_list() {
        let values = "podSecurityContext:\n  sysctls:\n    - name: net.ipv4.ip_local_port_range\n      value: \"1024 65535\"\n    - name: kernel.msgmax\n      value: \"65536\"\n";
        let keys = changed_keys(values, &(2..=6).collect());
        assert!(keys.contains(&(
            "podSecurityContext.sysctls[name=kernel.msgmax]".to_string(),
            5
        )));
        let template =
            "spec:\n  securityContext:\n    {{- toYaml .Values.podSecurityContext | nindent 4 }}\n";
        let refs = references(template, 2);
        let field = "spec.securityContext.sysctls[name=kernel.msgmax]";
        assert_eq!(best_key(&keys, &refs, field), Some(5));
        // Only the allowed item changed: the list, not that item.
        let keys = changed_keys(values, &(2..=4).collect());
        assert_eq!(best_key(&keys, &refs, field), Some(2));
    }
}
