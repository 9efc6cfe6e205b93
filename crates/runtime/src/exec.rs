//! `exec`: run another process in a running container. The parent enters the container's pid
//! and time namespaces (they apply to its children only) and forks once; the child joins the
//! other namespaces (user first, mount last), is placed in the cgroup by the parent, applies
//! the process settings like the init does and execs. The sync socket is close-on-exec, so a
//! clean EOF tells the parent the exec happened; a setup error arrives as a message.
//!
//! The child is non-dumpable from its first instruction until exec (CVE-2019-5736: container
//! processes cannot open `/proc/<pid>/exe` of the joining runtime).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::clone::{clone_process, Forked};
use crate::console;
use crate::container::Container;
use crate::create::compile_seccomp;
use crate::error::{Result, RuntimeError};
use crate::init::{exec as execve, mark_fds_cloexec, resolve_exec};
use crate::namespaces::{clone_flag, proc_name, NamespacePlan, JOIN_ORDER};
use crate::process::apply;
use crate::process::plan::ProcessPlan;
use crate::process::sys::{LinuxSys, ProcessSys};
use crate::state::{write_atomic, Status};
use crate::sync::{self, SyncMsg, SyncSocket};

/// What `hezi exec` passes in.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The process to run (runtime-spec `Process`).
    pub process: Process,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket` (needed when `process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `--ignore-paused`.
    pub ignore_paused: bool,
    /// `--cgroup [CONTROLLERS:]PATH`: the sub-cgroup per controller (`""` for all and for
    /// the v2 directory), relative to the container's cgroup; empty for the container's own.
    pub sub_cgroups: BTreeMap<String, String>,
    /// `--pidfd-socket`: a unix socket that gets a pidfd of the new process (as runc sends it,
    /// with the name `setns`).
    pub pidfd_socket: Option<PathBuf>,
}

/// Parses runc's `exec --cgroup` arguments (`PATH` for every controller, or
/// `CONTROLLER[,CONTROLLER...]:PATH`) into a map from controller (`""` for all) to path.
pub fn parse_sub_cgroups(args: &[String]) -> Result<BTreeMap<String, String>> {
    let bad = |a: &str, msg: &str| RuntimeError::Unsupported {
        setting: format!("--cgroup {a}"),
        msg: msg.to_string(),
    };
    let mut map = BTreeMap::new();
    for a in args {
        match a.split_once(':') {
            Some((ctrls, path)) => {
                for c in ctrls.split(',') {
                    if c.is_empty() {
                        return Err(bad(a, "empty controller prefix"));
                    }
                    if map.insert(c.to_string(), path.to_string()).is_some() {
                        return Err(bad(a, &format!("controller {c} specified more than once")));
                    }
                }
            }
            None => {
                if map.insert(String::new(), a.clone()).is_some() {
                    return Err(bad(a, "more than one path without a controller prefix"));
                }
            }
        }
    }
    Ok(map)
}

/// Starts the process in `c` and returns its host pid (a child of the caller).
pub fn exec(c: &Container, opts: &ExecOptions) -> Result<Pid> {
    match c.status() {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(RuntimeError::WrongStatus(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        _ => {
            return Err(RuntimeError::WrongStatus(
                "cannot exec in a stopped container".into(),
            ))
        }
    }
    let init_pid = c.init_pid();
    let spec = &c.record().config;
    let mut plan = ProcessPlan::from_process(&opts.process)?;
    plan.set_container_wide(spec)?;
    plan.preserve_fds = opts.preserve_fds;
    if plan.terminal && opts.console_socket.is_none() {
        return Err(RuntimeError::Unsupported {
            setting: "--tty".into(),
            msg: "cannot allocate tty if hezi will detach without setting console socket".into(),
        });
    }
    let seccomp = compile_seccomp(spec)?;
    let ns = NamespacePlan::from_spec(spec)?;
    // Open every namespace of the init now (before it could exit), in join order.
    let mut fds: Vec<(LinuxNamespaceType, File)> = Vec::new();
    for t in JOIN_ORDER {
        if ns.has(t) {
            let path = format!("/proc/{init_pid}/ns/{}", proc_name(t));
            let f = File::open(&path).map_err(|e| RuntimeError::io(format!("open {path}"), e))?;
            fds.push((t, f));
        }
    }
    let cg = c.cgroup()?;
    let console = match (&opts.console_socket, plan.terminal) {
        (Some(p), true) => Some(UnixStream::connect(p).map_err(|e| {
            RuntimeError::io(format!("--console-socket: connect {}", p.display()), e)
        })?),
        _ => None,
    };
    // Rootless: the container's user namespace owns its other namespaces, so joining them
    // needs its capabilities. We own it (same euid), so this single-threaded process may
    // enter it first; file access on the host keeps our own uid.
    if !nix::unistd::geteuid().is_root() {
        if let Some(i) = fds.iter().position(|(t, _)| *t == LinuxNamespaceType::User) {
            let (t, f) = fds.remove(i);
            nix::sched::setns(f.as_fd(), clone_flag(t))
                .map_err(|e| RuntimeError::sys(format!("setns user of container {}", c.id()), e))?;
        }
    }
    // pid and time namespaces apply to children: enter them here, fork once.
    for (t, f) in &fds {
        if matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
            nix::sched::setns(f.as_fd(), clone_flag(*t)).map_err(|e| {
                RuntimeError::sys(
                    format!("setns {} of container {}", proc_name(*t), c.id()),
                    e,
                )
            })?;
        }
    }
    let notify = match &seccomp {
        Some(f) if f.has_notify() => Some(crate::notify::connect(spec)?),
        _ => None,
    };
    let state = c.state();
    let (parent_sock, child_sock) = sync::pair()?;
    // Fast placement (see cgjoin): the child moves its only thread into the v1 hierarchies
    // right after Go, before joining any namespace.
    let fast_join = if opts.sub_cgroups.is_empty() {
        crate::cgjoin::JoinPlan::new(cg.as_ref())
    } else {
        Some(crate::cgjoin::JoinPlan::with_sub_cgroups(
            cg.as_ref(),
            &opts.sub_cgroups,
        )?)
    };
    let pidfd_sock = match &opts.pidfd_socket {
        Some(p) => Some(UnixStream::connect(p).map_err(|e| {
            RuntimeError::io(format!("--pidfd-socket: connect {}", p.display()), e)
        })?),
        None => None,
    };
    let cg_fd = match fast_join.as_ref() {
        Some(j) => j.dup_v2_fd()?,
        None => cg.clone_into_fd(),
    };
    let forked = clone_process(
        nix::sched::CloneFlags::empty(),
        cg_fd.as_ref().map(|f| f.as_raw_fd()),
    )?;
    if forked == Forked::Child {
        // SAFETY: closing our copy of the parent's end.
        unsafe { libc::close(parent_sock.raw()) };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let seccomp = seccomp.as_ref().map(|f| SeccompCtx {
                filter: f,
                notify: notify.as_ref(),
                state: &state,
            });
            child(
                &child_sock,
                &fds,
                &plan,
                seccomp,
                console.as_ref().map(|s| s.as_fd()),
                fast_join.as_ref(),
            )
        }));
        let msg = match r {
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(never)) => match never {},
            Err(_) => "exec child panicked".into(),
        };
        let _ = child_sock.send(&SyncMsg::Error(msg));
        // SAFETY: _exit without running the parent's destructors.
        unsafe { libc::_exit(1) }
    }
    let Forked::Parent(pid) = forked else {
        return Err(RuntimeError::Child(
            "clone returned in the child twice".into(),
        ));
    };
    drop(child_sock);
    drop(console);
    drop(notify);
    let fail = |e: RuntimeError| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        e
    };
    if fast_join.is_none() && cg_fd.is_none() {
        cg.add_task(pid.as_raw())
            .map_err(|e| fail(RuntimeError::Cgroup(e)))?;
    }
    if let Some(sock) = &pidfd_sock {
        send_pidfd(sock, pid).map_err(fail)?;
    }
    if let Some(adj) = plan.oom_score_adj {
        let path = format!("/proc/{}/oom_score_adj", pid.as_raw());
        std::fs::write(&path, adj.to_string()).map_err(|e| {
            fail(RuntimeError::io(
                format!("process.oomScoreAdj: write {path}"),
                e,
            ))
        })?;
    }
    parent_sock
        .send(&SyncMsg::Go {
            host_pid: pid.as_raw(),
        })
        .map_err(fail)?;
    match parent_sock.recv().map_err(fail)? {
        None => {}
        Some(SyncMsg::Error(msg)) => return Err(fail(RuntimeError::Child(msg))),
        Some(other) => {
            return Err(fail(RuntimeError::Child(format!(
                "unexpected sync message {other:?}"
            ))))
        }
    }
    if let Some(pf) = &opts.pid_file {
        write_atomic(pf, pid.as_raw().to_string().as_bytes())?;
    }
    Ok(pid)
}

/// Sends a pidfd of `pid` over the `--pidfd-socket` connection, named `setns` as runc names the
/// pidfd of an exec'd process.
fn send_pidfd(sock: &UnixStream, pid: Pid) -> Result<()> {
    // SAFETY: pidfd_open(pid, 0) returns a new fd or -1; nothing else owns the fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(RuntimeError::io(
            "--pidfd-socket: pidfd_open",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is the fresh pidfd from above.
    let pidfd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    console::send_fd(sock.as_fd(), "setns", pidfd.as_fd())
}

/// The filter and where its notify listener goes.
struct SeccompCtx<'a> {
    filter: &'a hezi_seccomp::CompiledFilter,
    notify: Option<&'a crate::notify::NotifyTarget>,
    state: &'a crate::state::RuncState,
}

impl SeccompCtx<'_> {
    fn install(&self, host_pid: i32) -> Result<()> {
        let listener = hezi_seccomp::install(self.filter)?;
        if let (Some(l), Some(n)) = (listener, self.notify) {
            crate::notify::send(
                n.sock.as_fd(),
                l.as_fd(),
                self.state,
                host_pid,
                n.metadata.as_deref(),
            )?;
        }
        Ok(())
    }
}

fn child(
    sync: &SyncSocket,
    fds: &[(LinuxNamespaceType, File)],
    plan: &ProcessPlan,
    seccomp: Option<SeccompCtx<'_>>,
    console_sock: Option<BorrowedFd<'_>>,
    cgroup_join: Option<&crate::cgjoin::JoinPlan>,
) -> Result<Infallible> {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    crate::init::reset_signals();
    crate::init::new_session()?;
    let host_pid = match sync.recv()? {
        Some(SyncMsg::Go { host_pid }) => host_pid,
        _ => return Err(RuntimeError::Child("parent went away".into())),
    };
    if let Some(j) = cgroup_join {
        j.join_v1_self()?;
    }
    for (t, f) in fds {
        if !matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
            nix::sched::setns(f.as_fd(), clone_flag(*t))
                .map_err(|e| RuntimeError::sys(format!("setns {}", proc_name(*t)), e))?;
        }
    }
    let mut sys = LinuxSys;
    apply::apply_limits(plan, &mut sys)?;
    let mut slave: Option<OwnedFd> = None;
    if plan.terminal {
        let sock = console_sock.ok_or_else(|| RuntimeError::Unsupported {
            setting: "--tty".into(),
            msg: "needs --console-socket".into(),
        })?;
        let pty = console::open_pty(std::path::Path::new("/"), None)?;
        console::send_fd(sock, "/dev/ptmx", pty.master.as_fd())?;
        drop(pty.master);
        slave = Some(pty.slave);
    }
    if let Some(s) = slave.take() {
        console::make_controlling(s.as_fd())?;
    }
    let (exe, argv, envp) = resolve_exec(plan)?;
    if let Some(profile) = &plan.apparmor_profile {
        // The container's /proc, verified to be a real procfs (or a private instance).
        let proc = crate::rootfs::procfs::ProcfsHandle::mounted()
            .or_else(|_| crate::rootfs::procfs::ProcfsHandle::new())?;
        crate::apparmor::change_on_exec(&proc, profile)?;
    }
    // The filter is the last step before execve (see crate::init): what it must allow is the
    // exec itself (and, with NOTIFY rules, handing the listener to the agent).
    let retained = apply::caps_for_late_seccomp(plan, seccomp.is_some());
    let caps = apply::apply_identity_retaining(plan, &mut sys, retained)?;
    apply::enter_cwd(&plan.cwd, &mut sys)?;
    mark_fds_cloexec(3 + plan.preserve_fds)?;
    if let Some(cpus) = &plan.cpu_affinity_final {
        sys.set_cpu_affinity(cpus)
            .map_err(|e| RuntimeError::io("process.execCPUAffinity.final", e))?;
    }
    if let Some(sc) = seccomp.as_ref() {
        sc.install(host_pid)?;
    }
    apply::drop_retained(&mut sys, caps, retained);
    execve(&exe, &argv, &envp)
}
