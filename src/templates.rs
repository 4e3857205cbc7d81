//! Named templates of a Helm chart (`{{ define "name" }}` … `{{ end }}`)
//! and the values they read, for attribution.
//!
//! Real charts write security fields through helpers:
//! `{{ include "x.podSpec" . }}` (the helper reads `.Values.*` itself) or
//! `{{ include "common.compatibility.renderSecurityContext" (dict
//! "secContext" .Values.containerSecurityContext "context" $) }}` (the
//! helper reads `.secContext.*`, which is that values key). Following an
//! `include` / `template` call means: find the `define` in the chart, its
//! subcharts and library charts, bind the argument (the root context, a
//! values path, or a `dict` of them), and read the references of its body
//! through that binding — recursively, for helpers that call helpers.
//!
//! This is a reading of the template text, not an evaluation: `with` and
//! `range` inside a helper do not rebind `.` here, and a reference is
//! counted wherever it is in the body. Attribution therefore only uses a
//! helper's references when their keys name the field (see
//! `attribute::best_key`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The most helper calls followed from one line (helpers that call
/// helpers, and recursive ones).
pub const MAX_DEPTH: usize = 6;

/// A named template: its body and where it is.
#[derive(Debug, Clone)]
pub struct Define {
    pub body: String,
    pub file: PathBuf,
    /// The line of the file the body starts on.
    pub line: u32,
}

/// All named templates of a chart and the charts below it.
#[derive(Debug, Default)]
pub struct Defines {
    pub by_name: HashMap<String, Define>,
}

/// The named templates of each chart a run attributes findings in, read
/// once per chart rather than once per finding.
#[derive(Debug, Default)]
pub struct Cache(HashMap<PathBuf, Defines>);

impl Cache {
    /// [`Defines::of_chart`], read the first time a chart is asked for.
    pub fn of_chart(
        &mut self,
        root: &Path,
        chart_dir: &Path,
        dependency_dirs: &[PathBuf],
    ) -> &Defines {
        self.0
            .entry(chart_dir.to_path_buf())
            .or_insert_with(|| Defines::of_chart(root, chart_dir, dependency_dirs))
    }
}

/// What `.` (and `$`) is inside a helper: the chart's root context, a
/// values path, or a `dict` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    Root,
    Values(String),
    Dict(Vec<(String, Binding)>),
    /// Something the reading cannot follow.
    Opaque,
}

/// A values reference found through helpers: the dotted values path,
/// whether it only decides a condition, and the helpers it was read through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: String,
    pub enclosing: bool,
    pub through: Vec<String>,
    /// For a condition: the words of the block it guards.
    pub guards: Vec<String>,
}

impl Defines {
    /// Read every `*.tpl`, `*.yaml`, `*.yml` and `*.txt` file under the
    /// chart's `templates/` and its subcharts' (`charts/*/templates`, and
    /// the `file://` dependencies given), inside `root` only.
    pub fn of_chart(root: &Path, chart_dir: &Path, dependency_dirs: &[PathBuf]) -> Defines {
        let mut d = Defines::default();
        let mut dirs: Vec<PathBuf> = vec![chart_dir.to_path_buf()];
        dirs.extend(dependency_dirs.iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        while let Some(dir) = dirs.pop() {
            if !seen.insert(dir.clone()) || seen.len() > 64 {
                continue;
            }
            d.read_dir(root, &dir.join("templates"));
            if let Ok(entries) = std::fs::read_dir(dir.join("charts")) {
                for e in entries.flatten() {
                    if e.path().is_dir() {
                        dirs.push(e.path());
                    }
                }
            }
        }
        d
    }

    fn read_dir(&mut self, root: &Path, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                self.read_dir(root, &p);
                continue;
            }
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "tpl" | "yaml" | "yml" | "txt") {
                continue;
            }
            if let Some(text) = crate::plan::read_inside(root, &p) {
                self.add_text(&text, &p);
            }
        }
    }

    /// Add the defines of one file (the first definition of a name wins,
    /// as the chart's own come before its subcharts').
    pub fn add_text(&mut self, text: &str, file: &Path) {
        for (name, body, line) in defines_in(text) {
            self.by_name.entry(name).or_insert(Define {
                body,
                file: file.to_path_buf(),
                line,
            });
        }
    }

    /// The helpers `line` calls, and the helpers they call, each with the
    /// chain of names that reaches it (outermost first).
    pub fn reached(&self, line: &str) -> Vec<(&Define, Vec<String>)> {
        let mut out: Vec<(&Define, Vec<String>)> = Vec::new();
        let mut queue: Vec<Vec<String>> = calls(line).into_iter().map(|(n, _)| vec![n]).collect();
        while let Some(chain) = queue.pop() {
            let name = chain.last().expect("not empty");
            let Some(def) = self.by_name.get(name) else {
                continue;
            };
            if out.iter().any(|(_, c)| c.last() == Some(name)) || chain.len() > MAX_DEPTH {
                continue;
            }
            for l in def.body.lines() {
                for (inner, _) in calls(l) {
                    if !chain.contains(&inner) {
                        let mut next = chain.clone();
                        next.push(inner);
                        queue.push(next);
                    }
                }
            }
            out.push((def, chain));
        }
        out
    }

    /// The values references of `line` (a template line outside any
    /// define, in the root context) reached through the helpers it calls.
    pub fn references_through(&self, line: &str) -> Vec<Reference> {
        let mut out = Vec::new();
        for (name, arg) in calls(line) {
            let binding = bind(&arg, &Binding::Root);
            self.follow(&name, &binding, &mut vec![name.clone()], &mut out);
        }
        out
    }

    fn follow(
        &self,
        name: &str,
        binding: &Binding,
        chain: &mut Vec<String>,
        out: &mut Vec<Reference>,
    ) {
        let Some(def) = self.by_name.get(name) else {
            return;
        };
        if chain.len() > MAX_DEPTH {
            return;
        }
        let lines: Vec<&str> = def.body.lines().collect();
        // `$x := .secContext`: variables bound in the helper.
        let mut vars: Vec<(String, Binding)> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            for (var, expr) in assignments(line) {
                let b = tokens(&expr)
                    .iter()
                    .map(|t| bind_with(t, binding, &vars))
                    .find(|b| *b != Binding::Opaque)
                    .unwrap_or(Binding::Opaque);
                vars.retain(|(v, _)| *v != var);
                vars.push((var, b));
            }
            let enclosing = is_condition(line);
            // What a condition guards: the words of its block (`capabilities`
            // in `{{ if $ctx.privileged }}{{ omit $ctx "capabilities" }}`).
            let guards = if enclosing {
                block_words(&lines[i + 1..])
            } else {
                Vec::new()
            };
            for r in dotted_refs(line) {
                if let Some(path) = resolve_with(&r, binding, &vars) {
                    let reference = Reference {
                        path,
                        enclosing,
                        through: chain.clone(),
                        guards: guards.clone(),
                    };
                    if !out.contains(&reference) {
                        out.push(reference);
                    }
                }
            }
            for (inner, arg) in calls(line) {
                if chain.contains(&inner) {
                    continue;
                }
                let b = bind_with(&arg, binding, &vars);
                chain.push(inner.clone());
                self.follow(&inner, &b, chain, out);
                chain.pop();
            }
        }
    }
}

/// `$name := expr` and `$name = expr` in a line's actions.
fn assignments(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (_, _, inner) in actions(line) {
        let Some(rest) = inner.strip_prefix('$') else {
            continue;
        };
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len == 0 {
            continue;
        }
        let after = rest[name_len..].trim_start();
        let expr = after
            .strip_prefix(":=")
            .or_else(|| after.strip_prefix('='))
            .map(str::trim);
        if let Some(expr) = expr {
            out.push((format!("${}", &rest[..name_len]), expr.to_string()));
        }
    }
    out
}

/// The words (names and quoted strings) of the lines of a block, up to
/// its `end`.
fn block_words(lines: &[&str]) -> Vec<String> {
    let mut depth = 0usize;
    let mut words = Vec::new();
    for l in lines {
        for (_, _, inner) in actions(l) {
            let w = inner.split_whitespace().next().unwrap_or("");
            match w {
                "if" | "with" | "range" | "define" | "block" => depth += 1,
                "end" if depth == 0 => return words,
                "end" => depth -= 1,
                _ => {}
            }
        }
        for w in l.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if !w.is_empty() && !words.iter().any(|x| x == w) {
                words.push(w.to_string());
            }
        }
    }
    words
}

/// Whether a line is an `if` / `with` condition (its references decide
/// whether the lines below are written, rather than being written).
fn is_condition(line: &str) -> bool {
    let t = line.trim_start();
    let Some(inner) = t.strip_prefix("{{") else {
        return false;
    };
    let inner = inner.trim_start_matches('-').trim_start();
    inner.starts_with("if ") || inner.starts_with("else if ")
}

/// The template actions (`{{ … }}`) of a text, with their byte ranges.
fn actions(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = text[at..].find("{{") {
        let start = at + open;
        let Some(close) = text[start + 2..].find("}}") else {
            break;
        };
        let end = start + 2 + close + 2;
        let inner = text[start + 2..end - 2]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push((start, end, inner));
        at = end;
    }
    out
}

/// `define` blocks of a text: name, body (comments included) and the
/// line the body starts on.
pub fn defines_in(text: &str) -> Vec<(String, String, u32)> {
    let mut out = Vec::new();
    let mut stack: Vec<Option<(String, usize)>> = Vec::new();
    for (start, end, inner) in actions(text) {
        if inner.starts_with("/*") {
            continue;
        }
        let word = inner.split_whitespace().next().unwrap_or("");
        match word {
            "define" => {
                let name = quoted(&inner["define".len()..]).unwrap_or_default();
                stack.push(Some((name, end)));
            }
            "if" | "with" | "range" | "block" => stack.push(None),
            "end" => {
                if let Some(Some((name, body_start))) = stack.pop() {
                    if !name.is_empty() {
                        let line = text[..body_start].matches('\n').count() as u32 + 1;
                        out.push((name, text[body_start..start].to_string(), line));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The first double-quoted string of a text.
fn quoted(s: &str) -> Option<String> {
    let s = s.trim_start();
    let rest = s.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

/// `include "name" ARG` and `template "name" ARG` calls of a line.
pub fn calls(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (_, _, inner) in actions(line) {
        for keyword in ["include", "template"] {
            let mut rest = inner;
            while let Some(i) = find_word(rest, keyword) {
                let after = &rest[i + keyword.len()..];
                let Some(name) = quoted(after) else {
                    rest = after;
                    continue;
                };
                let after_name = after.trim_start()[name.len() + 2..].trim_start();
                out.push((name, argument(after_name)));
                rest = after_name;
            }
        }
    }
    out
}

/// The position of `word` as a whole word in `s`.
fn find_word(s: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(word) {
        let at = from + i;
        let before_ok = at == 0
            || !s[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$');
        let after_ok = s[at + word.len()..].starts_with([' ', '\t']);
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// One argument: a parenthesised expression, or a token.
fn argument(s: &str) -> String {
    if s.starts_with('(') {
        let mut depth = 0usize;
        let mut in_str = false;
        for (i, c) in s.char_indices() {
            match c {
                '"' => in_str = !in_str,
                '(' if !in_str => depth += 1,
                ')' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        return s[..=i].to_string();
                    }
                }
                _ => {}
            }
        }
        s.to_string()
    } else {
        s.split(|c: char| c.is_whitespace() || c == '|' || c == ')')
            .next()
            .unwrap_or("")
            .to_string()
    }
}

/// What an argument expression binds `.` to, read in `outer`.
pub fn bind(arg: &str, outer: &Binding) -> Binding {
    bind_with(arg, outer, &[])
}

/// [`bind`] with the helper's variables.
fn bind_with(arg: &str, outer: &Binding, vars: &[(String, Binding)]) -> Binding {
    let arg = arg.trim();
    if arg.starts_with('$') && !arg.starts_with("$.") && arg != "$" {
        let name_end = arg[1..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(arg.len(), |i| i + 1);
        if let Some((_, b)) = vars.iter().rev().find(|(v, _)| *v == arg[..name_end]) {
            let rest = &arg[name_end..];
            return if rest.is_empty() {
                b.clone()
            } else {
                resolve(rest, b).map_or(Binding::Opaque, Binding::Values)
            };
        }
        return Binding::Opaque;
    }
    if let Some(inner) = arg.strip_prefix('(').and_then(|a| a.strip_suffix(')')) {
        let inner = inner.trim();
        if let Some(rest) = inner.strip_prefix("dict ") {
            return Binding::Dict(dict_pairs(rest, outer, vars));
        }
        // `(default .Values.a .Values.b)`, `(.Values.x | default dict)`:
        // the first values reference decides.
        return tokens(inner)
            .iter()
            .map(|t| bind_with(t, outer, vars))
            .find(|b| *b != Binding::Opaque)
            .unwrap_or(Binding::Opaque);
    }
    if arg == "." || arg == "$" {
        return outer.clone();
    }
    match resolve(arg, outer) {
        Some(p) => Binding::Values(p),
        None => match outer {
            // `.context` / `$.context` of a dict that holds the root.
            Binding::Dict(pairs) => {
                let key = arg.trim_start_matches('$').trim_start_matches('.');
                pairs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, b)| b.clone())
                    .unwrap_or(Binding::Opaque)
            }
            _ => Binding::Opaque,
        },
    }
}

/// The `"key" value` pairs of a `dict` call.
fn dict_pairs(s: &str, outer: &Binding, vars: &[(String, Binding)]) -> Vec<(String, Binding)> {
    let toks = tokens(s);
    toks.chunks(2)
        .filter_map(|pair| {
            let key = pair.first()?.trim_matches('"').to_string();
            let value = pair.get(1)?;
            Some((key, bind_with(value, outer, vars)))
        })
        .collect()
}

/// Whitespace-separated tokens, keeping parenthesised groups and strings whole.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut in_str = false;
    for c in s.chars() {
        match c {
            '"' => {
                in_str = !in_str;
                cur.push(c);
            }
            '(' if !in_str => {
                depth += 1;
                cur.push(c);
            }
            ')' if !in_str => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 && !in_str => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Dotted references inside a line's actions: `.Values.a.b`, `$.Values.a`,
/// `.secContext.runAsUser`, `.context.Values.x`.
pub fn dotted_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (_, _, inner) in actions(line) {
        if inner.starts_with("/*") {
            continue;
        }
        let bytes: Vec<char> = inner.chars().collect();
        let mut i = 0;
        let mut in_str = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c == '"' {
                in_str = !in_str;
                i += 1;
                continue;
            }
            let starts = !in_str
                && (c == '.'
                    || (c == '$'
                        && bytes
                            .get(i + 1)
                            .is_some_and(|n| *n == '.' || n.is_alphanumeric() || *n == '_')))
                && (i == 0
                    || !(bytes[i - 1].is_alphanumeric()
                        || bytes[i - 1] == '_'
                        || bytes[i - 1] == ')'));
            if starts {
                let mut j = i;
                let mut r = String::new();
                while j < bytes.len()
                    && (bytes[j].is_alphanumeric() || matches!(bytes[j], '_' | '.' | '$' | '-'))
                {
                    r.push(bytes[j]);
                    j += 1;
                }
                let r = r.trim_end_matches('.').to_string();
                if r.len() > 1 && r != "$" {
                    out.push(r);
                }
                i = j.max(i + 1);
            } else {
                i += 1;
            }
        }
    }
    out
}

/// [`resolve`] with the helper's variables (`$ctx.privileged`).
fn resolve_with(r: &str, binding: &Binding, vars: &[(String, Binding)]) -> Option<String> {
    if r.starts_with('$') && !r.starts_with("$.") {
        match bind_with(r, binding, vars) {
            Binding::Values(p) => Some(p),
            _ => None,
        }
    } else {
        resolve(r, binding)
    }
}

/// The values path a dotted reference means under a binding.
pub fn resolve(r: &str, binding: &Binding) -> Option<String> {
    let path = r.strip_prefix('$').unwrap_or(r);
    let path = path.strip_prefix('.')?;
    let mut parts = path.split('.').filter(|p| !p.is_empty());
    match binding {
        Binding::Root => {
            if parts.next()? != "Values" {
                return None;
            }
            let rest: Vec<&str> = parts.collect();
            (!rest.is_empty()).then(|| rest.join("."))
        }
        Binding::Values(base) => {
            let rest: Vec<&str> = parts.collect();
            Some(if rest.is_empty() {
                base.clone()
            } else {
                format!("{base}.{}", rest.join("."))
            })
        }
        Binding::Dict(pairs) => {
            let key = parts.next()?;
            let (_, b) = pairs.iter().find(|(k, _)| k == key)?;
            let rest: Vec<&str> = parts.collect();
            let inner = if rest.is_empty() {
                ".".to_string()
            } else {
                format!(".{}", rest.join("."))
            };
            match b {
                Binding::Values(base) if inner == "." => Some(base.clone()),
                Binding::Opaque => None,
                other => resolve(&inner, other),
            }
        }
        Binding::Opaque => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELPERS: &str = r#"{{/* Pod spec */}}
{{- define "x.podSpec" -}}
hostNetwork: {{ .Values.hostNetwork }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: app
    securityContext:
      {{- include "common.render" (dict "secContext" .Values.securityContext "context" $) | nindent 6 }}
{{- end }}

{{- define "common.render" -}}
{{- $adapted := .secContext -}}
{{- if .context.Values.global.compat }}
{{- omit $adapted "enabled" | toYaml }}
{{- end }}
{{- end -}}
"#;

    #[test]
    fn defines_are_found_with_nested_blocks() {
        let d = defines_in(HELPERS);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].0, "x.podSpec");
        assert!(d[0].1.contains("include \"common.render\""));
        assert!(d[1].1.contains("omit $adapted"));
    }

    #[test]
    fn calls_and_bindings() {
        let c = calls(
            r#"      {{- include "common.render" (dict "secContext" .Values.securityContext "context" $) | nindent 6 }}"#,
        );
        assert_eq!(c[0].0, "common.render");
        let b = bind(&c[0].1, &Binding::Root);
        assert_eq!(
            b,
            Binding::Dict(vec![
                (
                    "secContext".into(),
                    Binding::Values("securityContext".into())
                ),
                ("context".into(), Binding::Root),
            ])
        );
        assert_eq!(
            resolve(".secContext.privileged", &b).as_deref(),
            Some("securityContext.privileged")
        );
        assert_eq!(
            resolve(".secContext", &b).as_deref(),
            Some("securityContext")
        );
        assert_eq!(
            resolve(".context.Values.global.compat", &b).as_deref(),
            Some("global.compat")
        );
        assert_eq!(resolve("$.Values.x", &Binding::Root).as_deref(), Some("x"));
        assert_eq!(
            calls(r#"{{ template "a.b" .Values.sub }}"#),
            vec![("a.b".to_string(), ".Values.sub".to_string())]
        );
        assert_eq!(
            bind("(default .Values.a .Values.b)", &Binding::Root),
            Binding::Values("a".into())
        );
        // Words that contain the keyword are not calls.
        assert!(calls("{{ .Values.includeThis }}").is_empty());
    }

    #[test]
    fn variables_and_what_a_condition_guards() {
        let mut d = Defines::default();
        d.add_text(
            r#"{{- define "common.compatibility.renderSecurityContext" -}}
{{- $adaptedContext := .secContext -}}
{{- if $adaptedContext.privileged -}}
  {{- $adaptedContext = omit $adaptedContext "capabilities" -}}
{{- end -}}
{{- omit $adaptedContext "enabled" | toYaml -}}
{{- end -}}"#,
            Path::new("_compatibility.tpl"),
        );
        let refs = d.references_through(
            r#"{{- include "common.compatibility.renderSecurityContext" (dict "secContext" .Values.containerSecurityContext "context" $) | nindent 12 }}"#,
        );
        let cond = refs
            .iter()
            .find(|r| r.enclosing)
            .expect("the privileged condition");
        assert_eq!(cond.path, "containerSecurityContext.privileged");
        assert!(
            cond.guards.contains(&"capabilities".to_string()),
            "{:?}",
            cond.guards
        );
        assert!(
            refs.iter()
                .any(|r| !r.enclosing && r.path == "containerSecurityContext")
        );
    }

    #[test]
    fn references_through_nested_helpers() {
        let mut d = Defines::default();
        d.add_text(HELPERS, Path::new("_helpers.tpl"));
        let refs = d.references_through(r#"      {{- include "x.podSpec" . | nindent 6 }}"#);
        let paths: Vec<(&str, bool, usize)> = refs
            .iter()
            .map(|r| (r.path.as_str(), r.enclosing, r.through.len()))
            .collect();
        assert!(paths.contains(&("hostNetwork", false, 1)), "{paths:?}");
        assert!(
            paths.contains(&("podSecurityContext", false, 1)),
            "{paths:?}"
        );
        assert!(paths.contains(&("securityContext", false, 1)), "{paths:?}");
        assert!(paths.contains(&("global.compat", true, 2)), "{paths:?}");
        let through = &refs
            .iter()
            .find(|r| r.path == "global.compat")
            .unwrap()
            .through;
        assert_eq!(through, &["x.podSpec", "common.render"]);
    }
}
