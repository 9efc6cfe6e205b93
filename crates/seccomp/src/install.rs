//! Loading a compiled filter with seccomp(2).

use crate::compile::FLAG_NEW_LISTENER;
use crate::{CompiledFilter, SeccompError};
use std::os::fd::{FromRawFd, OwnedFd};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Install `filter` on the calling thread (all threads with TSYNC).
///
/// Does not set `no_new_privs`: the caller decides (without it the caller
/// needs CAP_SYS_ADMIN). Allocates nothing, so it can run in a forked child
/// right before exec. Returns the notify listener fd when the filter has
/// NOTIFY rules.
pub fn install(filter: &CompiledFilter) -> Result<Option<OwnedFd>, SeccompError> {
    let insns = filter.instructions();
    let prog = libc::sock_fprog {
        len: insns.len() as libc::c_ushort,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `insns`, which outlives the call; the kernel
    // copies the program and does not keep the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(filter.flags()),
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(SeccompError::last_os("seccomp(SECCOMP_SET_MODE_FILTER)"));
    }
    if filter.flags() & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a new fd
        // that nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }))
    } else {
        Ok(None)
    }
}

/// Set `no_new_privs` on the calling thread (for callers without CAP_SYS_ADMIN).
pub fn set_no_new_privs() -> Result<(), SeccompError> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes no pointers.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(SeccompError::last_os("prctl(PR_SET_NO_NEW_PRIVS)"));
    }
    Ok(())
}
