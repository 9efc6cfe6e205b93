//! The cgroup v1 backend (legacy and hybrid hosts): one directory per mounted controller.
//!
//! On a hybrid host the container also gets a directory in the cgroup2 mount (as systemd does
//! for its services); hugetlb limits go there when the hugetlb controller lives only in that
//! mount and the host delegates it (its root `cgroup.subtree_control` lists `hugetlb`). hezi
//! never changes the host's root `subtree_control`, so otherwise such limits are refused.
//!
//! Like runc's cgroupfs driver, the container also gets a directory in the named
//! `name=systemd` hierarchy when it is mounted (systemd uses it to track processes on v1
//! hosts). It carries no limits and no statistics: it is only created, joined and removed,
//! and [`CgroupManager::paths`] lists it under the key `name=systemd`.

mod apply;
mod freezer;
mod stats;
mod validate;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::hierarchy::{dir_in_mount, OwnCgroups, SYSTEMD_NAMED, V1_CONTROLLERS};
use crate::path::CgroupPath;
use crate::{
    fsutil, CgroupError, CgroupManager, FreezerState, Hierarchy, LinuxResources, Mounts, Stats,
};

/// A container cgroup on a v1 (or hybrid) host.
#[derive(Debug)]
pub struct V1Manager {
    /// controller → container directory (`name=systemd` included when mounted: it is joined
    /// like the others but carries no limits or stats).
    dirs: BTreeMap<String, PathBuf>,
    /// controller → mountpoint (for checks against the root cgroup).
    mounts: BTreeMap<String, PathBuf>,
    /// Hybrid: (cgroup2 mountpoint, container directory in it).
    unified: Option<(PathBuf, PathBuf)>,
    hierarchy: Hierarchy,
    /// Directories this instance created, outermost first.
    created: Mutex<Vec<PathBuf>>,
    /// The path is `/hezi/<id>`: remove the shared `hezi` parent when it empties.
    owns_parent: bool,
}

impl V1Manager {
    /// Resolves the container's directory in every mounted controller. Creates nothing.
    pub fn new(mounts: &Mounts, own: &OwnCgroups, rel: &CgroupPath) -> Result<Self, CgroupError> {
        let mut dirs = BTreeMap::new();
        let mut mps = BTreeMap::new();
        for (name, m) in &mounts.v1 {
            if !V1_CONTROLLERS.contains(&name.as_str()) {
                continue;
            }
            let own_path = own.v1.get(name).map(PathBuf::as_path);
            dirs.insert(name.clone(), dir_in_mount(m, own_path, rel));
            mps.insert(name.clone(), m.mountpoint.clone());
        }
        if dirs.is_empty() {
            return Err(CgroupError::NoHierarchy {
                root: mounts.root.clone(),
            });
        }
        if let Some(m) = mounts.v1.get(SYSTEMD_NAMED) {
            let own_path = own.v1.get(SYSTEMD_NAMED).map(PathBuf::as_path);
            dirs.insert(SYSTEMD_NAMED.to_string(), dir_in_mount(m, own_path, rel));
            mps.insert(SYSTEMD_NAMED.to_string(), m.mountpoint.clone());
        }
        let unified = mounts.unified.as_ref().map(|m| {
            (
                m.mountpoint.clone(),
                dir_in_mount(m, own.unified.as_deref(), rel),
            )
        });
        Ok(Self {
            dirs,
            mounts: mps,
            unified,
            hierarchy: mounts.hierarchy(),
            created: Mutex::new(Vec::new()),
            owns_parent: crate::path::in_hezi_parent(rel),
        })
    }

    /// The container directory of `controller`, or a clear error when it is not mounted.
    fn dir(&self, controller: &str) -> Result<&Path, CgroupError> {
        self.dirs
            .get(controller)
            .map(PathBuf::as_path)
            .ok_or_else(|| CgroupError::NoController {
                controller: controller.into(),
            })
    }

    /// Distinct directories of [`CgroupManager::paths`] (co-mounted controllers share one).
    fn distinct_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.paths().into_values().collect();
        v.sort();
        v.dedup();
        v
    }

    /// Any directory that lists the container's processes.
    fn procs_dir(&self) -> Result<&Path, CgroupError> {
        ["pids", "freezer", "memory", "cpu", "devices"]
            .iter()
            .find_map(|c| self.dirs.get(*c))
            .or_else(|| {
                self.dirs
                    .iter()
                    .find(|(k, _)| k.as_str() != SYSTEMD_NAMED)
                    .map(|(_, d)| d)
            })
            .map(PathBuf::as_path)
            .ok_or_else(|| CgroupError::NoController {
                controller: "any".into(),
            })
    }

    fn record_created(&self, dirs: Vec<PathBuf>) {
        if let Ok(mut c) = self.created.lock() {
            c.extend(dirs);
        }
    }

    /// Copies `cpuset.cpus`/`cpuset.mems` from the parent into each new cpuset directory:
    /// a v1 cpuset cgroup with empty sets cannot hold tasks.
    fn init_cpuset(&self) -> Result<(), CgroupError> {
        let (Some(leaf), Some(mount)) = (self.dirs.get("cpuset"), self.mounts.get("cpuset")) else {
            return Ok(());
        };
        // Every level between the hierarchy root and the leaf, top-down: a level another
        // process has just created (the shared `/hezi` parent, say) may still have empty
        // cpus/mems, and a task cannot join a cpuset below an empty one (ENOSPC).
        let mut chain: Vec<&Path> = leaf
            .ancestors()
            .take_while(|d| *d != mount.as_path() && d.starts_with(mount))
            .collect();
        chain.reverse();
        for d in chain {
            let Some(parent) = d.parent() else { continue };
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if fsutil::read(d, f)?.trim().is_empty() {
                    let v = fsutil::read(parent, f)?;
                    fsutil::write(d, f, v.trim())?;
                }
            }
        }
        Ok(())
    }
}

impl CgroupManager for V1Manager {
    fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut m = self.dirs.clone();
        // A container cgroup that exists without a name=systemd directory was made by an
        // older hezi that did not join that hierarchy: leave it out rather than fail exec.
        if let Some(sd) = m.get(SYSTEMD_NAMED) {
            if !sd.exists() && self.procs_dir().is_ok_and(Path::exists) {
                m.remove(SYSTEMD_NAMED);
            }
        }
        if let Some((_, u)) = &self.unified {
            m.insert(String::new(), u.clone());
        }
        m
    }

    fn validate(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        validate::check(self, r)
    }

    fn create(&self) -> Result<(), CgroupError> {
        for (name, dir) in &self.dirs {
            let created = fsutil::mkdir_all(dir)?;
            if name == "cpuset" {
                self.init_cpuset()?;
            }
            self.record_created(created);
        }
        if let Some((mp, dir)) = &self.unified {
            let created = fsutil::mkdir_all(dir)?;
            self.record_created(created);
            // Pass hugetlb down our own levels when the host delegates it at the root.
            if root_delegates(mp, "hugetlb") {
                let mut cur = mp.clone();
                if let Ok(rel) = dir.strip_prefix(mp) {
                    let comps: Vec<_> = rel.components().collect();
                    for c in comps.iter().take(comps.len().saturating_sub(1)) {
                        cur.push(c);
                        let sc = fsutil::read(&cur, "cgroup.subtree_control")?;
                        if !sc.split_whitespace().any(|c| c == "hugetlb") {
                            fsutil::write(&cur, "cgroup.subtree_control", "+hugetlb")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.distinct_dirs() {
            fsutil::write(&d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.validate(r)?;
        apply::apply(self, r)
    }

    fn freeze(&self, state: FreezerState) -> Result<(), CgroupError> {
        freezer::set(self.dir("freezer")?, state)
    }

    fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        freezer::get(self.dir("freezer")?)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        stats::collect(self)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        fsutil::read_pids_tree(self.procs_dir()?, "cgroup.procs")
    }

    fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        // Freeze first so nothing forks between reading the list and signalling it.
        let freezer = self.dirs.get("freezer").filter(|d| d.exists());
        let was_frozen = match freezer {
            Some(f) => freezer::get(f)? == FreezerState::Frozen,
            None => false,
        };
        if let (Some(f), false) = (freezer, was_frozen) {
            freezer::set(f, FreezerState::Frozen)?;
        }
        let res = self.pids().and_then(|p| fsutil::signal_pids(&p, signal));
        if let (Some(f), false) = (freezer, was_frozen) {
            freezer::set(f, FreezerState::Thawed)?;
        } else if let (Some(f), true) = (freezer, signal == libc::SIGKILL) {
            // A frozen task cannot die: thaw so SIGKILL is delivered.
            freezer::set(f, FreezerState::Thawed)?;
        }
        res
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        let procs = self.procs_dir()?.to_path_buf();
        if procs.exists() {
            let start = std::time::Instant::now();
            loop {
                let pids = match fsutil::read_pids_tree(&procs, "cgroup.procs") {
                    Ok(p) => p,
                    Err(e) if e.is_not_found() => break,
                    Err(e) => return Err(e),
                };
                if pids.is_empty() {
                    break;
                }
                if start.elapsed() > std::time::Duration::from_secs(5) {
                    return Err(CgroupError::Timeout {
                        path: procs,
                        what: format!("{} processes still present", pids.len()),
                        waited_ms: 5000,
                    });
                }
                self.kill_all(libc::SIGKILL)?;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        for d in self.distinct_dirs().iter().rev() {
            fsutil::remove_tree(d)?;
            if self.owns_parent {
                fsutil::remove_empty_hezi_parent(d);
            }
        }
        // Parents this instance created, innermost first; one still in use is left alone.
        // A poisoned lock (a panic while recording) still holds the list; use it rather than
        // leave parents behind.
        let created = self
            .created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for d in created.iter().rev() {
            if let Err(e) = std::fs::remove_dir(d) {
                tracing::debug!(dir = %d.display(), error = %e, "left parent cgroup in place");
            }
        }
        Ok(())
    }

    fn clone_into_fd(&self) -> Option<OwnedFd> {
        None
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let text = fsutil::read(self.dir("memory")?, "memory.oom_control")?;
        // Kernels before 4.13 have no oom_kill line: no count, 0 as runc reports it.
        Ok(fsutil::parse_flat_keyed(&text)
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }
}

/// True when the cgroup2 root at `mp` passes `controller` to its children. An unreadable
/// `cgroup.subtree_control` counts as not delegating (validate then refuses the limit that
/// needs it); a failure other than a missing file is logged, as it hides the real cause.
fn root_delegates(mp: &Path, controller: &str) -> bool {
    match fsutil::read(mp, "cgroup.subtree_control") {
        Ok(s) => s.split_whitespace().any(|c| c == controller),
        Err(e) => {
            if !e.is_not_found() {
                tracing::warn!(error = %e, "cannot tell whether {controller} is delegated");
            }
            false
        }
    }
}
