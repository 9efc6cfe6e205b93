//! The container init, after the clone: sync with the parent, build the container's view
//! (uts, rootfs, console, limits, identity), report `Ready`, wait on the exec fifo for
//! `start`, then exec the user's program directly (no runtime process stays in the container).
//!
//! CVE-2019-5736 defence: the init makes itself non-dumpable (`PR_SET_DUMPABLE 0`) as its first
//! act, so no process in the container can open `/proc/<init>/exe` (the host `hezi` binary) or
//! ptrace it while the runtime code runs; `execve` of the user's program replaces the image
//! and resets dumpability, after which `/proc/<pid>/exe` is the container's own binary. No
//! copy of the runtime binary is made, so start costs nothing extra. `hezi exec` does the
//! same in its joining child.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hezi_seccomp::CompiledFilter;
use oci_spec::runtime::{Hooks, LinuxNamespaceType};

use crate::console;
use crate::error::{Result, RuntimeError};
use crate::hooks::{run_hooks, HookKind};
use crate::namespaces::{clone_flag, NamespacePlan};
use crate::process::apply;
use crate::process::plan::{ProcessPlan, DEFAULT_PATH};
use crate::process::sys::{LinuxSys, ProcessSys};
use crate::rootfs::{self, ProcfsHandle, RootfsPlan};
use crate::state::RuncState;
use crate::sync::{SyncMsg, SyncSocket};

/// Everything the init needs, prepared by the parent before the clone.
pub struct InitContext<'a> {
    /// The namespaces.
    pub ns: &'a NamespacePlan,
    /// The process to apply and exec.
    pub process: &'a ProcessPlan,
    /// The rootfs plan.
    pub rootfs: &'a RootfsPlan,
    /// Mounts the parent made for the plan (`mounts` index, fd inherited over the clone).
    pub premade_mounts: Vec<(usize, RawFd)>,
    /// The init's end of the sync channel.
    pub sync: &'a SyncSocket,
    /// The parent's end (closed in the child).
    pub parent_sync: RawFd,
    /// The parent's container lock (closed in the child, or the lock would live on in the
    /// init until its exec and `start` would wait for it forever).
    pub parent_lock: Option<RawFd>,
    /// O_PATH fd of `<root>/<id>/exec.fifo`.
    pub fifo: RawFd,
    /// Connected `--console-socket`, when `process.terminal`.
    pub console_socket: Option<RawFd>,
    /// Hooks from config.json.
    pub hooks: Option<&'a Hooks>,
    /// The compiled seccomp filter.
    pub seccomp: Option<&'a CompiledFilter>,
    /// Connected `listenerPath` socket, when the filter has NOTIFY rules.
    pub seccomp_listener: Option<RawFd>,
    /// `listenerMetadata`.
    pub seccomp_metadata: Option<String>,
    /// Session keyring name to join (`_ses.<id>`), unless `--no-new-keyring`.
    pub keyring: Option<String>,
    /// `process.consoleSize` (height, width).
    pub console_size: Option<(u16, u16)>,
    /// State document for the hooks (pid filled in from the parent's `Go`).
    pub state: RuncState,
    /// When set, the init moves itself into the v1 cgroups (see [`crate::cgjoin`]).
    pub cgroup_join: Option<&'a crate::cgjoin::JoinPlan>,
}

/// Entry point of the init child; never returns.
pub fn run(ctx: &InitContext<'_>) -> ! {
    // SAFETY: closing the parent's end of the socketpair, an fd this process owns a copy of.
    unsafe { libc::close(ctx.parent_sync) };
    if let Some(fd) = ctx.parent_lock {
        // SAFETY: closing this process's copy of the parent's lock fd; the parent's copy
        // keeps the lock.
        unsafe { libc::close(fd) };
    }
    let before = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepare(ctx)));
    let ready = match before {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => child_fail(ctx.sync, &e.to_string()),
        Err(_) => child_fail(ctx.sync, "init panicked during setup"),
    };
    let _ = ctx.sync.send(&SyncMsg::Ready);
    // Until the parent has recorded the container complete, the init dies with it (a killed
    // `create` must not leave an init waiting on the fifo forever).
    match ctx.sync.recv() {
        Ok(Some(SyncMsg::Committed)) => set_parent_death_signal(0),
        _ => {
            // SAFETY: _exit ends the process; the parent is gone or confused.
            unsafe { libc::_exit(1) }
        }
    }
    // SAFETY: closing our end of the sync channel: the parent waits for this EOF.
    unsafe { libc::close(ctx.sync.raw()) };
    let after = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| after_start(ctx, ready)));
    let msg = match after {
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(never)) => match never {},
        Err(_) => "init panicked after start".to_string(),
    };
    eprintln!("hezi: container init: {msg}");
    // SAFETY: _exit ends the process without running the parent's destructors.
    unsafe { libc::_exit(1) }
}

/// `PR_SET_PDEATHSIG`: `sig` when the parent (the `hezi create` that cloned us) dies; 0
/// clears it. Best effort: without it the sync channel's EOF still ends a waiting init.
fn set_parent_death_signal(sig: libc::c_int) {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
}

fn child_fail(sync: &SyncSocket, msg: &str) -> ! {
    if sync.send(&SyncMsg::Error(msg.to_string())).is_err() {
        eprintln!("hezi: container init: {msg}");
    }
    // SAFETY: _exit ends the process without running the parent's destructors.
    unsafe { libc::_exit(1) }
}

/// What the setup phase hands to the post-start phase.
struct Ready {
    host_pid: i32,
    /// `O_PATH` fd of this process's `/proc/<pid>/fd`, opened through the verified procfs
    /// before pivot_root, so that reopening the exec fifo is one plain `openat`.
    fd_dir: OwnedFd,
    exe: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// The seccomp filter still to install (none when already installed during create).
    filter_at_exec: bool,
    /// Capabilities kept for the late filter (see [`apply::apply_identity_retaining`]).
    retained: u64,
    /// The configured capability sets, clamped, for [`apply::drop_retained`].
    caps: Option<crate::process::caps::CapSets>,
}

fn set_dumpable(on: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) } < 0 {
        return Err(RuntimeError::io(
            "prctl(PR_SET_DUMPABLE)",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Joins the namespace at `path` (user and mount joins happen in the child).
pub fn join_ns(t: LinuxNamespaceType, path: &Path) -> Result<()> {
    let f = std::fs::File::open(path)
        .map_err(|e| RuntimeError::io(format!("linux.namespaces: open {}", path.display()), e))?;
    nix::sched::setns(f.as_fd(), clone_flag(t))
        .map_err(|e| RuntimeError::sys(format!("linux.namespaces: setns {}", path.display()), e))
}

/// Becomes root of the (`which`: new or joined) user namespace, as runc does: our host ids
/// are usually not mapped there, and files created with an unmapped fsuid fail (EOVERFLOW).
/// The capabilities stay: the new uid is the namespace's root.
fn become_userns_root(sys: &mut LinuxSys, which: &str) -> Result<()> {
    sys.set_gid(0)
        .map_err(|e| RuntimeError::io(format!("setresgid(0) in the {which} user namespace"), e))?;
    sys.set_uid(0)
        .map_err(|e| RuntimeError::io(format!("setresuid(0) in the {which} user namespace"), e))
}

/// Gives the process the signal state a program expects (as runc's does): every signal at its
/// default action (the Rust runtime ignores SIGPIPE, a caller may ignore others, and exec keeps
/// ignored signals) and none blocked.
pub fn reset_signals() {
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: raw rt_sigaction (glibc refuses its reserved signals 32/33) with a valid
        // kernel sigaction and the kernel's sigset size; only this process's state changes.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    // SAFETY: sigprocmask with an empty set only changes this process's signal mask.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// Makes the calling process the leader of a new session (and process group), as runc does for
/// every container and exec process, tty or not: signals sent to the caller's process group
/// (conmon's `--timeout`, a shell's job control) must not reach the container, nor the
/// container's group signals the caller.
pub fn new_session() -> Result<()> {
    nix::unistd::setsid().map_err(|e| RuntimeError::sys("setsid", e))?;
    Ok(())
}

fn prepare(ctx: &InitContext<'_>) -> Result<Ready> {
    set_parent_death_signal(libc::SIGKILL);
    // An unprivileged parent can write our id maps only while we are dumpable (the /proc
    // files of a non-dumpable process belong to root): then we turn non-dumpable once the
    // maps are in, before anything of the container exists.
    let rootless_maps =
        ctx.ns.is_new(LinuxNamespaceType::User) && !nix::unistd::geteuid().is_root();
    if !rootless_maps {
        set_dumpable(false)?;
    }
    reset_signals();
    new_session()?;
    let host_pid = match ctx.sync.recv()? {
        Some(SyncMsg::Go { host_pid }) => host_pid,
        Some(other) => {
            return Err(RuntimeError::Child(format!(
                "unexpected sync message {other:?}"
            )))
        }
        None => return Err(RuntimeError::Child("parent went away".into())),
    };
    if rootless_maps {
        set_dumpable(false)?;
    }
    if let Some(j) = ctx.cgroup_join {
        j.join_v1_self()?;
    }
    let mut state = ctx.state.clone();
    state.pid = host_pid;
    let state_json = hook_state(&state)?;
    let mut sys = LinuxSys;
    if ctx.ns.is_new(LinuxNamespaceType::User) {
        // The parent has written the maps.
        become_userns_root(&mut sys, "new")?;
    }
    if ctx.ns.needs_helper() {
        // Cloned inside the joined user namespace by the helper (nshelper).
        become_userns_root(&mut sys, "joined")?;
    }
    for (t, path) in ctx.ns.child_joins() {
        join_ns(*t, path)?;
        if *t == LinuxNamespaceType::User {
            become_userns_root(&mut sys, "joined")?;
        }
    }
    if ctx.ns.is_new(LinuxNamespaceType::Cgroup) {
        // Now that the init is in its cgroups (joined above or by the parent before Go),
        // they are the new namespace's root: /proc/self/cgroup shows "/" (docker
        // --cgroupns private on cgroup v1).
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| RuntimeError::sys("unshare(CLONE_NEWCGROUP)", e))?;
    }
    if ctx.ns.is_new(LinuxNamespaceType::Network) {
        crate::loopback::bring_up_lo()?;
    }
    // The verified /proc of this mount namespace (still the one we were cloned or joined
    // with), for reopening the exec fifo after pivot_root; dropped before exec. A private
    // instance would cost an RCU grace period when closed, on every start.
    let proc = ProcfsHandle::mounted().or_else(|_| ProcfsHandle::new())?;
    apply::apply_uts(ctx.process, &mut sys)?;
    rootfs::prepare_premade(ctx.rootfs, &ctx.premade_mounts)?;
    let needs_runtime_hooks = ctx.hooks.is_some_and(|h| {
        !HookKind::Prestart.select(h).is_empty() || !HookKind::CreateRuntime.select(h).is_empty()
    });
    if needs_runtime_hooks {
        ctx.sync.send(&SyncMsg::RunHooks)?;
        match ctx.sync.recv()? {
            Some(SyncMsg::HooksDone) => {}
            Some(other) => {
                return Err(RuntimeError::Child(format!(
                    "unexpected sync message {other:?}"
                )))
            }
            None => return Err(RuntimeError::Child("parent went away during hooks".into())),
        }
    }
    let mut slave: Option<OwnedFd> = None;
    if ctx.process.terminal {
        let sock = ctx
            .console_socket
            .ok_or_else(|| RuntimeError::Unsupported {
                setting: "process.terminal".into(),
                msg: "a terminal needs --console-socket".into(),
            })?;
        let pty = console::open_pty(&ctx.rootfs.rootfs, ctx.console_size)?;
        // SAFETY: sock is an fd the parent connected and passed down; it stays open here.
        let sock = unsafe { BorrowedFd::borrow_raw(sock) };
        console::send_fd(sock, "/dev/ptmx", pty.master.as_fd())?;
        drop(pty.master);
        rootfs::mount_console(ctx.rootfs, pty.slave.as_fd())?;
        slave = Some(pty.slave);
    }
    if let Some(sock) = ctx.console_socket {
        // SAFETY: closing the console socket fd we own.
        unsafe { libc::close(sock) };
    }
    run_hooks(ctx.hooks, HookKind::CreateContainer, &state_json)?;
    rootfs::pivot(ctx.rootfs)?;
    // Like runc: a missing cwd is created (0755, root) inside the jail, before the root may
    // become read-only.
    if !ctx.process.cwd.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&ctx.process.cwd)
            .map_err(|e| {
                RuntimeError::io(
                    format!("process.cwd: mkdir {}", ctx.process.cwd.display()),
                    e,
                )
            })?;
    }
    apply::apply_sysctl(ctx.process, &mut sys)?;
    rootfs::finish(ctx.rootfs)?;
    if let Some(name) = &ctx.keyring {
        join_session_keyring(name)?;
    }
    apply::apply_limits(ctx.process, &mut sys)?;
    if let Some(s) = slave.take() {
        console::make_controlling(s.as_fd())?;
    }
    let (exe, argv, envp) = resolve_exec(ctx.process)?;
    // Seccomp comes last, so that a profile needs to allow only what the exec needs. A filter
    // with NOTIFY rules is the exception: its listener fd must reach the agent before `create`
    // returns (runc and youki send it during create; agents wait for it before `start`), so
    // it is installed here, after every other step of setup, and the post-start steps use only
    // classic syscalls (openat, write, close, execve), as runc's do.
    if let Some(profile) = &ctx.process.apparmor_profile {
        // Takes effect at the execve; written while still privileged, as runc does.
        crate::apparmor::change_on_exec(&proc, profile)?;
    }
    let notify_now = ctx.seccomp.is_some_and(|f| f.has_notify());
    let retained = apply::caps_for_late_seccomp(ctx.process, ctx.seccomp.is_some());
    let caps = apply::apply_identity_retaining(ctx.process, &mut sys, retained)?;
    // Changing credentials clears the parent-death signal: set it again.
    set_parent_death_signal(libc::SIGKILL);
    apply::enter_cwd(&ctx.process.cwd, &mut sys)?;
    let fd_dir = proc
        .own_fd_dir()
        .map_err(|e| RuntimeError::io("open /proc/self/fd", std::io::Error::other(e)))?;
    drop(proc);
    mark_fds_cloexec(3 + ctx.process.preserve_fds)?;
    if let (true, Some(f)) = (notify_now, ctx.seccomp) {
        install_seccomp(ctx, f, host_pid, &state)?;
    }
    Ok(Ready {
        host_pid,
        fd_dir,
        exe,
        argv,
        envp,
        filter_at_exec: ctx.seccomp.is_some() && !notify_now,
        retained,
        caps,
    })
}

fn after_start(ctx: &InitContext<'_>, ready: Ready) -> Result<Infallible> {
    // Blocks until `start` opens the read end.
    let w = rootfs::procfs::reopen_in_fd_dir(ready.fd_dir.as_fd(), ctx.fifo, libc::O_WRONLY)
        .map_err(|e| RuntimeError::io("open exec fifo", std::io::Error::other(e)))?;
    nix::unistd::write(&w, b"0").map_err(|e| RuntimeError::sys("write exec fifo", e))?;
    drop(w);
    drop(ready.fd_dir);
    // SAFETY: closing the fifo's O_PATH fd we own.
    unsafe { libc::close(ctx.fifo) };
    if let Some(hooks) = ctx.hooks {
        let mut state = ctx.state.clone();
        state.pid = ready.host_pid;
        // The program has not been executed yet: the container is still "created" (runc too).
        state.status = crate::state::Status::Created;
        let hooks = start_hooks_with_env(hooks, &ctx.process.env);
        run_hooks(Some(&hooks), HookKind::StartContainer, &hook_state(&state)?)?;
    }
    if let Some(cpus) = &ctx.process.cpu_affinity_final {
        LinuxSys
            .set_cpu_affinity(cpus)
            .map_err(|e| RuntimeError::io("process.execCPUAffinity.final: sched_setaffinity", e))?;
    }
    if let (true, Some(f)) = (ready.filter_at_exec, ctx.seccomp) {
        let listener = hezi_seccomp::install(f)?;
        drop(listener);
    }
    apply::drop_retained(&mut LinuxSys, ready.caps, ready.retained);
    exec(&ready.exe, &ready.argv, &ready.envp)
}

/// The `startContainer` hooks, those without an `env` given the container process's
/// environment: runc runs them so (a de facto behaviour, not the spec's), and they run in the
/// container where the runtime's own environment means nothing.
fn start_hooks_with_env(hooks: &Hooks, env: &[String]) -> Hooks {
    let mut hooks = hooks.clone();
    if let Some(list) = hooks.start_container().clone() {
        let list = list
            .into_iter()
            .map(|mut h| {
                if h.env().is_none() {
                    h.set_env(Some(env.to_vec()));
                }
                h
            })
            .collect();
        hooks.set_start_container(Some(list));
    }
    hooks
}

/// Installs the filter; with NOTIFY rules sends the listener fd to the agent.
fn install_seccomp(
    ctx: &InitContext<'_>,
    f: &CompiledFilter,
    host_pid: i32,
    state: &RuncState,
) -> Result<()> {
    let listener = hezi_seccomp::install(f)?;
    if let (Some(l), Some(sock)) = (listener, ctx.seccomp_listener) {
        // SAFETY: sock is the connected listenerPath socket the parent passed down.
        let sock = unsafe { BorrowedFd::borrow_raw(sock) };
        crate::notify::send(
            sock,
            l.as_fd(),
            state,
            host_pid,
            ctx.seccomp_metadata.as_deref(),
        )?;
        // SAFETY: closing our copy of the socket; the agent keeps its end.
        unsafe { libc::close(sock.as_raw_fd()) };
    }
    Ok(())
}

/// execve; returns only on failure.
pub fn exec(exe: &CString, argv: &[CString], envp: &[CString]) -> Result<Infallible> {
    let e = nix::unistd::execve(exe, argv, envp)
        .map_err(|e| RuntimeError::sys(format!("exec {:?}", exe.to_string_lossy()), e));
    match e {
        Err(e) => Err(e),
        Ok(never) => match never {},
    }
}

fn join_session_keyring(name: &str) -> Result<()> {
    let c = cstring(name, "session keyring name")?;
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING = 1, name).
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, 1, c.as_ptr()) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        // No keyring support in this kernel: nothing to isolate (runc ignores it too).
        if err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(RuntimeError::io(
                format!("join session keyring {name}"),
                err,
            ));
        }
    }
    Ok(())
}

/// Marks every fd from `first` up close-on-exec, so no runtime fd (a host directory, the
/// procfs handle) leaks into the container (CVE-2024-21626). Uses close_range(CLOEXEC), which
/// needs no /proc.
pub fn mark_fds_cloexec(first: u32) -> Result<()> {
    // SAFETY: close_range(first, ~0, CLOSE_RANGE_CLOEXEC) only changes fd flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 4u32) };
    if rc < 0 {
        return Err(RuntimeError::io(
            "close_range(CLOEXEC) on inherited fds",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// The state document hooks read on stdin (an error, not an empty document, if it cannot be
/// serialized).
fn hook_state(state: &RuncState) -> Result<Vec<u8>> {
    serde_json::to_vec(state).map_err(|e| RuntimeError::State {
        id: state.id.clone(),
        msg: format!("serialize for hooks: {e}"),
    })
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| RuntimeError::Unsupported {
        setting: what.into(),
        msg: format!("NUL byte in {s:?}"),
    })
}

/// Looks up the home directory of `uid` in the container's /etc/passwd. `None` when the
/// image has no readable /etc/passwd (scratch images) or no entry for `uid` (malformed
/// lines are skipped as libc does); the caller then uses `/`, as runc does.
fn home_of(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// Why [`find_executable`] found nothing, worded as Go's `exec.LookPath` (which runc uses):
/// engines map these texts to exit codes (podman: "no such file or directory" and
/// "executable file not found" give 127, "permission denied" gives 126).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// A name without `/` that no `PATH` entry holds as an executable file.
    NotInPath,
    /// `stat` of a path failed (`stat /x: no such file or directory`).
    Stat(String, i32),
    /// The path is a directory.
    IsDir,
    /// The path is a file without execute permission.
    NotExecutable,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NotInPath => f.write_str("executable file not found in $PATH"),
            LookupError::Stat(path, errno) => write!(f, "stat {path}: {}", go_errno_text(*errno)),
            LookupError::IsDir => f.write_str("is a directory"),
            LookupError::NotExecutable => f.write_str("permission denied"),
        }
    }
}

/// An errno as Go prints it: the C library's text with a lower-case first letter ("no such
/// file or directory").
fn go_errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; Go does not.
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Checks one candidate as Go's `findExecutable` does: it must exist, not be a directory, and
/// have an execute bit.
fn check_executable(p: &Path) -> std::result::Result<(), LookupError> {
    let m = std::fs::metadata(p).map_err(|e| {
        LookupError::Stat(
            p.to_string_lossy().into_owned(),
            e.raw_os_error().unwrap_or(libc::ENOENT),
        )
    })?;
    if m.is_dir() {
        return Err(LookupError::IsDir);
    }
    if m.permissions().mode() & 0o111 == 0 {
        return Err(LookupError::NotExecutable);
    }
    Ok(())
}

/// Finds `name` like execvp does, in the container (after pivot_root): a name with a `/` is
/// used as is; otherwise each `PATH` entry of the process env is tried.
pub fn find_executable(name: &str, path_var: &str) -> std::result::Result<PathBuf, LookupError> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return check_executable(&p).map(|()| p);
    }
    path_var
        .split(':')
        .map(|d| {
            if d.is_empty() {
                Path::new(".")
            } else {
                Path::new(d)
            }
        })
        .map(|d| d.join(name))
        .find(|p| check_executable(p).is_ok())
        .ok_or(LookupError::NotInPath)
}

/// The environment with one entry per name, the last one given winning (as runc, whose
/// `exec --env` appends to the container's `process.env`): the C library's `getenv` would
/// return the first of two entries, so a duplicate must not reach the program.
pub fn dedup_env(env: &[String]) -> Vec<String> {
    let key = |kv: &str| kv.split_once('=').map_or(kv, |(k, _)| k).to_string();
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = env
        .iter()
        .rev()
        .filter(|kv| seen.insert(key(kv)))
        .cloned()
        .collect();
    out.reverse();
    out
}

/// The executable, argv and envp of the process (HOME added from /etc/passwd when missing).
pub fn resolve_exec(p: &ProcessPlan) -> Result<(CString, Vec<CString>, Vec<CString>)> {
    let name = p.args.first().cloned().unwrap_or_default();
    let path_var = p.env_var("PATH").unwrap_or(DEFAULT_PATH).to_string();
    let exe = find_executable(&name, &path_var).map_err(|e| RuntimeError::Exec {
        msg: format!("exec: {name:?}: {e}"),
    })?;
    let exe = cstring(&exe.to_string_lossy(), "process.args[0]")?;
    let argv = p
        .args
        .iter()
        .map(|a| cstring(a, "process.args"))
        .collect::<Result<Vec<_>>>()?;
    let mut env = dedup_env(&p.env);
    if p.env_var("HOME").is_none() {
        env.push(format!(
            "HOME={}",
            home_of(p.uid).unwrap_or_else(|| "/".into())
        ));
    }
    let envp = env
        .iter()
        .map(|e| cstring(e, "process.env"))
        .collect::<Result<Vec<_>>>()?;
    Ok((exe, argv, envp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_in_path() {
        let p = find_executable("sh", "/nonexistent:/bin:/usr/bin").expect("sh");
        assert!(p.ends_with("sh"));
        assert_eq!(
            find_executable("definitely-not-a-command-xyz", "/bin"),
            Err(LookupError::NotInPath)
        );
        assert_eq!(find_executable("/bin/sh", ""), Ok(PathBuf::from("/bin/sh")));
    }

    #[test]
    fn lookup_errors_use_go_wording() {
        // The texts engines match on (podman: 127 for the first two, 126 for the third).
        let missing = find_executable("/nonexistent-xyz", "").expect_err("missing");
        assert_eq!(
            missing.to_string(),
            "stat /nonexistent-xyz: no such file or directory"
        );
        let not_exec = find_executable("/etc/passwd", "").expect_err("not executable");
        assert_eq!(not_exec.to_string(), "permission denied");
        let dir = find_executable("/etc", "").expect_err("dir");
        assert_eq!(dir.to_string(), "is a directory");
    }

    #[test]
    fn resolve_reports_missing_command() {
        let p = ProcessPlan {
            args: vec!["nope-xyz".into()],
            ..Default::default()
        };
        let err = resolve_exec(&p).expect_err("missing");
        assert!(
            err.to_string()
                .contains("executable file not found in $PATH"),
            "{err}"
        );
    }

    #[test]
    fn later_env_entries_override_earlier_ones() {
        let env: Vec<String> = ["A=1", "B=2", "A=3", "C=4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(dedup_env(&env), vec!["B=2", "A=3", "C=4"]);
    }

    #[test]
    fn resolve_adds_home() {
        let p = ProcessPlan {
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            uid: 0,
            ..Default::default()
        };
        let (_, _, envp) = resolve_exec(&p).expect("ok");
        assert!(envp.iter().any(|e| e.to_bytes().starts_with(b"HOME=")));
    }
}
