//! Reading cgroup v2 statistics into runc's [`Stats`] shape. A missing file (a controller
//! not enabled for the cgroup, a counter this kernel lacks) leaves the field at zero, as
//! runc reports it; optional reads go through [`fsutil::read_optional`] and its typed
//! variants, which give `None` for ENOENT only, so a file that exists but cannot be read or
//! parsed is an error. The `unwrap_or(0)`s below default an absent file or key only.

use std::path::Path;

use crate::fsutil::{read_optional_keyed as opt_keyed, read_optional_u64 as opt_u64};
use crate::stats::{parse_cpuset_list, parse_io_stat_v2, CpuSet, Hugetlb, MemoryEntry};
use crate::{fsutil, hugetlb, CgroupError, Stats};

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

    memory(dir, &mut s)?;

    s.pids.current = opt_u64(dir, "pids.current")?.unwrap_or(0);
    s.pids.limit = opt_u64(dir, "pids.max")?
        .filter(|l| *l != u64::MAX)
        .unwrap_or(0);

    if let Some(text) = fsutil::read_optional(dir, "io.stat")? {
        let (bytes, ios) = parse_io_stat_v2(&text);
        s.blkio.io_service_bytes_recursive = bytes;
        s.blkio.io_serviced_recursive = ios;
    }
    s.cpuset = Some(cpuset(dir)?);
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

/// Memory usage as runc reports it on v2. Nothing when the memory controller is not enabled
/// (no `memory.current`), as runc leaves the section empty then. Swap is reported as
/// memory+swap like v1's memsw; without swap accounting (no `memory.swap.current`) that is
/// the memory usage and limit alone, as runc computes it. `usage.max` is `memory.peak` (as
/// newer runc reads it) and `usage.failcnt` the `max` count of `memory.events` (how often the
/// limit was hit; runc leaves it 0 on v2).
fn memory(dir: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let Some(usage) = opt_u64(dir, "memory.current")? else {
        return Ok(());
    };
    s.memory.raw = opt_keyed(dir, "memory.stat")?;
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    let events = opt_keyed(dir, "memory.events")?;
    let limit = opt_u64(dir, "memory.max")?.unwrap_or(u64::MAX);
    s.memory.usage = MemoryEntry {
        limit,
        usage,
        max: opt_u64(dir, "memory.peak")?.unwrap_or(0),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    let (swap, swap_max) = match opt_u64(dir, "memory.swap.current")? {
        Some(swap) => (swap, opt_u64(dir, "memory.swap.max")?.unwrap_or(u64::MAX)),
        None => (0, 0),
    };
    s.memory.swap = MemoryEntry {
        limit: limit.saturating_add(swap_max),
        usage: usage.saturating_add(swap),
        max: 0,
        failcnt: 0,
    };
    Ok(())
}

/// runc's `cpuset` section on v2: the CPUs and memory nodes the cgroup may really use
/// (`cpuset.cpus.effective`, `cpuset.mems.effective`, expanded to lists). v2 has none of
/// v1's flag files (exclusivity, spreading, memory pressure, scheduler domains), so those
/// fields stay 0 as in runc's v2 output; `cpuset.cpus.partition` has no field in runc's
/// shape and is not reported. Like runc, the section is present even when the cpuset
/// controller is not enabled for the cgroup (then without lists).
fn cpuset(dir: &Path) -> Result<CpuSet, CgroupError> {
    let list = |f: &str| -> Result<Vec<u16>, CgroupError> {
        let Some(text) = fsutil::read_optional(dir, f)? else {
            return Ok(Vec::new());
        };
        parse_cpuset_list(&text).ok_or_else(|| CgroupError::Parse {
            path: dir.join(f),
            reason: format!("not a cpuset list: {:?}", text.trim()),
        })
    };
    Ok(CpuSet {
        cpus: list("cpuset.cpus.effective")?,
        mems: list("cpuset.mems.effective")?,
        ..CpuSet::default()
    })
}
