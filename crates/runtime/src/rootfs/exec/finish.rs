//! After the pivot: read-only paths, masked paths, read-only root, final propagation.

use std::path::{Path, PathBuf};

use super::{is_enoent, rel, unsafe_or_sys};
use crate::rootfs::error::RootfsError;
use crate::rootfs::mounter::{FileKind, Mounter, Resolve};
use crate::rootfs::options::AttrChange;
use crate::rootfs::plan::RootfsPlan;

/// Runs the part of the plan that happens after the pivot. See [`crate::rootfs::finish`].
pub fn finish_with<M: Mounter>(m: &mut M, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let _span = tracing::debug_span!("rootfs.finish").entered();
    if !plan.opts.new_mount_ns {
        return Ok(());
    }
    let root = m
        .open_host_dir(Path::new("/"))
        .map_err(|e| RootfsError::sys("open new /", e))?;
    for p in &plan.readonly_paths {
        let what = format!("readonlyPaths {}", p.display());
        let target = match m.open_in_root(&root, rel(p), Resolve::default()) {
            Err(e) if is_enoent(&e) => continue,
            other => other.map_err(|e| unsafe_or_sys(e, &what, p, "open"))?,
        };
        let ro = AttrChange {
            set: libc::MOUNT_ATTR_RDONLY,
            clr: 0,
        };
        let tree = m
            .clone_fd(&target, true)
            .map_err(|e| RootfsError::sys(format!("{what}: clone"), e))?;
        m.set_attr(&tree, ro, None, true)
            .map_err(|e| RootfsError::sys(format!("{what}: make read-only"), e))?;
        m.attach(&tree, &target)
            .map_err(|e| RootfsError::sys(format!("{what}: attach"), e))?;
    }
    mask_paths(m, &root, &plan.masked_paths)?;
    if plan.readonly_root {
        let ro = AttrChange {
            set: libc::MOUNT_ATTR_RDONLY,
            clr: 0,
        };
        m.set_attr(&root, ro, None, false)
            .map_err(|e| RootfsError::sys("root.readonly: remount / read-only", e))?;
    }
    if let Some(p) = plan.final_propagation {
        m.set_attr(&root, AttrChange::default(), Some(p), p.recursive)
            .map_err(|e| RootfsError::sys("linux.rootfsPropagation: set on /", e))?;
    }
    Ok(())
}

/// Masks each path: `/dev/null` over files, one shared empty read-only tmpfs over directories.
fn mask_paths<M: Mounter>(m: &mut M, root: &M::Fd, paths: &[PathBuf]) -> Result<(), RootfsError> {
    let mut dev_null: Option<M::Fd> = None;
    // The first masked directory gets a fresh tmpfs; the others get clones of that mount.
    let mut empty_dir: Option<M::Fd> = None;
    for p in paths {
        let what = format!("maskedPaths {}", p.display());
        let target = match m.open_in_root(root, rel(p), Resolve::default()) {
            Err(e) if is_enoent(&e) => continue,
            other => other.map_err(|e| unsafe_or_sys(e, &what, p, "open"))?,
        };
        let st = m
            .stat(&target)
            .map_err(|e| RootfsError::sys(format!("{what}: stat"), e))?;
        let mnt = if st.kind == FileKind::Dir {
            match &empty_dir {
                Some(first) => m.clone_fd(first, false),
                None => m.new_fs(
                    "tmpfs",
                    Some("tmpfs"),
                    &[crate::rootfs::options::FsParam::Value(
                        "mode".into(),
                        "555".into(),
                    )],
                    libc::MOUNT_ATTR_RDONLY
                        | libc::MOUNT_ATTR_NOSUID
                        | libc::MOUNT_ATTR_NODEV
                        | libc::MOUNT_ATTR_NOEXEC,
                ),
            }
            .map_err(|e| RootfsError::sys(format!("{what}: empty read-only directory"), e))?
        } else {
            if dev_null.is_none() {
                dev_null = Some(verified_dev_null(m, root)?);
            }
            let null = dev_null
                .as_ref()
                .ok_or_else(|| RootfsError::invalid(&what, "no /dev/null"))?;
            m.clone_fd(null, false)
                .map_err(|e| RootfsError::sys(format!("{what}: clone /dev/null"), e))?
        };
        m.attach(&mnt, &target)
            .map_err(|e| RootfsError::sys(format!("{what}: attach mask"), e))?;
        if st.kind == FileKind::Dir && empty_dir.is_none() {
            empty_dir = Some(mnt);
        }
    }
    Ok(())
}

/// Opens the container's `/dev/null` without following symlinks and checks, on that very
/// fd, that it is the 1:3 character device (CVE-2025-31133).
fn verified_dev_null<M: Mounter>(m: &mut M, root: &M::Fd) -> Result<M::Fd, RootfsError> {
    let path = Path::new("/dev/null");
    let fd = m
        .open_in_root(root, rel(path), Resolve { no_symlinks: true })
        .map_err(|e| unsafe_or_sys(e, "maskedPaths", path, "open"))?;
    let st = m
        .stat(&fd)
        .map_err(|e| RootfsError::sys("maskedPaths: stat /dev/null", e))?;
    if st.kind != FileKind::Char || st.major != 1 || st.minor != 3 {
        return Err(RootfsError::UnsafePath {
            what: "maskedPaths".into(),
            path: path.into(),
            reason: format!(
                "is not the null device 1:3 ({:?} {}:{})",
                st.kind, st.major, st.minor
            ),
        });
    }
    Ok(fd)
}
