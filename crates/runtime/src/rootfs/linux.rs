//! [`LinuxMounter`]: the production [`Mounter`], built on `openat2(RESOLVE_IN_ROOT)` and the
//! new mount API (`open_tree`, `fsopen`/`fsconfig`/`fsmount`, `mount_setattr`, `move_mount`).
//!
//! No classic `mount(2)` is used: every mount is created detached and attached to an fd
//! resolved inside the rootfs. (The only path-based calls are on trusted host paths — the
//! rootfs itself, bind sources, `/` — and `pivot_root(".", ".")`/`umount2(".")`.)

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{fstat, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use super::mounter::{FileKind, Mounter, NodeKind, NodeSpec, Resolve, Stat};
use super::options::{AttrChange, FsParam, PropagationChange};
use super::resolve::{crel, mkdir_all_in_root};
use super::sys::{self, cpath, MountAttr, EMPTY};

/// The production [`Mounter`]; handles are `OwnedFd`s.
#[derive(Debug, Default)]
pub struct LinuxMounter {
    /// Detached mounts made before the clone, by `mounts` index (fds inherited from the
    /// parent; duplicated when taken).
    premade: Vec<(usize, RawFd)>,
}

impl LinuxMounter {
    /// A new mounter.
    pub fn new() -> Self {
        LinuxMounter::default()
    }

    /// A mounter that attaches the detached mounts `premade` (`mounts` index, fd) instead of
    /// making those mounts itself.
    pub fn with_premade(premade: &[(usize, RawFd)]) -> Self {
        LinuxMounter {
            premade: premade.to_vec(),
        }
    }
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn resolve_flags(how: Resolve) -> u64 {
    let mut r = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    if how.no_symlinks {
        r |= libc::RESOLVE_NO_SYMLINKS;
    }
    r
}

/// A failed filesystem-context step with the kernel's log for the context (e.g. "tmpfs: Bad
/// value for 'mode'"); the OS error stays reachable as the source.
#[derive(Debug)]
struct FsContextError {
    step: String,
    log: String,
    source: io::Error,
}

impl fmt::Display for FsContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.source)?;
        if !self.log.is_empty() {
            write!(f, " ({})", self.log)?;
        }
        Ok(())
    }
}

impl std::error::Error for FsContextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Adds the step and the kernel's fs-context log to an error, keeping its kind and the
/// original error as the source.
fn with_log(e: io::Error, fs: &OwnedFd, what: &str) -> io::Error {
    let log = sys::fs_context_log(fs.as_fd());
    io::Error::new(
        e.kind(),
        FsContextError {
            step: what.to_string(),
            log,
            source: e,
        },
    )
}

impl Mounter for LinuxMounter {
    type Fd = OwnedFd;

    fn open_host_dir(&mut self, path: &Path) -> io::Result<OwnedFd> {
        sys::openat2(None, &cpath(path)?, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
    }

    fn open_in_root(&mut self, root: &OwnedFd, rel: &Path, how: Resolve) -> io::Result<OwnedFd> {
        sys::openat2(
            Some(root.as_fd()),
            &crel(rel)?,
            libc::O_PATH,
            0,
            resolve_flags(how),
        )
    }

    fn create_in_root(
        &mut self,
        root: &OwnedFd,
        rel: &Path,
        kind: NodeKind,
        how: Resolve,
    ) -> io::Result<OwnedFd> {
        let resolved = mkdir_all_in_root(root, rel, kind, how)?;
        let flags = resolve_flags(how);
        sys::openat2(
            Some(root.as_fd()),
            &crel(&resolved)?,
            libc::O_PATH,
            0,
            flags,
        )
    }

    fn stat(&mut self, fd: &OwnedFd) -> io::Result<Stat> {
        let st = fstat(fd.as_fd()).map_err(errno)?;
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => FileKind::Dir,
            libc::S_IFCHR => FileKind::Char,
            libc::S_IFBLK => FileKind::Block,
            libc::S_IFLNK => FileKind::Symlink,
            _ => FileKind::Other,
        };
        Ok(Stat {
            kind,
            major: libc::major(st.st_rdev) as u64,
            minor: libc::minor(st.st_rdev) as u64,
        })
    }

    fn clone_host(&mut self, path: &Path, recursive: bool) -> io::Result<OwnedFd> {
        let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
        if recursive {
            flags |= libc::AT_RECURSIVE as u32;
        }
        sys::open_tree(None, &cpath(path)?, flags)
    }

    fn fd_path(&mut self, fd: &OwnedFd) -> io::Result<PathBuf> {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    fn clone_fd(&mut self, fd: &OwnedFd, recursive: bool) -> io::Result<OwnedFd> {
        let mut flags =
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
        if recursive {
            flags |= libc::AT_RECURSIVE as u32;
        }
        sys::open_tree(Some(fd.as_fd()), EMPTY, flags)
    }

    fn new_fs(
        &mut self,
        fstype: &str,
        source: Option<&str>,
        params: &[FsParam],
        attrs: u64,
    ) -> io::Result<OwnedFd> {
        let bad = |_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in a mount parameter");
        let fs = sys::fsopen(&CString::new(fstype).map_err(bad)?)?;
        if let Some(src) = source {
            let v = CString::new(src).map_err(bad)?;
            sys::fsconfig_set_string(fs.as_fd(), c"source", &v)
                .map_err(|e| with_log(e, &fs, &format!("source={src}")))?;
        }
        for p in params {
            match p {
                FsParam::Flag(k) => {
                    let key = CString::new(k.as_str()).map_err(bad)?;
                    sys::fsconfig_set_flag(fs.as_fd(), &key)
                        .map_err(|e| with_log(e, &fs, &format!("option {k}")))?;
                }
                FsParam::Value(k, v) => {
                    let key = CString::new(k.as_str()).map_err(bad)?;
                    let val = CString::new(v.as_str()).map_err(bad)?;
                    sys::fsconfig_set_string(fs.as_fd(), &key, &val)
                        .map_err(|e| with_log(e, &fs, &format!("option {k}={v}")))?;
                }
            }
        }
        if attrs & libc::MOUNT_ATTR_RDONLY != 0 {
            // Like mount(2) with MS_RDONLY (runc): a new superblock is read-only as well, not
            // only this mount. An existing superblock (sysfs of a shared netns) is left as is.
            sys::fsconfig_set_flag(fs.as_fd(), c"ro").map_err(|e| with_log(e, &fs, "option ro"))?;
        }
        sys::fsconfig_create(fs.as_fd()).map_err(|e| with_log(e, &fs, "create superblock"))?;
        sys::fsmount(fs.as_fd(), attrs).map_err(|e| with_log(e, &fs, "fsmount"))
    }

    fn set_attr(
        &mut self,
        mnt: &OwnedFd,
        attrs: AttrChange,
        propagation: Option<PropagationChange>,
        recursive: bool,
    ) -> io::Result<()> {
        let attr = MountAttr {
            attr_set: attrs.set,
            attr_clr: attrs.clr,
            propagation: propagation.map_or(0, |p| p.kind.ms_flag()),
            userns_fd: 0,
        };
        let mut flags = libc::AT_EMPTY_PATH as u32;
        if recursive {
            flags |= libc::AT_RECURSIVE as u32;
        }
        sys::mount_setattr(Some(mnt.as_fd()), EMPTY, flags, &attr)
    }

    fn new_userns(&mut self, uid_map: &str, gid_map: &str) -> io::Result<OwnedFd> {
        super::userns::userns_with_maps(uid_map, gid_map)
    }

    fn take_premade(&mut self, index: usize) -> io::Result<Option<OwnedFd>> {
        let Some(&(_, raw)) = self.premade.iter().find(|(i, _)| *i == index) else {
            return Ok(None);
        };
        // SAFETY: `raw` is an fd of this process (inherited over the clone) that stays open
        // for the whole setup; it is only borrowed here to duplicate it.
        let fd = unsafe { BorrowedFd::borrow_raw(raw) };
        fd.try_clone_to_owned().map(Some)
    }

    fn set_idmap(&mut self, mnt: &OwnedFd, userns: &OwnedFd, recursive: bool) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = u64::try_from(userns.as_raw_fd())
            .map_err(|_| io::Error::other("bad user namespace fd"))?;
        let attr = MountAttr {
            attr_set: libc::MOUNT_ATTR_IDMAP,
            userns_fd: fd,
            ..MountAttr::default()
        };
        let mut flags = libc::AT_EMPTY_PATH as u32;
        if recursive {
            flags |= libc::AT_RECURSIVE as u32;
        }
        sys::mount_setattr(Some(mnt.as_fd()), EMPTY, flags, &attr)
    }

    fn attach(&mut self, mnt: &OwnedFd, target: &OwnedFd) -> io::Result<()> {
        sys::move_mount(
            Some(mnt.as_fd()),
            EMPTY,
            Some(target.as_fd()),
            EMPTY,
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    }

    fn copy_tree(&mut self, from: &OwnedFd, to: &OwnedFd) -> io::Result<()> {
        super::copy::copy_tree(from.as_fd(), to.as_fd())
    }

    fn mknod(&mut self, dir: &OwnedFd, name: &OsStr, node: NodeSpec) -> io::Result<()> {
        let kind = SFlag::from_bits_truncate(node.mode & libc::S_IFMT);
        let perm = Mode::from_bits_truncate(node.mode & 0o7777);
        let dev = libc::makedev(node.major as u32, node.minor as u32);
        match mknodat(dir.as_fd(), name, kind, perm, dev) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(errno(e)),
        }
    }

    fn chown(&mut self, dir: &OwnedFd, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
        let uid = (uid != u32::MAX).then(|| Uid::from_raw(uid));
        let gid = (gid != u32::MAX).then(|| Gid::from_raw(gid));
        fchownat(
            dir.as_fd(),
            name,
            uid,
            gid,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(errno)
    }

    fn symlink(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        target: &Path,
        replace: bool,
    ) -> io::Result<()> {
        if replace {
            match unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(errno(e)),
            }
        }
        match symlinkat(target, dir.as_fd(), name) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) if !replace => Ok(()),
            Err(e) => Err(errno(e)),
        }
    }

    fn set_root_propagation(&mut self, propagation: PropagationChange) -> io::Result<()> {
        let attr = MountAttr {
            propagation: propagation.kind.ms_flag(),
            ..MountAttr::default()
        };
        let flags = if propagation.recursive {
            libc::AT_RECURSIVE as u32
        } else {
            0
        };
        sys::mount_setattr(None, c"/", flags, &attr)
    }

    fn make_containing_mount_private(&mut self, path: &Path) -> io::Result<()> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let mountpoint = containing_mountpoint(&mountinfo, path)
            .ok_or_else(|| io::Error::other(format!("no mount contains {}", path.display())))?;
        let attr = MountAttr {
            propagation: super::options::Propagation::Private.ms_flag(),
            ..MountAttr::default()
        };
        sys::mount_setattr(None, &cpath(&mountpoint)?, 0, &attr)
    }

    fn umask(&mut self, mask: u32) -> u32 {
        // SAFETY: umask only swaps the process's file mode creation mask; it cannot fail.
        unsafe { libc::umask(mask as libc::mode_t) as u32 }
    }

    fn pivot_root(&mut self, new_root: &OwnedFd) -> io::Result<()> {
        nix::unistd::fchdir(new_root.as_fd()).map_err(errno)?;
        // Stack the old root on top of the new one, then detach it: no put_old directory.
        sys::pivot_root(c".", c".")?;
        // Make the old root a slave first so our detach cannot propagate to the host.
        let slave = MountAttr {
            propagation: super::options::Propagation::Slave.ms_flag(),
            ..MountAttr::default()
        };
        sys::mount_setattr(None, c".", libc::AT_RECURSIVE as u32, &slave)?;
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH).map_err(errno)?;
        nix::unistd::chdir("/").map_err(errno)
    }

    fn move_root(&mut self, new_root: &OwnedFd) -> io::Result<()> {
        nix::unistd::fchdir(new_root.as_fd()).map_err(errno)?;
        sys::move_mount(None, c".", None, c"/", 0)?;
        nix::unistd::chroot(".").map_err(errno)?;
        nix::unistd::chdir("/").map_err(errno)
    }

    fn chroot_into(&mut self, new_root: &OwnedFd) -> io::Result<()> {
        nix::unistd::fchdir(new_root.as_fd()).map_err(errno)?;
        nix::unistd::chroot(".").map_err(errno)?;
        nix::unistd::chdir("/").map_err(errno)
    }

    fn read_self_cgroup(&mut self) -> io::Result<String> {
        std::fs::read_to_string("/proc/self/cgroup")
    }
}

/// The mount point in a mountinfo text that contains `path` (the longest prefix).
pub fn containing_mountpoint(mountinfo: &str, path: &Path) -> Option<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.components().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containing_mountpoint_is_the_longest_prefix() {
        let mi = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
                  2 1 0:5 / /var/lib rw - ext4 /dev/sdb rw\n\
                  3 2 0:6 / /var/lib/x rw - tmpfs tmpfs rw\n";
        let p = |s: &str| containing_mountpoint(mi, Path::new(s)).unwrap();
        assert_eq!(p("/var/lib/c/rootfs"), Path::new("/var/lib"));
        assert_eq!(p("/var/lib/x"), Path::new("/var/lib/x"));
        assert_eq!(p("/var/lib/xy"), Path::new("/var/lib"));
        assert_eq!(p("/home"), Path::new("/"));
    }

    /// The in-root walk needs no privileges: check it on a temp dir as the "rootfs".
    #[test]
    fn create_in_root_never_leaves_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root_path = dir.path().join("root");
        std::fs::create_dir(&root_path).unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        // An absolute symlink to a host path, a relative one climbing out, a loop.
        std::os::unix::fs::symlink(&outside, root_path.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../outside", root_path.join("rel")).unwrap();
        std::os::unix::fs::symlink("loop", root_path.join("loop")).unwrap();
        let mut m = LinuxMounter::new();
        let root = m.open_host_dir(&root_path).unwrap();
        let how = Resolve::default();

        m.create_in_root(&root, Path::new("abs/a/b"), NodeKind::Dir, how)
            .unwrap();
        let inside_abs = root_path
            .join(outside.strip_prefix("/").unwrap())
            .join("a/b");
        assert!(inside_abs.is_dir(), "{}", inside_abs.display());

        m.create_in_root(&root, Path::new("rel/f"), NodeKind::File, how)
            .unwrap();
        assert!(root_path.join("outside/f").is_file());

        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "wrote outside the root"
        );

        let err = m
            .create_in_root(&root, Path::new("loop/x"), NodeKind::Dir, how)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        let strict = Resolve { no_symlinks: true };
        let err = m
            .create_in_root(&root, Path::new("abs/c"), NodeKind::Dir, strict)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        let err = m.open_in_root(&root, Path::new("abs"), strict).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        // Opening follows the link inside the root too.
        let fd = m.open_in_root(&root, Path::new("abs/a"), how).unwrap();
        assert_eq!(m.stat(&fd).unwrap().kind, FileKind::Dir);
    }

    #[test]
    fn fs_context_errors_keep_the_os_error_and_the_log() {
        // A pipe stands in for the fs-context fd: its data is what the kernel would log.
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"e tmpfs: Bad value for 'mode'").unwrap();
        drop(w);
        let err = with_log(
            io::Error::from_raw_os_error(libc::EINVAL),
            &r,
            "option mode=x",
        );
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let text = err.to_string();
        assert!(
            text.starts_with("option mode=x: Invalid argument"),
            "{text}"
        );
        assert!(text.ends_with("(e tmpfs: Bad value for 'mode')"), "{text}");
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<FsContextError>())
            .expect("FsContextError inside");
        assert_eq!(inner.source.raw_os_error(), Some(libc::EINVAL));
        assert!(std::error::Error::source(inner).is_some());
    }
}
