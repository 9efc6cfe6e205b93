//! The manager of a container without a cgroup: hezi run by an ordinary user where no cgroup
//! is delegated to that user (every cgroup v1 or hybrid host, and v2 hosts without a
//! delegated subtree). As runc does in that case, the container runs without cgroups as long
//! as its config asks for no limits; limits are refused naming the setting, and `ps`,
//! `pause`, `update` and `events` say why they cannot work.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::{CgroupError, CgroupManager, FreezerState, Hierarchy, Stats};

/// A [`CgroupManager`] that manages nothing (see the module docs).
#[derive(Debug, Clone)]
pub struct Disabled {
    hierarchy: Hierarchy,
    uid: u32,
}

impl Disabled {
    /// A manager for a container of user `uid` on a host with `hierarchy`.
    pub fn new(hierarchy: Hierarchy, uid: u32) -> Self {
        Disabled { hierarchy, uid }
    }

    fn why(&self) -> String {
        format!(
            "the container has no cgroup: it runs rootless (uid {}) and no cgroup is delegated to that user on this host",
            self.uid
        )
    }

    fn unsupported(&self, what: &str) -> CgroupError {
        CgroupError::Unsupported {
            setting: what.into(),
            reason: self.why(),
        }
    }
}

/// The first setting of `r` that needs a cgroup (device rules do not: without a cgroup the
/// container has only the device nodes it was given), as its JSON path below
/// `linux.resources`.
pub fn first_limit(r: &LinuxResources) -> Option<&'static str> {
    // Zeros and empty values are "unset", as runc reads them (Docker sends
    // `"memory": {"limit": 0, "reservation": 0}` and `blkioWeight: 0` for every container).
    let nz = |v: Option<i64>| v.is_some_and(|x| x != 0);
    let memory = r.memory().as_ref().is_some_and(|m| {
        nz(m.limit())
            || nz(m.reservation())
            || nz(m.swap())
            || nz(m.kernel())
            || nz(m.kernel_tcp())
            || m.swappiness().is_some()
            || m.disable_oom_killer() == Some(true)
    });
    let cpu = r.cpu().as_ref().is_some_and(|c| {
        c.shares().is_some_and(|x| x != 0)
            || nz(c.quota())
            || c.period().is_some_and(|x| x != 0)
            || nz(c.realtime_runtime())
            || c.realtime_period().is_some_and(|x| x != 0)
            || c.cpus().as_ref().is_some_and(|x| !x.is_empty())
            || c.mems().as_ref().is_some_and(|x| !x.is_empty())
            || c.idle().is_some_and(|x| x != 0)
    });
    let pids = r.pids().as_ref().is_some_and(|p| p.limit() > 0);
    let block_io = r.block_io().as_ref().is_some_and(|b| {
        b.weight().is_some_and(|x| x != 0)
            || b.leaf_weight().is_some_and(|x| x != 0)
            || b.weight_device().as_ref().is_some_and(|x| !x.is_empty())
            || b.throttle_read_bps_device()
                .as_ref()
                .is_some_and(|x| !x.is_empty())
            || b.throttle_write_bps_device()
                .as_ref()
                .is_some_and(|x| !x.is_empty())
            || b.throttle_read_iops_device()
                .as_ref()
                .is_some_and(|x| !x.is_empty())
            || b.throttle_write_iops_device()
                .as_ref()
                .is_some_and(|x| !x.is_empty())
    });
    let checks: [(&'static str, bool); 8] = [
        ("memory", memory),
        ("cpu", cpu),
        ("pids", pids),
        ("blockIO", block_io),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|m| !m.is_empty())),
        (
            "unified",
            r.unified().as_ref().is_some_and(|m| !m.is_empty()),
        ),
    ];
    checks.into_iter().find(|(_, set)| *set).map(|(k, _)| k)
}

/// Whether the caller can create every cgroup directory `manager` would make: the nearest
/// existing ancestor of each path must be writable by this process.
pub fn can_create(manager: &dyn CgroupManager) -> bool {
    fn nearest_existing(p: &Path) -> Option<&Path> {
        p.ancestors().find(|a| a.exists())
    }
    let paths: Vec<PathBuf> = manager.paths().into_values().collect();
    !paths.is_empty()
        && paths.iter().all(|p| {
            nearest_existing(p)
                .is_some_and(|a| nix::unistd::access(a, nix::unistd::AccessFlags::W_OK).is_ok())
        })
}

impl CgroupManager for Disabled {
    fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        BTreeMap::new()
    }

    fn validate(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        match first_limit(r) {
            Some(k) => Err(self.unsupported(k)),
            None => Ok(()),
        }
    }

    fn create(&self) -> Result<(), CgroupError> {
        Ok(())
    }

    fn add_task(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.validate(r)
    }

    fn freeze(&self, _state: FreezerState) -> Result<(), CgroupError> {
        Err(CgroupError::Unsupported {
            setting: "freezer".into(),
            reason: format!("cannot pause or resume: {}", self.why()),
        })
    }

    fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        Ok(FreezerState::Thawed)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        Err(CgroupError::Unsupported {
            setting: "stats".into(),
            reason: format!("no statistics: {}", self.why()),
        })
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Err(CgroupError::Unsupported {
            setting: "pids".into(),
            reason: format!("cannot list the processes: {}", self.why()),
        })
    }

    fn kill_all(&self, _signal: i32) -> Result<(), CgroupError> {
        Err(CgroupError::Unsupported {
            setting: "kill --all".into(),
            reason: self.why(),
        })
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }

    fn clone_into_fd(&self) -> Option<OwnedFd> {
        None
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};

    #[test]
    fn limits_are_refused_and_nothing_is_touched() {
        let d = Disabled::new(Hierarchy::Hybrid, 1000);
        assert!(d.validate(&LinuxResources::default()).is_ok());
        // Docker's zeros are unset.
        let zeros = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(0)
                    .reservation(0)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert!(d.validate(&zeros).is_ok());
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let e = d.validate(&r).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.memory") && e.contains("uid 1000"),
            "{e}"
        );
        assert!(d.create().is_ok() && d.destroy().is_ok() && d.paths().is_empty());
        assert!(d
            .freeze(FreezerState::Frozen)
            .unwrap_err()
            .to_string()
            .contains("pause"));
        assert!(d.pids().is_err() && d.stats().is_err());
    }
}
