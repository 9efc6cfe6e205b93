//! Writing `linux.resources` into the v1 controller files.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory};

use super::V1Manager;
use crate::{devices, fsutil, CgroupError, LinuxResources};

/// Writes every setting of `r` (already validated).
pub fn apply(m: &V1Manager, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(cpu) = r.cpu() {
        apply_cpu(m, cpu)?;
    }
    if let Some(mem) = r.memory() {
        // The only error is "no memory controller mounted": validate has refused the limits
        // that need it, and apply_memory still warns about the ignored kernel limits.
        apply_memory(m.dir("memory").ok(), mem)?;
    }
    if let Some(p) = r.pids() {
        let v = match p.limit() {
            0 => None,
            l if l < 0 => Some("max".to_string()),
            l => Some(l.to_string()),
        };
        if let Some(v) = v {
            fsutil::write(m.dir("pids")?, "pids.max", &v)?;
        }
    }
    if let Some(b) = r.block_io() {
        apply_blkio(m.dir("blkio")?, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        for l in h {
            let limit = if l.limit() < 0 {
                u64::MAX.to_string()
            } else {
                l.limit().to_string()
            };
            match (m.dirs.get("hugetlb"), &m.unified) {
                (Some(d), _) => {
                    // Reservation limits first when the kernel has them (as the spec asks).
                    let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size());
                    if d.join(&rsvd).exists() {
                        fsutil::write(d, &rsvd, &limit)?;
                    }
                    fsutil::write(
                        d,
                        &format!("hugetlb.{}.limit_in_bytes", l.page_size()),
                        &limit,
                    )?
                }
                (None, Some((_, u))) => {
                    crate::hugetlb::write_v2_limit(u, l.page_size(), l.limit())?
                }
                (None, None) => {
                    return Err(CgroupError::NoController {
                        controller: "hugetlb".into(),
                    })
                }
            }
        }
    }
    if let Some(n) = r.network() {
        if let Some(c) = n.class_id() {
            fsutil::write(m.dir("net_cls")?, "net_cls.classid", &c.to_string())?;
        }
        for p in n.priorities().iter().flatten() {
            fsutil::write(
                m.dir("net_prio")?,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
            )?;
        }
    }
    if let Some(rd) = r.rdma() {
        let mut names: Vec<&String> = rd.keys().collect();
        names.sort();
        for dev in names {
            let l = &rd[dev];
            let mut line = dev.clone();
            if let Some(h) = l.hca_handles() {
                line.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                line.push_str(&format!(" hca_object={o}"));
            }
            fsutil::write(m.dir("rdma")?, "rdma.max", &line)?;
        }
    }
    if let Some(d) = r.devices() {
        let rules = devices::normalize(d)?;
        let dir = m.dir("devices")?;
        for w in devices::v1_writes(&rules) {
            fsutil::write(dir, w.file, &w.line)?;
        }
    }
    Ok(())
}

fn apply_cpu(m: &V1Manager, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(cs) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        fsutil::write(m.dir("cpuset")?, "cpuset.cpus", cs)?;
    }
    if let Some(ms) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        fsutil::write(m.dir("cpuset")?, "cpuset.mems", ms)?;
    }
    let has_cpu = cpu.shares().is_some()
        || cpu.period().is_some()
        || cpu.quota().is_some()
        || cpu.burst().is_some()
        || cpu.realtime_period().is_some()
        || cpu.realtime_runtime().is_some()
        || cpu.idle().is_some();
    if !has_cpu {
        return Ok(());
    }
    let d = m.dir("cpu")?;
    if let Some(s) = cpu.shares().filter(|s| *s != 0) {
        fsutil::write(d, "cpu.shares", &s.to_string())?;
    }
    if let Some(p) = cpu.period().filter(|p| *p != 0) {
        fsutil::write(d, "cpu.cfs_period_us", &p.to_string())?;
    }
    if let Some(q) = cpu.quota().filter(|q| *q != 0) {
        let q = if q < 0 { -1 } else { q };
        fsutil::write(d, "cpu.cfs_quota_us", &q.to_string())?;
    }
    if let Some(b) = cpu.burst() {
        fsutil::write(d, "cpu.cfs_burst_us", &b.to_string())?;
    }
    if let Some(p) = cpu.realtime_period().filter(|p| *p != 0) {
        fsutil::write(d, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(rt) = cpu.realtime_runtime().filter(|r| *r != 0) {
        fsutil::write(d, "cpu.rt_runtime_us", &rt.to_string())?;
    }
    if let Some(i) = cpu.idle() {
        fsutil::write(d, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// v1 memory: the memsw limit (memory + swap) must never be below the memory limit, so the
/// order of the two writes depends on whether the limits grow or shrink.
fn apply_memory(dir: Option<&Path>, mem: &LinuxMemory) -> Result<(), CgroupError> {
    if mem.kernel().is_some() || mem.kernel_tcp().is_some() {
        tracing::warn!("linux.resources.memory.kernel/kernelTCP are ignored (kernel memory limits are deprecated), as runc does");
    }
    let Some(d) = dir else { return Ok(()) };
    let fmt = |v: i64| {
        if v < 0 {
            "-1".to_string()
        } else {
            v.to_string()
        }
    };
    // A limit or reservation of 0 is unset, as runc reads it: `docker update --pids-limit`
    // sends `"memory": {"limit": 0, "reservation": 0}`.
    let limit = mem.limit().filter(|l| *l != 0);
    if let (Some(true), Some(limit)) = (mem.check_before_update(), limit) {
        let usage = fsutil::read_u64(d, "memory.usage_in_bytes")?;
        if limit > 0 && (limit as u64) < usage {
            return Err(CgroupError::Invalid {
                setting: "memory.limit".into(),
                value: limit.to_string(),
                reason: format!("below current usage {usage} (checkBeforeUpdate)"),
            });
        }
    }
    let swap = mem.swap().filter(|s| *s != 0);
    match (limit, swap) {
        (Some(l), Some(s)) => {
            let cur = fsutil::read_u64(d, "memory.memsw.limit_in_bytes").unwrap_or(u64::MAX);
            let growing = s < 0 || (s as u64) > cur;
            if growing {
                fsutil::write(d, "memory.memsw.limit_in_bytes", &fmt(s))?;
                fsutil::write(d, "memory.limit_in_bytes", &fmt(l))?;
            } else {
                fsutil::write(d, "memory.limit_in_bytes", &fmt(l))?;
                fsutil::write(d, "memory.memsw.limit_in_bytes", &fmt(s))?;
            }
        }
        (Some(l), None) => {
            // memory may never exceed memory+swap. When they are equal (no swap allowed),
            // keep it so by moving memsw along; otherwise refuse clearly instead of the
            // kernel's EINVAL.
            // No memsw file without swap accounting (CONFIG_MEMCG_SWAP, swapaccount=0).
            let memsw = fsutil::read_optional_u64(d, "memory.memsw.limit_in_bytes")?;
            let cur = fsutil::read_u64(d, "memory.limit_in_bytes")?;
            let new = if l < 0 { u64::MAX } else { l as u64 };
            match memsw {
                Some(sw) if new > sw && sw == cur => {
                    fsutil::write(d, "memory.memsw.limit_in_bytes", &fmt(l))?;
                    fsutil::write(d, "memory.limit_in_bytes", &fmt(l))?;
                }
                Some(sw) if new > sw => {
                    return Err(CgroupError::Invalid {
                        setting: "memory.limit".into(),
                        value: l.to_string(),
                        reason: format!(
                            "above the memory+swap limit {sw} in force; set memory.swap too"
                        ),
                    })
                }
                _ => fsutil::write(d, "memory.limit_in_bytes", &fmt(l))?,
            }
        }
        (None, Some(s)) => fsutil::write(d, "memory.memsw.limit_in_bytes", &fmt(s))?,
        (None, None) => {}
    }
    if let Some(r) = mem.reservation().filter(|r| *r != 0) {
        fsutil::write(d, "memory.soft_limit_in_bytes", &fmt(r))?;
    }
    if let Some(s) = mem.swappiness() {
        fsutil::write(d, "memory.swappiness", &s.to_string())?;
    }
    if let Some(true) = mem.disable_oom_killer() {
        fsutil::write(d, "memory.oom_control", "1")?;
    }
    if let Some(h) = mem.use_hierarchy() {
        fsutil::write(d, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    Ok(())
}

fn apply_blkio(d: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // Without CFQ the weight knobs are the BFQ ones.
    let (weight, weight_dev) = if d.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        fsutil::write(d, weight, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        fsutil::write(d, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            fsutil::write(d, weight_dev, &format!("{}:{} {w}", wd.major(), wd.minor()))?;
        }
        if let Some(w) = wd.leaf_weight() {
            fsutil::write(
                d,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", wd.major(), wd.minor()),
            )?;
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, list) in throttles {
        for t in list.iter().flatten() {
            fsutil::write(
                d,
                file,
                &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}
