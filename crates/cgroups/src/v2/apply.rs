//! Writing `linux.resources` into cgroup v2 files, converting v1-style values as runc does.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory};

use crate::convert::{
    blkio_weight_to_io_weight, cpu_max, cpu_shares_to_weight, memory_swap_to_v2, v2_limit,
};
use crate::{devices, fsutil, CgroupError, LinuxResources};

/// Writes every setting of `r` (already validated) into `dir`.
pub fn apply(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(cpu) = r.cpu() {
        apply_cpu(dir, cpu)?;
    }
    if let Some(mem) = r.memory() {
        apply_memory(dir, mem)?;
    }
    if let Some(p) = r.pids() {
        match p.limit() {
            0 => {}
            l if l < 0 => fsutil::write(dir, "pids.max", "max")?,
            l => fsutil::write(dir, "pids.max", &l.to_string())?,
        }
    }
    if let Some(b) = r.block_io() {
        apply_io(dir, b)?;
    }
    for l in r.hugepage_limits().iter().flatten() {
        crate::hugetlb::write_v2_limit(dir, l.page_size(), l.limit())?;
    }
    if let Some(rd) = r.rdma() {
        let mut names: Vec<&String> = rd.keys().collect();
        names.sort();
        for dev in names {
            let l = &rd[dev];
            let h = l.hca_handles().map_or("max".to_string(), |v| v.to_string());
            let o = l.hca_objects().map_or("max".to_string(), |v| v.to_string());
            fsutil::write(
                dir,
                "rdma.max",
                &format!("{dev} hca_handle={h} hca_object={o}"),
            )?;
        }
    }
    if let Some(u) = r.unified() {
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            fsutil::write(dir, k, &u[k])?;
        }
    }
    if let Some(d) = r.devices() {
        let rules = devices::normalize(d)?;
        super::bpf::install_device_filter(dir, &devices::ebpf_program(&rules))?;
    }
    Ok(())
}

fn apply_cpu(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(cs) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        fsutil::write(dir, "cpuset.cpus", cs)?;
    }
    if let Some(ms) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        fsutil::write(dir, "cpuset.mems", ms)?;
    }
    if let Some(s) = cpu.shares().filter(|s| *s != 0) {
        fsutil::write(dir, "cpu.weight", &cpu_shares_to_weight(s).to_string())?;
    }
    let quota = cpu.quota().filter(|q| *q != 0);
    let period = cpu.period().filter(|p| *p != 0);
    if quota.is_none() && period.is_some() {
        // Keep the current quota when only the period changes.
        let cur = fsutil::read(dir, "cpu.max")?;
        let q = cur.split_whitespace().next().unwrap_or("max");
        let p = period.unwrap_or(100_000);
        fsutil::write(dir, "cpu.max", &format!("{q} {p}"))?;
    } else if let Some(v) = cpu_max(quota, period) {
        fsutil::write(dir, "cpu.max", &v)?;
    }
    if let Some(b) = cpu.burst() {
        fsutil::write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = cpu.idle() {
        fsutil::write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

fn apply_memory(dir: &Path, mem: &LinuxMemory) -> Result<(), CgroupError> {
    if mem.kernel().is_some() || mem.kernel_tcp().is_some() {
        tracing::warn!("linux.resources.memory.kernel/kernelTCP are ignored (no kernel memory limits on cgroup v2), as runc does");
    }
    // A limit or reservation of 0 is unset, as runc reads it: `docker update --pids-limit`
    // sends `"memory": {"limit": 0, "reservation": 0}`.
    let given = mem.limit().filter(|l| *l != 0);
    if let (Some(true), Some(limit)) = (mem.check_before_update(), given) {
        let usage = fsutil::read_u64(dir, "memory.current")?;
        if limit > 0 && (limit as u64) < usage {
            return Err(CgroupError::Invalid {
                setting: "memory.limit".into(),
                value: limit.to_string(),
                reason: format!("below current usage {usage} (checkBeforeUpdate)"),
            });
        }
    }
    // `update --memory-swap` alone: the swap split needs the memory limit in force.
    let limit = match (mem.swap(), given) {
        (Some(s), None) if s > 0 => match fsutil::read_u64(dir, "memory.max")? {
            u64::MAX => None,
            v => Some(i64::try_from(v).map_err(|_| CgroupError::Parse {
                path: dir.join("memory.max"),
                reason: format!("{v} is out of range"),
            })?),
        },
        (_, l) => l,
    };
    let swap = memory_swap_to_v2(mem.swap(), limit).map_err(|reason| CgroupError::Invalid {
        setting: "memory.swap".into(),
        value: mem.swap().unwrap_or(0).to_string(),
        reason,
    })?;
    if let Some(s) = swap {
        fsutil::write(dir, "memory.swap.max", &s)?;
    }
    if let Some(l) = given {
        fsutil::write(dir, "memory.max", &v2_limit(l))?;
    }
    if let Some(r) = mem.reservation().filter(|r| *r != 0) {
        fsutil::write(dir, "memory.low", &v2_limit(r))?;
    }
    Ok(())
}

fn apply_io(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // BFQ takes the v1 range directly; io.weight wants the converted value.
    let bfq = dir.join("io.bfq.weight").exists();
    let weight_of = |w: u16| {
        if bfq {
            ("io.bfq.weight", u64::from(w))
        } else {
            ("io.weight", blkio_weight_to_io_weight(u64::from(w)))
        }
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let (file, v) = weight_of(w);
        fsutil::write(dir, file, &v.to_string())?;
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            let (file, v) = weight_of(w);
            fsutil::write(dir, file, &format!("{}:{} {v}", wd.major(), wd.minor()))?;
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, list) in throttles {
        for t in list.iter().flatten() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            fsutil::write(
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", t.major(), t.minor()),
            )?;
        }
    }
    Ok(())
}
