//! Reading cgroup v2 statistics into runc's [`Stats`] shape.

use std::path::Path;

use crate::stats::{parse_io_stat_v2, Hugetlb, MemoryEntry};
use crate::{fsutil, hugetlb, CgroupError, Stats};

fn opt_u64(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    if !dir.join(file).exists() {
        return Ok(None);
    }
    fsutil::read_u64(dir, file).map(Some)
}

fn opt_keyed(
    dir: &Path,
    file: &str,
) -> Result<std::collections::BTreeMap<String, u64>, CgroupError> {
    if !dir.join(file).exists() {
        return Ok(Default::default());
    }
    Ok(fsutil::parse_flat_keyed(&fsutil::read(dir, file)?))
}

/// Collects the statistics of the cgroup at `dir`.
pub fn collect(dir: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    let cpu = opt_keyed(dir, "cpu.stat")?;
    let g = |k: &str| cpu.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = g("usage_usec") * 1000;
    s.cpu.usage.user = g("user_usec") * 1000;
    s.cpu.usage.kernel = g("system_usec") * 1000;
    s.cpu.throttling.periods = g("nr_periods");
    s.cpu.throttling.throttled_periods = g("nr_throttled");
    s.cpu.throttling.throttled_time = g("throttled_usec") * 1000;

    s.memory.raw = opt_keyed(dir, "memory.stat")?;
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    let events = opt_keyed(dir, "memory.events")?;
    let usage = opt_u64(dir, "memory.current")?.unwrap_or(0);
    let limit = opt_u64(dir, "memory.max")?.unwrap_or(u64::MAX);
    s.memory.usage = MemoryEntry {
        limit,
        usage,
        max: opt_u64(dir, "memory.peak")?.unwrap_or(0),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // runc reports v2 swap as memory+swap, like v1's memsw.
    if let Some(swap) = opt_u64(dir, "memory.swap.current")? {
        let swap_max = opt_u64(dir, "memory.swap.max")?.unwrap_or(u64::MAX);
        s.memory.swap = MemoryEntry {
            limit: limit.saturating_add(swap_max),
            usage: usage + swap,
            max: 0,
            failcnt: 0,
        };
    }

    s.pids.current = opt_u64(dir, "pids.current")?.unwrap_or(0);
    s.pids.limit = opt_u64(dir, "pids.max")?
        .filter(|l| *l != u64::MAX)
        .unwrap_or(0);

    if dir.join("io.stat").exists() {
        let (bytes, ios) = parse_io_stat_v2(&fsutil::read(dir, "io.stat")?);
        s.blkio.io_service_bytes_recursive = bytes;
        s.blkio.io_serviced_recursive = ios;
    }
    for size in hugetlb::available() {
        if let Some(usage) = opt_u64(dir, &format!("hugetlb.{size}.current"))? {
            let ev = opt_keyed(dir, &format!("hugetlb.{size}.events"))?;
            s.hugetlb.insert(
                size,
                Hugetlb {
                    usage,
                    max: 0,
                    failcnt: ev.get("max").copied().unwrap_or(0),
                },
            );
        }
    }
    Ok(s)
}
