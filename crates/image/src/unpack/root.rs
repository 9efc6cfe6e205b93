//! A rootfs directory opened once; every path is resolved beneath it without following
//! symlinks (openat2 `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, falling back to a
//! component-by-component `openat(O_NOFOLLOW)` walk that also creates missing parents).

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::error::ImageError;

/// Flags for opening a directory only to resolve names beneath it.
fn dir_path_flags() -> OFlag {
    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// The rootfs being written, with a one-entry cache of the last parent directory.
pub(crate) struct Root {
    path: PathBuf,
    fd: OwnedFd,
    cache: Option<(Vec<u8>, OwnedFd)>,
}

impl Root {
    /// Opens (creating if needed) the rootfs directory.
    pub fn open(path: &Path) -> Result<Root, ImageError> {
        std::fs::create_dir_all(path).map_err(ImageError::io_with("create directory", path))?;
        let fd = openat(
            nix::fcntl::AT_FDCWD,
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ImageError::io("open rootfs", path, e.into()))?;
        Ok(Root {
            path: path.to_path_buf(),
            fd,
            cache: None,
        })
    }

    /// The rootfs path on the host (for messages).
    pub fn host_path(&self, rel: &[u8]) -> PathBuf {
        self.path.join(OsStr::from_bytes(rel))
    }

    /// The root directory's descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Forgets the cached parent (call after removing or replacing any directory).
    pub fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Opens the directory `dir` (a normalised relative path) beneath the root, creating
    /// missing components (mode 0755) when `create` is set; `None` when missing and not `create`.
    /// A symlink or non-directory anywhere on the way is an error naming `entry`.
    pub fn dir(
        &mut self,
        dir: &[u8],
        entry: &str,
        create: bool,
    ) -> Result<Option<BorrowedFd<'_>>, ImageError> {
        if dir.is_empty() {
            return Ok(Some(self.fd.as_fd()));
        }
        let hit = matches!(&self.cache, Some((p, _)) if p.as_slice() == dir);
        if !hit {
            match self.resolve(dir, entry, create)? {
                Some(fd) => self.cache = Some((dir.to_vec(), fd)),
                None => return Ok(None),
            }
        }
        Ok(self.cache.as_ref().map(|(_, fd)| fd.as_fd()))
    }

    /// Like [`Root::dir`] without creating anything and without touching the cache.
    pub fn dir_uncached(&self, dir: &[u8], entry: &str) -> Result<Option<OwnedFd>, ImageError> {
        if dir.is_empty() {
            return self
                .fd
                .try_clone()
                .map(Some)
                .map_err(ImageError::io_with("dup", self.path.clone()));
        }
        self.resolve(dir, entry, false)
    }

    fn resolve(
        &self,
        dir: &[u8],
        entry: &str,
        create: bool,
    ) -> Result<Option<OwnedFd>, ImageError> {
        let how = OpenHow::new().flags(dir_path_flags()).resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
        if let Ok(fd) = openat2(self.fd.as_fd(), OsStr::from_bytes(dir), how) {
            return Ok(Some(fd));
        }
        // Slow path: walk, to create missing parents and to say exactly what is wrong.
        let mut cur: Option<OwnedFd> = None;
        let mut end = 0;
        for comp in dir.split(|b| *b == b'/') {
            end += comp.len();
            let at = cur.as_ref().map(|f| f.as_fd()).unwrap_or(self.fd.as_fd());
            let name = OsStr::from_bytes(comp);
            let next = match openat(at, name, dir_path_flags(), Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if create => {
                    match mkdirat(at, name, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => {
                            return Err(ImageError::io(
                                "mkdir",
                                self.host_path(&dir[..end]),
                                e.into(),
                            ))
                        }
                    }
                    // Open for reading so the mode can be fixed independent of the umask.
                    let fd = openat(
                        at,
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| ImageError::io("open", self.host_path(&dir[..end]), e.into()))?;
                    nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(0o755)).map_err(|e| {
                        ImageError::io("chmod", self.host_path(&dir[..end]), e.into())
                    })?;
                    fd
                }
                Err(Errno::ENOENT) => return Ok(None),
                Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => {
                    let st = fstatat(at, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(
                        |e| ImageError::io("stat", self.host_path(&dir[..end]), e.into()),
                    )?;
                    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                        return Err(ImageError::Escape {
                            path: entry.to_string(),
                            reason: "a parent component is a symlink (never followed)",
                        });
                    }
                    return Err(ImageError::BadEntry {
                        path: entry.to_string(),
                        reason: format!(
                            "{} is not a directory",
                            String::from_utf8_lossy(&dir[..end])
                        ),
                    });
                }
                Err(e) => {
                    return Err(ImageError::io(
                        "open",
                        self.host_path(&dir[..end]),
                        e.into(),
                    ))
                }
            };
            cur = Some(next);
            end += 1;
        }
        match cur {
            Some(fd) => Ok(Some(fd)),
            None => Err(ImageError::BadEntry {
                path: entry.to_string(),
                reason: "empty directory path".into(),
            }),
        }
    }
}

/// The file type of `name` in `dir` without following symlinks; `None` if absent.
pub(crate) fn kind_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<SFlag>, Errno> {
    match fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir` whatever it is (directories recursively, never following
/// symlinks). Returns whether a directory was removed. Absent is not an error.
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<bool, Errno> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => return Ok(false),
        Err(Errno::ENOENT) => return Ok(false),
        Err(Errno::EISDIR) | Err(Errno::EPERM) => {}
        Err(e) => return Err(e),
    }
    if kind_at(dir, name)? != Some(SFlag::S_IFDIR) {
        // EPERM on a non-directory is a real permission problem.
        return unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).map(|_| false);
    }
    empty_dir_at(dir, name, &mut |_| true)?;
    match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Removes the children of directory `name` in `dir` for which `keep_child` says false
/// (it gets the child name); children kept are left alone.
pub(crate) fn empty_dir_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    remove_child: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), Errno> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let names = list_dir(&fd)?;
    for child in names {
        if remove_child(&child) {
            remove_all_at(fd.as_fd(), OsStr::from_bytes(&child))?;
        }
    }
    Ok(())
}

/// The names in an open directory, without `.` and `..`.
pub(crate) fn list_dir(fd: &OwnedFd) -> Result<Vec<Vec<u8>>, Errno> {
    let dup = fd
        .try_clone()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let mut d = nix::dir::Dir::from_fd(dup)?;
    let mut out = Vec::new();
    for ent in d.iter() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    Ok(out)
}
