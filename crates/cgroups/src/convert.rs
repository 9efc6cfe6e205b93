//! v1 → v2 value conversions, with the formulas runc uses so that one config.json means the
//! same on both hierarchies.

/// cpu.shares (2..262144) → cpu.weight (1..10000). 0 means "not set".
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000). 0 means "not set".
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    let weight = weight.clamp(10, 1000);
    1 + (weight - 10) * 9999 / 990
}

/// v1 memsw limit (memory + swap) and memory limit → v2 `memory.swap.max` value.
///
/// * swap unset → `None` (leave as is);
/// * swap = -1 → `max`;
/// * memory unlimited or unset with a finite swap → error text (v2 cannot express it);
/// * otherwise swap - memory (must be ≥ 0).
pub fn memory_swap_to_v2(swap: Option<i64>, memory: Option<i64>) -> Result<Option<String>, String> {
    match (swap, memory) {
        (None, _) => Ok(None),
        (Some(-1), _) => Ok(Some("max".into())),
        (Some(0), _) => Ok(Some("0".into())), // runc: 0 is "unset" on v1; disable swap on v2
        (Some(s), Some(m)) if m > 0 => {
            if s < m {
                Err(format!(
                    "memory.swap ({s}) must be >= memory.limit ({m}) since swap includes memory"
                ))
            } else {
                Ok(Some((s - m).to_string()))
            }
        }
        (Some(s), _) => Err(format!(
            "memory.swap ({s}) is memory+swap on v1; on cgroup v2 it needs a memory.limit too"
        )),
    }
}

/// A v1 memory value (-1 = unlimited) in v2 notation.
pub fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// CFS quota/period → v2 `cpu.max` (`"max 100000"` when quota ≤ 0).
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let period = period.filter(|p| *p > 0).unwrap_or(100_000);
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".into(),
    };
    Some(format!("{quota} {period}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn blkio_weight_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(memory_swap_to_v2(None, Some(10)), Ok(None));
        assert_eq!(
            memory_swap_to_v2(Some(-1), Some(10)),
            Ok(Some("max".into()))
        );
        assert_eq!(
            memory_swap_to_v2(Some(300), Some(100)),
            Ok(Some("200".into()))
        );
        assert!(memory_swap_to_v2(Some(50), Some(100)).is_err());
        assert!(memory_swap_to_v2(Some(50), None).is_err());
    }

    #[test]
    fn cpu_max_forms() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None), Some("50000 100000".into()));
        assert_eq!(cpu_max(Some(-1), Some(20_000)), Some("max 20000".into()));
        assert_eq!(v2_limit(-1), "max");
    }
}
