//! Which checks exist, and which of them decide each level at each version.
//!
//! The table is explicit (no registration side effects) and ordered as
//! upstream reports: baseline ids sorted by byte value, then restricted ids
//! sorted, then kpsa's hardened checks.

use super::checks::*;
use super::{Check, PssLevel, Tier, Version};

/// Every check kpsa knows, in report order.
pub static CHECKS: &[&Check] = &[
    &app_armor_profile::CHECK,
    &capabilities_baseline::CHECK,
    &host_namespaces::CHECK,
    &host_path_volumes::CHECK,
    &host_ports::CHECK,
    &host_probes_and_host_lifecycle::CHECK,
    &privileged::CHECK,
    &proc_mount::CHECK,
    &se_linux_options::CHECK,
    &seccomp_profile_baseline::CHECK,
    &sysctls::CHECK,
    &windows_host_process::CHECK,
    &allow_privilege_escalation::CHECK,
    &capabilities_restricted::CHECK,
    &proc_mount_restricted::CHECK,
    &restricted_volumes::CHECK,
    &run_as_non_root::CHECK,
    &run_as_user::CHECK,
    &seccomp_profile_restricted::CHECK,
    &automount_service_account_token::CHECK,
    &read_only_root_filesystem::CHECK,
    &resource_limits::CHECK,
];

/// A check by id.
pub fn find(id: &str) -> Option<&'static Check> {
    CHECKS.iter().copied().find(|c| c.id == id)
}

/// The check id nearest to a misspelt one, if it is near enough (case
/// differences cost nothing).
pub fn closest(id: &str) -> Option<&'static str> {
    CHECKS
        .iter()
        .map(|c| {
            (
                edit_distance(&id.to_ascii_lowercase(), &c.id.to_ascii_lowercase()),
                c.id,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Ids of the checks that decide `level` at `version`, as upstream's registry
/// builds them: baseline checks in force, plus (for restricted) the
/// restricted checks in force, minus the baseline checks they override.
pub fn active_ids(level: PssLevel, version: Version) -> Vec<&'static str> {
    let tiers: &[Tier] = match level {
        PssLevel::Privileged => return Vec::new(),
        PssLevel::Baseline => &[Tier::Baseline],
        PssLevel::Restricted => &[Tier::Baseline, Tier::Restricted],
    };
    let in_force: Vec<(&Check, &super::Variant)> = CHECKS
        .iter()
        .filter(|c| tiers.contains(&c.tier))
        .filter_map(|c| c.variant_at(version).map(|v| (*c, v)))
        .collect();
    let overridden: Vec<&str> = in_force
        .iter()
        .flat_map(|(_, v)| v.overrides.iter().copied())
        .collect();
    in_force
        .into_iter()
        .map(|(c, _)| c.id)
        .filter(|id| !overridden.contains(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_upstream_report_order() {
        let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
        for tier in Tier::ALL {
            let of_tier: Vec<&str> = CHECKS
                .iter()
                .filter(|c| c.tier == tier)
                .map(|c| c.id)
                .collect();
            let mut sorted = of_tier.clone();
            sorted.sort();
            assert_eq!(of_tier, sorted, "{tier:?} ids must be byte-sorted");
        }
        assert_eq!(
            CHECKS.iter().filter(|c| c.tier != Tier::Hardened).count(),
            19
        );
    }

    #[test]
    fn overrides_are_version_scoped() {
        let at = |minor| active_ids(PssLevel::Restricted, Version::v1(minor));
        assert!(at(21).contains(&"capabilities_baseline"));
        assert!(!at(22).contains(&"capabilities_baseline"));
        assert!(at(18).contains(&"seccompProfile_baseline"));
        assert!(!at(19).contains(&"seccompProfile_baseline"));
        assert!(at(34).contains(&"procMount"));
        assert!(!at(35).contains(&"procMount"));
        assert!(!at(0).contains(&"hostPathVolumes"));
        assert!(active_ids(PssLevel::Baseline, Version::v1(37)).contains(&"hostPathVolumes"));
        assert!(active_ids(PssLevel::Privileged, Version::v1(37)).is_empty());
    }

    #[test]
    fn checks_appear_at_their_versions() {
        let b = |minor| active_ids(PssLevel::Baseline, Version::v1(minor));
        assert!(!b(33).contains(&"hostProbesAndHostLifecycle"));
        assert!(b(34).contains(&"hostProbesAndHostLifecycle"));
        let r = |minor| active_ids(PssLevel::Restricted, Version::v1(minor));
        assert!(!r(7).contains(&"allowPrivilegeEscalation"));
        assert!(r(8).contains(&"allowPrivilegeEscalation"));
        assert!(!r(22).contains(&"runAsUser"));
        assert!(r(23).contains(&"runAsUser"));
    }
}
