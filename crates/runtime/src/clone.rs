//! The one clone of the container init: `clone3` (with `CLONE_INTO_CGROUP` when the cgroup
//! manager gives a v2 fd), falling back to `clone(2)`. Without a new stack both behave like
//! fork: the child continues on a copy of the caller's stack.

use std::os::fd::RawFd;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::error::{Result, RuntimeError};

/// Which side of the clone we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In the caller; the child's pid.
    Parent(Pid),
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Clones the calling (single-threaded) process with `flags` and SIGCHLD as exit signal.
///
/// The caller must be single-threaded: the child may allocate and must end in exec or
/// `_exit`, never return into code that owns the parent's resources.
pub fn clone_process(flags: CloneFlags, cgroup_fd: Option<RawFd>) -> Result<Forked> {
    let mut args = CloneArgs {
        flags: flags.bits() as u32 as u64,
        // With CLONE_PARENT the child signals the caller's parent with the caller's own exit
        // signal; clone3 wants 0 here then.
        exit_signal: if flags.contains(CloneFlags::CLONE_PARENT) {
            0
        } else {
            libc::SIGCHLD as u64
        },
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with a fully initialised clone_args and no new stack: the child resumes
    // here on a copy of this stack, like fork. The process is single-threaded (documented
    // precondition), so no lock can be held by another thread in the child.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let rc = if rc < 0 {
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::E2BIG) if cgroup_fd.is_none() => {
                // SAFETY: raw clone(2) without a stack behaves like fork (x86_64 argument order:
                // flags, stack, parent_tid, child_tid, tls); same preconditions as above.
                unsafe {
                    libc::syscall(
                        libc::SYS_clone,
                        (flags.bits() as libc::c_long) | libc::SIGCHLD as libc::c_long,
                        0usize,
                        0usize,
                        0usize,
                        0usize,
                    )
                }
            }
            _ => return Err(RuntimeError::io("clone3 of the container init", err)),
        }
    } else {
        rc
    };
    match rc {
        0 => Ok(Forked::Child),
        n if n > 0 => Ok(Forked::Parent(Pid::from_raw(n as i32))),
        _ => Err(RuntimeError::io(
            "clone of the container init",
            std::io::Error::last_os_error(),
        )),
    }
}
