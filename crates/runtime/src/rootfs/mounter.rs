//! The kernel seam of the rootfs module: a small trait for every filesystem operation the
//! plan executor does. Production implements it with the new mount API
//! ([`super::linux::LinuxMounter`]); unit tests implement it with a recorder, so the
//! sequence of operations for a config can be checked without root.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use super::options::{AttrChange, FsParam, PropagationChange};

/// The kind of inode to create at a missing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory (`mkdir`).
    Dir,
    /// An empty regular file (a bind-mount target for a file or device).
    File,
}

/// The kind of an inode, from `fstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Dir,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A symlink (only seen when opened with no-follow).
    Symlink,
    /// Anything else (regular file, fifo, socket).
    Other,
}

/// What `fstat` says about an fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The inode kind.
    pub kind: FileKind,
    /// Device major (for device nodes).
    pub major: u64,
    /// Device minor (for device nodes).
    pub minor: u64,
}

/// How to resolve a path inside the rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resolve {
    /// Fail (ELOOP) if any component is a symlink (used for `/proc`, `/sys`, `/dev`).
    pub no_symlinks: bool,
}

/// A device node to create with `mknod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpec {
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO` ORed with the permission bits.
    pub mode: u32,
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
}

/// Every kernel operation the rootfs executor needs. `Fd` is an open handle: an `OwnedFd` in
/// production, a number in the recorder.
///
/// Paths inside the rootfs are always relative to a root handle and resolved inside it
/// (`openat2` with `RESOLVE_IN_ROOT`), so a symlink can never point an operation at the host.
pub trait Mounter {
    /// An open handle (a path fd or a detached/attached mount fd).
    type Fd: std::fmt::Debug;

    /// Opens a host path (trusted: the rootfs itself, `/`) as an `O_PATH` directory handle.
    fn open_host_dir(&mut self, path: &Path) -> io::Result<Self::Fd>;
    /// Opens `rel` inside `root` (`O_PATH`, following symlinks only inside `root`).
    fn open_in_root(&mut self, root: &Self::Fd, rel: &Path, how: Resolve) -> io::Result<Self::Fd>;
    /// Creates `rel` inside `root` (and its missing parent directories), then opens it.
    /// An existing inode is kept.
    fn create_in_root(
        &mut self,
        root: &Self::Fd,
        rel: &Path,
        kind: NodeKind,
        how: Resolve,
    ) -> io::Result<Self::Fd>;
    /// `fstat` of a handle.
    fn stat(&mut self, fd: &Self::Fd) -> io::Result<Stat>;

    /// A detached copy of the mount tree at a host path (`open_tree(OPEN_TREE_CLONE)`).
    fn clone_host(&mut self, path: &Path, recursive: bool) -> io::Result<Self::Fd>;
    /// The path of an open handle as this process sees it (`/proc/self/fd/N`).
    fn fd_path(&mut self, fd: &Self::Fd) -> io::Result<PathBuf>;
    /// A detached copy of the mount at an open handle.
    fn clone_fd(&mut self, fd: &Self::Fd, recursive: bool) -> io::Result<Self::Fd>;
    /// A new filesystem instance as a detached mount (`fsopen`, `fsconfig`, `fsmount`), with
    /// the mount attributes `attrs` (`MOUNT_ATTR_*`).
    fn new_fs(
        &mut self,
        fstype: &str,
        source: Option<&str>,
        params: &[FsParam],
        attrs: u64,
    ) -> io::Result<Self::Fd>;
    /// Changes mount attributes and/or propagation of the mount at `mnt` (`mount_setattr`).
    fn set_attr(
        &mut self,
        mnt: &Self::Fd,
        attrs: AttrChange,
        propagation: Option<PropagationChange>,
        recursive: bool,
    ) -> io::Result<()>;
    /// A user namespace whose `uid_map`/`gid_map` hold these texts, for [`Mounter::set_idmap`].
    fn new_userns(&mut self, uid_map: &str, gid_map: &str) -> io::Result<Self::Fd>;
    /// Makes the detached mount `mnt` id-mapped through `userns` (`MOUNT_ATTR_IDMAP`).
    fn set_idmap(&mut self, mnt: &Self::Fd, userns: &Self::Fd, recursive: bool) -> io::Result<()>;
    /// The detached mount the runtime's parent made for `mounts[index]` before the clone (an
    /// id-mapped bind, see [`super::premake_idmapped`]), if any. Nothing is premade by default.
    fn take_premade(&mut self, index: usize) -> io::Result<Option<Self::Fd>> {
        let _ = index;
        Ok(None)
    }
    /// Attaches the detached mount `mnt` on top of `target` (`move_mount`).
    fn attach(&mut self, mnt: &Self::Fd, target: &Self::Fd) -> io::Result<()>;

    /// Copies the tree below directory `from` into directory `to` (files, directories,
    /// symlinks and nodes, with modes and owners), never following symlinks (`tmpcopyup`).
    fn copy_tree(&mut self, from: &Self::Fd, to: &Self::Fd) -> io::Result<()>;

    /// Creates a device node `name` in directory `dir`; an existing one is kept.
    fn mknod(&mut self, dir: &Self::Fd, name: &OsStr, node: NodeSpec) -> io::Result<()>;
    /// Changes the owner of `name` in `dir` (no-follow).
    fn chown(&mut self, dir: &Self::Fd, name: &OsStr, uid: u32, gid: u32) -> io::Result<()>;
    /// Creates a symlink `name -> target` in `dir`; with `replace`, removes an existing
    /// `name` first; otherwise an existing one is kept.
    fn symlink(
        &mut self,
        dir: &Self::Fd,
        name: &OsStr,
        target: &Path,
        replace: bool,
    ) -> io::Result<()>;

    /// Makes the mount that contains the host path `path` private (non-recursive), so
    /// `pivot_root` accepts it as the parent of the new root under a shared `/`.
    fn make_containing_mount_private(&mut self, path: &Path) -> io::Result<()>;
    /// Sets the propagation of the process's root mount tree (`/`).
    fn set_root_propagation(&mut self, propagation: PropagationChange) -> io::Result<()>;
    /// Sets the process umask, returning the old one.
    fn umask(&mut self, mask: u32) -> u32;
    /// Makes `new_root` the root: `pivot_root(".", ".")` from inside it, detach the old root,
    /// `chdir("/")`.
    fn pivot_root(&mut self, new_root: &Self::Fd) -> io::Result<()>;
    /// Moves `new_root` over `/` and `chroot`s into it (for `--no-pivot`).
    fn move_root(&mut self, new_root: &Self::Fd) -> io::Result<()>;
    /// Only `chroot`s into `new_root` and `chdir("/")` (a container without a mount
    /// namespace of its own).
    fn chroot_into(&mut self, new_root: &Self::Fd) -> io::Result<()>;
    /// Reads `/proc/self/cgroup` (for bind-mounting the container's own cgroups).
    fn read_self_cgroup(&mut self) -> io::Result<String>;
}
