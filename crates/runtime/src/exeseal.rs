//! CVE-2019-5736 defence: the commands that put a process into a container (`create`,
//! `run`, `exec`) first make sure the hezi binary they run from cannot be written through
//! `/proc/<pid>/exe`.
//!
//! The attack: a container replaces a program the runtime will exec with a script whose
//! interpreter is `#!/proc/self/exe`. The kernel resolves that link in the exec'ing process,
//! so the container ends up running the *host's* hezi binary as a container process, opens
//! `/proc/<pid>/exe` and, once hezi has exited, writes to it: the next `hezi` run on the host
//! is the attacker's. Being non-dumpable during setup (which the runtime also does) does not
//! help here, because the re-executed binary is a fresh, dumpable process.
//!
//! The fix is to run from a file that cannot be written, at the price of one `execve`:
//! - if the binary already lives on a read-only mount or is a sealed memfd, nothing is done;
//! - otherwise hezi re-executes itself through a detached, read-only bind mount of its own
//!   exe (`open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)`, no copy, as crun
//!   does); writes through `/proc/<pid>/exe` then fail with EROFS, and the mount vanishes with
//!   the last process using it;
//! - where that is not allowed (no CAP_SYS_ADMIN), the binary is copied into a sealed memfd.
//!
//! `state`, `kill`, `delete` and the other commands never run container code, so they skip
//! this and pay nothing. Embedders that start containers from their own binary call
//! [`ensure_sealed`] first thing in `main`, before any thread exists:
//!
//! ```no_run
//! fn main() -> Result<(), hezi_runtime::RuntimeError> {
//!     hezi_runtime::ensure_sealed()?; // may re-execute the process once
//!     // ... hezi_runtime::create(...), exec(...) ...
//!     Ok(())
//! }
//! ```

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use crate::error::{Result, RuntimeError};
use crate::rootfs::sys::{mount_setattr, open_tree, MountAttr};

/// Set in the environment of the re-executed process so it does not seal again.
const SEALED_MARK: &str = "_HEZI_EXE_SEALED";

/// Makes sure this process runs from a read-only or sealed copy of its binary, re-executing
/// itself once when it does not. Returns only when the running binary is safe; on the
/// re-exec path it does not return at all. Call before any thread is spawned.
pub fn ensure_sealed() -> Result<()> {
    // The mark only stops a loop; it is never trusted: the re-executed process checks the
    // binary it runs from like any other, so a stray mark in the caller's environment cannot
    // switch the defence off.
    let reexecuted = std::env::var_os(SEALED_MARK).is_some();
    if reexecuted {
        // Keep the mark out of children's environments.
        std::env::remove_var(SEALED_MARK);
    }
    if exe_is_unwritable()? {
        return Ok(());
    }
    if reexecuted {
        return Err(RuntimeError::io(
            "CVE-2019-5736 defence",
            io::Error::other(
                "re-executed from a sealed copy but still running from a writable binary",
            ),
        ));
    }
    let exe = match readonly_bind_of_exe() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!(error = %e, "read-only bind of the binary refused; sealing a memfd copy");
            sealed_memfd_copy()
                .map_err(|e| RuntimeError::io("sealing a copy of the binary (CVE-2019-5736)", e))?
        }
    };
    Err(RuntimeError::io(
        "re-executing from the sealed binary (CVE-2019-5736)",
        reexec(&exe),
    ))
}

/// True when `/proc/self/exe` is on a read-only mount or is a memfd sealed against writes.
fn exe_is_unwritable() -> Result<bool> {
    let st = nix::sys::statvfs::statvfs("/proc/self/exe")
        .map_err(|e| RuntimeError::sys("statvfs /proc/self/exe", e))?;
    if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    let f = std::fs::File::open("/proc/self/exe")
        .map_err(|e| RuntimeError::io("open /proc/self/exe", e))?;
    // SAFETY: F_GET_SEALS on a valid fd only returns a bit mask (or EINVAL for non-memfds).
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    Ok(seals >= 0 && seals & libc::F_SEAL_WRITE != 0)
}

/// A detached read-only bind mount of our own binary (an `O_PATH` fd to execute from).
fn readonly_bind_of_exe() -> io::Result<OwnedFd> {
    let fd = open_tree(
        None,
        c"/proc/self/exe",
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
    )?;
    let attr = MountAttr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    mount_setattr(Some(fd.as_fd()), c"", libc::AT_EMPTY_PATH as u32, &attr)?;
    Ok(fd)
}

/// A memfd holding a copy of our binary, sealed against every change.
fn sealed_memfd_copy() -> io::Result<OwnedFd> {
    let fd = nix::sys::memfd::memfd_create(
        c"hezi-sealed",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC | nix::sys::memfd::MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(io::Error::from)?;
    let mut src = std::fs::File::open("/proc/self/exe")?;
    let mut dst = std::fs::File::from(fd);
    io::copy(&mut src, &mut dst)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on the memfd we own; the kernel only reads the mask.
    if unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OwnedFd::from(dst))
}

/// `execveat(fd, "", argv, envp + mark, AT_EMPTY_PATH)`; returns only on failure, with why.
fn reexec(exe: &OwnedFd) -> io::Error {
    match reexec_inner(exe) {
        Ok(()) => io::Error::last_os_error(),
        Err(e) => e,
    }
}

fn reexec_inner(exe: &OwnedFd) -> io::Result<()> {
    let to_c = |s: OsString| CString::new(s.as_bytes()).map_err(|_| io::ErrorKind::InvalidInput);
    let argv: Vec<CString> = std::env::args_os()
        .map(to_c)
        .collect::<std::result::Result<_, _>>()?;
    let mut envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_c(kv)
        })
        .collect::<std::result::Result<_, _>>()?;
    envp.push(CString::new(format!("{SEALED_MARK}=1")).map_err(|_| io::ErrorKind::InvalidInput)?);
    let argv_p: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_p: Vec<*const libc::c_char> = envp
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let empty: &CStr = c"";
    // SAFETY: argv and envp are NULL-terminated arrays of NUL-terminated strings that outlive
    // the call; `exe` is an open fd. execveat only returns on failure.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe.as_raw_fd(),
            empty.as_ptr(),
            argv_p.as_ptr(),
            envp_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfd_copy_is_sealed_and_identical() {
        let fd = sealed_memfd_copy().unwrap();
        // SAFETY: F_GET_SEALS on our memfd.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert!(seals & libc::F_SEAL_WRITE != 0);
        let copy = std::fs::read(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_eq!(copy, std::fs::read("/proc/self/exe").unwrap());
        // Seals do not stop an open for writing, but every write through it fails.
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        if let Ok(mut w) = w {
            use std::io::Write as _;
            assert!(w.write_all(b"x").is_err(), "wrote into a sealed memfd");
        }
    }

    #[test]
    fn readonly_bind_refuses_writes() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: readonly_bind_refuses_writes needs root");
            return;
        }
        let fd = readonly_bind_of_exe().unwrap();
        let st = nix::sys::statvfs::fstatvfs(&fd).unwrap();
        assert!(st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    }
}
