//! Executes a [`RootfsPlan`] through a [`Mounter`]: the order of operations lives here, the
//! syscalls live behind the trait.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use super::cgroup::{own_cgroup_path, CgroupHierarchy, CgroupLayout};
use super::error::RootfsError;
use super::mounter::{FileKind, Mounter, NodeKind, NodeSpec, Resolve};
use super::options::{AttrChange, MountOptions, Propagation};
use super::plan::{DeviceMethod, DeviceStep, MountKind, MountStep, RootfsPlan};

/// A container path relative to the rootfs (`/proc/sys` → `proc/sys`).
fn rel(p: &Path) -> &Path {
    p.strip_prefix("/").unwrap_or(p)
}

fn is_enoent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Opens `path` in `root`, creating it as `kind` if missing. A symlink where `how` forbids
/// one becomes [`RootfsError::UnsafePath`].
fn open_or_create<M: Mounter>(
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

fn unsafe_or_sys(e: io::Error, what: &str, path: &Path, op: &str) -> RootfsError {
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
        return Err(RootfsError::Unsupported(
            "a rootfs without a new mount namespace (add a \"mount\" namespace)".into(),
        ));
    }
    m.set_root_propagation(plan.root_propagation)
        .map_err(|e| RootfsError::sys("make / propagation private/slave", e))?;

    // Bind the rootfs onto itself so it is a mount point pivot_root can use.
    let label = format!("rootfs {}", plan.rootfs.display());
    if plan.root_propagation.kind == Propagation::Shared {
        // pivot_root refuses a new root whose parent mount is shared.
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
            do_mount(m, &root, step, plan)?;
        }
        if plan.setup_dev {
            setup_dev(m, &root, plan)?;
        }
        Ok(())
    })();
    m.umask(old_umask);
    result
}

fn do_mount<M: Mounter>(
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
            let tree = m
                .clone_host(source, *recursive)
                .map_err(sys(&format!("clone bind source {}", source.display())))?;
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
            set_bind_attrs(m, &tree, o).map_err(sys("set mount attributes"))?;
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
            let fresh = m.new_fs(
                fstype,
                source.as_deref(),
                &o.params,
                o.attrs.set | o.rec_attrs.set,
            );
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
            m.attach(&mnt, &target).map_err(sys("attach mount"))?;
            apply_propagation(m, &mnt, o).map_err(sys("set propagation"))?;
        }
        MountKind::Cgroup(layout) => {
            let target = open_or_create(m, root, &step.destination, NodeKind::Dir, how, &label)?;
            mount_cgroup(m, &target, layout, o, plan, &label)?;
        }
    }
    Ok(())
}

/// Applies per-mount and recursive attributes to a detached bind tree.
fn set_bind_attrs<M: Mounter>(m: &mut M, tree: &M::Fd, o: &MountOptions) -> io::Result<()> {
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

fn mount_cgroup<M: Mounter>(
    m: &mut M,
    target: &M::Fd,
    layout: &CgroupLayout,
    o: &MountOptions,
    plan: &RootfsPlan,
    label: &str,
) -> Result<(), RootfsError> {
    let sys = |op: String| move |e| RootfsError::sys(format!("{label}: {op}"), e);
    let attrs = o.attrs.set | o.rec_attrs.set;
    let ns = plan.opts.new_cgroup_ns;
    let mut self_cgroup: Option<String> = None;
    let mut bind_hierarchy =
        |m: &mut M, mountpoint: &Path, key: &str| -> Result<M::Fd, RootfsError> {
            if self_cgroup.is_none() {
                self_cgroup = Some(
                    m.read_self_cgroup()
                        .map_err(sys("read /proc/self/cgroup".into()))?,
                );
            }
            let text = self_cgroup.as_deref().unwrap_or("");
            let own = own_cgroup_path(text, key).ok_or_else(|| {
                RootfsError::invalid(label, format!("no entry for {key:?} in /proc/self/cgroup"))
            })?;
            let source = mountpoint.join(own.trim_start_matches('/'));
            let t = m
                .clone_host(&source, false)
                .map_err(sys(format!("bind {}", source.display())))?;
            if attrs != 0 {
                m.set_attr(&t, AttrChange { set: attrs, clr: 0 }, None, false)
                    .map_err(sys("set mount attributes".into()))?;
            }
            Ok(t)
        };
    match layout {
        CgroupLayout::Unified { host_mountpoint } => {
            let mnt = if ns {
                m.new_fs("cgroup2", Some("cgroup2"), &[], attrs)
                    .map_err(sys("create cgroup2 filesystem".into()))?
            } else {
                bind_hierarchy(m, host_mountpoint, "")?
            };
            m.attach(&mnt, target)
                .map_err(sys("attach cgroup2".into()))?;
        }
        CgroupLayout::Legacy { hierarchies, links } => {
            let params = vec![super::options::FsParam::Value("mode".into(), "755".into())];
            let tmpfs_attrs = attrs & !libc::MOUNT_ATTR_RDONLY;
            let tmpfs = m
                .new_fs("tmpfs", Some("tmpfs"), &params, tmpfs_attrs)
                .map_err(sys("create cgroup tmpfs".into()))?;
            m.attach(&tmpfs, target)
                .map_err(sys("attach cgroup tmpfs".into()))?;
            for h in hierarchies {
                let CgroupHierarchy {
                    name,
                    host_mountpoint,
                    fstype,
                    params,
                    key,
                } = h;
                let dir = m
                    .create_in_root(&tmpfs, Path::new(name), NodeKind::Dir, Resolve::default())
                    .map_err(sys(format!("mkdir {name}")))?;
                let mnt = if ns {
                    m.new_fs(fstype, Some(fstype), params, attrs)
                        .map_err(sys(format!("create {fstype} filesystem {name}")))?
                } else {
                    bind_hierarchy(m, host_mountpoint, key)?
                };
                m.attach(&mnt, &dir)
                    .map_err(sys(format!("attach {name}")))?;
            }
            for (name, link_target) in links {
                m.symlink(&tmpfs, OsStr::new(name), Path::new(link_target), false)
                    .map_err(sys(format!("symlink {name}")))?;
            }
            if attrs & libc::MOUNT_ATTR_RDONLY != 0 {
                let ro = AttrChange {
                    set: libc::MOUNT_ATTR_RDONLY,
                    clr: 0,
                };
                m.set_attr(&tmpfs, ro, None, false)
                    .map_err(sys("make cgroup tmpfs read-only".into()))?;
            }
        }
    }
    Ok(())
}

/// Default and configured devices, `/dev/ptmx` and the `/dev` symlinks.
fn setup_dev<M: Mounter>(m: &mut M, root: &M::Fd, plan: &RootfsPlan) -> Result<(), RootfsError> {
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

/// Binds `slave` over `/dev/console` in the rootfs. See [`super::mount_console`].
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
    let tree = m
        .clone_fd(slave, false)
        .map_err(|e| RootfsError::sys("console: clone pty slave mount", e))?;
    m.attach(&tree, &target)
        .map_err(|e| RootfsError::sys("/dev/console: bind pty slave", e))?;
    Ok(())
}

/// Pivots into the rootfs. See [`super::pivot`].
pub fn pivot_with<M: Mounter>(m: &mut M, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let _span = tracing::debug_span!("rootfs.pivot", no_pivot = plan.opts.no_pivot).entered();
    let label = format!("rootfs {}", plan.rootfs.display());
    let root = m
        .open_host_dir(&plan.rootfs)
        .map_err(|e| RootfsError::sys(format!("{label}: open"), e))?;
    if plan.opts.no_pivot {
        m.move_root(&root)
            .map_err(|e| RootfsError::sys(format!("{label}: move over / and chroot"), e))
    } else {
        m.pivot_root(&root)
            .map_err(|e| RootfsError::sys(format!("{label}: pivot_root"), e))
    }
}

/// Runs the part of the plan that happens after the pivot. See [`super::finish`].
pub fn finish_with<M: Mounter>(m: &mut M, plan: &RootfsPlan) -> Result<(), RootfsError> {
    let _span = tracing::debug_span!("rootfs.finish").entered();
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
                    &[super::options::FsParam::Value("mode".into(), "555".into())],
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
