//! Reading v1 statistics into [`Stats`]. A missing file (a controller or counter this kernel
//! lacks) leaves the field at zero, as runc reports it; a file that exists but cannot be read
//! or parsed is an error. Every optional read goes through [`fsutil::read_optional`] and its
//! typed variants, which give `None` for ENOENT only, so the `unwrap_or(0)`s below default
//! an absent file or an absent key, never a failed read.

use std::path::Path;

use super::V1Manager;
use crate::fsutil::{read_optional as opt_text, read_optional_u64 as opt_u64};
use crate::stats::{parse_blkio_v1, parse_cpuset_list, BlkioEntry, CpuSet, Hugetlb, MemoryEntry};
use crate::{fsutil, hugetlb, CgroupError, Stats};

/// The numbers of a per-CPU list file (`cpuacct.usage_percpu`); a word that is not a
/// number is an error naming the file.
fn list_u64(dir: &Path, file: &str, text: &str) -> Result<Vec<u64>, CgroupError> {
    text.split_whitespace()
        .map(|v| {
            v.parse().map_err(|_| CgroupError::Parse {
                path: dir.join(file),
                reason: format!("expected a list of numbers, found {v:?}"),
            })
        })
        .collect()
}

/// Collects every statistic the mounted controllers offer.
pub fn collect(m: &V1Manager) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(d) = m.dirs.get("cpuacct") {
        cpuacct(d, &mut s)?;
    }
    if let Some(d) = m.dirs.get("cpu") {
        if let Some(t) = opt_text(d, "cpu.stat")? {
            let kv = fsutil::parse_flat_keyed(&t);
            s.cpu.throttling.periods = kv.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = kv.get("throttled_time").copied().unwrap_or(0);
        }
    }
    if let Some(d) = m.dirs.get("memory") {
        memory(d, &mut s)?;
    }
    if let Some(d) = m.dirs.get("pids") {
        s.pids.current = opt_u64(d, "pids.current")?.unwrap_or(0);
        s.pids.limit = opt_u64(d, "pids.max")?
            .filter(|l| *l != u64::MAX)
            .unwrap_or(0);
    }
    if let Some(d) = m.dirs.get("blkio") {
        blkio(d, &mut s)?;
    }
    if let Some(d) = m.dirs.get("cpuset") {
        s.cpuset = Some(cpuset(d)?);
    }
    if let Some(d) = m.dirs.get("hugetlb") {
        for size in hugetlb::available() {
            let e = Hugetlb {
                usage: opt_u64(d, &format!("hugetlb.{size}.usage_in_bytes"))?.unwrap_or(0),
                max: opt_u64(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?.unwrap_or(0),
                failcnt: opt_u64(d, &format!("hugetlb.{size}.failcnt"))?.unwrap_or(0),
            };
            s.hugetlb.insert(size, e);
        }
    } else if let Some((_, u)) = &m.unified {
        for size in hugetlb::available() {
            if let Some(usage) = opt_u64(u, &format!("hugetlb.{size}.current"))? {
                let failcnt = fsutil::read_optional_keyed(u, &format!("hugetlb.{size}.events"))?
                    .get("max")
                    .copied()
                    .unwrap_or(0);
                s.hugetlb.insert(
                    size,
                    Hugetlb {
                        usage,
                        max: 0,
                        failcnt,
                    },
                );
            }
        }
    }
    Ok(s)
}

fn cpuacct(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    s.cpu.usage.total = opt_u64(d, "cpuacct.usage")?.unwrap_or(0);
    if let Some(t) = opt_text(d, "cpuacct.usage_percpu")? {
        s.cpu.usage.percpu = list_u64(d, "cpuacct.usage_percpu", &t)?;
    }
    if let Some(t) = opt_text(d, "cpuacct.usage_percpu_sys")? {
        s.cpu.usage.percpu_kernel = list_u64(d, "cpuacct.usage_percpu_sys", &t)?;
    }
    if let Some(t) = opt_text(d, "cpuacct.usage_percpu_user")? {
        s.cpu.usage.percpu_user = list_u64(d, "cpuacct.usage_percpu_user", &t)?;
    }
    if let (Some(u), Some(k)) = (
        opt_u64(d, "cpuacct.usage_user")?,
        opt_u64(d, "cpuacct.usage_sys")?,
    ) {
        s.cpu.usage.user = u;
        s.cpu.usage.kernel = k;
    } else if let Some(t) = opt_text(d, "cpuacct.stat")? {
        // USER_HZ ticks (100 per second on Linux) → nanoseconds.
        let kv = fsutil::parse_flat_keyed(&t);
        s.cpu.usage.user = kv.get("user").copied().unwrap_or(0) * 10_000_000;
        s.cpu.usage.kernel = kv.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    Ok(())
}

fn entry(d: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    Ok(MemoryEntry {
        limit: opt_u64(d, &format!("{prefix}.limit_in_bytes"))?.unwrap_or(0),
        usage: opt_u64(d, &format!("{prefix}.usage_in_bytes"))?.unwrap_or(0),
        max: opt_u64(d, &format!("{prefix}.max_usage_in_bytes"))?.unwrap_or(0),
        failcnt: opt_u64(d, &format!("{prefix}.failcnt"))?.unwrap_or(0),
    })
}

fn memory(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    if let Some(t) = opt_text(d, "memory.stat")? {
        s.memory.raw = fsutil::parse_flat_keyed(&t);
        s.memory.cache = s
            .memory
            .raw
            .get("total_cache")
            .or_else(|| s.memory.raw.get("cache"))
            .copied()
            .unwrap_or(0);
    }
    s.memory.usage = entry(d, "memory")?;
    s.memory.swap = entry(d, "memory.memsw")?;
    s.memory.kernel = entry(d, "memory.kmem")?;
    s.memory.kernel_tcp = entry(d, "memory.kmem.tcp")?;
    Ok(())
}

fn cpuset(d: &Path) -> Result<CpuSet, CgroupError> {
    let list = |f: &str| -> Result<Vec<u16>, CgroupError> {
        let text = opt_text(d, f)?.unwrap_or_default();
        parse_cpuset_list(&text).ok_or_else(|| CgroupError::Parse {
            path: d.join(f),
            reason: format!("not a cpuset list: {:?}", text.trim()),
        })
    };
    let flag = |f: &str| -> Result<u64, CgroupError> {
        Ok(opt_u64(d, &format!("cpuset.{f}"))?.unwrap_or(0))
    };
    // -1 (the kernel's "system default") when the file is absent, as runc reports it.
    let level_file = "cpuset.sched_relax_domain_level";
    let level = match opt_text(d, level_file)? {
        None => -1,
        Some(t) => t.trim().parse().map_err(|_| CgroupError::Parse {
            path: d.join(level_file),
            reason: format!("expected a number, found {:?}", t.trim()),
        })?,
    };
    Ok(CpuSet {
        cpus: list("cpuset.cpus")?,
        cpu_exclusive: flag("cpu_exclusive")?,
        mems: list("cpuset.mems")?,
        mem_hardwall: flag("mem_hardwall")?,
        mem_exclusive: flag("mem_exclusive")?,
        memory_migrate: flag("memory_migrate")?,
        memory_spread_page: flag("memory_spread_page")?,
        memory_spread_slab: flag("memory_spread_slab")?,
        memory_pressure: flag("memory_pressure")?,
        sched_load_balance: flag("sched_load_balance")?,
        sched_relax_domain_level: level,
    })
}

fn blkio(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let read = |f: &str| -> Result<Option<Vec<BlkioEntry>>, CgroupError> {
        Ok(opt_text(d, f)?.map(|t| parse_blkio_v1(&t)))
    };
    // CFQ files, else BFQ, else the throttle layer (always there), as runc falls back.
    for prefix in ["blkio.", "blkio.bfq.", "blkio.throttle."] {
        if let Some(b) = read(&format!("{prefix}io_service_bytes_recursive"))? {
            s.blkio.io_service_bytes_recursive = b;
            s.blkio.io_serviced_recursive =
                read(&format!("{prefix}io_serviced_recursive"))?.unwrap_or_default();
            if prefix != "blkio.throttle." {
                s.blkio.io_queued_recursive =
                    read(&format!("{prefix}io_queued_recursive"))?.unwrap_or_default();
                s.blkio.io_service_time_recursive =
                    read(&format!("{prefix}io_service_time_recursive"))?.unwrap_or_default();
                s.blkio.io_wait_time_recursive =
                    read(&format!("{prefix}io_wait_time_recursive"))?.unwrap_or_default();
                s.blkio.io_merged_recursive =
                    read(&format!("{prefix}io_merged_recursive"))?.unwrap_or_default();
                s.blkio.io_time_recursive =
                    read(&format!("{prefix}time_recursive"))?.unwrap_or_default();
                s.blkio.sectors_recursive =
                    read(&format!("{prefix}sectors_recursive"))?.unwrap_or_default();
            }
            break;
        }
    }
    Ok(())
}
