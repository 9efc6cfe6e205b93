//! The container's root filesystem: mounts, devices, pivot_root, masked and read-only paths.
//!
//! The pipeline is: [`RootfsPlan::new`] in the parent (plain data, printable, testable without
//! root), then in the container's init child, inside its new mount namespace:
//! [`prepare`] → optionally [`mount_console`] → [`pivot`] → [`finish`].
//!
//! Security: every path inside the rootfs (mount destinations, device nodes, masked and
//! read-only paths, `/dev/console`) is resolved with `openat2(RESOLVE_IN_ROOT)` relative to an
//! fd of the rootfs, and every mount is attached to that fd with the new mount API
//! (`open_tree`/`fsopen`/`fsmount`/`mount_setattr`/`move_mount`), so a symlink in the rootfs
//! can never redirect a mount to the host. `/proc`, `/sys` and `/dev` must be real
//! directories (no symlink anywhere on their path); the `/dev/null` used to mask files is
//! checked to be the 1:3 character device through the very fd that is mounted. Mounts over
//! `/proc` subpaths are refused except runc's lxcfs-style list (`/proc/cpuinfo`, ...).
//! Every procfs access of the runtime (sysctl writes and `cap_last_cap` in
//! [`crate::process::sys`], the exec fifo reopen in [`crate::init`]) goes through
//! [`ProcfsHandle`], a private procfs instance or an `fstatfs`-verified `/proc`
//! (CVE-2025-52881).
//!
//! No classic `mount(2)` is used anywhere: everything the kernel offers through the new API
//! (Linux ≥ 5.12 for `mount_setattr`) is done with it, and a kernel without it fails with
//! `ENOSYS` naming the mount. The layers are: [`options`] and [`plan`](RootfsPlan) (pure),
//! `exec` (the order of operations, generic over the [`mounter::Mounter`] seam),
//! [`linux::LinuxMounter`] (the syscalls, through the safe wrappers in [`sys`]).
//!
//! Speed: masked directories share one read-only tmpfs (the first is a fresh `fsmount`, the
//! others `open_tree` clones of it); the host is only `stat`ed for a bind source when its
//! destination is missing; devices are created relative to one `/dev` fd.
//!
//! Id-mapped bind mounts (`idmap`/`ridmap` with `uidMappings`/`gidMappings`) get a throw-away
//! user namespace holding the mappings (`MOUNT_ATTR_IDMAP`).
//!
//! Not implemented (a clear [`RootfsError::Unsupported`] or `InvalidConfig`, never ignored):
//! id-mapped mounts in a container that has its own user namespace, or without explicit
//! mappings (both need the mount made by the runtime's parent, which owns the host
//! filesystem), `remount`, and SELinux `linux.mountLabel`.
//!
//! ```no_run
//! use std::path::Path;
//! use hezi_runtime::rootfs::{self, RootfsOptions, RootfsPlan};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let spec = oci_spec::runtime::Spec::load("/bundle/config.json")?;
//! let opts = RootfsOptions { new_mount_ns: true, ..Default::default() };
//! let plan = RootfsPlan::new(&spec, Path::new("/bundle"), opts)?;
//! // ... in the child, after unshare(CLONE_NEWNS):
//! rootfs::prepare(&plan)?;
//! rootfs::pivot(&plan)?;
//! rootfs::finish(&plan)?;
//! # Ok(()) }
//! ```

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

pub mod cgroup;
mod copy;
mod error;
mod exec;
pub mod linux;
pub mod mounter;
pub mod options;
mod plan;
pub mod procfs;
mod resolve;
pub mod sys;
mod userns;

#[cfg(test)]
mod recorder;
#[cfg(test)]
mod tests;

pub use error::RootfsError;
pub use exec::{finish_with, mount_console_with, pivot_with, premake_idmapped_with, prepare_with};
pub use plan::{
    clean_container_path, rootfs_path, DeviceMethod, DeviceStep, IdmapStep, MountKind, MountStep,
    RootfsOptions, RootfsPlan,
};
pub use procfs::ProcfsHandle;

/// Runs in the container init child, already inside its new mount namespace (and user ns if
/// any, with mappings written), BEFORE pivot: `/` propagation, rootfs bind, `mounts`,
/// devices, `/dev` symlinks and `/dev/ptmx`. Single-threaded child: allocation is fine.
pub fn prepare(plan: &RootfsPlan) -> Result<(), RootfsError> {
    prepare_premade(plan, &[])
}

/// [`prepare`], attaching the mounts [`premake_idmapped`] made (their fds inherited over the
/// clone) instead of making them.
pub fn prepare_premade(plan: &RootfsPlan, premade: &[(usize, RawFd)]) -> Result<(), RootfsError> {
    timed("rootfs prepare", || {
        prepare_with(&mut linux::LinuxMounter::with_premade(premade), plan)
    })
}

/// Detached mounts the runtime's parent made before the clone, by `mounts` index.
#[derive(Debug, Default)]
pub struct PremadeMounts(Vec<(usize, OwnedFd)>);

impl PremadeMounts {
    /// `(mounts index, fd)` pairs for [`prepare_premade`] in the child.
    pub fn raw(&self) -> Vec<(usize, RawFd)> {
        self.0.iter().map(|(i, fd)| (*i, fd.as_raw_fd())).collect()
    }
}

/// In the runtime's parent, as real root, before the clone: the id-mapped bind mounts of a
/// container that has its own user namespace. The init could not make them (`MOUNT_ATTR_IDMAP`
/// needs privilege over the host filesystem, which its user namespace lacks); it attaches
/// these instead (runc 1.2 hands such mounts to its init the same way).
pub fn premake_idmapped(plan: &RootfsPlan) -> Result<PremadeMounts, RootfsError> {
    if !plan
        .mounts
        .iter()
        .any(|m| m.idmap.as_ref().is_some_and(|i| i.premade))
    {
        return Ok(PremadeMounts::default());
    }
    timed("rootfs premake idmapped", || {
        premake_idmapped_with(&mut linux::LinuxMounter::new(), plan).map(PremadeMounts)
    })
}

/// Runs `f`, logging its duration at debug level (`--debug` shows each rootfs phase).
fn timed<T>(phase: &str, f: impl FnOnce() -> Result<T, RootfsError>) -> Result<T, RootfsError> {
    let t0 = std::time::Instant::now();
    let r = f();
    let elapsed_us = t0.elapsed().as_micros() as u64;
    tracing::debug!(elapsed_us, ok = r.is_ok(), "{phase} done");
    r
}

/// Binds the pty slave `slave` (an fd open in the child) over `/dev/console` inside the
/// rootfs. Call between [`prepare`] and [`pivot`]. `/dev/console` being a symlink is an error.
pub fn mount_console(plan: &RootfsPlan, slave: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let slave = slave
        .try_clone_to_owned()
        .map_err(|e| RootfsError::sys("console: dup pty slave fd", e))?;
    timed("rootfs console", || {
        mount_console_with(&mut linux::LinuxMounter::new(), plan, &slave)
    })
}

/// `pivot_root` into the rootfs (or `MS_MOVE` + `chroot` with `no_pivot`) and `chdir("/")`.
pub fn pivot(plan: &RootfsPlan) -> Result<(), RootfsError> {
    timed("rootfs pivot", || {
        pivot_with(&mut linux::LinuxMounter::new(), plan)
    })
}

/// After [`pivot`]: read-only paths, masked paths, read-only root remount, final
/// `rootfsPropagation`.
pub fn finish(plan: &RootfsPlan) -> Result<(), RootfsError> {
    timed("rootfs finish", || {
        finish_with(&mut linux::LinuxMounter::new(), plan)
    })
}
