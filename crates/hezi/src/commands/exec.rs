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
    if let Some(profile) = a.apparmor.as_ref().filter(|s| !s.is_empty()) {
        p.set_apparmor_profile(Some(profile.clone()));
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
        // Added to bounding, effective, permitted and ambient, never to inheritable
        // (CVE-2022-29162, as runc).
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
            caps.set_ambient(add(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// Runs `hezi exec`.
pub fn run(g: &GlobalOpts, a: &ExecArgs) -> anyhow::Result<u8> {
    if a.process_label.as_deref().is_some_and(|s| !s.is_empty()) {
        anyhow::bail!("exec --process-label: SELinux labels are not supported by this build");
    }
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    let process = process_from_args(c.record().config.process().as_ref(), a)?;
    let local = if process.terminal().unwrap_or(false) && a.console_socket.is_none() && !a.detach {
        Some(LocalConsole::bind(c.dir())?)
    } else {
        None
    };
    let opts = hezi_runtime::ExecOptions {
        process,
        pid_file: a.pid_file.clone(),
        console_socket: a
            .console_socket
            .clone()
            .or_else(|| local.as_ref().map(|l| l.path().to_path_buf())),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroups: hezi_runtime::parse_sub_cgroups(&a.cgroup)?,
        pidfd_socket: a.pidfd_socket.clone(),
    };
    let pid =
        hezi_runtime::exec(&c, &opts).with_context(|| format!("exec in container {}", a.id))?;
    if a.detach {
        return Ok(0);
    }
    let master = local.as_ref().map(|l| l.receive()).transpose()?;
    wait_with_console(pid, master)
}

/// A console socket served by hezi itself, for attached `run`/`exec` of a terminal process
/// without `--console-socket` (runc does the same): the pty master is received after create,
/// and [`wait_with_console`] copies stdin → master → stdout with the local terminal in raw mode.
pub struct LocalConsole {
    listener: std::os::unix::net::UnixListener,
    path: std::path::PathBuf,
}

impl LocalConsole {
    /// Binds a socket under `dir` (removed again on drop).
    pub fn bind(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let path = dir.join(format!(".console-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path)
            .with_context(|| format!("bind console socket {}", path.display()))?;
        Ok(Self { listener, path })
    }

    /// The socket path to pass as `--console-socket`.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Accepts the runtime's connection and receives the pty master.
    pub fn receive(&self) -> anyhow::Result<std::os::fd::OwnedFd> {
        use std::os::fd::{AsRawFd, FromRawFd, RawFd};
        let (conn, _) = self
            .listener
            .accept()
            .context("accept on the console socket")?;
        let mut buf = [0u8; 4096];
        let mut cbuf = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cbuf),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .context("receive the pty master")?;
        for c in msg.cmsgs().context("console message")? {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                if let Some(fd) = fds.first() {
                    // SAFETY: the fd was just received and nothing else owns it.
                    return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(*fd) });
                }
            }
        }
        anyhow::bail!("console socket: no pty master received")
    }
}

impl Drop for LocalConsole {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Puts the local terminal (stdin) in raw mode and restores it on drop.
struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    fn enter() -> Self {
        use nix::sys::termios;
        let stdin = std::io::stdin();
        match termios::tcgetattr(&stdin) {
            Ok(orig) => {
                let mut raw = orig.clone();
                termios::cfmakeraw(&mut raw);
                let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &raw);
                RawMode(Some(orig))
            }
            Err(_) => RawMode(None),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                orig,
            );
        }
    }
}

/// Copies our terminal's window size to the pty.
fn copy_winsize(master: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    // SAFETY: winsize is plain data; TIOCGWINSZ/TIOCSWINSZ take a pointer to it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Copies what is left in the pty to stdout without blocking.
fn drain(master: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    loop {
        let mut fds = [nix::poll::PollFd::new(master, nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
        match nix::unistd::read(master, buf) {
            Ok(n) if n > 0 => {
                let _ = out.write_all(&buf[..n]);
            }
            _ => break,
        }
    }
    let _ = out.flush();
}

/// Waits for `pid` (our child) while forwarding signals to it and, when `master` is given,
/// proxying the pty to stdin/stdout; returns the exit code (128+signal when killed).
pub fn wait_with_console(pid: Pid, master: Option<std::os::fd::OwnedFd>) -> anyhow::Result<u8> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
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
    let _raw = master.as_ref().map(|_| RawMode::enter());
    if let Some(m) = &master {
        copy_winsize(m.as_fd());
    }
    let mut master = master;
    let mut stdin_open = master.is_some();
    let stdin = std::io::stdin();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let done = match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Some(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => Some(128u8.wrapping_add(sig as u8)),
            Ok(_) => None,
            Err(nix::errno::Errno::ECHILD) => Some(0),
            Err(e) => return Err(anyhow::anyhow!("wait for process {pid}: {e}")),
        };
        if let Some(code) = done {
            if let Some(m) = &master {
                drain(m.as_fd(), &mut buf);
            }
            return Ok(code);
        }
        if let Some(m) = &master {
            let mut fds = vec![
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
                PollFd::new(m.as_fd(), PollFlags::POLLIN),
            ];
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(anyhow::anyhow!("poll: {e}")),
            }
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (sig_ready, m_ready, in_ready) = (ready(0), ready(1), ready(2));
            drop(fds);
            if m_ready {
                match nix::unistd::read(m.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => master = None,
                    Ok(n) => {
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                    }
                }
            }
            if in_ready {
                match nix::unistd::read(stdin.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        if let Some(m) = &master {
                            let _ = nix::unistd::write(m.as_fd(), &buf[..n]);
                        }
                    }
                }
            }
            if !sig_ready {
                continue;
            }
        }
        match sfd.read_signal() {
            Ok(Some(info)) => {
                let signo = info.ssi_signo as i32;
                if signo == libc::SIGWINCH {
                    if let Some(m) = &master {
                        copy_winsize(m.as_fd());
                        continue;
                    }
                }
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
