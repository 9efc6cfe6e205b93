//! `hezi exec`: run a process in a running container, from `--process FILE` or from the
//! container's own `process` with the command line's overrides (as runc builds it).

use anyhow::Context as _;
use hezi_runtime::oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::cli::{ExecArgs, GlobalOpts};

/// Builds the runtime-spec process of an exec from the flags and the container's process.
pub fn process_from_args(base: Option<&Process>, a: &ExecArgs) -> anyhow::Result<Process> {
    if let Some(path) = &a.process {
        let text =
            std::fs::read(path).with_context(|| format!("read --process {}", path.display()))?;
        return serde_json::from_slice(&text)
            .with_context(|| format!("parse --process {}", path.display()));
    }
    if a.command.is_empty() {
        anyhow::bail!("exec: no command given (pass a command or --process)");
    }
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.into());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse::<u32>(), g.parse::<u32>().map(Some)),
            None => (u.parse::<u32>(), Ok(None)),
        };
        let uid = uid.map_err(|_| anyhow::anyhow!("--user {u}: expected UID[:GID] numbers"))?;
        let gid = gid.map_err(|_| anyhow::anyhow!("--user {u}: expected UID[:GID] numbers"))?;
        let user = p.user_mut();
        user.set_uid(uid);
        if let Some(g) = gid {
            user.set_gid(g);
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_else(|| {
            let empty: Capabilities = Default::default();
            let mut c = LinuxCapabilities::default();
            c.set_bounding(Some(empty.clone()));
            c.set_effective(Some(empty.clone()));
            c.set_permitted(Some(empty.clone()));
            c.set_inheritable(Some(empty.clone()));
            c.set_ambient(Some(empty));
            c
        });
        for name in &a.cap {
            let cap: Capability =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| anyhow::anyhow!("--cap {name}: unknown capability"))?;
            let add = |set: &Option<Capabilities>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            caps.set_inheritable(add(caps.inheritable()));
            caps.set_ambient(add(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// Runs `hezi exec`.
pub fn run(g: &GlobalOpts, a: &ExecArgs) -> anyhow::Result<u8> {
    if !a.cgroup.is_empty() {
        anyhow::bail!("exec --cgroup: sub-cgroups are not supported by this build");
    }
    if a.pidfd_socket.is_some() {
        anyhow::bail!("exec --pidfd-socket: not supported by this build");
    }
    if a.process_label.as_deref().is_some_and(|s| !s.is_empty()) {
        anyhow::bail!("exec --process-label: SELinux labels are not supported by this build");
    }
    if a.apparmor.as_deref().is_some_and(|s| !s.is_empty()) {
        anyhow::bail!("exec --apparmor: AppArmor is not supported by this build");
    }
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    let process = process_from_args(c.record().config.process().as_ref(), a)?;
    let opts = hezi_runtime::ExecOptions {
        process,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
    };
    let pid =
        hezi_runtime::exec(&c, &opts).with_context(|| format!("exec in container {}", a.id))?;
    if a.detach {
        return Ok(0);
    }
    wait_forwarding(pid)
}

/// Waits for `pid` (our child) while forwarding signals to it; returns its exit code.
pub fn wait_forwarding(pid: Pid) -> anyhow::Result<u8> {
    const FORWARDED: &[Signal] = &[
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCONT,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGPIPE,
        Signal::SIGALRM,
    ];
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(*s);
    }
    mask.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .context("block signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128u8.wrapping_add(sig as u8)),
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(0),
            Err(e) => return Err(anyhow::anyhow!("wait for process {pid}: {e}")),
        }
        match sfd.read_signal() {
            Ok(Some(info)) => {
                let signo = info.ssi_signo as i32;
                if signo != libc::SIGCHLD {
                    if let Ok(sig) = Signal::try_from(signo) {
                        let _ = kill(pid, sig);
                    }
                }
            }
            Ok(None) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(anyhow::anyhow!("read signalfd: {e}")),
        }
    }
}
