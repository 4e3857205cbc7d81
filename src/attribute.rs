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
    defines: &mut crate::templates::Cache,
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
            through: Vec::new(),
        });
    }
    match &target?.source {
        Source::Helm(h) => {
            // Values files, lowest precedence first, with the key prefix that
            // reaches the location's chart: a subchart reads its own values
            // unprefixed, and the parent's under its name or alias.
            let (prefix, subchart) = subchart_of(&h.chart, Path::new(&loc.path), root);
            let mut values: Vec<(String, String)> = Vec::new();
            if let Some(dir) = &subchart {
                values.push((relative(root, &dir.join("values.yaml")), String::new()));
            }
            values.push((
                relative(root, &h.chart.dir.join("values.yaml")),
                prefix.clone(),
            ));
            values.extend(
                h.spec
                    .values
                    .iter()
                    .map(|v| (relative(root, v), prefix.clone())),
            );
            let template = crate::provenance::blank_template_comments(&crate::plan::read_inside(
                root,
                Path::new(&loc.path),
            )?);
            let refs = references(&template, loc.line);
            let deps: Vec<std::path::PathBuf> = h
                .chart
                .dependencies
                .iter()
                .filter_map(|d| d.local_dir(&h.chart.dir))
                .collect();
            let defines = defines.of_chart(root, &h.chart.dir, &deps);
            if let Some(a) = changed_helper_line(f, &template, defines, changes, root) {
                return Some(a);
            }
            let helpers = helper_references(&template, loc.line, defines);
            values.iter().rev().find_map(|(file, prefix)| {
                let lines = changes.added.get(file)?;
                let text = crate::plan::read_inside(root, Path::new(file))?;
                let keys: Vec<(String, u32)> = changed_keys(&text, lines)
                    .into_iter()
                    .filter_map(|(k, l)| {
                        k.strip_prefix(prefix.as_str()).map(|k| (k.to_string(), l))
                    })
                    .collect();
                best_key(&keys, &refs, &helpers, &f.field).map(|(line, through)| Attributed {
                    path: file.clone(),
                    line,
                    column: first_column(text.lines().nth(line as usize - 1).unwrap_or("")),
                    via: "values",
                    through,
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
                // A changed line that names the file (a patch), or a
                // directory holding it (a component or resource directory).
                let dir = root.join(&rel);
                let names_location = |l: &str| {
                    if l.contains(&name) {
                        return true;
                    }
                    let token = l
                        .trim()
                        .trim_start_matches('-')
                        .trim()
                        .trim_start_matches("path:")
                        .trim()
                        .trim_matches(['"', '\'']);
                    !token.is_empty()
                        && !token.contains(':')
                        && Path::new(&loc.path)
                            .starts_with(relative(root, &crate::plan::normalize(&dir.join(token))))
                };
                text.lines()
                    .enumerate()
                    .find(|(i, l)| lines.contains(&(*i as u32 + 1)) && names_location(l))
                    .map(|(i, l)| Attributed {
                        path: file.clone(),
                        line: i as u32 + 1,
                        column: first_column(l),
                        via: "kustomization",
                        through: Vec::new(),
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
    if at >= lines.len() {
        return Vec::new();
    }
    let mut out: Vec<(String, bool)> = own_lines(template, line)
        .into_iter()
        .flat_map(values_refs)
        .map(|r| (r, false))
        .collect();
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

/// The location line and the lines nested under it: what writes the
/// field's parent and everything below it.
fn own_lines(template: &str, line: u32) -> Vec<&str> {
    let lines: Vec<&str> = template.lines().collect();
    let at = (line as usize).saturating_sub(1);
    let Some(first) = lines.get(at) else {
        return Vec::new();
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = vec![*first];
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
        out.push(l);
    }
    out
}

/// The subchart (below `charts/`, or a `file://` dependency) whose
/// template holds `location`, with the prefix its values have in the
/// parent's values files (`sub.` — the dependency's alias or name, nested
/// subcharts joined); `("", None)` for the chart's own templates.
fn subchart_of(
    chart: &crate::plan::Chart,
    location: &Path,
    root: &Path,
) -> (String, Option<std::path::PathBuf>) {
    let loc = root.join(location);
    // A file:// dependency outside the chart directory.
    for d in &chart.dependencies {
        if let Some(dir) = d.local_dir(&chart.dir) {
            if !dir.starts_with(&chart.dir) && loc.starts_with(&dir) {
                let name = d.alias.clone().unwrap_or_else(|| d.name.clone());
                return (format!("{name}."), Some(dir));
            }
        }
    }
    let Ok(rel) = loc.strip_prefix(&chart.dir) else {
        return (String::new(), None);
    };
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut prefix = String::new();
    let mut dir = chart.dir.clone();
    let mut deps = chart.dependencies.clone();
    let mut i = 0;
    while i + 1 < parts.len() && parts[i] == "charts" {
        dir = dir.join("charts").join(&parts[i + 1]);
        let Ok(sub) = crate::plan::read_chart(&dir) else {
            break;
        };
        let name = deps
            .iter()
            .find(|d| d.name == sub.name)
            .and_then(|d| d.alias.clone())
            .unwrap_or_else(|| sub.name.clone());
        prefix.push_str(&format!("{name}."));
        deps = sub.dependencies;
        i += 2;
    }
    if prefix.is_empty() {
        (prefix, None)
    } else {
        (prefix, Some(dir))
    }
}

/// A changed line of a helper the location calls (directly or through
/// other helpers) that writes the field's key: the edit inside
/// `_helpers.tpl` that introduced the finding.
fn changed_helper_line(
    f: &Finding,
    template: &str,
    defines: &crate::templates::Defines,
    changes: &Changes,
    root: &Path,
) -> Option<Attributed> {
    let segs = crate::manifest::field::parse(&f.field);
    let key = segs.iter().rev().find_map(|s| match s {
        crate::manifest::field::Seg::Key(k) => Some(k.as_str()),
        _ => None,
    })?;
    let written = format!("{key}:");
    for l in own_lines(template, f.location.line) {
        for (def, chain) in defines.reached(l) {
            let file = relative(root, &def.file);
            let Some(lines) = changes.added.get(&file) else {
                continue;
            };
            for (i, text) in def.body.lines().enumerate() {
                let n = def.line + i as u32;
                if lines.contains(&n) && text.trim_start().starts_with(&written) {
                    return Some(Attributed {
                        path: file,
                        line: n,
                        column: first_column(text),
                        via: "location",
                        through: chain,
                    });
                }
            }
        }
    }
    None
}

/// Values references reached through the helpers (named templates) that
/// the location line and the lines under it call.
fn helper_references(
    template: &str,
    line: u32,
    defines: &crate::templates::Defines,
) -> Vec<crate::templates::Reference> {
    let mut out: Vec<crate::templates::Reference> = Vec::new();
    for l in own_lines(template, line) {
        for r in defines.references_through(l) {
            if !out
                .iter()
                .any(|o| o.path == r.path && o.enclosing == r.enclosing)
            {
                out.push(r);
            }
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

/// The line of the changed key that best explains the field, and the
/// helpers it goes through.
///
/// Scores, highest wins: the key is the named list item that is the field
/// (12); a key below a reference whose path ends like the field (10); a key
/// inside a named item the field lies in (9); the reference itself (8); a
/// key below a reference that names one of the field's keys (6); the
/// condition of an enclosing block (4), or a key above it (2). References
/// read through helpers count only when the key names one of the field's
/// keys (a helper reads many values; a key that does not name the field is
/// not its cause), and conditions inside helpers not at all. At equal
/// scores a direct reference beats one through helpers; two different keys
/// with the same best score are ambiguous: no attribution rather than a guess.
fn best_key(
    keys: &[(String, u32)],
    refs: &[(String, bool)],
    helpers: &[crate::templates::Reference],
    field: &str,
) -> Option<(u32, Vec<String>)> {
    let segs = crate::manifest::field::parse(field);
    let field_keys: Vec<&str> = segs
        .iter()
        .filter_map(|s| match s {
            crate::manifest::field::Seg::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    // Direct references first, then helpers' (relevant ones only).
    let mut all: Vec<(&str, bool, &[String])> = refs
        .iter()
        .map(|(r, e)| (r.as_str(), *e, &[][..]))
        .collect();
    // A helper's condition counts when the block it guards names one of
    // the field's keys (`if $ctx.privileged` → `omit $ctx "capabilities"`).
    all.extend(
        helpers
            .iter()
            .filter(|h| !h.enclosing || h.guards.iter().any(|g| field_keys.contains(&g.as_str())))
            .map(|h| (h.path.as_str(), h.enclosing, h.through.as_slice())),
    );
    let mut best: Option<Cand> = None;
    let mut tied_other_key = false;
    /// (score, line, key, helpers)
    type Cand<'a> = (u32, u32, &'a str, &'a [String]);
    fn offer<'a>(best: &mut Option<Cand<'a>>, tied: &mut bool, cand: Cand<'a>) {
        match best {
            Some(b) if cand.0 < b.0 => {}
            // Equal scores: the same key keeps its first line; a direct
            // reference beats a helper's; two different keys are a tie.
            Some(b) if cand.0 == b.0 => {
                if cand.2 == b.2 || (b.3.is_empty() && !cand.3.is_empty()) {
                } else if cand.3.is_empty() && !b.3.is_empty() {
                    *best = Some(cand);
                    *tied = false;
                } else {
                    *tied = true;
                }
            }
            _ => {
                *best = Some(cand);
                *tied = false;
            }
        }
    }
    for (key, line) in keys {
        // A named list item (`podSecurityContext.sysctls[name=x]`): the
        // item the field names is the most precise cause; another item of
        // the same list is none.
        if let Some((list, item)) = key.strip_suffix(']').and_then(|k| k.rsplit_once('[')) {
            let last = list.rsplit('.').next().unwrap_or(list);
            // The item is the field itself (`sysctls[name=x]`), or the field
            // lies inside an item of that name (`volumes[name=h].hostPath`;
            // a `sidecars` item rendered into `containers[name=debug]`).
            let score = if field.ends_with(&format!("{last}[{item}]")) {
                12
            } else if field.contains(&format!("[{item}].")) {
                9
            } else {
                continue;
            };
            if let Some((_, _, through)) = all.iter().find(|(r, enclosing, _)| {
                !enclosing && (list == *r || list.starts_with(&format!("{r}.")))
            }) {
                offer(
                    &mut best,
                    &mut tied_other_key,
                    (score, *line, key.as_str(), through),
                );
            }
            continue;
        }
        for (r, enclosing, through) in &all {
            let helper = !through.is_empty();
            let last = key.rsplit('.').next().unwrap_or(key);
            let score = if key == r {
                if helper && !*enclosing && !field_keys.contains(&last) {
                    continue;
                }
                if *enclosing { 4 } else { 8 }
            } else if let Some(suffix) = key.strip_prefix(&format!("{r}.")) {
                if *enclosing {
                    continue;
                }
                let suffix: Vec<&str> = suffix.split('.').collect();
                if field_keys.ends_with(&suffix) {
                    10
                } else if field_keys.contains(&suffix[0]) && !helper {
                    6
                } else {
                    continue;
                }
            } else if *enclosing && r.starts_with(&format!("{key}.")) {
                2
            } else {
                continue;
            };
            offer(
                &mut best,
                &mut tied_other_key,
                (score, *line, key.as_str(), through),
            );
        }
    }
    if tied_other_key {
        return None;
    }
    best.map(|(_, line, _, through)| (line, through.to_vec()))
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
        assert_eq!(best_key(&keys, &refs, &[], field).map(|(l, _)| l), Some(2));
        let field = "spec.template.spec.containers[name=web].securityContext.capabilities.add";
        assert_eq!(best_key(&keys, &refs, &[], field).map(|(l, _)| l), Some(4));
        let refs = references(TEMPLATE, 12);
        let field = "spec.template.spec.containers[name=debug].securityContext.privileged";
        assert_eq!(best_key(&keys, &refs, &[], field).map(|(l, _)| l), Some(6));
    }

    #[test]
    fn two_keys_that_explain_a_field_equally_are_not_guessed_between() {
        let keys = vec![
            ("a.privileged".to_string(), 1),
            ("b.privileged".to_string(), 2),
        ];
        let refs = vec![("a".to_string(), false), ("b".to_string(), false)];
        let field = "spec.containers[name=x].securityContext.privileged";
        assert_eq!(best_key(&keys, &refs, &[], field), None);
        // One of them through a helper: the direct reference decides.
        let helpers = vec![crate::templates::Reference {
            path: "b".into(),
            enclosing: false,
            through: vec!["x.helper".into()],
            guards: Vec::new(),
        }];
        let direct = vec![("a".to_string(), false)];
        assert_eq!(
            best_key(&keys, &direct, &helpers, field),
            Some((1, Vec::new()))
        );
        // A helper's reference that does not name the field is no cause.
        let keys = vec![("image.tag".to_string(), 3)];
        let helpers = vec![crate::templates::Reference {
            path: "image.tag".into(),
            enclosing: false,
            through: vec!["x.podSpec".into()],
            guards: Vec::new(),
        }];
        assert_eq!(best_key(&keys, &[], &helpers, field), None);
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
        assert_eq!(best_key(&keys, &refs, &[], field).map(|(l, _)| l), Some(5));
        // Only the allowed item changed: the list, not that item.
        let keys = changed_keys(values, &(2..=4).collect());
        assert_eq!(best_key(&keys, &refs, &[], field).map(|(l, _)| l), Some(2));
    }
}
