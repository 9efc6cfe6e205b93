//! Refusing, before anything is created, the settings a v1/hybrid host cannot enforce.

use std::path::Path;

use super::V1Manager;
use crate::{devices, CgroupError, LinuxResources};

fn unsupported(setting: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::Unsupported {
        setting: setting.into(),
        reason: reason.into(),
    }
}

fn need(m: &V1Manager, controller: &str, setting: &str) -> Result<(), CgroupError> {
    if m.dirs.contains_key(controller) {
        Ok(())
    } else {
        Err(unsupported(
            setting,
            format!("the {controller} cgroup controller is not mounted on this host"),
        ))
    }
}

/// The root cgroup of `controller` has `file` (the kernel supports the knob).
fn need_file(
    m: &V1Manager,
    controller: &str,
    file: &str,
    setting: &str,
    why: &str,
) -> Result<(), CgroupError> {
    need(m, controller, setting)?;
    match m.mounts.get(controller) {
        Some(mp) if !mp.join(file).exists() => Err(unsupported(
            setting,
            format!("{why} ({} is missing)", mp.join(file).display()),
        )),
        _ => Ok(()),
    }
}

/// Proportional I/O weights need the CFQ knob (`blkio.weight`) or BFQ's (`blkio.bfq.weight`);
/// a kernel whose schedulers offer neither (none, mq-deadline, kyber only, or BFQ not built)
/// has no file to write, so the setting is refused before anything is created.
fn need_weight_file(m: &V1Manager, setting: &str) -> Result<(), CgroupError> {
    need(m, "blkio", setting)?;
    match m.mounts.get("blkio") {
        Some(mp) if !mp.join("blkio.weight").exists() && !mp.join("blkio.bfq.weight").exists() => {
            Err(unsupported(
                setting,
                format!(
                    "this kernel has no proportional I/O weight (neither {} nor blkio.bfq.weight exists: no CFQ or BFQ scheduler)",
                    mp.join("blkio.weight").display()
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn range(setting: &str, v: i128, lo: i128, hi: i128) -> Result<(), CgroupError> {
    if v < lo || v > hi {
        return Err(CgroupError::Invalid {
            setting: setting.into(),
            value: v.to_string(),
            reason: format!("must be between {lo} and {hi}"),
        });
    }
    Ok(())
}

/// Checks every setting of `r`.
pub fn check(m: &V1Manager, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        return Err(unsupported(
            &format!("unified.{:?}", keys[0]),
            "raw cgroup v2 keys need a cgroup v2 (unified) host; this host runs cgroup v1",
        ));
    }
    if let Some(mem) = r.memory() {
        let any = mem.limit().is_some()
            || mem.reservation().is_some()
            || mem.swap().is_some()
            || mem.swappiness().is_some()
            || mem.disable_oom_killer().is_some()
            || mem.use_hierarchy().is_some();
        if any {
            need(m, "memory", "memory")?;
        }
        if mem.swap().is_some_and(|s| s != 0) {
            need_file(
                m,
                "memory",
                "memory.memsw.limit_in_bytes",
                "memory.swap",
                "swap accounting is not enabled in the kernel",
            )?;
        }
        if let Some(s) = mem.swappiness() {
            range("memory.swappiness", i128::from(s), 0, 100)?;
        }
    }
    if let Some(cpu) = r.cpu() {
        if cpu.shares().is_some() || cpu.quota().is_some() || cpu.period().is_some() {
            need(m, "cpu", "cpu")?;
        }
        if cpu.burst().is_some() {
            need_file(
                m,
                "cpu",
                "cpu.cfs_burst_us",
                "cpu.burst",
                "the kernel has no CFS burst",
            )?;
        }
        if cpu.idle().is_some() {
            need_file(
                m,
                "cpu",
                "cpu.idle",
                "cpu.idle",
                "the kernel has no SCHED_IDLE cgroups",
            )?;
            range("cpu.idle", i128::from(cpu.idle().unwrap_or(0)), 0, 1)?;
        }
        if cpu.realtime_runtime().is_some() || cpu.realtime_period().is_some() {
            need_file(
                m,
                "cpu",
                "cpu.rt_runtime_us",
                "cpu.realtimeRuntime",
                "the kernel has no RT group scheduling (CONFIG_RT_GROUP_SCHED)",
            )?;
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            need(m, "cpuset", "cpu.cpus")?;
        }
    }
    if r.pids().is_some() {
        need(m, "pids", "pids.limit")?;
    }
    if let Some(b) = r.block_io() {
        need(m, "blkio", "blockIO")?;
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            range("blockIO.weight", i128::from(w), 10, 1000)?;
            need_weight_file(m, "blockIO.weight")?;
        }
        if b.leaf_weight().is_some() {
            need_file(
                m,
                "blkio",
                "blkio.leaf_weight",
                "blockIO.leafWeight",
                "leaf weights need the CFQ I/O scheduler, gone from this kernel",
            )?;
        }
        if let Some(wd) = b.weight_device() {
            for (i, d) in wd.iter().enumerate() {
                if d.weight().is_some() {
                    need_weight_file(m, &format!("blockIO.weightDevice[{i}].weight"))?;
                }
                if d.leaf_weight().is_some() {
                    need_file(
                        m,
                        "blkio",
                        "blkio.leaf_weight_device",
                        &format!("blockIO.weightDevice[{i}].leafWeight"),
                        "leaf weights need the CFQ I/O scheduler, gone from this kernel",
                    )?;
                }
            }
        }
    }
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        for (i, l) in h.iter().enumerate() {
            let setting = format!("hugepageLimits[{i}]");
            page_size_known(l.page_size(), &setting)?;
            if !m.dirs.contains_key("hugetlb") {
                match &m.unified {
                    Some((mp, _)) if super::root_delegates(mp, "hugetlb") => {}
                    Some((mp, _)) => {
                        return Err(unsupported(
                            &setting,
                            format!(
                                "the hugetlb controller is only in the cgroup2 mount {} and the host does not enable it in {}/cgroup.subtree_control (hezi does not reconfigure host hierarchies)",
                                mp.display(),
                                mp.display()
                            ),
                        ))
                    }
                    None => return Err(unsupported(&setting, "the hugetlb cgroup controller is not mounted on this host")),
                }
            }
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            need(m, "net_cls", "network.classID")?;
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            need(m, "net_prio", "network.priorities")?;
        }
    }
    if r.rdma().as_ref().is_some_and(|x| !x.is_empty()) {
        need(m, "rdma", "rdma")?;
    }
    if let Some(d) = r.devices() {
        devices::normalize(d)?;
        need(m, "devices", "devices")?;
    }
    Ok(())
}

/// A page size as the OCI spec writes it (`2MB`, `1GB`, `64KB`) that the kernel offers.
pub fn page_size_known(size: &str, setting: &str) -> Result<(), CgroupError> {
    let kb = crate::hugetlb::page_size_kb(size).ok_or_else(|| CgroupError::Invalid {
        setting: format!("{setting}.pageSize"),
        value: size.into(),
        reason: "expected <number>KB|MB|GB".into(),
    })?;
    let sys = Path::new("/sys/kernel/mm/hugepages").join(format!("hugepages-{kb}kB"));
    if Path::new("/sys/kernel/mm/hugepages").exists() && !sys.exists() {
        return Err(unsupported(
            &format!("{setting}.pageSize"),
            format!(
                "this kernel has no {size} huge pages ({} is missing)",
                sys.display()
            ),
        ));
    }
    Ok(())
}
