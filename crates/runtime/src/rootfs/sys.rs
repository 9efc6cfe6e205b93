//! Safe wrappers over the raw syscalls of the new mount API and `openat2(2)`.
//!
//! libc 0.2 exposes the syscall numbers (`SYS_open_tree`, ...) and the constants, but no
//! functions; these wrappers own the `unsafe` and turn return values into `io::Result`s and
//! `OwnedFd`s. Nothing here decides policy: that is the job of [`super::linux`].

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `struct open_how` of `openat2(2)` (libc's copy is `#[non_exhaustive]`, so we keep ours).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    /// `MOUNT_ATTR_*` bits to set.
    pub attr_set: u64,
    /// `MOUNT_ATTR_*` bits to clear.
    pub attr_clr: u64,
    /// One of `MS_PRIVATE`, `MS_SHARED`, `MS_SLAVE`, `MS_UNBINDABLE`, or 0 to keep.
    pub propagation: u64,
    /// A user namespace fd for id-mapped mounts (unused by hezi: 0).
    pub userns_fd: u64,
}

/// Converts a path to a C string, naming the path when it holds a NUL byte.
pub fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {} contains a NUL byte", path.display()),
        )
    })
}

fn dirfd(dir: Option<BorrowedFd<'_>>) -> RawFd {
    dir.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd())
}

/// Turns a syscall's fd-or-negative return value into an `OwnedFd`.
fn fd_result(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let raw = RawFd::try_from(ret).map_err(|_| io::Error::other("syscall returned a bad fd"))?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn unit_result(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `openat2(dir, path, {flags, mode, resolve})`; always adds `O_CLOEXEC`.
pub fn openat2(
    dir: Option<BorrowedFd<'_>>,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve,
    };
    loop {
        // SAFETY: `path` is NUL-terminated, `how` is a valid open_how of the size we pass and
        // outlives the call; the kernel only reads both.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd(dir),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match fd_result(ret) {
            // RESOLVE_IN_ROOT lookups return EAGAIN when a rename raced them: retry.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            other => return other,
        }
    }
}

/// `open_tree(dir, path, flags)`: a detached copy (with `OPEN_TREE_CLONE`) of a mount tree.
pub fn open_tree(dir: Option<BorrowedFd<'_>>, path: &CStr, flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: `path` is NUL-terminated and only read by the kernel.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, dirfd(dir), path.as_ptr(), flags) };
    fd_result(ret)
}

/// `move_mount(from_dir, from_path, to_dir, to_path, flags)`.
pub fn move_mount(
    from_dir: Option<BorrowedFd<'_>>,
    from_path: &CStr,
    to_dir: Option<BorrowedFd<'_>>,
    to_path: &CStr,
    flags: u32,
) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated and only read by the kernel; the fds are borrowed
    // for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            dirfd(from_dir),
            from_path.as_ptr(),
            dirfd(to_dir),
            to_path.as_ptr(),
            flags,
        )
    };
    unit_result(ret)
}

/// `fsopen(fstype, FSOPEN_CLOEXEC)`: a filesystem context.
pub fn fsopen(fstype: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `fstype` is NUL-terminated and only read by the kernel.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    fd_result(ret)
}

fn fsconfig(
    fs: BorrowedFd<'_>,
    cmd: libc::c_uint,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> io::Result<()> {
    let key_ptr = key.map_or(std::ptr::null(), CStr::as_ptr);
    let value_ptr = value.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: key and value are NUL-terminated strings or NULL, as the command requires; the
    // kernel only reads them. `aux` is 0 for these commands.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            cmd,
            key_ptr,
            value_ptr,
            0 as libc::c_int,
        )
    };
    unit_result(ret)
}

/// `fsconfig(fs, FSCONFIG_SET_STRING, key, value)`.
pub fn fsconfig_set_string(fs: BorrowedFd<'_>, key: &CStr, value: &CStr) -> io::Result<()> {
    fsconfig(fs, libc::FSCONFIG_SET_STRING, Some(key), Some(value))
}

/// `fsconfig(fs, FSCONFIG_SET_FLAG, key)`.
pub fn fsconfig_set_flag(fs: BorrowedFd<'_>, key: &CStr) -> io::Result<()> {
    fsconfig(fs, libc::FSCONFIG_SET_FLAG, Some(key), None)
}

/// `fsconfig(fs, FSCONFIG_CMD_CREATE)`: creates the superblock.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> io::Result<()> {
    fsconfig(fs, libc::FSCONFIG_CMD_CREATE, None, None)
}

/// `fsmount(fs, FSMOUNT_CLOEXEC, attr_flags)`: a detached mount of the context's superblock.
pub fn fsmount(fs: BorrowedFd<'_>, attr_flags: u64) -> io::Result<OwnedFd> {
    let attrs = libc::c_uint::try_from(attr_flags)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mount attributes too wide"))?;
    // SAFETY: plain integer arguments; the fd is borrowed for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    };
    fd_result(ret)
}

/// Reads the messages the kernel logged in a filesystem context (best effort, for errors).
pub fn fs_context_log(fs: BorrowedFd<'_>) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 512];
    for _ in 0..8 {
        // SAFETY: `buf` is a valid writable buffer of the length we pass.
        let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(String::from_utf8_lossy(&buf[..n]).trim_end());
    }
    out
}

/// `mount_setattr(dir, path, flags, attr)`.
pub fn mount_setattr(
    dir: Option<BorrowedFd<'_>>,
    path: &CStr,
    flags: u32,
    attr: &MountAttr,
) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated, `attr` is a valid mount_attr of the size we pass; the
    // kernel only reads both.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd(dir),
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    unit_result(ret)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated and only read by the kernel.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    unit_result(ret)
}

/// The empty path used with `AT_EMPTY_PATH` / `*_EMPTY_PATH` flags.
pub const EMPTY: &CStr = c"";
