//! Helpers that keep check messages in upstream's wording.

use super::{Offense, Subject};

/// `"a", "b"` (upstream `joinQuote`: no escaping).
pub fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("\"{}\"", inner.join("\", \""))
}

pub fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// Sorted, without duplicates (upstream `sets.NewString(...).List()`).
pub fn sorted_set<'a>(values: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<String> = values.into_iter().cloned().collect();
    v.sort();
    v.dedup();
    v
}

/// Container names of the offenses, in visit order, each once.
pub fn container_names(offenses: &[&Offense]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for o in offenses {
        if let Subject::Container(name) = &o.subject {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// `container "a"` / `containers "a", "b"`.
pub fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// `pod`, `containers "a", "b"` or `pod and container "a"`.
pub fn setters(offenses: &[&Offense]) -> String {
    let mut parts = Vec::new();
    if offenses.iter().any(|o| o.subject == Subject::Pod) {
        parts.push("pod".to_string());
    }
    let names = container_names(offenses);
    if !names.is_empty() {
        parts.push(containers_phrase(&names));
    }
    parts.join(" and ")
}

/// Every offending value of the offenses, in report order.
pub fn values(offenses: &[&Offense]) -> Vec<String> {
    offenses
        .iter()
        .flat_map(|o| o.values.iter().cloned())
        .collect()
}
