//! The cgroup mount: a cgroup2 mount, or a tmpfs with one directory per v1 hierarchy.

use std::ffi::OsStr;
use std::path::Path;

use crate::rootfs::cgroup::{own_cgroup_path, CgroupHierarchy, CgroupLayout};
use crate::rootfs::error::RootfsError;
use crate::rootfs::mounter::{Mounter, NodeKind, Resolve};
use crate::rootfs::options::{AttrChange, MountOptions};
use crate::rootfs::plan::RootfsPlan;

pub(super) fn mount_cgroup<M: Mounter>(
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
            let params = vec![crate::rootfs::options::FsParam::Value(
                "mode".into(),
                "755".into(),
            )];
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
