//! [`SystemdManager`]: a transient scope unit from systemd, with the cgroupfs backend of the
//! host's hierarchy driving the unit's cgroup directly for everything else.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::Systemd;
use super::dbus::Value;
use super::instance::Instance;
use super::path::SystemdPath;
use super::properties::{self, DevicePlan, Property};
use crate::hierarchy::OwnCgroups;
use crate::{
    CgroupConfig, CgroupError, CgroupManager, FreezerState, Hierarchy, LinuxResources, Mounts,
    Stats,
};

/// A container cgroup that systemd owns as a transient scope unit.
#[derive(Debug)]
pub struct SystemdManager {
    unit: String,
    slice: String,
    container_id: String,
    hierarchy: Hierarchy,
    /// PID 1's manager or the user's.
    instance: Instance,
    /// The cgroupfs backend over the unit's cgroup directory (or directories, on v1).
    inner: Box<dyn CgroupManager>,
    /// Opened on first use.
    conn: Mutex<Option<Systemd>>,
    /// `create` was called: the next `add_task` starts the unit around that process.
    start_pending: AtomicBool,
}

impl SystemdManager {
    /// Resolves the unit and its cgroup for `cfg` (parsed as `p`) in `instance`. PID 1's
    /// units live at a known place, so this connects to nothing then; a user's manager is
    /// asked for its own cgroup (the root of its units), on cgroup v2 only.
    pub fn new(
        cfg: &CgroupConfig,
        p: SystemdPath,
        instance: Instance,
    ) -> Result<Self, CgroupError> {
        let mounts = Mounts::for_root(&cfg.root)?;
        let own = OwnCgroups::current()?;
        let hierarchy = mounts.hierarchy();
        let mut conn = None;
        let rel = match &instance {
            Instance::System => p.cgroup_path()?,
            Instance::User { uid, .. } => {
                if hierarchy != Hierarchy::Unified {
                    // runc refuses the same: v1 controllers cannot be delegated to a user.
                    return Err(CgroupError::Systemd(format!(
                        "rootless --systemd-cgroup (the systemd of uid {uid}) needs cgroup v2; \
                         this host has a {hierarchy:?} cgroup layout"
                    )));
                }
                let mut s = Systemd::connect(&instance)?;
                let root = s.control_group()?;
                let mut path = PathBuf::from(root.trim_start_matches('/'));
                path.push(p.cgroup_path()?.as_path());
                conn = Some(s);
                crate::path::CgroupPath::Absolute(path)
            }
        };
        let inner = crate::cgroupfs_manager(&mounts, &own, &rel)?;
        Ok(Self {
            unit: p.unit_name(),
            slice: p.slice,
            container_id: cfg.container_id.clone(),
            hierarchy,
            instance,
            inner,
            conn: Mutex::new(conn),
            start_pending: AtomicBool::new(false),
        })
    }

    /// The transient unit's name (`hezi-<id>.scope`).
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// Runs `f` with a connection to systemd, connecting first if needed.
    fn with_systemd<T>(
        &self,
        f: impl FnOnce(&mut Systemd) -> Result<T, CgroupError>,
    ) -> Result<T, CgroupError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| CgroupError::Systemd("connection lock poisoned".into()))?;
        let s = match guard.as_mut() {
            Some(s) => s,
            None => guard.insert(Systemd::connect(&self.instance)?),
        };
        f(s)
    }

    /// What every hezi scope gets, runc's set: delegation, accounting, no default
    /// dependencies, and garbage collection even when it fails.
    fn base_properties(&self, pid: i32) -> Vec<Property> {
        let b = |k: &str, v: bool| (k.to_string(), Value::Bool(v));
        let io = if self.hierarchy == Hierarchy::Unified {
            "IOAccounting"
        } else {
            "BlockIOAccounting"
        };
        vec![
            (
                "Description".into(),
                Value::str(format!("hezi container {}", self.container_id)),
            ),
            ("Slice".into(), Value::str(&self.slice)),
            (
                "PIDs".into(),
                Value::array("u", vec![Value::U32(pid as u32)]),
            ),
            b("Delegate", true),
            b("DefaultDependencies", false),
            b("MemoryAccounting", true),
            b("CPUAccounting", true),
            b("TasksAccounting", true),
            b(io, true),
            ("CollectMode".into(), Value::str("inactive-or-failed")),
        ]
    }

    /// Starts the scope around `pid` and completes the cgroup where systemd does not.
    fn start_unit(&self, pid: i32) -> Result<(), CgroupError> {
        let props = self.base_properties(pid);
        self.with_systemd(|s| s.start_transient(&self.unit, &props))?;
        tracing::debug!(unit = %self.unit, pid, "systemd scope started");
        if self.hierarchy == Hierarchy::Unified {
            let dir = self.inner.paths().remove("").unwrap_or_default();
            if !dir.is_dir() {
                return Err(CgroupError::Systemd(format!(
                    "unit {} started but its cgroup {} does not exist (is systemd's cgroup root \
                     not the host's?)",
                    self.unit,
                    dir.display()
                )));
            }
            Ok(())
        } else {
            // systemd places the process only in the hierarchies it manages (memory, cpu,
            // pids, ...); the same path in the others (cpuset, freezer, ...) is ours to make.
            self.inner.create()?;
            self.inner.add_task(pid)
        }
    }

    /// Kills every process of the unit's cgroup and waits until it is empty.
    fn kill_and_wait(&self) -> Result<(), CgroupError> {
        let start = Instant::now();
        loop {
            let pids = match self.inner.pids() {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            };
            if pids.is_empty() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(5) {
                return Err(CgroupError::Systemd(format!(
                    "unit {}: {} processes survive SIGKILL after 5 s",
                    self.unit,
                    pids.len()
                )));
            }
            self.inner.kill_all(libc::SIGKILL)?;
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl CgroupManager for SystemdManager {
    fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        self.inner.paths()
    }

    fn validate(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.inner.validate(r)?;
        properties::for_resources(r, self.hierarchy, "").map(|_| ())
    }

    fn create(&self) -> Result<(), CgroupError> {
        // Connect now, before the container process exists, so an unreachable systemd is
        // reported early; the unit itself needs the process (see created_around_process).
        self.with_systemd(|_| Ok(()))?;
        self.start_pending.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn created_around_process(&self) -> bool {
        true
    }

    fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        if self.start_pending.swap(false, Ordering::SeqCst) {
            self.start_unit(pid)
        } else {
            self.inner.add_task(pid)
        }
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        // Checked once each: the properties here, the files by the backend's own apply.
        // Device names map majors to systemd's `char-<name>` groups; without /proc/devices
        // none can be named, and rules that would need a name stay with hezi's own filter.
        let proc_devices = std::fs::read_to_string("/proc/devices").unwrap_or_else(|e| {
            tracing::warn!(error = %e, "read /proc/devices: device rules stay with hezi's filter");
            String::new()
        });
        let (props, plan) = properties::for_resources(r, self.hierarchy, &proc_devices)?;
        self.with_systemd(|s| s.set_properties(&self.unit, &props))?;
        if plan != DevicePlan::Untouched {
            tracing::debug!(unit = %self.unit, ?plan, "device rules");
        }
        if matches!(plan, DevicePlan::Systemd(_)) && self.hierarchy == Hierarchy::Unified {
            // systemd's device program enforces the same allow list; a second program of our
            // own could not be attached next to it (systemd attaches with BPF_F_ALLOW_MULTI).
            let mut rest = r.clone();
            rest.set_devices(None);
            return self.inner.apply(&rest);
        }
        self.inner.apply(r)
    }

    fn freeze(&self, state: FreezerState) -> Result<(), CgroupError> {
        self.inner.freeze(state)
    }

    fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        self.inner.freezer_state()
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        self.inner.stats()
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        self.inner.pids()
    }

    fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        self.inner.kill_all(signal)
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        // Kill first: stopping a scope with live processes would SIGTERM them and wait
        // TimeoutStopSec (90 s) before SIGKILL.
        self.kill_and_wait()?;
        self.start_pending.store(false, Ordering::SeqCst);
        self.with_systemd(|s| s.stop(&self.unit))?;
        // Whatever systemd did not remove (v1 hierarchies it does not manage, sub-cgroups
        // the container made).
        self.inner.destroy()
    }

    fn clone_into_fd(&self) -> Option<OwnedFd> {
        self.inner.clone_into_fd()
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        self.inner.oom_kill_count()
    }
}
