//! [`ProcfsHandle`]: writes to procfs (sysctl, `oom_score_adj`, `attr/*`) that a malicious
//! rootfs or container cannot redirect (CVE-2025-52881).
//!
//! The handle is a private procfs instance (`fsopen("proc")` + `fsmount`, never attached
//! anywhere, so nothing in the container can mount over it), or, where the kernel refuses a
//! fresh instance (e.g. in a user namespace with a partly masked `/proc`), an fd of `/proc`
//! verified with `fstatfs` to be procfs. Every open below it uses `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS`, and the opened file is checked
//! to be on procfs again, so neither a bind mount over `/proc/sys/...` nor a symlink can send a
//! write elsewhere.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::error::RootfsError;
use super::sys::{self, cpath};

/// An fd of a procfs root that cannot be redirected. Create with [`ProcfsHandle::new`].
#[derive(Debug)]
pub struct ProcfsHandle {
    root: OwnedFd,
    private: bool,
}

fn check_procfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    let st = nix::sys::statfs::fstatfs(fd).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not on procfs (something is mounted over it)",
        ));
    }
    Ok(())
}

impl ProcfsHandle {
    /// Opens a private procfs instance, or falls back to a verified `/proc` (see module docs).
    pub fn new() -> Result<Self, RootfsError> {
        match Self::private_instance() {
            Ok(root) => Ok(ProcfsHandle {
                root,
                private: true,
            }),
            Err(e) => {
                tracing::debug!(error = %e, "private procfs instance refused; using /proc");
                Self::from_proc_dir(Path::new("/proc"))
            }
        }
    }

    /// Uses the procfs mounted at `dir` (checked with `fstatfs`).
    pub fn from_proc_dir(dir: &Path) -> Result<Self, RootfsError> {
        let what = format!("procfs {}", dir.display());
        let c = cpath(dir).map_err(|e| RootfsError::sys(&what, e))?;
        let root = sys::openat2(None, &c, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
            .map_err(|e| RootfsError::sys(format!("{what}: open"), e))?;
        check_procfs(root.as_fd()).map_err(|e| RootfsError::sys(&what, e))?;
        Ok(ProcfsHandle {
            root,
            private: false,
        })
    }

    fn private_instance() -> io::Result<OwnedFd> {
        let fs = sys::fsopen(c"proc")?;
        sys::fsconfig_set_string(fs.as_fd(), c"source", c"proc")?;
        sys::fsconfig_create(fs.as_fd())?;
        let flags = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
        sys::fsmount(fs.as_fd(), flags)
    }

    /// True when the handle is a private, unattached procfs instance.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// Opens `rel` (relative to the procfs root, e.g. `sys/net/ipv4/ip_forward` or
    /// `self/oom_score_adj`) with `flags`, refusing symlink escapes, magic links and mount
    /// crossings, and checks the result is on procfs.
    pub fn open(&self, rel: &Path, flags: i32) -> Result<File, RootfsError> {
        let what = format!("/proc/{}", rel.display());
        let rel_c =
            cpath(rel.strip_prefix("/").unwrap_or(rel)).map_err(|e| RootfsError::sys(&what, e))?;
        let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV | libc::RESOLVE_NO_MAGICLINKS;
        let fd = sys::openat2(
            Some(self.root.as_fd()),
            &rel_c,
            flags | libc::O_NOCTTY,
            0,
            resolve,
        )
        .map_err(|e| RootfsError::sys(format!("{what}: open"), e))?;
        check_procfs(fd.as_fd()).map_err(|e| RootfsError::sys(&what, e))?;
        Ok(File::from(fd))
    }

    /// Writes `data` to `rel` in one `write` (procfs files want a single write).
    pub fn write(&self, rel: &Path, data: &[u8]) -> Result<(), RootfsError> {
        let mut f = self.open(rel, libc::O_WRONLY)?;
        f.write_all(data)
            .map_err(|e| RootfsError::sys(format!("/proc/{}: write", rel.display()), e))
    }

    /// Writes a sysctl, `key` in dotted (`net.ipv4.ip_forward`) or slash form.
    pub fn write_sysctl(&self, key: &str, value: &str) -> Result<(), RootfsError> {
        let mut rel = PathBuf::from("sys");
        rel.push(key.replace('.', "/"));
        self.write(&rel, value.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn reads_through_the_handle_and_refuses_escapes() {
        let h = match ProcfsHandle::new() {
            Ok(h) => h,
            Err(e) => panic!("no procfs handle: {e}"),
        };
        let mut s = String::new();
        h.open(Path::new("sys/kernel/ostype"), libc::O_RDONLY)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s.trim(), "Linux");
        // `..` escapes the procfs root: RESOLVE_BENEATH refuses it.
        let err = h
            .open(Path::new("../etc/passwd"), libc::O_RDONLY)
            .unwrap_err();
        assert!(err.to_string().contains("/proc/../etc/passwd"), "{err}");
        // /proc/self/exe is a magic link.
        assert!(h.open(Path::new("self/exe"), libc::O_RDONLY).is_err());
    }

    #[test]
    fn a_non_procfs_dir_is_refused() {
        let err = ProcfsHandle::from_proc_dir(Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("not on procfs"), "{err}");
    }
}
