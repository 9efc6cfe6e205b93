//! Applies tar entries to a rootfs: files, directories, links, device nodes, whiteouts,
//! ownership, modes, xattrs and times. Parent directories are resolved inside the rootfs
//! (symlinks followed with the rootfs as `/`); the final component is never followed:
//! inodes are always replaced, never written through.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use tar::EntryType;

use super::path::EntryPath;
use super::root::{kind_at, list_dir, remove_all_at, Dir, Root};
use super::{UnpackOptions, WhiteoutMode};
use crate::error::ImageError;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// Metadata of one entry, from the ustar header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: TimeSpec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A directory whose mode and times are set after the layer (writing children changes
/// its mtime, and a read-only mode would block them).
struct Deferred {
    path: Vec<u8>,
    mode: u32,
    mtime: TimeSpec,
}

/// A directory this layer wrote into (or removed from) without having an entry for it:
/// its times before the layer, put back at the end (umoci does the same), so that a lower
/// layer's directory keeps the mtime its tar gave it.
struct Touched {
    path: Vec<u8>,
    atime: TimeSpec,
    mtime: TimeSpec,
}

impl Touched {
    fn path_shown(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Writes the entries of one layer after another into a rootfs.
pub(crate) struct Applier {
    root: Root,
    opts: UnpackOptions,
    /// Entries this layer wrote, as (inode of the resolved parent directory, name): the
    /// same entry reached through different symlinked paths has one key.
    written: HashSet<(u64, Vec<u8>)>,
    deferred: Vec<Deferred>,
    /// Directories written into by this layer, by inode, with their times before it.
    touched: HashMap<u64, Touched>,
    buf: Vec<u8>,
}

/// Records the times of directory `dir` (inode `ino`, archive path `path`) the first time
/// the layer is about to change it.
fn note_touched(
    touched: &mut HashMap<u64, Touched>,
    dir: BorrowedFd<'_>,
    ino: u64,
    path: &[u8],
    host: &Path,
) -> Result<(), ImageError> {
    if touched.contains_key(&ino) {
        return Ok(());
    }
    let st = fstat(dir).map_err(|e| errno_io("stat", host, e))?;
    touched.insert(
        ino,
        Touched {
            path: path.to_vec(),
            atime: TimeSpec::new(st.st_atime, st.st_atime_nsec),
            mtime: TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
        },
    );
    Ok(())
}

fn errno_io(op: &'static str, path: &Path, e: Errno) -> ImageError {
    ImageError::io(op, path, e.into())
}

impl Applier {
    /// The `user.rootlesscontainers` value to record for an entry whose owner could not be
    /// set (an unprivileged unpack), if any.
    fn owner_xattr(&self, meta: &Meta) -> Option<Vec<u8>> {
        if self.opts.preserve_owner || !self.opts.rootless_owner_xattr {
            return None;
        }
        super::rootless_xattr::encode(meta.uid, meta.gid)
    }

    /// Opens `rootfs` (creating it) for writing layers.
    pub fn new(rootfs: &Path, opts: UnpackOptions) -> Result<Applier, ImageError> {
        Ok(Applier {
            root: Root::open(rootfs)?,
            opts,
            written: HashSet::new(),
            deferred: Vec::new(),
            touched: HashMap::new(),
            buf: vec![0u8; 1 << 20],
        })
    }

    /// Applies one entry.
    pub fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let ty = entry.header().entry_type();
        if matches!(ty, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let path = EntryPath::parse(&raw)?;
        let meta = read_meta(entry, &shown)?;
        if path.name().starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&path, &shown);
        }
        if path.is_root() {
            if ty != EntryType::Directory {
                return Err(ImageError::BadEntry {
                    path: shown,
                    reason: "the rootfs itself must be a directory".into(),
                });
            }
            // `./` or `/` (umoci writes one first in every layer): owner and xattrs now,
            // mode and times at the end of the layer like every directory.
            let host = self.root.host_path(b"");
            if self.opts.preserve_owner {
                fchown(
                    self.root.fd(),
                    Some(Uid::from_raw(meta.uid)),
                    Some(Gid::from_raw(meta.gid)),
                )
                .map_err(|e| errno_io("chown", &host, e))?;
            }
            if let Some(v) = self.owner_xattr(&meta) {
                set_xattr_fd(self.root.fd(), super::rootless_xattr::NAME, &v, false)
                    .map_err(|e| xattr_err(&host, super::rootless_xattr::NAME, e))?;
            }
            for (k, v) in &meta.xattrs {
                set_xattr_fd(self.root.fd(), k, v, self.opts.preserve_owner)
                    .map_err(|e| xattr_err(&host, k, e))?;
            }
            self.deferred.push(Deferred {
                path: Vec::new(),
                mode: meta.mode,
                mtime: meta.mtime,
            });
            return Ok(());
        }
        let parent_host = self.root.host_path(path.parent());
        let Some(parent) = self.root.dir(path.parent(), &shown, true)? else {
            return Err(ImageError::BadEntry {
                path: shown,
                reason: "parent missing".into(),
            });
        };
        let parent_ino = parent.ino;
        note_touched(
            &mut self.touched,
            parent.fd,
            parent_ino,
            path.parent(),
            &parent_host,
        )?;
        self.written.insert((parent_ino, path.name().to_vec()));
        match ty {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(entry, &path, &shown, &meta)
            }
            EntryType::Directory => self.directory(&path, &shown, &meta),
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ImageError::BadEntry {
                        path: shown.clone(),
                        reason: "symlink without a target".into(),
                    })?;
                let target = target.into_owned();
                self.symlink(&path, &shown, &target, &meta)
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ImageError::BadEntry {
                        path: shown.clone(),
                        reason: "hardlink without a target".into(),
                    })?;
                let target = target.into_owned();
                self.hardlink(&path, &shown, &target)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let kind = match ty {
                    EntryType::Char => SFlag::S_IFCHR,
                    EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let (major, minor) = device_numbers(entry.header(), &shown)?;
                self.node(&path, &shown, kind, libc::makedev(major, minor), &meta)
            }
            other => Err(ImageError::Unsupported(format!(
                "layer entry {shown:?} has tar type {:?}",
                other.as_byte() as char
            ))),
        }
    }

    /// Finishes a layer: puts back the times of directories it wrote into, then applies the
    /// modes and times of the directories it has entries for.
    pub fn finish_layer(&mut self) -> Result<(), ImageError> {
        let touched = std::mem::take(&mut self.touched);
        for (ino, t) in &touched {
            let host = self.root.host_path(&t.path);
            let dir = match self.root.dir_uncached(&t.path, &t.path_shown()) {
                Ok(Some(dir)) => dir,
                // Gone or no longer a directory: nothing to put back.
                Ok(None) | Err(ImageError::NotADirectory { .. }) => continue,
                Err(e) => return Err(e),
            };
            let fd = match openat(
                &dir,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(e) => return Err(errno_io("open", &host, e)),
            };
            // The path may lead somewhere else by now (replaced by a later entry).
            if fstat(&fd).map_err(|e| errno_io("stat", &host, e))?.st_ino != *ino {
                continue;
            }
            futimens(&fd, &t.atime, &t.mtime).map_err(|e| errno_io("set times of", &host, e))?;
        }
        let deferred = std::mem::take(&mut self.deferred);
        for d in deferred.iter().rev() {
            let host = self.root.host_path(&d.path);
            let fd = if d.path.is_empty() {
                openat(
                    self.root.fd(),
                    ".",
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| errno_io("open", &host, e))?
            } else {
                let p = EntryPath::parse(&d.path)?;
                let shown = p.display();
                let parent = match self.root.dir_uncached(p.parent(), &shown) {
                    Ok(Some(parent)) => parent,
                    // Removed or replaced by a later entry of the same layer.
                    Ok(None) | Err(ImageError::NotADirectory { .. }) => continue,
                    Err(e) => return Err(e),
                };
                match openat(
                    &parent,
                    OsStr::from_bytes(p.name()),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    // Removed or replaced by a later entry of the same layer.
                    Err(Errno::ENOENT) | Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => continue,
                    Err(e) => return Err(errno_io("open", &host, e)),
                }
            };
            fchmod(&fd, Mode::from_bits_truncate(d.mode))
                .map_err(|e| errno_io("chmod", &host, e))?;
            futimens(&fd, &d.mtime, &d.mtime).map_err(|e| errno_io("set times of", &host, e))?;
        }
        self.written.clear();
        self.root.invalidate();
        Ok(())
    }

    /// The entry's parent directory, resolved in-root and created if missing.
    fn parent_dir(&mut self, path: &EntryPath, shown: &str) -> Result<Dir<'_>, ImageError> {
        match self.root.dir(path.parent(), shown, true)? {
            Some(d) => Ok(d),
            None => Err(ImageError::BadEntry {
                path: shown.to_string(),
                reason: "parent missing".into(),
            }),
        }
    }

    fn parent(&mut self, path: &EntryPath, shown: &str) -> Result<BorrowedFd<'_>, ImageError> {
        self.parent_dir(path, shown).map(|d| d.fd)
    }

    /// Creates with `make`; if the name exists, removes whatever is there and retries once.
    fn replace(
        &mut self,
        path: &EntryPath,
        shown: &str,
        op: &'static str,
        make: &mut dyn FnMut(BorrowedFd<'_>, &OsStr) -> Result<(), Errno>,
    ) -> Result<(), ImageError> {
        let host = self.root.host_path(&path.joined);
        let name = OsStr::from_bytes(path.name());
        let parent = self.parent(path, shown)?;
        match make(parent, name) {
            Ok(()) => return Ok(()),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(errno_io(op, &host, e)),
        }
        let r = remove_all_at(parent, name)
            .map_err(|e| errno_io("remove", &host, e))
            .and_then(|_| make(parent, name).map_err(|e| errno_io(op, &host, e)));
        // What was removed may have been on the way to the cached directory.
        self.root.invalidate();
        r
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &EntryPath,
        shown: &str,
        meta: &Meta,
    ) -> Result<(), ImageError> {
        let host = self.root.host_path(&path.joined);
        let mut created: Option<OwnedFd> = None;
        self.replace(path, shown, "create", &mut |dir, name| {
            let fd = openat(
                dir,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            created = Some(fd);
            Ok(())
        })?;
        let Some(fd) = created else {
            return Err(ImageError::BadEntry {
                path: shown.to_string(),
                reason: "file not created".into(),
            });
        };
        let mut file = File::from(fd);
        loop {
            let n = entry
                .read(&mut self.buf)
                .map_err(|e| ImageError::BadEntry {
                    path: shown.to_string(),
                    reason: format!("reading layer data: {e}"),
                })?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buf[..n])
                .map_err(ImageError::io_with("write", &host))?;
        }
        if self.opts.preserve_owner {
            fchown(
                &file,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .map_err(|e| errno_io("chown", &host, e))?;
        }
        if let Some(v) = self.owner_xattr(meta) {
            set_xattr_fd(file.as_fd(), super::rootless_xattr::NAME, &v, false)
                .map_err(|e| xattr_err(&host, super::rootless_xattr::NAME, e))?;
        }
        fchmod(&file, Mode::from_bits_truncate(meta.mode))
            .map_err(|e| errno_io("chmod", &host, e))?;
        for (k, v) in &meta.xattrs {
            set_xattr_fd(file.as_fd(), k, v, self.opts.preserve_owner)
                .map_err(|e| xattr_err(&host, k, e))?;
        }
        futimens(&file, &meta.mtime, &meta.mtime).map_err(|e| errno_io("set times of", &host, e))
    }

    fn directory(&mut self, path: &EntryPath, shown: &str, meta: &Meta) -> Result<(), ImageError> {
        let host = self.root.host_path(&path.joined);
        let name = OsStr::from_bytes(path.name());
        let preserve = self.opts.preserve_owner;
        let owner_x = self.owner_xattr(meta);
        let parent = self.parent(path, shown)?;
        match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                if kind_at(parent, name).map_err(|e| errno_io("stat", &host, e))?
                    != Some(SFlag::S_IFDIR)
                {
                    let r = remove_all_at(parent, name)
                        .map_err(|e| errno_io("remove", &host, e))
                        .and_then(|_| {
                            mkdirat(parent, name, Mode::from_bits_truncate(0o700))
                                .map_err(|e| errno_io("mkdir", &host, e))
                        });
                    self.root.invalidate();
                    r?;
                    return self.directory(path, shown, meta);
                }
            }
            Err(e) => return Err(errno_io("mkdir", &host, e)),
        }
        if preserve {
            fchownat(
                parent,
                name,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| errno_io("chown", &host, e))?;
        }
        if let Some(v) = owner_x {
            set_xattr_at(parent, name, super::rootless_xattr::NAME, &v, false)
                .map_err(|e| xattr_err(&host, super::rootless_xattr::NAME, e))?;
        }
        if !meta.xattrs.is_empty() {
            let fd = openat(
                parent,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| errno_io("open", &host, e))?;
            for (k, v) in &meta.xattrs {
                set_xattr_fd(fd.as_fd(), k, v, preserve).map_err(|e| xattr_err(&host, k, e))?;
            }
        }
        self.deferred.push(Deferred {
            path: path.joined.clone(),
            mode: meta.mode,
            mtime: meta.mtime,
        });
        Ok(())
    }

    fn symlink(
        &mut self,
        path: &EntryPath,
        shown: &str,
        target: &[u8],
        meta: &Meta,
    ) -> Result<(), ImageError> {
        let host = self.root.host_path(&path.joined);
        let target = OsStr::from_bytes(target);
        self.replace(path, shown, "symlink", &mut |dir, name| {
            symlinkat(target, dir, name)
        })?;
        self.finish_nofollow(path, shown, &host, meta, false)
    }

    fn node(
        &mut self,
        path: &EntryPath,
        shown: &str,
        kind: SFlag,
        dev: libc::dev_t,
        meta: &Meta,
    ) -> Result<(), ImageError> {
        let host = self.root.host_path(&path.joined);
        // Only root may make device nodes; an unprivileged unpack skips them (a rootless
        // container gets the host's nodes bind-mounted by the runtime), as umoci --rootless.
        let unprivileged =
            !self.opts.preserve_owner && matches!(kind, SFlag::S_IFCHR | SFlag::S_IFBLK);
        let mut denied = false;
        self.replace(path, shown, "mknod", &mut |dir, name| match mknodat(
            dir,
            name,
            kind,
            Mode::from_bits_truncate(0o600),
            dev,
        ) {
            Err(Errno::EPERM) if unprivileged => {
                denied = true;
                Ok(())
            }
            other => other,
        })?;
        if denied {
            tracing::warn!(
                entry = shown,
                "device node skipped: an unprivileged unpack cannot create it"
            );
            return Ok(());
        }
        self.finish_nofollow(path, shown, &host, meta, true)
    }

    /// Owner, mode (not for symlinks), xattrs and times of a just-created non-regular file.
    fn finish_nofollow(
        &mut self,
        path: &EntryPath,
        shown: &str,
        host: &Path,
        meta: &Meta,
        chmod: bool,
    ) -> Result<(), ImageError> {
        let preserve = self.opts.preserve_owner;
        let owner_x = self.owner_xattr(meta);
        let name = OsStr::from_bytes(path.name());
        let parent = self.parent(path, shown)?;
        if preserve {
            fchownat(
                parent,
                name,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| errno_io("chown", host, e))?;
        }
        // Not on symlinks: the kernel refuses user.* xattrs there (umoci skips them too).
        if let (true, Some(v)) = (chmod, owner_x) {
            set_xattr_at(parent, name, super::rootless_xattr::NAME, &v, false)
                .map_err(|e| xattr_err(host, super::rootless_xattr::NAME, e))?;
        }
        if chmod {
            // The name was created by us a moment ago and is not a symlink.
            fchmodat(
                parent,
                name,
                Mode::from_bits_truncate(meta.mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| errno_io("chmod", host, e))?;
        }
        for (k, v) in &meta.xattrs {
            set_xattr_at(parent, name, k, v, preserve).map_err(|e| xattr_err(host, k, e))?;
        }
        utimensat(
            parent,
            name,
            &meta.mtime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| errno_io("set times of", host, e))
    }

    fn hardlink(&mut self, path: &EntryPath, shown: &str, target: &[u8]) -> Result<(), ImageError> {
        let label = format!("{shown} (hardlink to {})", String::from_utf8_lossy(target));
        let tpath = EntryPath::parse(target).map_err(|e| match e {
            ImageError::Escape { reason, .. } => ImageError::Escape {
                path: label.clone(),
                reason,
            },
            other => other,
        })?;
        if tpath.is_root() {
            return Err(ImageError::BadEntry {
                path: label,
                reason: "hardlink to the rootfs itself".into(),
            });
        }
        if tpath == *path {
            return Ok(());
        }
        let thost = self.root.host_path(&tpath.joined);
        let tname = OsStr::from_bytes(tpath.name());
        let missing = || ImageError::BadEntry {
            path: label.clone(),
            reason:
                "hardlink target does not exist in the rootfs (or in this layer, in overlay mode)"
                    .into(),
        };
        let tparent = self
            .root
            .dir_uncached(tpath.parent(), &label)?
            .ok_or_else(missing)?;
        match kind_at(tparent.as_fd(), tname).map_err(|e| errno_io("stat", &thost, e))? {
            None => return Err(missing()),
            Some(SFlag::S_IFDIR) => {
                return Err(ImageError::BadEntry {
                    path: label,
                    reason: "hardlink to a directory".into(),
                })
            }
            Some(_) => {}
        }
        self.replace(path, shown, "link", &mut |dir, name| {
            linkat(tparent.as_fd(), tname, dir, name, AtFlags::empty())
        })
    }

    fn whiteout(&mut self, path: &EntryPath, shown: &str) -> Result<(), ImageError> {
        let name = path.name();
        let overlay = self.opts.whiteouts == WhiteoutMode::Overlay;
        if name == OPAQUE {
            let dir_path = path.parent().to_vec();
            let host = self.root.host_path(&dir_path);
            let Some(dir) = nested_under_file(self.root.dir(&dir_path, shown, overlay), shown)?
            else {
                return Ok(());
            };
            if !overlay {
                note_touched(&mut self.touched, dir.fd, dir.ino, &dir_path, &host)?;
            }
            let fd = openat(
                dir.fd,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| errno_io("open", &host, e))?;
            if overlay {
                set_xattr_fd(fd.as_fd(), b"trusted.overlay.opaque", b"y", true)
                    .map_err(|e| xattr_err(&host, b"trusted.overlay.opaque", e))?;
                return Ok(());
            }
            let r = remove_lower(&fd, &self.written)
                .map(drop)
                .map_err(|e| errno_io("remove lower-layer entries of", &host, e));
            self.root.invalidate();
            return r;
        }
        if name.starts_with(b".wh..wh.") {
            // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
            tracing::debug!(entry = shown, "skipping AUFS metadata entry");
            return Ok(());
        }
        let target = &name[WHITEOUT_PREFIX.len()..];
        if target.is_empty() {
            return Err(ImageError::BadEntry {
                path: shown.to_string(),
                reason: "bare `.wh.` whiteout names nothing".into(),
            });
        }
        if target == b"." || target == b".." || target.contains(&b'/') {
            return Err(ImageError::Escape {
                path: shown.to_string(),
                reason: "whiteout of `.` or `..`",
            });
        }
        let tpath = path.sibling(target);
        let host = self.root.host_path(&tpath.joined);
        let tname = OsStr::from_bytes(target);
        let parent_host = self.root.host_path(tpath.parent());
        let Some(parent) = nested_under_file(self.root.dir(tpath.parent(), shown, overlay), shown)?
        else {
            return Ok(());
        };
        if !overlay {
            note_touched(
                &mut self.touched,
                parent.fd,
                parent.ino,
                tpath.parent(),
                &parent_host,
            )?;
        }
        let key = (parent.ino, target.to_vec());
        let parent = parent.fd;
        if overlay {
            if kind_at(parent, tname)
                .map_err(|e| errno_io("stat", &host, e))?
                .is_some()
            {
                return Ok(());
            }
            mknodat(
                parent,
                tname,
                SFlag::S_IFCHR,
                Mode::empty(),
                libc::makedev(0, 0),
            )
            .map_err(|e| errno_io("mknod overlay whiteout", &host, e))?;
            self.written.insert(key);
            return Ok(());
        }
        let r = if self.written.contains(&key) {
            // Whiteouts hide lower layers only; keep what this layer wrote.
            match openat(
                parent,
                tname,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => remove_lower(&fd, &self.written).map(drop),
                Err(_) => Ok(()),
            }
        } else {
            remove_all_at(parent, tname).map(drop)
        };
        self.root.invalidate();
        r.map_err(|e| errno_io("remove whited-out", &host, e))
    }
}

/// The directory of a whiteout, or `None` when there is nothing to white out because a
/// non-directory stands on its path: umoci 0.4.7 writes whiteouts under a path that the
/// same layer turned from a directory into a file, and whatever they named went with the
/// directory.
fn nested_under_file<'a>(
    resolved: Result<Option<Dir<'a>>, ImageError>,
    shown: &str,
) -> Result<Option<Dir<'a>>, ImageError> {
    match resolved {
        Err(ImageError::NotADirectory { dir, .. }) => {
            tracing::debug!(
                entry = shown,
                blocked_by = %dir,
                "whiteout under a non-directory has nothing to remove"
            );
            Ok(None)
        }
        other => other,
    }
}

/// Removes everything under the open directory `fd` that the current layer did not write,
/// descending into directories it did write; a lower directory that holds something this
/// layer wrote (an implicit parent) is kept and emptied of the rest. Returns whether
/// anything was kept.
fn remove_lower(fd: &OwnedFd, written: &HashSet<(u64, Vec<u8>)>) -> Result<bool, Errno> {
    let ino = fstat(fd)?.st_ino;
    let mut kept = false;
    for child in list_dir(fd)? {
        let key = (ino, child);
        let mine = written.contains(&key);
        let name = OsStr::from_bytes(&key.1);
        let is_dir = kind_at(fd.as_fd(), name)? == Some(SFlag::S_IFDIR);
        if !is_dir {
            if mine {
                kept = true;
            } else {
                remove_all_at(fd.as_fd(), name)?;
            }
            continue;
        }
        let sub = openat(
            fd,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let kept_inside = remove_lower(&sub, written)?;
        drop(sub);
        if mine || kept_inside {
            kept = true;
        } else {
            match unlinkat(fd, name, UnlinkatFlags::RemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(kept)
}

fn xattr_err(host: &Path, key: &[u8], e: Errno) -> ImageError {
    ImageError::io(
        "set xattr",
        host,
        std::io::Error::new(
            std::io::Error::from(e).kind(),
            format!("{}: {e}", String::from_utf8_lossy(key)),
        ),
    )
}

/// Sets an xattr on an open file. Without privilege (`strict` false) a refusal is logged.
fn set_xattr_fd(fd: BorrowedFd<'_>, key: &[u8], value: &[u8], strict: bool) -> Result<(), Errno> {
    let key = CString::new(key).map_err(|_| Errno::EINVAL)?;
    // SAFETY: fd is open, key is NUL-terminated and value is a valid buffer of its length.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    tolerate(Errno::result(r).map(drop), &key, strict)
}

/// Sets an xattr on `name` in `dir` without following a symlink at `name`.
fn set_xattr_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    key: &[u8],
    value: &[u8],
    strict: bool,
) -> Result<(), Errno> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    let p = CString::new(p).map_err(|_| Errno::EINVAL)?;
    let key = CString::new(key).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both strings are NUL-terminated and value is a valid buffer of its length;
    // lsetxattr does not follow a symlink in the last component.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    tolerate(Errno::result(r).map(drop), &key, strict)
}

fn tolerate(r: Result<(), Errno>, key: &CString, strict: bool) -> Result<(), Errno> {
    match r {
        Err(Errno::EPERM) | Err(Errno::ENOTSUP) if !strict => {
            tracing::warn!(xattr = %key.to_string_lossy(), "xattr not set: not permitted without privilege");
            Ok(())
        }
        other => other,
    }
}

fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<Meta, ImageError> {
    let bad = |what: &str, e: std::io::Error| ImageError::BadEntry {
        path: shown.to_string(),
        reason: format!("{what}: {e}"),
    };
    let h = entry.header();
    let mode = h.mode().map_err(|e| bad("mode", e))? & 0o7777;
    let mut uid = h.uid().map_err(|e| bad("uid", e))?;
    let mut gid = h.gid().map_err(|e| bad("gid", e))?;
    let mut mtime = TimeSpec::new(h.mtime().map_err(|e| bad("mtime", e))? as i64, 0);
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(|e| bad("PAX header", e))? {
        for ext in exts {
            let ext = ext.map_err(|e| bad("PAX record", e))?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((name.to_vec(), value.to_vec()));
            } else if key == b"uid" {
                uid = parse_num(value)
                    .ok_or_else(|| bad("PAX uid", std::io::ErrorKind::InvalidData.into()))?;
            } else if key == b"gid" {
                gid = parse_num(value)
                    .ok_or_else(|| bad("PAX gid", std::io::ErrorKind::InvalidData.into()))?;
            } else if key == b"mtime" {
                mtime = parse_time(value)
                    .ok_or_else(|| bad("PAX mtime", std::io::ErrorKind::InvalidData.into()))?;
            } else if key.starts_with(b"LIBARCHIVE.xattr.") {
                tracing::warn!(
                    entry = shown,
                    "LIBARCHIVE.xattr records are not applied (only SCHILY.xattr)"
                );
            }
        }
    }
    let id = |v: u64, what: &str| {
        u32::try_from(v).map_err(|_| ImageError::BadEntry {
            path: shown.to_string(),
            reason: format!("{what} {v} too large"),
        })
    };
    Ok(Meta {
        mode,
        uid: id(uid, "uid")?,
        gid: id(gid, "gid")?,
        mtime,
        xattrs,
    })
}

/// The device numbers of a char, block or FIFO entry. A v7 header (no fields) and blank
/// fields (NULs or spaces, which some writers leave for FIFOs) are 0, as Go's archive/tar
/// reads them; a field holding anything but an octal number is a corrupt header, reported
/// rather than turned into device 0.
fn device_numbers(h: &tar::Header, shown: &str) -> Result<(u32, u32), ImageError> {
    let raw = h
        .as_ustar()
        .map(|u| (u.dev_major, u.dev_minor))
        .or_else(|| h.as_gnu().map(|g| (g.dev_major, g.dev_minor)));
    let one = |r: std::io::Result<Option<u32>>, field: Option<[u8; 8]>, what: &str| match r {
        Ok(v) => Ok(v.unwrap_or(0)),
        Err(_) if field.is_some_and(|f| is_blank(&f)) => Ok(0),
        Err(e) => Err(ImageError::BadEntry {
            path: shown.to_string(),
            reason: format!("{what}: {e}"),
        }),
    };
    Ok((
        one(h.device_major(), raw.map(|r| r.0), "device major")?,
        one(h.device_minor(), raw.map(|r| r.1), "device minor")?,
    ))
}

/// True for a numeric header field of only NULs and spaces (up to the first NUL).
fn is_blank(field: &[u8]) -> bool {
    field.iter().take_while(|b| **b != 0).all(|b| *b == b' ')
}

fn parse_num(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

fn parse_time(v: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    for (i, c) in frac.chars().take(9).enumerate() {
        nanos += i64::from(c.to_digit(10)?) * 10i64.pow(8 - i as u32);
    }
    Some(TimeSpec::new(secs, nanos))
}
