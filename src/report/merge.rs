//! `kpsa merge`: the shard reports of one split run (`--shard I/N`) joined
//! into the report one unsharded run would have written.
//!
//! The reports must belong together: the same command, revisions and
//! settings (`settings_digest`), the same plan, shards 1..N each exactly
//! once, and no target evaluated by two shards. Findings are deduplicated
//! by fingerprint and put in the order the unsharded run gives them (plan
//! order; in `diff`, then status, location and check); workloads follow
//! plan order; transitions are ordered as `diff` orders them; counts are
//! summed (every stream and render belongs to exactly one target, and each
//! target to one shard, so sums are exact); warnings, errors and
//! configuration changes are deduplicated in first-seen order.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::saved::{Saved, SavedFinding};

/// Merge the shard reports (each with the name it is read from).
pub fn merge(mut reports: Vec<(String, Saved)>) -> Result<Saved, String> {
    check(&reports)?;
    reports.sort_by_key(|(_, s)| s.shard.map_or(0, |sh| sh.index));
    let plan_index: HashMap<String, usize> = reports[0]
        .1
        .plan
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i))
        .collect();
    let at = |target: &str| plan_index.get(target).copied().unwrap_or(usize::MAX);
    let diff = reports[0].1.command == "diff";
    let mut iter = reports.into_iter();
    let (_, mut merged) = iter.next().expect("checked: not empty");
    merged.shard = None;
    let mut seen: HashSet<(String, Option<crate::diff::Status>)> = merged
        .findings
        .iter()
        .map(|f| (f.finding.fingerprint.clone(), f.status))
        .collect();
    for (_, s) in iter {
        for f in s.findings {
            if seen.insert((f.finding.fingerprint.clone(), f.status)) {
                merged.findings.push(f);
            }
        }
        merged.workloads.extend(s.workloads);
        merged.transitions.extend(s.transitions);
        extend_unique(&mut merged.errors, s.errors);
        extend_unique(&mut merged.warnings, s.warnings);
        extend_unique(&mut merged.configuration_changes, s.configuration_changes);
        merged.plan.evaluated.extend(s.plan.evaluated);
        add_stats(&mut merged.summary.stats, &s.summary.stats);
        if let (Some(m), Some(t)) = (merged.targets.as_mut(), s.targets) {
            for (a, b) in [
                (&mut m.rendered, t.rendered),
                (&mut m.skipped, t.skipped),
                (&mut m.materialized, t.materialized),
            ] {
                a.base += b.base;
                a.head += b.head;
            }
        }
        merged.accepted = match (merged.accepted.take(), s.accepted) {
            (Some(mut a), Some(b)) => {
                a.matched += b.matched;
                // Stale in the merge: no shard matched it.
                let still: HashSet<String> = b.stale.into_iter().map(|e| e.fingerprint).collect();
                a.stale.retain(|e| still.contains(&e.fingerprint));
                Some(a)
            }
            (a, b) => a.or(b),
        };
    }
    merged.plan.evaluated.sort_by_key(|t| at(t));
    merged
        .findings
        .sort_by_key(|f: &SavedFinding| at(&f.finding.target));
    if diff {
        merged.findings.sort_by(|a, b| {
            (a.status, &a.finding.location, a.finding.check).cmp(&(
                b.status,
                &b.finding.location,
                b.finding.check,
            ))
        });
    }
    merged.workloads.sort_by_key(|w| at(&w.target));
    merged.transitions.sort_by(|a, b| {
        let key = |t: &crate::diff::Transition| {
            (
                t.after.is_none(),
                t.target.clone(),
                t.object.kind.clone(),
                t.object.namespace.clone().unwrap_or_default(),
                t.object.name.clone(),
                t.template.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(merged)
}

/// Why the reports do not belong together, if they do not.
fn check(reports: &[(String, Saved)]) -> Result<(), String> {
    let Some((first_name, first)) = reports.first() else {
        return Err("no report to merge".into());
    };
    for (name, s) in &reports[1..] {
        let differs = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            format!("{name} does not belong with {first_name}: its {what} is {a:?}, not {b:?}")
        };
        if s.command != first.command {
            return Err(differs("command", &s.command, &first.command));
        }
        if (&s.base_commit, &s.head_commit, s.merge_base)
            != (&first.base_commit, &first.head_commit, first.merge_base)
        {
            return Err(differs(
                "revisions",
                &(&s.base_commit, &s.head_commit),
                &(&first.base_commit, &first.head_commit),
            ));
        }
        if s.settings_digest != first.settings_digest
            || s.include_unchanged != first.include_unchanged
        {
            return Err(format!(
                "{name} does not belong with {first_name}: it was made with other settings \
                 (settings_digest {} and {}); run every shard with the same flags and config",
                s.settings_digest, first.settings_digest
            ));
        }
        if s.plan.targets != first.plan.targets {
            return Err(format!(
                "{name} does not belong with {first_name}: they planned different targets \
                 (different trees or configs)"
            ));
        }
    }
    let count = match first.shard {
        Some(sh) => sh.count,
        None if reports.len() == 1 => return Ok(()),
        None => {
            return Err(format!(
                "{first_name} is not a shard (made without --shard I/N)"
            ));
        }
    };
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, s) in reports {
        let Some(sh) = s.shard else {
            return Err(format!("{name} is not a shard (made without --shard I/N)"));
        };
        if sh.count != count {
            return Err(format!(
                "{name} is shard {}/{} but {first_name} is one of {count}",
                sh.index, sh.count
            ));
        }
        if let Some(other) = by_index.insert(sh.index, name) {
            return Err(format!(
                "shard {}/{count} is given twice: {other} and {name}",
                sh.index
            ));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    match missing.as_slice() {
        [] => {}
        [one] => return Err(format!("shard {one} is missing")),
        many => return Err(format!("shards {} are missing", many.join(", "))),
    }
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for (name, s) in reports {
        for t in &s.plan.evaluated {
            if let Some(other) = owner.insert(t, name) {
                return Err(format!(
                    "target {t} is claimed by two shards: {other} and {name}"
                ));
            }
        }
    }
    Ok(())
}

fn extend_unique<T: PartialEq>(into: &mut Vec<T>, more: Vec<T>) {
    for x in more {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}

fn add_stats(a: &mut crate::scan::Stats, b: &crate::scan::Stats) {
    a.files += b.files;
    a.rendered += b.rendered;
    a.documents += b.documents;
    a.objects += b.objects;
    a.pod_specs += b.pod_specs;
}
