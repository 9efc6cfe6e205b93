//! A container that exists under `--root`: load it, derive its status, and act on it
//! (`start`, `kill`, `delete`, pids). Nothing here forks or re-executes the binary.
//!
//! ```no_run
//! use hezi_runtime::Container;
//! # fn main() -> Result<(), hezi_runtime::RuntimeError> {
//! let c = Container::load("/run/hezi".as_ref(), "web")?;
//! println!("{} is {} (pid {:?})", c.id(), c.status(), c.pid());
//! # Ok(()) }
//! ```

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hezi_cgroups::{CgroupConfig, CgroupManager, FreezerState};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{Result, RuntimeError};
use crate::hooks::{run_hooks, HookKind};
use crate::id::validate_id;
use crate::lock::DirLock;
use crate::procinfo;
use crate::state::{ContainerRecord, RuncState, Status, EXEC_FIFO, STATE_FILE};

/// A container recorded under a state root.
#[derive(Debug, Clone)]
pub struct Container {
    dir: PathBuf,
    record: ContainerRecord,
}

impl Container {
    /// Loads the container `id` from `<root>/<id>/state.json`.
    /// An unknown id gives `container "<id>" does not exist`.
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        validate_id(id).map_err(|_| RuntimeError::NotExist(id.to_string()))?;
        let dir = root.join(id);
        let record = ContainerRecord::read(&dir, id)?;
        Ok(Container { dir, record })
    }

    /// Builds a container from a record just written by `create`.
    pub fn from_record(root: &Path, record: ContainerRecord) -> Self {
        Container {
            dir: root.join(&record.id),
            record,
        }
    }

    /// Every container under `root`, sorted by id. Entries that are not directories or have
    /// no state file (not a container, or one being created or deleted right now) are
    /// skipped; an entry whose state cannot be read or parsed is skipped with a warning
    /// naming it, as runc prints "load container ..." to stderr and goes on.
    pub fn list(root: &Path) -> Result<Vec<Container>> {
        let entries = match fs::read_dir(root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RuntimeError::io(format!("read {}", root.display()), e)),
        };
        let mut out: Vec<Container> = entries
            .flatten()
            // Only directories can be containers (runc skips the rest too): the root also
            // holds sockets such as an attached run's `.console-<pid>.sock`.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| {
                let id = e.file_name().to_string_lossy().into_owned();
                match Container::load(root, &id) {
                    Ok(c) => Some(c),
                    Err(RuntimeError::NotExist(_)) => None,
                    Err(err) => {
                        tracing::warn!(%id, error = %err, "load container");
                        None
                    }
                }
            })
            .collect();
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Everything recorded at create time.
    pub fn record(&self) -> &ContainerRecord {
        &self.record
    }

    /// The container's state directory (`<root>/<id>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Host pid of the init as recorded (also when stopped).
    pub fn init_pid(&self) -> i32 {
        self.record.pid
    }

    fn init_alive(&self) -> bool {
        procinfo::is_alive(self.record.pid, Some(self.record.pid_start_time))
    }

    /// The pid of the init while it runs (`None` once stopped).
    pub fn pid(&self) -> Option<i32> {
        self.init_alive().then_some(self.record.pid)
    }

    /// The status, derived now: stopped when the init is gone (or a zombie, or its pid was
    /// reused), created while the exec fifo exists, paused when the cgroup is frozen.
    pub fn status(&self) -> Status {
        self.status_as(false)
    }

    /// [`Self::status`], `we_hold_lock` telling whether the caller holds the container's lock
    /// (then an incomplete record cannot belong to a live `create`).
    fn status_as(&self, we_hold_lock: bool) -> Status {
        if !self.record.complete {
            // A create still running holds the lock; one that was killed does not, and what
            // it left is stopped (delete --force removes it).
            let alive_create = !we_hold_lock && DirLock::is_held(&self.dir);
            return if alive_create {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        match self
            .cgroup()
            .and_then(|cg| cg.freezer_state().map_err(RuntimeError::Cgroup))
        {
            Ok(FreezerState::Frozen) | Ok(FreezerState::Freezing) => Status::Paused,
            _ => Status::Running,
        }
    }

    /// The runtime-spec state document.
    pub fn state(&self) -> RuncState {
        self.record.oci_state(self.status())
    }

    /// The cgroup of the container, as `hezi_cgroups` needs it.
    pub fn cgroup_config(&self) -> CgroupConfig {
        let mut cfg = CgroupConfig::new(self.record.id.clone());
        cfg.cgroups_path = self.record.cgroup_path.clone();
        cfg.systemd = self.record.systemd_cgroup;
        cfg
    }

    /// The cgroup manager of the container.
    pub fn cgroup(&self) -> Result<Box<dyn CgroupManager>> {
        let cg = hezi_cgroups::manager_for(&self.cgroup_config()).map_err(RuntimeError::Cgroup)?;
        if self.record.cgroup_disabled {
            let uid = nix::unistd::geteuid().as_raw();
            return Ok(Box::new(hezi_cgroups::disabled::Disabled::new(
                cg.hierarchy(),
                uid,
            )));
        }
        Ok(cg)
    }

    /// Every pid of the container (from its cgroup; the init alone if that fails).
    pub fn pids(&self) -> Result<Vec<i32>> {
        if !self.init_alive() {
            return Ok(Vec::new());
        }
        match self
            .cgroup()
            .and_then(|cg| cg.pids().map_err(RuntimeError::Cgroup))
        {
            Ok(mut p) => {
                p.sort_unstable();
                Ok(p)
            }
            Err(e) => {
                tracing::warn!(
                    "container {}: cgroup pids: {e}; reporting only init",
                    self.id()
                );
                Ok(vec![self.record.pid])
            }
        }
    }

    /// Lets a created container run its program: opens the exec fifo for reading (the init
    /// is blocked opening it for writing), reads its byte, removes the fifo, then runs the
    /// poststart hooks (failures are warnings).
    pub fn start(&self) -> Result<()> {
        let t0 = Instant::now();
        let _span = tracing::debug_span!("start", id = %self.record.id).entered();
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(RuntimeError::WrongStatus(
                    "cannot start a container that has stopped".into(),
                ))
            }
            Status::Running => {
                return Err(RuntimeError::WrongStatus(
                    "cannot start an already running container".into(),
                ))
            }
            Status::Paused => {
                return Err(RuntimeError::WrongStatus(
                    "cannot start a paused container".into(),
                ))
            }
            Status::Creating => {
                return Err(RuntimeError::WrongStatus(
                    "cannot start a container that is being created".into(),
                ))
            }
        }
        let fifo_path = self.dir.join(EXEC_FIFO);
        let fifo = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&fifo_path)
            .map_err(|e| RuntimeError::io(format!("open {}", fifo_path.display()), e))?;
        loop {
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, PollTimeout::from(100u16)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => {
                    if !self.init_alive() {
                        return Err(RuntimeError::WrongStatus(
                            "cannot start a container that has stopped".into(),
                        ));
                    }
                }
                Ok(_) => break,
                Err(e) => return Err(RuntimeError::sys("poll exec fifo", e)),
            }
        }
        let mut buf = [0u8; 1];
        let n = nix::unistd::read(fifo.as_fd(), &mut buf)
            .map_err(|e| RuntimeError::sys("read exec fifo", e))?;
        if n != 1 {
            return Err(RuntimeError::WrongStatus(format!(
                "container {}: init closed the exec fifo without starting",
                self.id()
            )));
        }
        fs::remove_file(&fifo_path)
            .map_err(|e| RuntimeError::io(format!("remove {}", fifo_path.display()), e))?;
        tracing::debug!(elapsed_us = t0.elapsed().as_micros() as u64, "started");
        let hooks = self.record.config.hooks().as_ref();
        if hooks.is_some() {
            let json =
                serde_json::to_vec(&self.record.oci_state(Status::Running)).unwrap_or_default(); // cannot fail: plain strings and numbers
            run_hooks(hooks, HookKind::Poststart, &json)?;
        }
        Ok(())
    }

    /// Sends signal number `sig` (real-time ones included) to the init, or with `all` to every
    /// process of the container.
    pub fn kill(&self, sig: i32, all: bool) -> Result<()> {
        if !self.init_alive() {
            return Err(RuntimeError::WrongStatus("container not running".into()));
        }
        if all {
            let cg = self.cgroup()?;
            cg.kill_all(sig).map_err(RuntimeError::Cgroup)?;
            if sig == libc::SIGKILL && self.status() == Status::Paused {
                let _ = cg.freeze(FreezerState::Thawed);
            }
            return Ok(());
        }
        // SAFETY: kill(2) with a pid and a signal number; nix's Signal cannot name real-time
        // signals, so the raw call is used.
        let rc = unsafe { libc::kill(self.record.pid, sig) };
        let r = if rc == 0 {
            Ok(())
        } else {
            Err(nix::errno::Errno::last())
        };
        match r {
            Ok(()) => Ok(()),
            Err(nix::errno::Errno::ESRCH) => {
                Err(RuntimeError::WrongStatus("process already finished".into()))
            }
            Err(e) => Err(RuntimeError::sys(
                format!("kill container {} init {}", self.id(), self.record.pid),
                e,
            )),
        }
    }

    /// Deletes the container: a stopped or created one at once; a running or paused one only
    /// with `force` (SIGKILL everything first). Removes the cgroup and the state directory,
    /// then runs the poststop hooks (failures are warnings).
    pub fn delete(self, force: bool) -> Result<()> {
        let lock = Self::lock_for_change(&self.dir, force)?;
        let status = self.status_as(lock.is_some());
        match status {
            Status::Stopped | Status::Created => {}
            Status::Creating if !force => {
                return Err(RuntimeError::WrongStatus(format!(
                    "container {} is being created; delete it with --force to abort that",
                    self.id()
                )))
            }
            Status::Running | Status::Paused if !force => {
                return Err(RuntimeError::WrongStatus(format!(
                    "cannot delete container {} that is not stopped: {status}",
                    self.id()
                )))
            }
            _ => {}
        }
        self.destroy()
    }

    /// Takes the container's lock for a change, waiting up to a second for another `hezi`
    /// (`create`, `start`, `pause`, ...) to finish. With `force` it goes on without the lock
    /// (`Ok(None)`): `delete --force` must be able to abort a hung `create`.
    fn lock_for_change(dir: &Path, force: bool) -> Result<Option<DirLock>> {
        for _ in 0..20 {
            if let Some(l) = DirLock::try_acquire(dir)? {
                return Ok(Some(l));
            }
            if force {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(None)
    }

    /// `delete --force` of an id whose directory has no readable `state.json` (a `create`
    /// killed between making the directory and writing its first record): removes the
    /// container's default cgroup if it exists (killing what is in it) and the directory.
    /// Refuses while a `create` still holds the directory.
    pub fn remove_orphan(root: &Path, id: &str) -> Result<bool> {
        validate_id(id)?;
        let dir = root.join(id);
        if !dir.is_dir() {
            return Ok(false);
        }
        let Some(_lock) = DirLock::try_acquire(&dir)? else {
            return Err(RuntimeError::WrongStatus(format!(
                "container {id} is being created"
            )));
        };
        let cg = hezi_cgroups::manager_for(&CgroupConfig::new(id.to_string()))
            .map_err(RuntimeError::Cgroup)?;
        cg.destroy().map_err(RuntimeError::Cgroup)?;
        remove_state_dir(&dir)?;
        Ok(true)
    }

    /// Kills whatever is left, removes cgroup and state, runs poststop hooks.
    fn destroy(self) -> Result<()> {
        let t0 = Instant::now();
        let _span = tracing::debug_span!("delete", id = %self.record.id).entered();
        let cg = self.cgroup();
        if self.init_alive() {
            let paused = self.status() == Status::Paused;
            let _ = kill(Pid::from_raw(self.record.pid), Signal::SIGKILL);
            if let Ok(cg) = &cg {
                // With its own pid namespace, killing the init kills every process in it; only
                // a shared pid namespace needs the (freezing) cgroup-wide kill.
                if !self.has_own_pid_ns() {
                    let _ = cg.kill_all(libc::SIGKILL);
                }
                if paused {
                    let _ = cg.freeze(FreezerState::Thawed);
                }
            }
            self.wait_gone(Duration::from_secs(10));
        }
        if let Ok(cg) = &cg {
            cg.destroy().map_err(RuntimeError::Cgroup)?;
        }
        remove_state_dir(&self.dir)?;
        tracing::debug!(elapsed_us = t0.elapsed().as_micros() as u64, "deleted");
        let hooks = self.record.config.hooks().as_ref();
        if hooks.is_some() {
            let json =
                serde_json::to_vec(&self.record.oci_state(Status::Stopped)).unwrap_or_default(); // cannot fail: plain strings and numbers
            run_hooks(hooks, HookKind::Poststop, &json)?;
        }
        Ok(())
    }

    /// Takes the container's lock (for `start`, `pause`, `resume`, `update`).
    pub fn lock(&self) -> Result<DirLock> {
        DirLock::acquire(&self.dir)
    }

    /// True when the container has a pid namespace of its own (not joined by path).
    /// A config whose namespaces cannot be planned (never stored: create validated it)
    /// counts as shared, which takes the cgroup-wide kill: right in either case.
    fn has_own_pid_ns(&self) -> bool {
        crate::namespaces::NamespacePlan::from_spec(&self.record.config)
            .map(|p| p.is_new(oci_spec::runtime::LinuxNamespaceType::Pid))
            .unwrap_or(false)
    }

    fn wait_gone(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut nap = Duration::from_micros(200);
        while self.init_alive() && Instant::now() < deadline {
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(20));
        }
    }
}

/// Removes a container's state directory with `state.json` last, so a failure part-way (a
/// read-only or full `--root`) leaves the record for a retry of `delete` to finish from.
fn remove_state_dir(dir: &Path) -> Result<()> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        RuntimeError::io(format!("{what} {}", p.display()), e)
    };
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("read", dir, e)),
    };
    for e in entries.flatten() {
        if e.file_name() == STATE_FILE {
            continue;
        }
        let p = e.path();
        let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        match r {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove", &p, e)),
            _ => {}
        }
    }
    let state = dir.join(STATE_FILE);
    match fs::remove_file(&state) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove", &state, e)),
        _ => {}
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", dir, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `list` goes on past what is not a container (a socket file, a directory without a
    /// state) and past a container whose state is corrupt (warned about), and still lists
    /// the good one.
    #[test]
    fn list_skips_non_containers_and_unreadable_states() {
        let root = tempfile::tempdir().expect("tempdir");
        let rec = ContainerRecord {
            id: "good".into(),
            pid: 0,
            pid_start_time: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: crate::state::now_rfc3339(),
            owner: "root".into(),
            cgroup_path: None,
            systemd_cgroup: false,
            cgroup_disabled: false,
            complete: true,
            config: oci_spec::runtime::Spec::default(),
        };
        let good = root.path().join("good");
        fs::create_dir(&good).expect("mkdir");
        rec.save(&good).expect("save");
        fs::write(root.path().join(".console-1.sock"), "").expect("file");
        fs::create_dir(root.path().join("creating")).expect("mkdir");
        let bad = root.path().join("bad");
        fs::create_dir(&bad).expect("mkdir");
        fs::write(bad.join(STATE_FILE), "{not json").expect("write");
        let ids: Vec<String> = Container::list(root.path())
            .expect("list")
            .iter()
            .map(|c| c.id().to_string())
            .collect();
        assert_eq!(ids, ["good"]);
    }
}
