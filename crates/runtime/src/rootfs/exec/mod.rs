//! Executes a [`RootfsPlan`] through a [`Mounter`]: the order of operations lives here, the
//! syscalls live behind the trait.

use std::io;
use std::path::Path;

use super::error::RootfsError;
use super::mounter::{Mounter, NodeKind, Resolve};
use super::options::Propagation;
use super::plan::RootfsPlan;

mod cgroup;
mod dev;
mod finish;
mod mounts;

pub use dev::mount_console_with;
pub use finish::finish_with;

/// Makes, through `m`, the detached id-mapped bind mounts that `plan` marks as premade (with
/// their mount attributes set), for the runtime's parent to do before the clone: `(mounts
/// index, mount)` pairs for [`super::linux::LinuxMounter::with_premade`].
pub fn premake_idmapped_with<M: Mounter>(
    m: &mut M,
    plan: &RootfsPlan,
) -> Result<Vec<(usize, M::Fd)>, RootfsError> {
    let mut out = Vec::new();
    for step in &plan.mounts {
        let (Some(idmap), super::plan::MountKind::Bind { source, recursive }) =
            (step.idmap.as_ref().filter(|i| i.premade), &step.kind)
        else {
            continue;
        };
        let label = step.label();
        let sys = |op: &str| {
            let label = label.clone();
            let op = op.to_string();
            move |e| RootfsError::sys(format!("{label}: {op}"), e)
        };
        let tree = mounts::bind_tree(m, source, *recursive, Some(idmap), &sys)?;
        mounts::set_bind_attrs(m, &tree, &step.options).map_err(sys("set mount attributes"))?;
        out.push((step.index, tree));
    }
    Ok(out)
}

/// A container path relative to the rootfs (`/proc/sys` → `proc/sys`).
pub(super) fn rel(p: &Path) -> &Path {
    p.strip_prefix("/").unwrap_or(p)
}

pub(super) fn is_enoent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Opens `path` in `root`, creating it as `kind` if missing. A symlink where `how` forbids
/// one becomes [`RootfsError::UnsafePath`].
pub(super) fn open_or_create<M: Mounter>(
    m: &mut M,
    root: &M::Fd,
    path: &Path,
    kind: NodeKind,
    how: Resolve,
    what: &str,
) -> Result<M::Fd, RootfsError> {
    let r = match m.open_in_root(root, rel(path), how) {
        Err(e) if is_enoent(&e) => m.create_in_root(root, rel(path), kind, how),
        other => other,
    };
    r.map_err(|e| unsafe_or_sys(e, what, path, "open"))
}

pub(super) fn unsafe_or_sys(e: io::Error, what: &str, path: &Path, op: &str) -> RootfsError {
    if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::EXDEV) {
        RootfsError::UnsafePath {
            what: what.to_string(),
            path: path.to_path_buf(),
            reason: "is or goes through a symlink, which is not allowed here".to_string(),
        }
    } else {
        RootfsError::sys(format!("{what}: {op} {}", path.display()), e)
    }
}

/// Runs the part of the plan that happens before the pivot. See [`super::prepare`].
pub fn prepare_with<M: Mounter>(m: &mut M, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let _span = tracing::debug_span!("rootfs.prepare", rootfs = %plan.rootfs.display()).entered();
    if !plan.opts.new_mount_ns {
        // The runtime's mount namespace: nothing to mount (the plan refused what would need
        // a mount); `pivot` only chroots.
        return Ok(());
    }
    m.set_root_propagation(plan.root_propagation)
        .map_err(|e| RootfsError::sys("make / propagation private/slave", e))?;

    // Bind the rootfs onto itself so it is a mount point pivot_root can use.
    let label = format!("rootfs {}", plan.rootfs.display());
    if matches!(
        plan.root_propagation.kind,
        Propagation::Shared | Propagation::Unbindable
    ) {
        // pivot_root refuses a new root whose parent mount is shared, and an unbindable
        // mount cannot be cloned: like runc, the mount holding the rootfs becomes private
        // first (the unbindable flag comes back on the new `/` in `finish`).
        m.make_containing_mount_private(&plan.rootfs)
            .map_err(|e| RootfsError::sys(format!("{label}: make parent mount private"), e))?;
    }
    let tree = m
        .clone_host(&plan.rootfs, true)
        .map_err(|e| RootfsError::sys(format!("{label}: clone mount tree"), e))?;
    let under = m
        .open_host_dir(&plan.rootfs)
        .map_err(|e| RootfsError::sys(format!("{label}: open"), e))?;
    m.attach(&tree, &under)
        .map_err(|e| RootfsError::sys(format!("{label}: bind onto itself"), e))?;
    drop(under);
    drop(tree);
    // Reopen: the fd now reaches the new mount, not the directory below it.
    let root = m
        .open_host_dir(&plan.rootfs)
        .map_err(|e| RootfsError::sys(format!("{label}: reopen"), e))?;

    let old_umask = m.umask(0);
    let result = (|| {
        for step in &plan.mounts {
            mounts::do_mount(m, &root, step, plan)?;
        }
        if plan.setup_dev {
            dev::setup_dev(m, &root, plan)?;
        }
        Ok(())
    })();
    m.umask(old_umask);
    result
}

/// Pivots into the rootfs. See [`super::pivot`].
pub fn pivot_with<M: Mounter>(m: &mut M, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let _span = tracing::debug_span!("rootfs.pivot", no_pivot = plan.opts.no_pivot).entered();
    let label = format!("rootfs {}", plan.rootfs.display());
    let root = m
        .open_host_dir(&plan.rootfs)
        .map_err(|e| RootfsError::sys(format!("{label}: open"), e))?;
    if !plan.opts.new_mount_ns {
        m.chroot_into(&root)
            .map_err(|e| RootfsError::sys(format!("{label}: chroot"), e))
    } else if plan.opts.no_pivot {
        m.move_root(&root)
            .map_err(|e| RootfsError::sys(format!("{label}: move over / and chroot"), e))
    } else {
        m.pivot_root(&root)
            .map_err(|e| RootfsError::sys(format!("{label}: pivot_root"), e))
    }
}
