//! Policy versions: `v1.0` … `v1.37`, and `latest`.

use std::fmt;
use std::str::FromStr;

/// The newest policy version this build of kpsa knows (upstream
/// `kubernetes/pod-security-admission` at Kubernetes 1.37).
pub const NEWEST_MINOR: u32 = 37;

/// A Pod Security policy version, `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub minor: u32,
}

impl Version {
    pub const fn v1(minor: u32) -> Version {
        Version { minor }
    }

    pub const fn newest() -> Version {
        Version {
            minor: NEWEST_MINOR,
        }
    }

    /// Versions above `ceiling` evaluate as `ceiling`, as upstream clamps a
    /// requested version to the newest it knows (or the emulated minor).
    pub fn clamp_to(self, ceiling: Version) -> Version {
        if self > ceiling { ceiling } else { self }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}", self.minor)
    }
}

impl Version {
    /// The minor version of a Kubernetes release as clusters and Argo CD
    /// report it: `1.30.2`, `v1.30.2`, `v1.30.2+k3s1`, `1.29.6-eks-4096722`
    /// and `v1.30` all give `v1.30` (not clamped to the newest known).
    pub fn of_release(raw: &str) -> Option<Version> {
        let s = raw.trim().strip_prefix('v').unwrap_or(raw.trim());
        let mut parts = s.splitn(3, '.');
        let major = parts.next()?;
        let digits: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if major != "1" || digits.is_empty() || digits.len() > 4 {
            return None;
        }
        Some(Version::v1(digits.parse().ok()?))
    }

    /// The warning for a version newer than the newest policy kpsa knows,
    /// which it is evaluated as.
    pub fn beyond_newest(self) -> Option<String> {
        let newest = VersionSpec::Exact(self).resolve();
        (newest != self).then(|| {
            format!(
                "kpsa knows Pod Security policies up to {newest}; evaluating {self} as {newest}"
            )
        })
    }
}

/// A version as written by a user: `latest` or `v1.N` exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Exact(Version),
}

impl VersionSpec {
    /// The policy version to evaluate, never above the newest known.
    pub fn resolve(self) -> Version {
        match self {
            VersionSpec::Latest => Version::newest(),
            VersionSpec::Exact(v) => v.clamp_to(Version::newest()),
        }
    }
}

impl FromStr for VersionSpec {
    type Err = String;

    /// Accepts what upstream's label validation accepts:
    /// `latest` or `^v1\.(0|[1-9][0-9]*)$`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(VersionSpec::Latest);
        }
        let bad = || {
            format!("invalid Kubernetes version {s:?}: expected `latest` or `v1.N` such as `v1.30`")
        };
        let minor = s.strip_prefix("v1.").ok_or_else(bad)?;
        if minor.is_empty()
            || !minor.bytes().all(|b| b.is_ascii_digit())
            || (minor.len() > 1 && minor.starts_with('0'))
        {
            return Err(bad());
        }
        let minor: u32 = minor.parse().map_err(|_| bad())?;
        Ok(VersionSpec::Exact(Version::v1(minor)))
    }
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Latest => f.write_str("latest"),
            VersionSpec::Exact(v) => v.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_what_upstream_accepts() {
        assert_eq!("latest".parse::<VersionSpec>(), Ok(VersionSpec::Latest));
        assert_eq!(
            "v1.0".parse::<VersionSpec>(),
            Ok(VersionSpec::Exact(Version::v1(0)))
        );
        assert_eq!(
            "v1.30".parse::<VersionSpec>(),
            Ok(VersionSpec::Exact(Version::v1(30)))
        );
        for bad in [
            "1.30", "v1.030", "v2.0", "v1.", "v1.3a", "V1.3", "v1.30.1", "",
        ] {
            assert!(bad.parse::<VersionSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn clamps_above_the_newest_known_version() {
        assert_eq!(
            VersionSpec::Exact(Version::v1(99)).resolve(),
            Version::v1(NEWEST_MINOR)
        );
        assert_eq!(VersionSpec::Latest.resolve(), Version::v1(NEWEST_MINOR));
        assert_eq!(
            VersionSpec::Exact(Version::v1(25)).resolve(),
            Version::v1(25)
        );
    }
}
