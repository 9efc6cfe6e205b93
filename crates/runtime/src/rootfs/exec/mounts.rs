//! One entry of `mounts`: a bind, a new filesystem instance, or the cgroup view.

use std::io;
use std::path::Path;

use super::{is_enoent, open_or_create, rel, unsafe_or_sys};
use crate::rootfs::error::RootfsError;
use crate::rootfs::mounter::{FileKind, Mounter, NodeKind, Resolve};
use crate::rootfs::options::{AttrChange, MountOptions};
use crate::rootfs::plan::{MountKind, MountStep, RootfsPlan};

pub(super) fn do_mount<M: Mounter>(
    m: &mut M,
    root: &M::Fd,
    step: &MountStep,
    plan: &RootfsPlan,
) -> Result<(), RootfsError> {
    let label = step.label();
    let _span = tracing::debug_span!("rootfs.mount", mount = %label).entered();
    let sys = |op: &str| {
        let label = label.clone();
        let op = op.to_string();
        move |e| RootfsError::sys(format!("{label}: {op}"), e)
    };
    let o = &step.options;
    let how = Resolve {
        no_symlinks: step.needs_real_dir(),
    };
    match &step.kind {
        MountKind::Bind { source, recursive } => {
            // An id-mapped bind the parent made (attributes already set): only attached here.
            let premade = m
                .take_premade(step.index)
                .map_err(sys("take the premade mount"))?;
            let is_premade = premade.is_some();
            if step.idmap.as_ref().is_some_and(|i| i.premade) && !is_premade {
                return Err(RootfsError::Unsupported(format!(
                    "{label}: the id-mapped mount was not prepared by the runtime's parent"
                )));
            }
            let tree = match premade {
                Some(t) => t,
                None => bind_tree(m, source, *recursive, step.idmap.as_ref(), &sys)?,
            };
            let target = match m.open_in_root(root, rel(&step.destination), how) {
                Err(e) if is_enoent(&e) => {
                    let st = m.stat(&tree).map_err(sys("stat bind source"))?;
                    let kind = if st.kind == FileKind::Dir {
                        NodeKind::Dir
                    } else {
                        NodeKind::File
                    };
                    m.create_in_root(root, rel(&step.destination), kind, how)
                }
                other => other,
            }
            .map_err(|e| unsafe_or_sys(e, &label, &step.destination, "open destination"))?;
            if !is_premade {
                set_bind_attrs(m, &tree, o).map_err(sys("set mount attributes"))?;
            }
            m.attach(&tree, &target).map_err(sys("attach mount"))?;
            apply_propagation(m, &tree, o).map_err(sys("set propagation"))?;
        }
        MountKind::Fs { fstype, source } => {
            let target = open_or_create(m, root, &step.destination, NodeKind::Dir, how, &label)?;
            if step.needs_real_dir() {
                let st = m.stat(&target).map_err(sys("stat destination"))?;
                if st.kind != FileKind::Dir {
                    return Err(RootfsError::UnsafePath {
                        what: label,
                        path: step.destination.clone(),
                        reason: "is not a directory".into(),
                    });
                }
            }
            let mut attrs = o.attrs.set | o.rec_attrs.set;
            if o.tmpcopyup {
                // Fill the tmpfs while it is writable; read-only comes after the copy.
                attrs &= !libc::MOUNT_ATTR_RDONLY;
            }
            let fresh = m.new_fs(fstype, source.as_deref(), &o.params, attrs);
            let mnt = match fresh {
                // sysfs needs a network namespace owned by our user namespace; like runc, fall
                // back to a recursive bind of the host's /sys.
                Err(e)
                    if fstype == "sysfs"
                        && plan.opts.in_user_ns
                        && e.kind() == io::ErrorKind::PermissionDenied =>
                {
                    let t = m
                        .clone_host(Path::new("/sys"), true)
                        .map_err(sys("rbind /sys"))?;
                    set_bind_attrs(m, &t, o).map_err(sys("set mount attributes"))?;
                    t
                }
                other => other.map_err(sys(&format!("create {fstype} filesystem")))?,
            };
            if o.tmpcopyup {
                m.copy_tree(&target, &mnt).map_err(sys("tmpcopyup"))?;
                if (o.attrs.set | o.rec_attrs.set) & libc::MOUNT_ATTR_RDONLY != 0 {
                    let ro = AttrChange {
                        set: libc::MOUNT_ATTR_RDONLY,
                        clr: 0,
                    };
                    m.set_attr(&mnt, ro, None, false)
                        .map_err(sys("make read-only"))?;
                }
            }
            m.attach(&mnt, &target).map_err(sys("attach mount"))?;
            apply_propagation(m, &mnt, o).map_err(sys("set propagation"))?;
        }
        MountKind::Cgroup(layout) => {
            let target = open_or_create(m, root, &step.destination, NodeKind::Dir, how, &label)?;
            super::cgroup::mount_cgroup(m, &target, layout, o, plan, &label)?;
        }
    }
    Ok(())
}

/// Applies per-mount and recursive attributes to a detached bind tree.
/// A detached copy of the host tree at `source`, id-mapped when `idmap` says so.
pub(crate) fn bind_tree<M: Mounter, S, F>(
    m: &mut M,
    source: &Path,
    recursive: bool,
    idmap: Option<&crate::rootfs::plan::IdmapStep>,
    sys: &S,
) -> Result<M::Fd, RootfsError>
where
    S: Fn(&str) -> F,
    F: FnOnce(io::Error) -> RootfsError,
{
    let tree = m
        .clone_host(source, recursive)
        .map_err(sys(&format!("clone bind source {}", source.display())))?;
    if let Some(idmap) = idmap {
        let userns = m
            .new_userns(&idmap.uid_map, &idmap.gid_map)
            .map_err(sys("create the id-mapping user namespace"))?;
        m.set_idmap(&tree, &userns, idmap.recursive)
            .map_err(sys("id-map the mount"))?;
    }
    Ok(tree)
}

pub(crate) fn set_bind_attrs<M: Mounter>(
    m: &mut M,
    tree: &M::Fd,
    o: &MountOptions,
) -> io::Result<()> {
    if !o.rec_attrs.is_empty() {
        m.set_attr(tree, o.rec_attrs, None, true)?;
    }
    if !o.attrs.is_empty() {
        m.set_attr(tree, o.attrs, None, false)?;
    }
    Ok(())
}

fn apply_propagation<M: Mounter>(m: &mut M, mnt: &M::Fd, o: &MountOptions) -> io::Result<()> {
    for p in &o.propagation {
        m.set_attr(mnt, AttrChange::default(), Some(*p), p.recursive)?;
    }
    Ok(())
}
