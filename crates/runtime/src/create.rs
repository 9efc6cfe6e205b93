//! `create`: read bundle → validate → plan → one clone → parent-side setup (id maps, cgroup,
//! hooks) while the init builds the container → record state. Every step that leaves
//! something behind pushes an undo onto a `Cleanup` guard, so a failure leaves no process,
//! cgroup or state directory.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hezi_cgroups::{CgroupConfig, CgroupManager};
use hezi_seccomp::CompiledFilter;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use crate::clone::{clone_process, Forked};
use crate::container::Container;
use crate::error::{Result, RuntimeError};
use crate::hooks::{run_hooks, HookKind};
use crate::id::validate_id;
use crate::idmap;
use crate::init::{self, InitContext};
use crate::lock::DirLock;
use crate::namespaces::NamespacePlan;
use crate::parentns::{time_offsets, ParentNs};
use crate::process::plan::ProcessPlan;
use crate::procinfo;
use crate::rootfs::{RootfsOptions, RootfsPlan};
use crate::state::{
    ensure_root, now_rfc3339, user_name, write_atomic, ContainerRecord, Status, EXEC_FIFO,
};
use crate::sync::{self, SyncMsg};

/// What `hezi create` (and `run`) pass in.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The state root (`--root`).
    pub root: PathBuf,
    /// The container id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// The bundle's config when the caller has already loaded it with [`load_config`]
    /// (`run` reads it to decide on a terminal); `None` reads `<bundle>/config.json`.
    pub spec: Option<Spec>,
}

/// Test builds only (`fault-injection` feature): when `HEZI_TEST_STOP_AT` names `stage`,
/// the process stops itself there (SIGSTOP), so a test can SIGKILL `create` at exactly that
/// point. Production builds compile this to nothing.
#[cfg(feature = "fault-injection")]
fn fault_point(stage: &str) {
    if std::env::var("HEZI_TEST_STOP_AT").is_ok_and(|s| s == stage) {
        // SAFETY: raise(2) with a constant signal.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
}

#[cfg(not(feature = "fault-injection"))]
fn fault_point(_stage: &str) {}

/// The stages [`fault_point`] knows, in order (for tests).
pub const FAULT_STAGES: &[&str] = &["recorded", "cgroup-created", "init-recorded", "init-ready"];

/// The error for an init that exited during setup without saying why: when the cgroup's
/// OOM killer struck, that is the reason (a memory limit too small to start), named with the
/// limit and the peak usage.
fn init_died(cg: Option<&dyn CgroupManager>) -> RuntimeError {
    // Best effort: this only chooses a better message for a failure already being reported;
    // an unreadable counter means "no OOM seen", and the generic error follows.
    let oom = cg.and_then(|c| c.oom_kill_count().ok()).unwrap_or(0);
    if oom > 0 {
        let mem = cg.and_then(|c| c.stats().ok()).map(|s| s.memory.usage);
        let detail = match mem {
            Some(m) if m.limit > 0 => format!(
                ": the memory limit is {} bytes and usage peaked at {} bytes",
                m.limit, m.max
            ),
            _ => String::new(),
        };
        return RuntimeError::Unsupported {
            setting: "linux.resources.memory.limit".into(),
            msg: format!(
                "the container's init was killed by the OOM killer during setup{detail}; the limit is too small to start the container"
            ),
        };
    }
    RuntimeError::Child("init exited during setup".into())
}

/// Undo actions run in reverse order unless disarmed (`create`'s and `restore`'s).
#[derive(Default)]
pub(crate) struct Cleanup {
    pub(crate) child: Option<Pid>,
    pub(crate) cgroup: Option<Box<dyn CgroupManager>>,
    pub(crate) dir: Option<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.destroy() {
                tracing::warn!("cleanup: cgroup: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Cleanup {
    pub(crate) fn disarm(&mut self) {
        self.child = None;
        self.cgroup = None;
        self.dir = None;
    }
}

/// The cgroup `spec` asks for container `id`: its config (as recorded), its manager, and the
/// resources to apply (with runc's default device rules). Nothing is created yet.
pub(crate) fn cgroup_for(
    spec: &Spec,
    id: &str,
    systemd: bool,
) -> Result<(CgroupConfig, Box<dyn CgroupManager>, LinuxResources)> {
    let linux = spec.linux().as_ref();
    let resources = crate::devices::with_default_devices(
        &linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default(),
        linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]),
    );
    let mut cfg = CgroupConfig::new(id.to_string());
    cfg.cgroups_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    cfg.systemd = systemd;
    let cg = hezi_cgroups::manager_for(&cfg).map_err(RuntimeError::Cgroup)?;
    Ok((cfg, cg, resources))
}

/// Makes the container's state directory `<root>/<id>` (0711; the root 0700 if new), which
/// `cleanup` removes on failure; an existing one is refused as runc does.
pub(crate) fn make_state_dir(root: &Path, id: &str, cleanup: &mut Cleanup) -> Result<PathBuf> {
    ensure_root(root)?;
    let dir = root.join(id);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {
            cleanup.dir = Some(dir.clone());
            Ok(dir)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(RuntimeError::Exists(id.to_string()))
        }
        Err(e) => Err(RuntimeError::io(format!("create {}", dir.display()), e)),
    }
}

/// Reads `<bundle>/config.json` and validates it as `hezi validate` does (every problem,
/// each with its JSON path).
pub fn load_config(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data = fs::read(&path).map_err(|e| RuntimeError::Config {
        bundle: bundle.to_path_buf(),
        msg: format!("read config.json: {e}"),
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| RuntimeError::Config {
            bundle: bundle.to_path_buf(),
            msg: format!("config.json: {e}"),
        })?;
    // The same checks as `hezi validate`: every problem, each with its JSON path.
    hezi_spec::validate::validate_config(&value).map_err(|e| RuntimeError::Config {
        bundle: bundle.to_path_buf(),
        msg: format!(
            "config.json is invalid: {}",
            e.to_string().replace('\n', "; ")
        ),
    })
}

/// Refuses settings this runtime cannot apply (never silently ignored).
pub fn check_supported(spec: &Spec, ns: &NamespacePlan) -> Result<()> {
    let unsupported = |setting: &str, msg: &str| {
        Err(RuntimeError::Unsupported {
            setting: setting.into(),
            msg: msg.into(),
        })
    };
    // A UTS namespace joined by path takes the hostname too (runc sets it there).
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !ns.has(LinuxNamespaceType::Uts)
    {
        return unsupported(
            "hostname",
            "unable to set hostname without a private UTS namespace",
        );
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !ns.has(LinuxNamespaceType::Uts)
    {
        return unsupported(
            "domainname",
            "unable to set domainname without a private UTS namespace",
        );
    }
    if let Some(linux) = spec.linux() {
        if linux.intel_rdt().is_some() {
            return unsupported("linux.intelRdt", "Intel RDT is not supported by this build");
        }
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return unsupported(
                "linux.netDevices",
                "moving network devices is not supported by this build",
            );
        }
        if linux
            .mount_label()
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            return unsupported(
                "linux.mountLabel",
                "SELinux labels are not supported by this build",
            );
        }
        if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
            && !ns.is_new(LinuxNamespaceType::Time)
        {
            return unsupported(
                "linux.timeOffsets",
                "time offsets need a new time namespace",
            );
        }
        if ns.is_new(LinuxNamespaceType::User)
            && (linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty())
                || linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()))
        {
            return unsupported(
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            );
        }
    }
    ns.check()
}

/// Compiles `linux.seccomp` (None when absent).
pub fn compile_seccomp(spec: &Spec) -> Result<Option<CompiledFilter>> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().clone()) else {
        return Ok(None);
    };
    let filter = hezi_seccomp::compile(&profile)
        .map_err(|e| RuntimeError::Seccomp(format!("linux.seccomp: {e}")))?;
    Ok(Some(filter))
}

fn abs(p: &Path) -> Result<PathBuf> {
    fs::canonicalize(p).map_err(|e| RuntimeError::io(format!("bundle {}", p.display()), e))
}

fn make_fifo(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| RuntimeError::sys(format!("mkfifo {}", path.display()), e))?;
    // mkfifo honours the umask; the init may run as any user, so force 0622.
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(|e| RuntimeError::io(format!("chmod {}", path.display()), e))?;
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
        RuntimeError::io(
            format!("open {}", path.display()),
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        )
    })?;
    // SAFETY: open of a NUL-terminated path; fd owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(RuntimeError::io(
            format!("open {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates the container and leaves its init waiting for `start`. The calling process must be
/// single-threaded (the init is cloned from it and may allocate).
pub fn create(opts: &CreateOptions) -> Result<Container> {
    let t0 = Instant::now();
    let span = tracing::debug_span!("create", id = %opts.id);
    let _enter = span.enter();
    validate_id(&opts.id)?;
    let dir = opts.root.join(&opts.id);
    if dir.exists() {
        return Err(RuntimeError::Exists(opts.id.clone()));
    }
    let bundle = abs(&opts.bundle)?;
    let spec = match &opts.spec {
        Some(spec) => spec.clone(),
        None => load_config(&bundle)?,
    };
    let ns = NamespacePlan::from_spec(&spec)?;
    check_supported(&spec, &ns)?;
    let mut process = ProcessPlan::from_spec(&spec)?;
    process.preserve_fds = opts.preserve_fds;
    let seccomp = compile_seccomp(&spec)?;
    // Read once: whether we run inside a user namespace (rootless podman runs us so).
    let caller_in_userns = crate::rootless::in_user_namespace();
    let rootless = !nix::unistd::geteuid().is_root() || caller_in_userns;
    let rootfs_opts = RootfsOptions {
        no_pivot: opts.no_pivot,
        // A user namespace of its own or of the caller.
        in_user_ns: ns.has(LinuxNamespaceType::User) || caller_in_userns,
        terminal: process.terminal,
        new_cgroup_ns: ns.is_new(LinuxNamespaceType::Cgroup),
        new_mount_ns: ns.has(LinuxNamespaceType::Mount),
        privileged: !rootless,
    };
    let rootfs = RootfsPlan::new(&spec, &bundle, rootfs_opts)?;
    if process.terminal && opts.console_socket.is_none() {
        return Err(RuntimeError::Unsupported {
            setting: "process.terminal".into(),
            msg: "cannot allocate tty if hezi will detach without setting console socket".into(),
        });
    }
    let offsets = time_offsets(&spec)?;
    tracing::debug!(elapsed_us = t0.elapsed().as_micros() as u64, "plan ready");

    // Cgroup (validated before anything exists).
    let linux = spec.linux().clone().unwrap_or_default();
    let (cg_cfg, cg, resources) = cgroup_for(&spec, &opts.id, opts.systemd_cgroup)?;
    // Rootless where no cgroup is delegated to us: run without one, as runc does, as long
    // as no limit is asked for (the disabled manager refuses those, naming them).
    let euid = nix::unistd::geteuid();
    let cgroup_disabled =
        rootless && !opts.systemd_cgroup && !hezi_cgroups::disabled::can_create(&*cg);
    let cg: Box<dyn CgroupManager> = if cgroup_disabled {
        tracing::debug!("rootless without a delegated cgroup: the container gets none");
        Box::new(hezi_cgroups::disabled::Disabled::new(
            cg.hierarchy(),
            euid.as_raw(),
        ))
    } else {
        cg
    };
    cg.validate(&resources).map_err(RuntimeError::Cgroup)?;

    let mut cleanup = Cleanup::default();
    make_state_dir(&opts.root, &opts.id, &mut cleanup)?;
    // Held until the container is recorded complete (and by the kernel only as long as this
    // process lives): a plain `delete` meanwhile refuses instead of pulling the state away.
    let lock = DirLock::acquire(&dir)?;
    // The record goes to disk before every side effect it describes (cgroup, then the init),
    // so `delete --force` can undo whatever a killed `create` left behind.
    let mut record = ContainerRecord {
        id: opts.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.clone(),
        rootfs: rootfs.rootfs.clone(),
        created: now_rfc3339(),
        owner: user_name(nix::unistd::geteuid().as_raw()),
        cgroup_path: cg_cfg.cgroups_path.clone(),
        systemd_cgroup: opts.systemd_cgroup,
        cgroup_disabled,
        complete: false,
        config: spec.clone(),
    };
    record.save(&dir)?;
    fault_point("recorded");
    cg.create().map_err(RuntimeError::Cgroup)?;
    cleanup.cgroup = Some(cg);
    fault_point("cgroup-created");
    let Some(cg) = cleanup.cgroup.as_ref() else {
        return Err(RuntimeError::Child("cgroup manager lost".into()));
    };
    // A cgroup that already holds processes belongs to someone else (a container whose state
    // was removed by hand): never share it.
    if !cg.created_around_process() {
        if let Ok(pids) = cg.pids() {
            if !pids.is_empty() {
                cleanup.cgroup = None;
                return Err(RuntimeError::Unsupported {
                    setting: "linux.cgroupsPath".into(),
                    msg: format!(
                        "the cgroup of container {} already holds processes {pids:?} (left by an earlier container?); not sharing it",
                        opts.id
                    ),
                });
            }
        }
    }
    // Fast placement (see cgjoin) unless a new user namespace makes the child's own write
    // to host cgroup files doubtful; then the parent moves it the classic way.
    // A systemd scope only comes into being around the process: the parent places it.
    // The same when a helper clones the init inside a joined user namespace
    // (nshelper): the parent places it.
    let by_parent = cg.created_around_process() || ns.needs_helper();
    let fast_join = if ns.is_new(LinuxNamespaceType::User) || by_parent {
        None
    } else {
        crate::cgjoin::JoinPlan::new(cg.as_ref())
    };
    let cg_fd = match fast_join.as_ref() {
        Some(j) => j.dup_v2_fd()?,
        None if by_parent => None,
        None => cg.clone_into_fd(),
    };
    let fifo = make_fifo(&dir.join(EXEC_FIFO))?;
    let console = match (&opts.console_socket, process.terminal) {
        (Some(p), true) => Some(UnixStream::connect(p).map_err(|e| {
            RuntimeError::io(format!("--console-socket: connect {}", p.display()), e)
        })?),
        _ => None,
    };
    let notify = match &seccomp {
        Some(f) if f.has_notify() => Some(crate::notify::connect(&spec)?),
        _ => None,
    };
    let (parent_sock, child_sock) = sync::pair()?;
    // Id-mapped mounts the init's user namespace could not make (kept open until the init
    // has attached them: they go when this function returns).
    let premade = crate::rootfs::premake_idmapped(&rootfs)?;
    let ctx = InitContext {
        ns: &ns,
        process: &process,
        rootfs: &rootfs,
        premade_mounts: premade.raw(),
        sync: &child_sock,
        parent_sync: parent_sock.raw(),
        parent_lock: Some(lock.raw_fd()),
        fifo: fifo.as_raw_fd(),
        console_socket: console.as_ref().map(|c| c.as_raw_fd()),
        hooks: spec.hooks().as_ref(),
        seccomp: seccomp.as_ref(),
        seccomp_listener: notify.as_ref().map(|n| n.sock.as_raw_fd()),
        seccomp_metadata: notify.as_ref().and_then(|n| n.metadata.clone()),
        keyring: (!opts.no_new_keyring).then(|| format!("_ses.{}", opts.id)),
        console_size: process_console_size(&spec),
        state: record.oci_state(Status::Creating),
        cgroup_join: fast_join.as_ref(),
    };

    let t_clone = Instant::now();
    let parent_ns = ParentNs::enter(&ns, &offsets)?;
    let forked = match ns.helper_userns() {
        Some(userns) => crate::nshelper::clone_in_joined_userns(userns, ns.clone_flags()),
        None => clone_process(ns.clone_flags(), cg_fd.as_ref().map(|f| f.as_raw_fd())),
    };
    let forked = match forked {
        Ok(Forked::Child) => init::run(&ctx),
        other => other,
    };
    let restored = parent_ns.restore();
    let pid = forked?;
    let Forked::Parent(pid) = pid else {
        return Err(RuntimeError::Child("clone returned twice".into()));
    };
    cleanup.child = Some(pid);
    restored?;
    // The init exists: record it before anything else (it waits for Go meanwhile).
    record.pid = pid.as_raw();
    // Our unreaped child: its stat is readable even if it already died (a zombie). Without a
    // start time the record could not tell the init from a later process with its pid.
    record.pid_start_time = procinfo::stat(pid.as_raw())
        .map(|s| s.start_time)
        .ok_or_else(|| RuntimeError::Child(format!("init {pid}: cannot read /proc/{pid}/stat")))?;
    record.save(&dir)?;
    fault_point("init-recorded");
    drop(child_sock);
    drop(console);
    drop(notify);
    tracing::debug!(
        pid = pid.as_raw(),
        elapsed_us = t_clone.elapsed().as_micros() as u64,
        "init cloned"
    );

    if ns.is_new(LinuxNamespaceType::User) {
        idmap::write_maps(
            pid.as_raw(),
            linux.uid_mappings().as_deref().unwrap_or(&[]),
            linux.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
    }
    if let Some(cg) = &cleanup.cgroup {
        if fast_join.is_none() && cg_fd.is_none() {
            cg.add_task(pid.as_raw()).map_err(RuntimeError::Cgroup)?;
        }
        cg.apply(&resources).map_err(RuntimeError::Cgroup)?;
    }
    if let Some(adj) = process.oom_score_adj {
        let path = format!("/proc/{}/oom_score_adj", pid.as_raw());
        fs::write(&path, adj.to_string())
            .map_err(|e| RuntimeError::io(format!("process.oomScoreAdj: write {path}"), e))?;
    }
    parent_sock.send(&SyncMsg::Go {
        host_pid: pid.as_raw(),
    })?;
    loop {
        match parent_sock.recv()? {
            Some(SyncMsg::RunHooks) => {
                let json =
                    serde_json::to_vec(&record.oci_state(Status::Creating)).unwrap_or_default(); // cannot fail: plain strings and numbers
                let hooks = spec.hooks().as_ref();
                run_hooks(hooks, HookKind::Prestart, &json)?;
                run_hooks(hooks, HookKind::CreateRuntime, &json)?;
                parent_sock.send(&SyncMsg::HooksDone)?;
            }
            Some(SyncMsg::Ready) => break,
            Some(SyncMsg::Error(msg)) => return Err(RuntimeError::Child(msg)),
            Some(other) => {
                return Err(RuntimeError::Child(format!(
                    "unexpected sync message {other:?}"
                )))
            }
            None => return Err(init_died(cleanup.cgroup.as_deref())),
        }
    }
    fault_point("init-ready");
    record.complete = true;
    record.save(&dir)?;
    // From here the container outlives this process: the init stops dying with it, and says
    // so by closing its end (EOF), which is awaited so that this process cannot exit while
    // the init still has its parent-death signal armed.
    parent_sock.send(&SyncMsg::Committed)?;
    match parent_sock.recv()? {
        None => {}
        Some(other) => {
            return Err(RuntimeError::Child(format!(
                "unexpected sync message {other:?}"
            )))
        }
    }
    if let Some(pf) = &opts.pid_file {
        write_atomic(pf, pid.as_raw().to_string().as_bytes())?;
    }
    cleanup.disarm();
    tracing::debug!(elapsed_us = t0.elapsed().as_micros() as u64, "created");
    Ok(Container::from_record(&opts.root, record))
}

fn process_console_size(spec: &Spec) -> Option<(u16, u16)> {
    let b = spec.process().as_ref()?.console_size()?;
    Some((
        b.height().min(u16::MAX as u64) as u16,
        b.width().min(u16::MAX as u64) as u16,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(edit: impl FnOnce(&mut serde_json::Value)) -> Spec {
        let mut v = serde_json::to_value(Spec::default()).expect("spec json");
        edit(&mut v);
        serde_json::from_value(v).expect("spec")
    }

    fn check(s: &Spec) -> Result<()> {
        check_supported(s, &NamespacePlan::from_spec(s)?)
    }

    #[test]
    fn default_spec_is_supported() {
        check(&spec(|_| {})).expect("default");
    }

    #[test]
    fn refusals_name_the_setting() {
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["linux"]["namespaces"] = json!([{"type": "mount"}])),
                "hostname: unable to set hostname without a private UTS namespace",
            ),
            (
                Box::new(|v| v["linux"]["intelRdt"] = json!({"closID": "x"})),
                "linux.intelRdt",
            ),
            (
                Box::new(|v| v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}})),
                "linux.timeOffsets",
            ),
            (
                Box::new(|v| {
                    v["linux"]["namespaces"]
                        .as_array_mut()
                        .expect("ns")
                        .push(json!({"type": "user"}))
                }),
                "linux.uidMappings",
            ),
            (
                Box::new(|v| v["linux"]["mountLabel"] = json!("system_u:object_r:x")),
                "linux.mountLabel",
            ),
        ];
        for (edit, needle) in cases {
            let err = check(&spec(|v| edit(v))).expect_err(needle);
            assert!(err.to_string().contains(needle), "{err} !~ {needle}");
        }
    }

    #[test]
    fn missing_config_names_the_bundle() {
        let dir = tempfile::tempdir().expect("tmp");
        let err = load_config(dir.path()).expect_err("missing");
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        std::fs::write(dir.path().join("config.json"), "{not json").expect("write");
        let err = load_config(dir.path()).expect_err("bad json");
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn create_refuses_bad_ids_and_existing_ones_before_touching_anything() {
        let root = tempfile::tempdir().expect("tmp");
        let opts = CreateOptions {
            root: root.path().to_path_buf(),
            id: "../escape".into(),
            bundle: root.path().to_path_buf(),
            ..Default::default()
        };
        assert!(matches!(create(&opts), Err(RuntimeError::InvalidId(_))));
        std::fs::create_dir(root.path().join("taken")).expect("mkdir");
        let opts = CreateOptions {
            id: "taken".into(),
            ..opts
        };
        let err = create(&opts).expect_err("exists");
        assert_eq!(err.to_string(), "container with id exists: taken");
    }
}
