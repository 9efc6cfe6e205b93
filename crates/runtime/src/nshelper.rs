//! The clone of an init whose new namespaces must be owned by a joined user namespace.
//!
//! A container that joins an existing user namespace (`linux.namespaces` user with a path)
//! and asks for new mount, pid, network, ipc or uts namespaces (Kubernetes' containers in a
//! pod with `hostUsers: false`: the sandbox's user, network, ipc and uts namespaces joined,
//! mount and pid of their own) needs those namespaces owned by the joined user namespace, or
//! its root has no privilege over them (no mounts, no /proc). The kernel order is "enter the
//! user namespace, then create": a clone from the runtime would make them owned by the
//! host's. runc does this in a two-stage child; hezi uses a short-lived helper instead:
//! forked from the parent, it enters the user namespace, unshares the new namespaces and
//! clones the init with `CLONE_PARENT`, so the init is born inside them (pid 1 of its pid
//! namespace) and is still the parent's own child, exactly as after the ordinary clone. The
//! helper reports the init's pid and exits.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::clone::{clone_process, Forked};
use crate::error::{Result, RuntimeError};

/// The helper's failed step, for the error message.
fn step_name(code: u8) -> &'static str {
    match code {
        1 => "setns into the joined user namespace",
        2 => "unshare the new namespaces",
        3 => "clone the init",
        _ => "start",
    }
}

/// Writes `[step, errno]` to `report` and exits: async-signal-safe.
fn fail(report: i32, step: u8) -> ! {
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let mut msg = [0u8; 5];
    msg[0] = step;
    msg[1..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: write of a stack buffer to our pipe end, then _exit: both async-signal-safe.
    unsafe {
        libc::write(report, msg.as_ptr().cast(), msg.len());
        libc::_exit(1)
    }
}

/// Clones the container init with the new namespaces `flags` (clone flags of everything new
/// but cgroup and time) created inside the user namespace at `userns_path`. Returns like
/// [`clone_process`]: `Forked::Child` in the init, `Forked::Parent(init pid)` in the caller.
/// The pid is the caller's view as long as the caller has not joined another pid namespace
/// (the plan refuses that combination).
pub(crate) fn clone_in_joined_userns(userns_path: &Path, flags: CloneFlags) -> Result<Forked> {
    let userns = File::open(userns_path).map_err(|e| {
        RuntimeError::io(
            format!("linux.namespaces: open {}", userns_path.display()),
            e,
        )
    })?;
    let (report_r, report_w): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| RuntimeError::sys("pipe2", e))?;
    let helper = match clone_process(CloneFlags::empty(), None)? {
        Forked::Child => {
            // The helper: raw syscalls only until the init exists.
            let report = report_w.as_raw_fd();
            // SAFETY: setns/unshare on an fd and flags prepared by the parent; no memory is
            // touched.
            if unsafe { libc::setns(userns.as_raw_fd(), libc::CLONE_NEWUSER) } != 0 {
                fail(report, 1);
            }
            // SAFETY: as above.
            if unsafe { libc::unshare(flags.bits()) } != 0 {
                fail(report, 2);
            }
            match clone_process(CloneFlags::CLONE_PARENT, None) {
                // The init: its parent is the runtime's process; it goes on as after the
                // ordinary clone (the helper's copies of these fds are closed on return).
                Ok(Forked::Child) => return Ok(Forked::Child),
                Ok(Forked::Parent(pid)) => {
                    let mut msg = [0u8; 5];
                    msg[1..].copy_from_slice(&pid.as_raw().to_ne_bytes());
                    // SAFETY: write of a stack buffer to our pipe end, then _exit.
                    unsafe {
                        libc::write(report, msg.as_ptr().cast(), msg.len());
                        libc::_exit(0)
                    }
                }
                Err(_) => fail(report, 3),
            }
        }
        Forked::Parent(pid) => pid,
    };
    drop(report_w);
    drop(userns);
    let mut msg = [0u8; 5];
    let mut report = File::from(report_r);
    let n = read_full(&mut report, &mut msg);
    let _ = waitpid(helper, None);
    let n = n.map_err(|e| RuntimeError::io("read the namespace helper's report", e))?;
    if n != msg.len() {
        return Err(RuntimeError::Child(
            "the namespace helper exited without a report".into(),
        ));
    }
    let value = i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]);
    if msg[0] != 0 {
        return Err(RuntimeError::Unsupported {
            setting: format!("linux.namespaces (user {})", userns_path.display()),
            msg: format!(
                "creating the new namespaces inside the joined user namespace failed: {}: {}",
                step_name(msg[0]),
                std::io::Error::from_raw_os_error(value)
            ),
        });
    }
    Ok(Forked::Parent(Pid::from_raw(value)))
}

/// Reads until `buf` is full or EOF; the number of bytes read.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
