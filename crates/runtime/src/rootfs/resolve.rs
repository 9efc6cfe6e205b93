//! `mkdir -p` inside the rootfs: the one path walk hezi does by hand, because `openat2`
//! resolves but does not create. Every lookup still goes through `openat2(RESOLVE_IN_ROOT)`.

use std::collections::VecDeque;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{fstat, mkdirat, Mode};

use super::mounter::{NodeKind, Resolve};
use super::sys::{self, cpath};

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn cname(name: &std::ffi::OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// `rel` as a C path for `*at` calls; the empty path means the directory itself.
pub(super) fn crel(rel: &Path) -> io::Result<CString> {
    if rel.as_os_str().is_empty() {
        Ok(CString::from(c"."))
    } else {
        cpath(rel)
    }
}

/// Symlinks followed by one [`mkdir_all_in_root`] before giving up (like the kernel's 40).
const MAX_SYMLINKS: u32 = 40;

/// `mkdir -p` inside `root`: walks `rel` one component at a time, following symlinks as if
/// `root` were `/` (absolute targets and `..` never leave it), creating what is missing
/// (directories, and a `kind` leaf). Returns the resolved path, relative to `root`, made only
/// of real directories plus the leaf. Every lookup is `openat2(RESOLVE_IN_ROOT)` from `root`,
/// so a concurrent swap of a component for a symlink still cannot leave the rootfs.
pub(super) fn mkdir_all_in_root(
    root: &OwnedFd,
    rel: &Path,
    kind: NodeKind,
    how: Resolve,
) -> io::Result<PathBuf> {
    let mut pending: VecDeque<OsString> = rel
        .components()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    let resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    while let Some(comp) = pending.pop_front() {
        match comp.to_str() {
            Some("/") | Some(".") => continue,
            Some("..") => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = resolved.join(&comp);
        let nofollow = libc::O_PATH | libc::O_NOFOLLOW;
        match sys::openat2(
            Some(root.as_fd()),
            &cpath(&candidate)?,
            nofollow,
            0,
            resolve,
        ) {
            Ok(fd) => {
                let st = fstat(fd.as_fd()).map_err(errno)?;
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    if how.no_symlinks {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = nix::fcntl::readlinkat(fd.as_fd(), c"").map_err(errno)?;
                    let target = PathBuf::from(target);
                    if target.is_absolute() {
                        resolved = PathBuf::new();
                    }
                    for c in target.components().rev() {
                        pending.push_front(c.as_os_str().to_os_string());
                    }
                } else {
                    resolved = candidate;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = sys::openat2(
                    Some(root.as_fd()),
                    &crel(&resolved)?,
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                    resolve,
                )?;
                let name = cname(&comp)?;
                let leaf_file = pending.is_empty() && kind == NodeKind::File;
                let created = if leaf_file {
                    // O_NOFOLLOW|O_EXCL: never write through an existing inode or symlink.
                    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
                    sys::openat2(Some(parent.as_fd()), &name, flags, 0o644, 0)
                        .map(drop)
                        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
                } else {
                    mkdirat(
                        parent.as_fd(),
                        name.as_c_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match created {
                    // EEXIST: raced with someone; look at it again.
                    Err(Errno::EEXIST) => {
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(io::Error::from_raw_os_error(libc::ELOOP));
                        }
                        pending.push_front(comp);
                    }
                    Err(e) => return Err(errno(e)),
                    Ok(()) => resolved = candidate,
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(resolved)
}
