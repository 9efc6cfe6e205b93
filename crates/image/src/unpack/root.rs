//! A rootfs directory opened once, and in-root resolution of parent directories.
//!
//! Directory paths are resolved as if the rootfs were `/` (umoci's securejoin model, the
//! kernel's `RESOLVE_IN_ROOT`): symlinks met on the way are followed, an absolute target
//! starts again at the rootfs, and `..` never climbs above it. Resolution uses
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`; missing directories (to be created)
//! and kernels without openat2 go through a userspace walker with the same rules. Callers
//! never follow the final component of an entry: they replace it.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::error::ImageError;

/// Symlinks followed while resolving one path before giving up (the kernel's limit).
const MAX_LINKS: u32 = 40;

/// Flags for opening a directory only to resolve names beneath it.
fn dir_path_flags() -> OFlag {
    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// A resolved directory: its descriptor and inode number.
pub(crate) struct Dir<'a> {
    /// The directory (an `O_PATH` or read-only descriptor).
    pub fd: BorrowedFd<'a>,
    /// Its inode number (keys the per-layer record of written entries).
    pub ino: u64,
}

/// The rootfs being written, with a one-entry cache of the last parent directory (keyed by
/// its path as written in the archive, before symlinks are resolved).
pub(crate) struct Root {
    path: PathBuf,
    fd: OwnedFd,
    ino: u64,
    cache: Option<(Vec<u8>, OwnedFd, u64)>,
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
        let ino = fstat(&fd)
            .map_err(|e| ImageError::io("stat rootfs", path, e.into()))?
            .st_ino;
        Ok(Root {
            path: path.to_path_buf(),
            fd,
            ino,
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

    /// Forgets the cached parent (call after removing or replacing anything: a cached
    /// resolution may have gone through it).
    pub fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Resolves the directory `dir` (a normalised archive path) inside the root, following
    /// symlinks in-root and creating missing directories (mode 0755) when `create` is set;
    /// `None` when missing and not `create`. Errors name `entry`.
    pub fn dir(
        &mut self,
        dir: &[u8],
        entry: &str,
        create: bool,
    ) -> Result<Option<Dir<'_>>, ImageError> {
        if dir.is_empty() {
            return Ok(Some(Dir {
                fd: self.fd.as_fd(),
                ino: self.ino,
            }));
        }
        let hit = matches!(&self.cache, Some((p, _, _)) if p.as_slice() == dir);
        if !hit {
            let Some(fd) = self.resolve(dir, entry, create)? else {
                return Ok(None);
            };
            let ino = fstat(&fd)
                .map_err(|e| ImageError::io("stat", self.host_path(dir), e.into()))?
                .st_ino;
            self.cache = Some((dir.to_vec(), fd, ino));
        }
        Ok(self.cache.as_ref().map(|(_, fd, ino)| Dir {
            fd: fd.as_fd(),
            ino: *ino,
        }))
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
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        match openat2(self.fd.as_fd(), OsStr::from_bytes(dir), how) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) if create => self.walk(dir, entry, true),
            Err(Errno::ENOENT) => Ok(None),
            // No openat2 (old kernel, or a seccomp filter that refuses it), or a rename
            // race the kernel asks us to retry: the userspace walker has the same rules.
            Err(Errno::ENOSYS) | Err(Errno::EPERM) | Err(Errno::EINVAL) | Err(Errno::E2BIG)
            | Err(Errno::EAGAIN) => self.walk(dir, entry, create),
            Err(Errno::ENOTDIR) => Err(not_a_dir(entry, dir)),
            Err(Errno::ELOOP) => Err(too_many_links(entry)),
            Err(e) => Err(ImageError::io("open", self.host_path(dir), e.into())),
        }
    }

    /// Resolves `dir` component by component with the rootfs as `/`: symlinks are read and
    /// their targets walked in turn (absolute ones from the root), `..` pops one level but
    /// never above the root, and missing directories are made when `create` is set.
    fn walk(&self, dir: &[u8], entry: &str, create: bool) -> Result<Option<OwnedFd>, ImageError> {
        // Directories entered so far, below the root; the names give messages.
        let mut stack: Vec<(OwnedFd, Vec<u8>)> = Vec::new();
        // Components still to walk, next one last.
        let mut todo: Vec<Vec<u8>> = dir
            .split(|b| *b == b'/')
            .rev()
            .map(<[u8]>::to_vec)
            .collect();
        let mut links = 0u32;
        let mut made = 0usize;
        while let Some(comp) = todo.pop() {
            match comp.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let at = stack
                .last()
                .map(|(f, _)| f.as_fd())
                .unwrap_or(self.fd.as_fd());
            let here = || {
                let mut p: Vec<u8> = Vec::new();
                for (_, n) in &stack {
                    p.extend_from_slice(n);
                    p.push(b'/');
                }
                p.extend_from_slice(&comp);
                p
            };
            let name = OsStr::from_bytes(&comp);
            match openat(at, name, dir_path_flags(), Mode::empty()) {
                Ok(fd) => stack.push((fd, comp)),
                Err(Errno::ENOENT) if create => {
                    made += 1;
                    if made > dir.len() + 2 * MAX_LINKS as usize {
                        return Err(ImageError::BadEntry {
                            path: entry.to_string(),
                            reason: "directory keeps disappearing while being created".into(),
                        });
                    }
                    mkdir_0755(at, name)
                        .map_err(|e| ImageError::io("mkdir", self.host_path(&here()), e.into()))?;
                    todo.push(comp);
                }
                Err(Errno::ENOENT) => return Ok(None),
                Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => {
                    let st = fstatat(at, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                        .map_err(|e| ImageError::io("stat", self.host_path(&here()), e.into()))?;
                    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFLNK {
                        return Err(not_a_dir(entry, &here()));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(too_many_links(entry));
                    }
                    let target = readlinkat(at, name).map_err(|e| {
                        ImageError::io("readlink", self.host_path(&here()), e.into())
                    })?;
                    let target = target.as_bytes();
                    if target.first() == Some(&b'/') {
                        stack.clear();
                    }
                    todo.extend(target.split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
                }
                Err(e) => return Err(ImageError::io("open", self.host_path(&here()), e.into())),
            }
        }
        match stack.pop() {
            Some((fd, _)) => Ok(Some(fd)),
            // Resolved to the root itself (say through a link to `/`).
            None => self
                .fd
                .try_clone()
                .map(Some)
                .map_err(ImageError::io_with("dup", self.path.clone())),
        }
    }
}

/// Makes directory `name` in `at` with mode 0755 whatever the umask (present is fine).
fn mkdir_0755(at: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match mkdirat(at, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(e),
    }
    let fd = openat(
        at,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(0o755))
}

fn not_a_dir(entry: &str, dir: &[u8]) -> ImageError {
    ImageError::NotADirectory {
        path: entry.to_string(),
        dir: String::from_utf8_lossy(dir).into_owned(),
    }
}

fn too_many_links(entry: &str) -> ImageError {
    ImageError::BadEntry {
        path: entry.to_string(),
        reason: format!("more than {MAX_LINKS} symlinks (or a loop) on the way"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn ino(fd: &OwnedFd) -> u64 {
        fstat(fd).unwrap().st_ino
    }

    /// The userspace walker (the fallback without openat2) resolves exactly as the kernel's
    /// RESOLVE_IN_ROOT does.
    #[test]
    fn walker_agrees_with_openat2() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib/x")).unwrap();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/", r.join("up")).unwrap();
        symlink("../../../..", r.join("a/b/climb")).unwrap();
        symlink("/usr/lib/x", r.join("a/abs")).unwrap();
        symlink("../lib", r.join("a/rel")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        std::fs::write(r.join("file"), b"").unwrap();
        let root = Root::open(r).unwrap();
        for dir in [
            "lib",
            "lib/x",
            "up",
            "up/up/usr",
            "a/b/climb",
            "a/b/climb/usr/lib",
            "a/abs",
            "a/rel/x",
            "a/b/../rel",
            "up/../../a",
        ] {
            let k = root.resolve(dir.as_bytes(), dir, false).unwrap().unwrap();
            let w = root.walk(dir.as_bytes(), dir, false).unwrap().unwrap();
            assert_eq!(ino(&k), ino(&w), "{dir}");
        }
        assert_eq!(
            ino(&root.walk(b"up", "up", false).unwrap().unwrap()),
            root.ino
        );
        for missing in ["nope", "lib/nope", "up/nope"] {
            assert!(root
                .resolve(missing.as_bytes(), missing, false)
                .unwrap()
                .is_none());
            assert!(root
                .walk(missing.as_bytes(), missing, false)
                .unwrap()
                .is_none());
        }
        for bad in ["loop", "file", "file/x"] {
            assert!(root.resolve(bad.as_bytes(), bad, false).is_err(), "{bad}");
            assert!(root.walk(bad.as_bytes(), bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn walker_creates_through_links_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("rootfs");
        std::fs::create_dir_all(&r).unwrap();
        symlink("/usr/lib", r.join("lib")).unwrap();
        symlink("../../../outside", r.join("esc")).unwrap();
        let root = Root::open(&r).unwrap();
        root.walk(b"lib/sub", "lib/sub/f", true).unwrap().unwrap();
        assert!(r.join("usr/lib/sub").is_dir());
        root.walk(b"esc/in", "esc/in/f", true).unwrap().unwrap();
        assert!(r.join("outside/in").is_dir());
        assert!(!t.path().join("outside").exists());
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(r.join("usr/lib")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o755);
    }
}
