//! The cgroup v2 backend (unified hosts): one directory, controllers enabled from the root
//! down, device rules enforced by an eBPF program attached to the directory.

mod apply;
pub mod bpf;
mod stats;
mod validate;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::hierarchy::{dir_in_mount, OwnCgroups};
use crate::path::CgroupPath;
use crate::{
    fsutil, CgroupError, CgroupManager, FreezerState, Hierarchy, LinuxResources, Mounts, Stats,
};

/// Controllers hezi enables for container cgroups (those the host offers).
pub const WANTED: &[&str] = &[
    "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
];

/// A container cgroup on a cgroup v2 host.
#[derive(Debug)]
pub struct V2Manager {
    mount: PathBuf,
    dir: PathBuf,
    created: Mutex<Vec<PathBuf>>,
    /// The path is `/hezi/<id>`: remove the shared `hezi` parent when it empties.
    owns_parent: bool,
}

impl V2Manager {
    /// Resolves the container directory. Creates nothing.
    pub fn new(mounts: &Mounts, own: &OwnCgroups, rel: &CgroupPath) -> Result<Self, CgroupError> {
        let m = mounts
            .unified
            .as_ref()
            .ok_or_else(|| CgroupError::NoHierarchy {
                root: mounts.root.clone(),
            })?;
        let mut manager = Self::at(&m.mountpoint, dir_in_mount(m, own.unified.as_deref(), rel));
        manager.owns_parent = crate::path::in_hezi_parent(rel);
        Ok(manager)
    }

    /// A manager for the cgroup directory `dir` inside the cgroup2 mount `mount`.
    pub fn at(mount: &Path, dir: PathBuf) -> Self {
        Self {
            mount: mount.to_path_buf(),
            dir,
            created: Mutex::new(Vec::new()),
            owns_parent: false,
        }
    }

    /// The container's cgroup directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Controllers the root offers. Every cgroup2 root has `cgroup.controllers`, so a failed
    /// read is an error (not "no controllers", which would blame each limit instead).
    fn root_controllers(&self) -> Result<Vec<String>, CgroupError> {
        fsutil::read(&self.mount, "cgroup.controllers")
            .map(|t| t.split_whitespace().map(str::to_string).collect())
    }

    /// Enables the wanted controllers in each ancestor's `cgroup.subtree_control`, root first.
    fn enable_controllers(&self) -> Result<(), CgroupError> {
        let Ok(rel) = self.dir.strip_prefix(&self.mount) else {
            return Ok(());
        };
        let mut cur = self.mount.clone();
        let comps: Vec<_> = rel.components().collect();
        for c in &comps {
            let avail = fsutil::read(&cur, "cgroup.controllers")?;
            let enabled = fsutil::read(&cur, "cgroup.subtree_control")?;
            for w in WANTED {
                if avail.split_whitespace().any(|a| a == *w)
                    && !enabled.split_whitespace().any(|e| e == *w)
                {
                    if let Err(e) = fsutil::write(&cur, "cgroup.subtree_control", &format!("+{w}"))
                    {
                        tracing::warn!(error = %e, "could not enable controller {w}");
                    }
                }
            }
            cur.push(c);
        }
        Ok(())
    }

    fn wait_frozen(&self, want: bool) -> Result<(), CgroupError> {
        let start = Instant::now();
        let mut delay = Duration::from_micros(200);
        let limit = Duration::from_secs(5);
        loop {
            let ev = fsutil::parse_flat_keyed(&fsutil::read(&self.dir, "cgroup.events")?);
            if ev.get("frozen").copied().unwrap_or(0) == u64::from(want) {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(CgroupError::Timeout {
                    path: self.dir.clone(),
                    what: format!("cgroup.events not frozen {}", u8::from(want)),
                    waited_ms: limit.as_millis() as u64,
                });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(10));
        }
    }
}

impl CgroupManager for V2Manager {
    fn hierarchy(&self) -> Hierarchy {
        Hierarchy::Unified
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        BTreeMap::from([(String::new(), self.dir.clone())])
    }

    fn validate(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        validate::check(&self.root_controllers()?, r)
    }

    fn create(&self) -> Result<(), CgroupError> {
        let created = fsutil::mkdir_all(&self.dir)?;
        if let Ok(mut c) = self.created.lock() {
            c.extend(created);
        }
        self.enable_controllers()
    }

    fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        fsutil::write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.validate(r)?;
        apply::apply(&self.dir, r)
    }

    fn freeze(&self, state: FreezerState) -> Result<(), CgroupError> {
        let want = match state {
            FreezerState::Frozen => true,
            FreezerState::Thawed => false,
            FreezerState::Freezing => {
                return Err(CgroupError::Invalid {
                    setting: "freezer".into(),
                    value: "freezing".into(),
                    reason: "a transient state, not one that can be requested".into(),
                })
            }
        };
        fsutil::write(&self.dir, "cgroup.freeze", if want { "1" } else { "0" })?;
        self.wait_frozen(want)
    }

    fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        let asked = fsutil::read(&self.dir, "cgroup.freeze")?.trim() == "1";
        let ev = fsutil::parse_flat_keyed(&fsutil::read(&self.dir, "cgroup.events")?);
        let frozen = ev.get("frozen").copied().unwrap_or(0) == 1;
        Ok(match (asked, frozen) {
            (true, true) => FreezerState::Frozen,
            (true, false) => FreezerState::Freezing,
            (false, _) => FreezerState::Thawed,
        })
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        stats::collect(&self.dir)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        fsutil::read_pids_tree(&self.dir, "cgroup.procs")
    }

    fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        if signal == libc::SIGKILL && self.dir.join("cgroup.kill").exists() {
            return fsutil::write(&self.dir, "cgroup.kill", "1");
        }
        let was_frozen = self.freezer_state()? == FreezerState::Frozen;
        if !was_frozen {
            self.freeze(FreezerState::Frozen)?;
        }
        let res = self.pids().and_then(|p| fsutil::signal_pids(&p, signal));
        if !was_frozen || signal == libc::SIGKILL {
            self.freeze(FreezerState::Thawed)?;
        }
        res
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        if self.dir.exists() {
            let start = Instant::now();
            loop {
                let pids = match self.pids() {
                    Ok(p) => p,
                    Err(e) if e.is_not_found() => break,
                    Err(e) => return Err(e),
                };
                if pids.is_empty() {
                    break;
                }
                if start.elapsed() > Duration::from_secs(5) {
                    return Err(CgroupError::Timeout {
                        path: self.dir.clone(),
                        what: format!("{} processes still present", pids.len()),
                        waited_ms: 5000,
                    });
                }
                self.kill_all(libc::SIGKILL)?;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        fsutil::remove_tree(&self.dir)?;
        if self.owns_parent {
            fsutil::remove_empty_hezi_parent(&self.dir);
        }
        // A poisoned lock (a panic while recording) still holds the list; use it rather than
        // leave parents behind.
        let created = self
            .created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for d in created.iter().rev().filter(|d| **d != self.dir) {
            if let Err(e) = std::fs::remove_dir(d) {
                tracing::debug!(dir = %d.display(), error = %e, "left parent cgroup in place");
            }
        }
        Ok(())
    }

    fn clone_into_fd(&self) -> Option<OwnedFd> {
        // No fd only costs the atomic join: the caller then writes cgroup.procs, which
        // reports its own error if the directory is really unusable.
        use nix::fcntl::{open, OFlag};
        use nix::sys::stat::Mode;
        open(
            &self.dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let ev = fsutil::parse_flat_keyed(&fsutil::read(&self.dir, "memory.events")?);
        // No oom_kill line before Linux 4.13: no count, 0 as runc reports it.
        Ok(ev.get("oom_kill").copied().unwrap_or(0))
    }
}
