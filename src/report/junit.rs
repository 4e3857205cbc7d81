//! JUnit XML, for CI systems that show test reports: a test suite per
//! target, a test case per workload and check that ran, a failure where
//! the workload has findings of that check at or above the gate (in `diff`,
//! new findings). Input errors are a suite of their own, as errors.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Item, View};

/// A workload: target, kind, namespace, name.
type WorkloadKey = (String, String, String, String);

/// Escape text for XML attributes and content (see [`super::escape::xml`]).
fn esc(s: &str) -> String {
    super::escape::xml(s)
}

pub fn render(view: &View) -> String {
    let checks = view.checks();
    let gated: Vec<&Item> = view.gated();
    // Findings by (target, kind, namespace, name) and check.
    let key = |t: &str, k: &str, ns: &Option<String>, n: &str| {
        (
            t.to_string(),
            k.to_string(),
            ns.clone().unwrap_or_default(),
            n.to_string(),
        )
    };
    let mut failures: BTreeMap<WorkloadKey, BTreeMap<&str, Vec<&Item>>> = BTreeMap::new();
    for i in &gated {
        let o = &i.finding.object;
        failures
            .entry(key(&i.finding.target, &o.kind, &o.namespace, &o.name))
            .or_default()
            .entry(i.finding.check)
            .or_default()
            .push(i);
    }
    let mut suites: BTreeMap<&str, Vec<&crate::finding::Workload>> = BTreeMap::new();
    for w in view.workloads {
        suites.entry(w.target.as_str()).or_default().push(w);
    }
    let mut body = String::new();
    let (mut tests, mut failed) = (0usize, 0usize);
    for (target, workloads) in &suites {
        let mut cases = String::new();
        let (mut t, mut fl) = (0, 0);
        for w in workloads {
            let o = &w.object;
            let found = failures.get(&key(target, &o.kind, &o.namespace, &o.name));
            for c in &checks {
                t += 1;
                let _ = write!(
                    cases,
                    "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
                    esc(&format!("{target}.{}", o.display())),
                    esc(c.id),
                    esc(&w.location.path),
                    w.location.line
                );
                match found.and_then(|f| f.get(c.id)) {
                    Some(items) => {
                        fl += 1;
                        let first = items[0];
                        let at = first.shown_at();
                        let mut text = String::new();
                        for i in items {
                            let a = i.shown_at();
                            let _ = writeln!(
                                text,
                                "{}:{}: {} ({})",
                                a.path, a.line, i.finding.message, i.finding.field
                            );
                        }
                        let _ = write!(
                            cases,
                            ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                            esc(first.finding.severity.as_str()),
                            esc(&format!(
                                "{} at {}:{}",
                                first.finding.message, at.path, at.line
                            )),
                            esc(&text)
                        );
                    }
                    None => cases.push_str("/>\n"),
                }
            }
        }
        tests += t;
        failed += fl;
        let _ = write!(
            body,
            "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{fl}\" errors=\"0\" skipped=\"0\">\n{cases}  </testsuite>\n",
            esc(target)
        );
    }
    if !view.errors.is_empty() {
        let mut cases = String::new();
        for e in view.errors {
            let at = match e.line {
                Some(l) => format!("{}:{l}", e.path),
                None => e.path.clone(),
            };
            let _ = write!(
                cases,
                "    <testcase classname=\"kpsa.errors\" name=\"{}\">\n      <error message=\"{}\">{}</error>\n    </testcase>\n",
                esc(&at),
                esc(e.message.lines().next().unwrap_or("")),
                esc(&e.message)
            );
        }
        tests += view.errors.len();
        let _ = write!(
            body,
            "  <testsuite name=\"kpsa errors\" tests=\"{n}\" failures=\"0\" errors=\"{n}\" skipped=\"0\">\n{cases}  </testsuite>\n",
            n = view.errors.len()
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kpsa\" tests=\"{tests}\" failures=\"{failed}\" errors=\"{}\">\n{body}</testsuites>\n",
        view.errors.len()
    )
}
