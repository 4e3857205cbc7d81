//! Splitting a run across CI jobs: `--shard I/N` keeps the targets whose
//! id hashes to shard I of N. The hash is of the target id alone (stable
//! across runs, machines and the set of other targets), so adding a chart
//! moves no other chart between shards; in `kpsa diff` the ids are those of
//! the union of both sides, a renamed target keeping its head id, so it
//! stays in one shard.

use sha2::{Digest, Sha256};

/// One shard of a split run: `index` of `count`, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a run may be split into.
pub const MAX_SHARDS: u32 = 1000;

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected I/N, for example 2/4"))?;
        let parse = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("{s:?}: expected I/N with whole numbers, for example 2/4"))
        };
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || count > MAX_SHARDS || index == 0 || index > count {
            return Err(format!(
                "{s:?}: I must be between 1 and N, and N between 1 and {MAX_SHARDS}"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the target `id` belongs to this shard.
    pub fn holds(&self, id: &str) -> bool {
        let hash = Sha256::digest(format!("kpsa-shard-v1\0{id}").as_bytes());
        let n = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
        n % u64::from(self.count) == u64::from(self.index - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_in_exactly_one_shard() {
        for n in [1, 2, 3, 7] {
            for id in [
                "charts/a",
                "charts/b",
                "web-prod",
                "deploy/overlays/prod",
                "",
            ] {
                let holders = (1..=n)
                    .filter(|i| {
                        Shard {
                            index: *i,
                            count: n,
                        }
                        .holds(id)
                    })
                    .count();
                assert_eq!(holders, 1, "{id} in {n} shards");
            }
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
    }
}
