//! Refusing, before anything is created, the settings a cgroup v2 host cannot enforce.

use crate::{devices, CgroupError, LinuxResources};

fn unsupported(setting: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::Unsupported {
        setting: setting.into(),
        reason: reason.into(),
    }
}

fn need(avail: &[String], controller: &str, setting: &str) -> Result<(), CgroupError> {
    if avail.iter().any(|a| a == controller) {
        Ok(())
    } else {
        Err(unsupported(
            setting,
            format!("the {controller} controller is not available in this cgroup v2 hierarchy"),
        ))
    }
}

/// Checks `r` against the controllers `avail` of the root cgroup.
pub fn check(avail: &[String], r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(mem) = r.memory() {
        if mem.limit().is_some() || mem.reservation().is_some() || mem.swap().is_some() {
            need(avail, "memory", "memory")?;
        }
        if mem.swappiness().is_some() {
            return Err(unsupported(
                "memory.swappiness",
                "cgroup v2 has no per-cgroup swappiness",
            ));
        }
        if mem.disable_oom_killer() == Some(true) {
            return Err(unsupported(
                "memory.disableOOMKiller",
                "cgroup v2 cannot disable the OOM killer",
            ));
        }
        // Without a limit here, apply checks the swap split against the limit in force.
        let limit = mem.limit().filter(|l| *l != 0);
        if let (Some(_), Err(e)) = (limit, crate::convert::memory_swap_to_v2(mem.swap(), limit)) {
            return Err(CgroupError::Invalid {
                setting: "memory.swap".into(),
                value: mem.swap().unwrap_or(0).to_string(),
                reason: e,
            });
        }
    }
    if let Some(cpu) = r.cpu() {
        if cpu.shares().is_some()
            || cpu.quota().is_some()
            || cpu.period().is_some()
            || cpu.burst().is_some()
            || cpu.idle().is_some()
        {
            need(avail, "cpu", "cpu")?;
        }
        if cpu.realtime_runtime().is_some_and(|v| v != 0)
            || cpu.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(unsupported(
                "cpu.realtimeRuntime",
                "cgroup v2 has no realtime CPU bandwidth",
            ));
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            need(avail, "cpuset", "cpu.cpus")?;
        }
        if let Some(i) = cpu.idle() {
            if !(0..=1).contains(&i) {
                return Err(CgroupError::Invalid {
                    setting: "cpu.idle".into(),
                    value: i.to_string(),
                    reason: "must be 0 or 1".into(),
                });
            }
        }
    }
    if r.pids().is_some() {
        need(avail, "pids", "pids.limit")?;
    }
    if let Some(b) = r.block_io() {
        need(avail, "io", "blockIO")?;
        if b.leaf_weight().is_some_and(|w| w != 0)
            || b.weight_device()
                .iter()
                .flatten()
                .any(|w| w.leaf_weight().is_some())
        {
            return Err(unsupported(
                "blockIO.leafWeight",
                "cgroup v2 has no leaf weights",
            ));
        }
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            if !(10..=1000).contains(&w) {
                return Err(CgroupError::Invalid {
                    setting: "blockIO.weight".into(),
                    value: w.to_string(),
                    reason: "must be between 10 and 1000".into(),
                });
            }
        }
    }
    for (i, l) in r.hugepage_limits().iter().flatten().enumerate() {
        let setting = format!("hugepageLimits[{i}]");
        need(avail, "hugetlb", &setting)?;
        if crate::hugetlb::page_size_kb(l.page_size()).is_none() {
            return Err(CgroupError::Invalid {
                setting: format!("{setting}.pageSize"),
                value: l.page_size().clone(),
                reason: "expected <number>KB|MB|GB".into(),
            });
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(unsupported(
                "network",
                "net_cls/net_prio exist only in cgroup v1",
            ));
        }
    }
    if r.rdma().as_ref().is_some_and(|x| !x.is_empty()) {
        need(avail, "rdma", "rdma")?;
    }
    if let Some(u) = r.unified() {
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            let setting = format!("unified.{k:?}");
            let Some((ctrl, _)) = k.split_once('.') else {
                return Err(CgroupError::Invalid {
                    setting,
                    value: u[k].clone(),
                    reason: "key is not a cgroup file name".into(),
                });
            };
            if k.contains('/')
                || k.starts_with("cgroup.")
                    && !matches!(
                        k.as_str(),
                        "cgroup.max.depth" | "cgroup.max.descendants" | "cgroup.type"
                    )
            {
                return Err(CgroupError::Invalid {
                    setting,
                    value: u[k].clone(),
                    reason: "not a settable cgroup file".into(),
                });
            }
            if ctrl != "cgroup" {
                need(avail, ctrl, &setting)?;
            }
        }
    }
    if let Some(d) = r.devices() {
        devices::normalize(d)?;
    }
    Ok(())
}
