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

/// v1 memsw limit (memory + swap) and memory limit → v2 `memory.swap.max` value, as runc
/// converts it.
///
/// * swap unset or 0 → `None` (leave as is), except with memory = -1: then `max` too (v1's
///   "both unlimited");
/// * swap = -1 → `max`;
/// * memory unlimited or unset with a finite swap → error text (v2 cannot express it);
/// * otherwise swap - memory (must be ≥ 0).
pub fn memory_swap_to_v2(swap: Option<i64>, memory: Option<i64>) -> Result<Option<String>, String> {
    match (swap.unwrap_or(0), memory) {
        (0, Some(-1)) | (-1, _) => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (s, Some(m)) if m > 0 => {
            if s < m {
                Err(format!(
                    "memory.swap ({s}) must be >= memory.limit ({m}) since swap includes memory"
                ))
            } else {
                Ok(Some((s - m).to_string()))
            }
        }
        (s, _) => Err(format!(
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

/// CFS quota/period → v2 `cpu.max`: `"<quota|max> <period>"`, or just `"<quota|max>"` when
/// no period is given, which leaves the kernel's current period in place (as runc writes it).
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".into(),
    };
    Some(match period.filter(|p| *p > 0) {
        Some(p) => format!("{quota} {p}"),
        None => quota,
    })
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
        // runc: 0 means unchanged; memory -1 with swap unset means both unlimited.
        assert_eq!(memory_swap_to_v2(Some(0), Some(100)), Ok(None));
        assert_eq!(memory_swap_to_v2(None, Some(-1)), Ok(Some("max".into())));
        assert_eq!(memory_swap_to_v2(Some(0), Some(-1)), Ok(Some("max".into())));
    }

    #[test]
    fn cpu_max_forms() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None), Some("50000".into()));
        assert_eq!(cpu_max(Some(-1), None), Some("max".into()));
        assert_eq!(cpu_max(Some(50_000), Some(0)), Some("50000".into()));
        assert_eq!(cpu_max(Some(-1), Some(20_000)), Some("max 20000".into()));
        assert_eq!(v2_limit(-1), "max");
    }
}
