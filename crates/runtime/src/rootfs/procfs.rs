//! [`ProcfsHandle`]: the one way hezi opens, reads and writes procfs files (sysctl,
//! `oom_score_adj`, `attr/*`, the fd links of the exec fifo) so that a malicious rootfs or
//! container cannot redirect them (CVE-2025-52881).
//!
//! The handle is a private procfs instance (`fsopen("proc")` + `fsmount`, never attached
//! anywhere, so nothing in the container can mount over it), or an fd of `/proc` verified
//! with `fstatfs` to be procfs ([`ProcfsHandle::mounted`]; also the fallback where the kernel
//! refuses a fresh instance, e.g. in a user namespace with a partly masked `/proc`). A private
//! instance costs an RCU grace period when it is closed (about 0.3 ms here, against a few
//! microseconds for the verified `/proc`), so one-off accesses use [`ProcfsHandle::with`]:
//! the verified `/proc` first, a private instance only when a mount covers the path. Every
//! open below the root uses `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`, and the
//! opened file is checked to be on procfs again, so neither a bind mount over `/proc/sys/...`
//! nor a symlink can send a write elsewhere. `/proc/self` (a symlink) is resolved by reading
//! it and opening the numeric directory it names ([`ProcfsHandle::open_self`]); the one magic
//! link hezi follows on purpose, `/proc/<pid>/fd/<n>`, is opened from a verified
//! `/proc/<pid>/fd` directory ([`ProcfsHandle::reopen_own_fd`]).
//!
//! Nothing here spawns threads: the container's (single-threaded) init calls it after the
//! clone.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use super::error::RootfsError;
use super::sys::{self, cpath};

/// The resolution rules of every lookup below the procfs root.
const RESOLVE_SAFE: u64 = libc::RESOLVE_BENEATH
    | libc::RESOLVE_NO_XDEV
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_SYMLINKS;

/// An fd of a procfs root that cannot be redirected. Create with [`ProcfsHandle::new`] (a
/// private instance when the kernel allows it) or [`ProcfsHandle::from_proc_dir`].
#[derive(Debug)]
pub struct ProcfsHandle {
    root: OwnedFd,
    private: bool,
}

/// The error of [`check_procfs`]: a file or directory that should be on procfs is not.
#[derive(Debug)]
struct NotProcfs;

impl std::fmt::Display for NotProcfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not on procfs (something is mounted over it)")
    }
}

impl std::error::Error for NotProcfs {}

fn check_procfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    let st = nix::sys::statfs::fstatfs(fd).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(io::Error::new(io::ErrorKind::InvalidData, NotProcfs));
    }
    Ok(())
}

/// True when `e` is a refusal because something is mounted over `/proc` or over the path
/// (`EXDEV` from `RESOLVE_NO_XDEV`, or the procfs check).
fn is_covered(e: &RootfsError) -> bool {
    match e {
        RootfsError::Sys { source, .. } => {
            source.raw_os_error() == Some(libc::EXDEV)
                || source
                    .get_ref()
                    .is_some_and(|inner| inner.is::<NotProcfs>())
        }
        _ => false,
    }
}

/// The procfs path of a sysctl key below the procfs root (`net.ipv4.ip_forward` →
/// `sys/net/ipv4/ip_forward`; the slash form `net/ipv4/ip_forward` is accepted too). Empty
/// keys and keys with an empty or `..` component are refused.
pub fn sysctl_path(key: &str) -> Result<PathBuf, RootfsError> {
    if key.is_empty() || key.split(['.', '/']).any(|c| c.is_empty() || c == "..") {
        return Err(RootfsError::invalid(
            format!("sysctl key {key:?}"),
            "must be non-empty with no empty or `..` component",
        ));
    }
    let mut rel = PathBuf::from("sys");
    rel.push(key.replace('.', "/"));
    Ok(rel)
}

/// `rel` as a relative C path; an absolute path (`/sys/...`) is taken relative to the root.
fn relative(rel: &Path, what: &str) -> Result<CString, RootfsError> {
    cpath(rel.strip_prefix("/").unwrap_or(rel)).map_err(|e| RootfsError::sys(what, e))
}

/// `flags` plus `O_NOCTTY` (which `openat2` refuses together with `O_PATH`).
fn open_flags(flags: i32) -> i32 {
    if flags & libc::O_PATH != 0 {
        flags
    } else {
        flags | libc::O_NOCTTY
    }
}

impl ProcfsHandle {
    /// Opens a private procfs instance, or falls back to a verified `/proc` (see module docs).
    ///
    /// A private instance is not free: closing it costs an RCU grace period (about 0.3 ms
    /// measured here), so one-off accesses on the container start path use
    /// [`with`](Self::with) instead.
    pub fn new() -> Result<Self, RootfsError> {
        match Self::private() {
            Ok(h) => Ok(h),
            Err(e) => {
                tracing::debug!(error = %e, "private procfs instance refused; using /proc");
                Self::mounted()
            }
        }
    }

    /// A private procfs instance only (no fallback): `fsopen("proc")` + `fsmount`, attached
    /// nowhere. Needs `CAP_SYS_ADMIN` over the caller's pid namespace.
    pub fn private() -> Result<Self, RootfsError> {
        let root =
            Self::private_instance().map_err(|e| RootfsError::sys("private procfs instance", e))?;
        Ok(ProcfsHandle {
            root,
            private: true,
        })
    }

    /// The procfs mounted at `/proc` in the caller's mount namespace, verified with
    /// `fstatfs` (cheap: one open). See [`from_proc_dir`](Self::from_proc_dir).
    pub fn mounted() -> Result<Self, RootfsError> {
        Self::from_proc_dir(Path::new("/proc"))
    }

    /// Runs `op` through the verified `/proc` ([`mounted`](Self::mounted)), and only when that
    /// is refused because something is mounted over `/proc` or over the path, once more
    /// through a [`private`](Self::private) instance. Either way nothing can redirect the
    /// access: the first attempt refuses to cross mounts, the second sees no mounts at all.
    pub fn with<T>(op: impl Fn(&ProcfsHandle) -> Result<T, RootfsError>) -> Result<T, RootfsError> {
        match Self::mounted().and_then(|h| op(&h)) {
            Err(e) if is_covered(&e) => {
                tracing::debug!(error = %e, "/proc is covered; retrying on a private procfs");
                op(&Self::private()?)
            }
            other => other,
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

    /// Opens `rel` (relative to the procfs root, e.g. `sys/net/ipv4/ip_forward`) with
    /// `flags`, refusing `..` escapes, symlinks (so `self/...` fails with `ELOOP`: use
    /// [`open_self`](Self::open_self)), magic links and mount crossings, and checks the result
    /// is on procfs. `O_CLOEXEC` is always added.
    pub fn open(&self, rel: &Path, flags: i32) -> Result<File, RootfsError> {
        let what = format!("/proc/{}", rel.display());
        let rel_c = relative(rel, &what)?;
        let fd = sys::openat2(
            Some(self.root.as_fd()),
            &rel_c,
            open_flags(flags),
            0,
            RESOLVE_SAFE,
        )
        .map_err(|e| RootfsError::sys(format!("{what}: open"), e))?;
        check_procfs(fd.as_fd()).map_err(|e| RootfsError::sys(&what, e))?;
        Ok(File::from(fd))
    }

    /// Reads the whole of `rel` (see [`open`](Self::open)) as text.
    pub fn read_to_string(&self, rel: &Path) -> Result<String, RootfsError> {
        let mut s = String::new();
        self.open(rel, libc::O_RDONLY)?
            .read_to_string(&mut s)
            .map_err(|e| RootfsError::sys(format!("/proc/{}: read", rel.display()), e))?;
        Ok(s)
    }

    /// Writes `data` to `rel` (see [`open`](Self::open)) in one `write(2)`: procfs files take
    /// a value per write, so a short write is an error rather than a second write.
    pub fn write(&self, rel: &Path, data: &[u8]) -> Result<(), RootfsError> {
        let f = self.open(rel, libc::O_WRONLY)?;
        let what = || format!("/proc/{}: write", rel.display());
        let n = nix::unistd::write(&f, data)
            .map_err(|e| RootfsError::sys(what(), io::Error::from_raw_os_error(e as i32)))?;
        if n != data.len() {
            return Err(RootfsError::sys(
                what(),
                io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes", data.len()),
                ),
            ));
        }
        Ok(())
    }

    /// Writes a sysctl, `key` in dotted (`net.ipv4.ip_forward`) or slash form (see
    /// [`sysctl_path`]). Sysctls act on the caller's namespaces whichever procfs instance is
    /// used, so a private instance writes the container's values.
    pub fn write_sysctl(&self, key: &str, value: &str) -> Result<(), RootfsError> {
        self.write(&sysctl_path(key)?, value.as_bytes())
    }

    /// The caller's directory in this procfs (`/proc/self` read as a link, e.g. `4242`): the
    /// pid as this instance's pid namespace numbers it. Refuses anything but digits.
    pub fn self_dir(&self) -> Result<PathBuf, RootfsError> {
        let target = nix::fcntl::readlinkat(self.root.as_fd(), c"self").map_err(|e| {
            RootfsError::sys(
                "/proc/self: readlink",
                io::Error::from_raw_os_error(e as i32),
            )
        })?;
        let digits = target
            .to_str()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
        match digits {
            Some(d) => Ok(PathBuf::from(d)),
            None => Err(RootfsError::sys(
                "/proc/self: readlink",
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("points to {target:?}, not a pid"),
                ),
            )),
        }
    }

    /// Opens `rel` below the caller's own directory (`oom_score_adj`, `attr/exec`), resolving
    /// `/proc/self` by reading it (see [`self_dir`](Self::self_dir)) and then opening as
    /// [`open`](Self::open) does. `rel` must be plain names (no `..`, not absolute).
    pub fn open_self(&self, rel: &Path, flags: i32) -> Result<File, RootfsError> {
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(RootfsError::invalid(
                format!("/proc/self/{}", rel.display()),
                "must be a relative path of plain names",
            ));
        }
        self.open(&self.self_dir()?.join(rel), flags)
    }

    /// Writes `data` to `/proc/self/<rel>` (see [`open_self`](Self::open_self)) in one write.
    pub fn write_self(&self, rel: &Path, data: &[u8]) -> Result<(), RootfsError> {
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(RootfsError::invalid(
                format!("/proc/self/{}", rel.display()),
                "must be a relative path of plain names",
            ));
        }
        self.write(&self.self_dir()?.join(rel), data)
    }

    /// Opens the file behind the caller's fd `fd` anew with `flags` (plus `O_CLOEXEC`)
    /// through the `/proc/<self>/fd/<fd>` magic link, e.g. to open an `O_PATH` fd of a fifo
    /// for writing. The `fd` directory is reached with the safe rules of
    /// [`open`](Self::open); only the final link is followed.
    pub fn reopen_own_fd(&self, fd: RawFd, flags: i32) -> Result<OwnedFd, RootfsError> {
        reopen_in_fd_dir(self.own_fd_dir()?.as_fd(), fd, flags)
    }

    /// An `O_PATH` fd of the caller's `/proc/<self>/fd` directory, reached with the safe rules
    /// of [`open`](Self::open). Opened ahead of time, it lets [`reopen_in_fd_dir`] reopen an
    /// fd later with one plain `openat(2)`: the init does that after its seccomp filter may
    /// be in place, where `openat2` and `readlink` may be denied by the profile.
    pub fn own_fd_dir(&self) -> Result<OwnedFd, RootfsError> {
        Ok(OwnedFd::from(self.open(
            &self.self_dir()?.join("fd"),
            libc::O_PATH | libc::O_DIRECTORY,
        )?))
    }
}

/// Opens the file behind the caller's fd `fd` anew with `flags` (plus `O_CLOEXEC`) through
/// the magic link `fd` in `fd_dir` (from [`ProcfsHandle::own_fd_dir`]): one `openat(2)`.
pub fn reopen_in_fd_dir(
    fd_dir: BorrowedFd<'_>,
    fd: RawFd,
    flags: i32,
) -> Result<OwnedFd, RootfsError> {
    let what = format!("/proc/self/fd/{fd}");
    let name = CString::new(fd.to_string())
        .map_err(|_| RootfsError::sys(&what, io::Error::from(io::ErrorKind::InvalidInput)))?;
    let oflag = nix::fcntl::OFlag::from_bits_retain(open_flags(flags) | libc::O_CLOEXEC);
    nix::fcntl::openat(
        fd_dir,
        name.as_c_str(),
        oflag,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        RootfsError::sys(
            format!("{what}: open"),
            io::Error::from_raw_os_error(e as i32),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    fn handle() -> ProcfsHandle {
        match ProcfsHandle::new() {
            Ok(h) => h,
            Err(e) => panic!("no procfs handle: {e}"),
        }
    }

    fn errno_of(err: &RootfsError) -> Option<i32> {
        match err {
            RootfsError::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    #[test]
    fn reads_through_the_handle_and_refuses_escapes() {
        let h = handle();
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
        assert_eq!(errno_of(&err), Some(libc::EXDEV), "{err}");
        // /proc/self/exe is a magic link (and /proc/self a symlink).
        assert!(h.open(Path::new("self/exe"), libc::O_RDONLY).is_err());
    }

    #[test]
    fn symlinks_are_refused_with_the_os_error_kept() {
        // /proc/self is a symlink: RESOLVE_NO_SYMLINKS must refuse it, and the typed error
        // keeps the errno as its source.
        let h = handle();
        let err = h
            .open(Path::new("self/oom_score_adj"), libc::O_WRONLY)
            .expect_err("symlink");
        assert_eq!(errno_of(&err), Some(libc::ELOOP), "{err}");
        let source = std::error::Error::source(&err).expect("source kept");
        assert!(source.to_string().contains("symbolic links"), "{source}");
    }

    #[test]
    fn a_non_procfs_dir_is_refused() {
        let err = ProcfsHandle::from_proc_dir(Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("not on procfs"), "{err}");
        assert!(is_covered(&err), "{err:?}");
    }

    #[test]
    fn with_uses_the_mounted_proc_and_passes_other_errors_through() {
        let calls = std::cell::Cell::new(0);
        let got = ProcfsHandle::with(|h| {
            calls.set(calls.get() + 1);
            assert!(!h.is_private(), "the cheap handle comes first");
            h.read_to_string(Path::new("sys/kernel/ostype"))
        })
        .unwrap();
        assert_eq!(got.trim(), "Linux");
        assert_eq!(calls.get(), 1);
        // A missing file is not a covered /proc: no second attempt.
        calls.set(0);
        let err = ProcfsHandle::with(|h| {
            calls.set(calls.get() + 1);
            h.read_to_string(Path::new("sys/kernel/no-such-sysctl"))
        })
        .unwrap_err();
        assert!(!is_covered(&err), "{err}");
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn sysctl_paths() {
        let p = |k: &str| sysctl_path(k).ok();
        assert_eq!(
            p("net.ipv4.ip_forward"),
            Some(PathBuf::from("sys/net/ipv4/ip_forward"))
        );
        assert_eq!(p("kernel/ostype"), Some(PathBuf::from("sys/kernel/ostype")));
        for bad in ["net..x", "", "../../etc", "net.", ".net", "a/../b"] {
            let err = sysctl_path(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn a_bad_sysctl_key_is_refused_before_any_open() {
        let err = handle().write_sysctl("net..x", "1").unwrap_err();
        assert!(matches!(err, RootfsError::InvalidConfig { .. }), "{err}");
    }

    #[test]
    fn self_dir_is_our_pid_in_this_instance() {
        let h = handle();
        let dir = h.self_dir().unwrap();
        assert_eq!(dir, PathBuf::from(std::process::id().to_string()));
        // A fallback /proc handle sees the same pid (same pid namespace in tests).
        let host = ProcfsHandle::from_proc_dir(Path::new("/proc")).unwrap();
        assert!(!host.is_private());
        assert_eq!(host.self_dir().unwrap(), dir);
    }

    #[test]
    fn own_oom_score_adj_round_trips() {
        // Writing the current value back needs no privilege.
        let h = handle();
        let now = h
            .read_to_string(&h.self_dir().unwrap().join("oom_score_adj"))
            .unwrap();
        h.write_self(Path::new("oom_score_adj"), now.trim().as_bytes())
            .unwrap();
        let mut again = String::new();
        h.open_self(Path::new("oom_score_adj"), libc::O_RDONLY)
            .unwrap()
            .read_to_string(&mut again)
            .unwrap();
        assert_eq!(again, now);
        assert!(h
            .open_self(Path::new("../1/environ"), libc::O_RDONLY)
            .is_err());
        assert!(h.write_self(Path::new("/etc/passwd"), b"x").is_err());
    }

    #[test]
    fn reopens_an_o_path_fd_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"hello").unwrap();
        let path_fd = sys::openat2(None, &cpath(&file).unwrap(), libc::O_PATH, 0, 0).unwrap();
        let h = handle();
        let fd = h
            .reopen_own_fd(path_fd.as_raw_fd(), libc::O_RDONLY)
            .unwrap();
        let mut s = String::new();
        File::from(fd).read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let err = h.reopen_own_fd(987_654, libc::O_RDONLY).unwrap_err();
        assert!(err.to_string().contains("/proc/self/fd/987654"), "{err}");
    }

    /// Root only: in a private mount namespace with a tmpfs over `/proc/sys/kernel` (the
    /// CVE-2025-52881 situation), a verified `/proc` refuses to cross into the tmpfs and a
    /// private instance still reaches the real file.
    #[test]
    fn an_overmounted_proc_cannot_redirect_the_handle() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t tmpfs hezi-procfs-test /proc/sys/kernel && exec \"$0\" --ignored \
                 --exact rootfs::procfs::tests::overmount_probe --nocapture",
            )
            .arg(&exe)
            .env("HEZI_PROCFS_OVERMOUNT_PROBE", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("probe: ok"), "{stdout}\n{stderr}");
    }

    /// Run by [`an_overmounted_proc_cannot_redirect_the_handle`] inside its mount namespace.
    #[test]
    #[ignore = "run by an_overmounted_proc_cannot_redirect_the_handle"]
    fn overmount_probe() {
        if std::env::var_os("HEZI_PROCFS_OVERMOUNT_PROBE").is_none() {
            eprintln!("skipped: only meaningful inside the parent test's mount namespace");
            return;
        }
        let rel = Path::new("sys/kernel/ostype");
        // The overmount is in effect for plain path lookups ...
        assert!(std::fs::read_to_string("/proc/sys/kernel/ostype").is_err());
        // ... a verified /proc refuses to cross into it ...
        let host = ProcfsHandle::from_proc_dir(Path::new("/proc")).unwrap();
        let err = host.open(rel, libc::O_RDONLY).unwrap_err();
        assert_eq!(errno_of(&err), Some(libc::EXDEV), "{err}");
        // ... and a private instance reads the kernel's value ...
        let private = handle();
        assert!(private.is_private());
        assert_eq!(private.read_to_string(rel).unwrap().trim(), "Linux");
        // ... which is what `with` falls back to.
        let via_with = ProcfsHandle::with(|h| h.read_to_string(rel)).unwrap();
        assert_eq!(via_with.trim(), "Linux");
        println!("probe: ok");
    }
}
