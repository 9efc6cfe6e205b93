//! `/dev`: device nodes, `/dev/ptmx`, the `/dev` symlinks and the console.

use std::ffi::OsStr;
use std::path::Path;

use super::{open_or_create, unsafe_or_sys};
use crate::rootfs::error::RootfsError;
use crate::rootfs::mounter::{FileKind, Mounter, NodeKind, NodeSpec, Resolve};
use crate::rootfs::plan::{DeviceMethod, DeviceStep, RootfsPlan};

/// Default and configured devices, `/dev/ptmx` and the `/dev` symlinks.
pub(super) fn setup_dev<M: Mounter>(
    m: &mut M,
    root: &M::Fd,
    plan: &RootfsPlan,
) -> Result<(), RootfsError> {
    let _span = tracing::debug_span!("rootfs.dev").entered();
    let strict = Resolve { no_symlinks: true };
    let dev_path = Path::new("/dev");
    let dev = open_or_create(m, root, dev_path, NodeKind::Dir, strict, "/dev")?;
    let st = m
        .stat(&dev)
        .map_err(|e| RootfsError::sys("/dev: stat", e))?;
    if st.kind != FileKind::Dir {
        return Err(RootfsError::UnsafePath {
            what: "/dev".into(),
            path: dev_path.into(),
            reason: "is not a directory".into(),
        });
    }
    for d in &plan.devices {
        create_device(m, root, &dev, d)?;
    }
    m.symlink(&dev, OsStr::new("ptmx"), Path::new("pts/ptmx"), true)
        .map_err(|e| RootfsError::sys("/dev/ptmx: symlink to pts/ptmx", e))?;
    for (name, target) in &plan.dev_symlinks {
        m.symlink(&dev, OsStr::new(name), target, false)
            .map_err(|e| RootfsError::sys(format!("/dev/{name}: symlink"), e))?;
    }
    Ok(())
}

fn create_device<M: Mounter>(
    m: &mut M,
    root: &M::Fd,
    dev: &M::Fd,
    d: &DeviceStep,
) -> Result<(), RootfsError> {
    let what = format!("device {}", d.path.display());
    let Some(name) = d.path.file_name() else {
        return Err(RootfsError::invalid(what, "no file name"));
    };
    // Parent: /dev itself (already checked) or a directory below it, resolved in the root.
    let parent_path = d.path.parent().unwrap_or(Path::new("/dev"));
    let owned_parent;
    let parent = if parent_path == Path::new("/dev") {
        dev
    } else {
        owned_parent = open_or_create(
            m,
            root,
            parent_path,
            NodeKind::Dir,
            Resolve::default(),
            &what,
        )?;
        &owned_parent
    };
    match d.method {
        DeviceMethod::Mknod => {
            let node = NodeSpec {
                mode: d.mode,
                major: d.major,
                minor: d.minor,
            };
            m.mknod(parent, name, node)
                .map_err(|e| RootfsError::sys(format!("{what}: mknod"), e))?;
            if d.uid.is_some() || d.gid.is_some() {
                let (uid, gid) = (d.uid.unwrap_or(u32::MAX), d.gid.unwrap_or(u32::MAX));
                m.chown(parent, name, uid, gid)
                    .map_err(|e| RootfsError::sys(format!("{what}: chown"), e))?;
            }
        }
        DeviceMethod::BindHost => {
            let tree = m
                .clone_host(&d.path, false)
                .map_err(|e| RootfsError::sys(format!("{what}: clone host node"), e))?;
            let target = m
                .create_in_root(
                    parent,
                    Path::new(name),
                    NodeKind::File,
                    Resolve { no_symlinks: true },
                )
                .map_err(|e| unsafe_or_sys(e, &what, &d.path, "create bind target"))?;
            m.attach(&tree, &target)
                .map_err(|e| RootfsError::sys(format!("{what}: attach host node"), e))?;
        }
    }
    Ok(())
}

/// Binds `slave` over `/dev/console` in the rootfs. See [`crate::rootfs::mount_console`].
pub fn mount_console_with<M: Mounter>(
    m: &mut M,
    plan: &RootfsPlan,
    slave: &M::Fd,
) -> Result<(), RootfsError> {
    let what = "/dev/console";
    let root = m
        .open_host_dir(&plan.rootfs)
        .map_err(|e| RootfsError::sys(format!("rootfs {}: open", plan.rootfs.display()), e))?;
    let strict = Resolve { no_symlinks: true };
    let target = open_or_create(m, &root, Path::new(what), NodeKind::File, strict, what)?;
    let st = m
        .stat(slave)
        .map_err(|e| RootfsError::sys("console: stat pty slave", e))?;
    if st.kind != FileKind::Char {
        return Err(RootfsError::invalid(
            "console",
            "the pty slave is not a character device",
        ));
    }
    let tree = match m.clone_fd(slave, false) {
        // The slave was opened in another mount namespace (e.g. before clone): open_tree
        // refuses to copy a foreign mount, so bind its path as seen in ours instead.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let path = m
                .fd_path(slave)
                .map_err(|e| RootfsError::sys("console: path of pty slave", e))?;
            let tree = m
                .clone_host(&path, false)
                .map_err(|e| RootfsError::sys(format!("console: clone {}", path.display()), e))?;
            let st = m
                .stat(&tree)
                .map_err(|e| RootfsError::sys("console: stat pty slave", e))?;
            if st.kind != FileKind::Char {
                return Err(RootfsError::invalid(
                    "console",
                    format!("{} is not a character device", path.display()),
                ));
            }
            tree
        }
        other => other.map_err(|e| RootfsError::sys("console: clone pty slave mount", e))?,
    };
    m.attach(&tree, &target)
        .map_err(|e| RootfsError::sys("/dev/console: bind pty slave", e))?;
    Ok(())
}
