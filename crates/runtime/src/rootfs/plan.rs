//! [`RootfsPlan`]: plain data describing every mount, device and path operation, built in the
//! parent from `config.json` (no syscalls but a `realpath` of the rootfs and one read of the
//! host's cgroup layout when a cgroup mount is asked for).

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, LinuxIdMapping, Spec};
use serde::Serialize;

use super::cgroup::{self, CgroupLayout};
use super::error::RootfsError;
use super::options::Propagation;
use super::options::{parse_mount_options, parse_propagation, MountOptions, PropagationChange};

/// Options that come from the CLI and the namespace setup rather than from the rootfs config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RootfsOptions {
    /// `--no-pivot`: move the rootfs over `/` and `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// The container has its own user namespace: devices are bind-mounted from the host
    /// instead of created with `mknod`, and locked mount flags are never cleared.
    pub in_user_ns: bool,
    /// `process.terminal`: a console will be bound with [`super::mount_console`].
    pub terminal: bool,
    /// The container has its own cgroup namespace: cgroup filesystems are mounted fresh
    /// instead of bind-mounted from the host.
    pub new_cgroup_ns: bool,
    /// The container has a mount namespace of its own, new or joined by path. Without one the
    /// container shares the runtime's: nothing is mounted and the init only `chroot`s into
    /// the rootfs (see [`RootfsPlan::new`]).
    pub new_mount_ns: bool,
    /// The runtime runs as real root (the initial user namespace), so its parent process can
    /// id-map host filesystems for a container that has a user namespace of its own (see
    /// [`super::premake_idmapped`]); a rootless runtime cannot.
    pub privileged: bool,
}

/// What a mount entry mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MountKind {
    /// A bind mount of a host path (`bind` or `rbind` in the options, or type `bind`).
    Bind {
        /// The host source (relative sources are taken from the bundle).
        source: PathBuf,
        /// `rbind`: copy the whole mount tree.
        recursive: bool,
    },
    /// A new filesystem instance (`proc`, `sysfs`, `tmpfs`, `devpts`, `mqueue`, ...).
    Fs {
        /// The filesystem type.
        fstype: String,
        /// The `source` parameter (`proc`, `tmpfs`, ...), if any.
        source: Option<String>,
    },
    /// A `cgroup` mount: the host's hierarchies as the container should see them.
    Cgroup(CgroupLayout),
}

/// One entry of `config.json`'s `mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountStep {
    /// Index in `mounts`, for error messages.
    pub index: usize,
    /// The destination inside the rootfs, absolute and lexically clean.
    pub destination: PathBuf,
    /// What to mount.
    pub kind: MountKind,
    /// The parsed options.
    pub options: MountOptions,
    /// For an id-mapped bind mount: the mappings of the user namespace that maps it.
    pub idmap: Option<IdmapStep>,
}

/// The id mapping of an id-mapped mount (`idmap`/`ridmap` with `uidMappings`/`gidMappings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdmapStep {
    /// `uid_map` text: one `containerID hostID size` line per mapping.
    pub uid_map: String,
    /// `gid_map` text, same format.
    pub gid_map: String,
    /// Made by the runtime's parent before the clone ([`super::premake_idmapped`]) because
    /// the container has its own user namespace, which lacks the privilege over the host
    /// filesystem that `MOUNT_ATTR_IDMAP` needs; the init only attaches it.
    pub premade: bool,
    /// `ridmap`: map every mount of the tree, not only the top one.
    pub recursive: bool,
}

/// The `uid_map`/`gid_map` text of a mapping list.
fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Reads a mount's id mapping. Mappings without `idmap` imply `idmap` (as runc does);
/// `idmap` without mappings takes the container's own user namespace mappings
/// (`container_maps`, runc 1.2's rule), and is refused without a user namespace of its own.
fn idmap_step(
    m: &oci_spec::runtime::Mount,
    options: &MountOptions,
    opts: &RootfsOptions,
    container_maps: Option<(&[LinuxIdMapping], &[LinuxIdMapping])>,
    label: &str,
) -> Result<Option<IdmapStep>, RootfsError> {
    let (mut uids, mut gids) = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
    if options.idmap.is_none() && uids.is_none() && gids.is_none() {
        return Ok(None);
    }
    if uids.is_none() && gids.is_none() {
        if let Some((u, g)) = container_maps.filter(|_| opts.in_user_ns) {
            (uids, gids) = (Some(u), Some(g));
        }
    }
    let (Some(uids), Some(gids)) = (uids, gids) else {
        if uids.is_none() && gids.is_none() {
            return Err(RootfsError::Unsupported(format!(
                "{label}: idmap without uidMappings/gidMappings needs the container's own user \
                 namespace mappings (linux.uidMappings/gidMappings) to map to"
            )));
        }
        return Err(RootfsError::invalid(
            label,
            "uidMappings and gidMappings must both be given",
        ));
    };
    if uids.is_empty() || gids.is_empty() {
        return Err(RootfsError::invalid(
            label,
            "empty uidMappings or gidMappings",
        ));
    }
    // With a user namespace (the container's own, or the runtime's when rootless) the init
    // cannot id-map a host filesystem; as root the parent does it before the clone and hands
    // the mount over, as runc 1.2 does. A rootless runtime has no such privilege anywhere.
    if opts.in_user_ns && !opts.privileged {
        return Err(RootfsError::Unsupported(format!(
            "{label}: id-mapped mounts need hezi to run as real root (rootless, no process \
             may id-map the host's filesystems)"
        )));
    }
    Ok(Some(IdmapStep {
        premade: opts.in_user_ns,
        uid_map: map_text(uids),
        gid_map: map_text(gids),
        recursive: options.idmap.unwrap_or(false),
    }))
}

impl MountStep {
    /// `mounts[3] /proc`, the label of this step in errors and logs.
    pub fn label(&self) -> String {
        format!("mounts[{}] {}", self.index, self.destination.display())
    }

    /// True for `proc` and `sysfs` mounts, whose target must be a real directory.
    pub fn needs_real_dir(&self) -> bool {
        matches!(&self.kind, MountKind::Fs { fstype, .. } if fstype == "proc" || fstype == "sysfs")
    }
}

/// How a device node gets into the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeviceMethod {
    /// `mknod` (outside a user namespace).
    Mknod,
    /// Bind mount of the host node with the same path (inside a user namespace).
    BindHost,
}

/// A device node to create under the rootfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceStep {
    /// Absolute, clean path inside the container (`/dev/null`).
    pub path: PathBuf,
    /// `S_IFCHR`/`S_IFBLK`/`S_IFIFO` ORed with permission bits.
    pub mode: u32,
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// Owner, if given.
    pub uid: Option<u32>,
    /// Group, if given.
    pub gid: Option<u32>,
    /// `mknod` or bind.
    pub method: DeviceMethod,
}

/// Plain data describing every mount, device and path operation to do, built in the parent
/// before clone. Printable (`Debug`, `Serialize`) and unit-testable without root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootfsPlan {
    /// The rootfs, absolute and with symlinks resolved.
    pub rootfs: PathBuf,
    /// CLI and namespace options.
    pub opts: RootfsOptions,
    /// Propagation of `/` before anything is mounted (default `rslave`).
    pub root_propagation: PropagationChange,
    /// `linux.rootfsPropagation`, applied again to the new `/` at the end.
    pub final_propagation: Option<PropagationChange>,
    /// `mounts`, in order.
    pub mounts: Vec<MountStep>,
    /// Whether hezi populates `/dev` (false when `/dev` is a bind mount from the host).
    pub setup_dev: bool,
    /// Default devices plus `linux.devices`.
    pub devices: Vec<DeviceStep>,
    /// Symlinks in `/dev`, as (name in `/dev`, target).
    pub dev_symlinks: Vec<(String, PathBuf)>,
    /// `linux.maskedPaths`, clean and absolute.
    pub masked_paths: Vec<PathBuf>,
    /// `linux.readonlyPaths`, clean and absolute.
    pub readonly_paths: Vec<PathBuf>,
    /// `root.readonly`.
    pub readonly_root: bool,
}

/// The devices every container gets (runc's and the OCI spec's list), all `0666` char devices.
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Lexically cleans an absolute-or-relative container path into an absolute one: `.` dropped,
/// `..` pops (never above `/`). The result has only normal components after `/`.
pub fn clean_container_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Files below `/proc` that may be mounted over (lxcfs-style views), as runc allows.
const PROC_OVERLAYS: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// `/proc` itself takes only a procfs; below it only the [`PROC_OVERLAYS`] may be covered
/// (a mount over e.g. `/proc/self/attr` or `/proc/sys` could disable security settings:
/// CVE-2019-16884, CVE-2019-19921).
fn check_proc_destination(dest: &Path, kind: &MountKind, label: &str) -> Result<(), RootfsError> {
    let proc_dir = Path::new("/proc");
    if dest == proc_dir {
        if matches!(kind, MountKind::Fs { fstype, .. } if fstype == "proc") {
            return Ok(());
        }
        return Err(RootfsError::invalid(
            label,
            "only a proc filesystem may be mounted on /proc",
        ));
    }
    if dest.starts_with(proc_dir) && !PROC_OVERLAYS.iter().any(|p| dest == Path::new(p)) {
        return Err(RootfsError::invalid(
            label,
            format!("mounting over {} is not allowed", dest.display()),
        ));
    }
    Ok(())
}

/// The absolute, resolved rootfs directory of `spec` (`root.path`, relative to `bundle`).
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, RootfsError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| RootfsError::invalid("root", "config.json has no root"))?;
    let rootfs = bundle.join(root.path());
    std::fs::canonicalize(&rootfs)
        .map_err(|e| RootfsError::sys(format!("root.path {}", rootfs.display()), e))
}

impl RootfsPlan {
    /// Builds the plan from a parsed (and validated) spec. `bundle` anchors a relative
    /// `root.path` and relative bind sources.
    pub fn new(spec: &Spec, bundle: &Path, opts: RootfsOptions) -> Result<Self, RootfsError> {
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| RootfsError::invalid("root", "config.json has no root"))?;
        let rootfs = rootfs_path(spec, bundle)?;
        let linux = spec.linux().as_ref();
        let own_mount_ns = linux
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| {
                ns.iter().any(|n| {
                    n.typ() == oci_spec::runtime::LinuxNamespaceType::Mount && n.path().is_none()
                })
            });
        if rootfs == Path::new("/") && own_mount_ns {
            return Err(RootfsError::invalid(
                "root.path",
                format!(
                    "{} is the host's root directory: a container needs a root filesystem of its own (a bundle's rootfs directory)",
                    root.path().display()
                ),
            ));
        }

        if let Some(label) = linux.and_then(|l| l.mount_label().as_deref()) {
            if !label.is_empty() {
                return Err(RootfsError::Unsupported(format!(
                    "linux.mountLabel {label:?}: SELinux mount labels are not implemented"
                )));
            }
        }

        let final_propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
            None | Some("") => None,
            Some(p) => Some(parse_propagation(p).ok_or_else(|| {
                RootfsError::invalid("linux.rootfsPropagation", format!("unknown value {p:?}"))
            })?),
        };
        let root_propagation = final_propagation.unwrap_or(PropagationChange {
            kind: Propagation::Slave,
            recursive: true,
        });

        let mut mounts = Vec::new();
        let mut cgroup_layout: Option<CgroupLayout> = None;
        for (index, m) in spec.mounts().iter().flatten().enumerate() {
            let destination = clean_container_path(m.destination());
            let label = format!("mounts[{index}] {}", m.destination().display());
            if m.destination().as_os_str().is_empty() {
                return Err(RootfsError::invalid(label, "empty destination"));
            }
            let options = parse_mount_options(m.options().as_deref().unwrap_or(&[]))
                .map_err(|e| RootfsError::invalid(&label, e))?;
            let container_maps = linux
                .and_then(|l| Some((l.uid_mappings().as_deref()?, l.gid_mappings().as_deref()?)));
            let idmap = idmap_step(m, &options, &opts, container_maps, &label)?;
            let typ = m.typ().as_deref().unwrap_or("");
            let kind = if options.bind.is_some() || typ == "bind" {
                let source = m
                    .source()
                    .as_ref()
                    .ok_or_else(|| RootfsError::invalid(&label, "bind mount without source"))?;
                MountKind::Bind {
                    source: bundle.join(source),
                    recursive: options.bind.unwrap_or(false),
                }
            } else if typ == "cgroup" {
                if cgroup_layout.is_none() {
                    cgroup_layout = Some(cgroup::host_layout().map_err(|e| {
                        RootfsError::sys(format!("{label}: read host cgroup layout"), e)
                    })?);
                }
                MountKind::Cgroup(cgroup_layout.clone().unwrap_or(CgroupLayout::Legacy {
                    hierarchies: Vec::new(),
                    links: Vec::new(),
                }))
            } else if typ.is_empty() {
                return Err(RootfsError::invalid(label, "no type and not a bind mount"));
            } else {
                MountKind::Fs {
                    fstype: typ.to_string(),
                    source: m
                        .source()
                        .as_ref()
                        .map(|s| s.to_string_lossy().into_owned()),
                }
            };
            check_proc_destination(&destination, &kind, &label)?;
            if idmap.is_some() && !matches!(kind, MountKind::Bind { .. }) {
                return Err(RootfsError::invalid(
                    label,
                    "id-mapped mounts must be bind mounts",
                ));
            }
            if options.tmpcopyup
                && !matches!(&kind, MountKind::Fs { fstype, .. } if fstype == "tmpfs")
            {
                return Err(RootfsError::invalid(label, "tmpcopyup needs a tmpfs mount"));
            }
            mounts.push(MountStep {
                index,
                destination,
                kind,
                options,
                idmap,
            });
        }

        let dev = Path::new("/dev");
        let setup_dev = !mounts
            .iter()
            .any(|m| m.destination == dev && matches!(m.kind, MountKind::Bind { .. }));
        let method = if opts.in_user_ns {
            DeviceMethod::BindHost
        } else {
            DeviceMethod::Mknod
        };
        let mut devices: Vec<DeviceStep> = Vec::new();
        if setup_dev {
            let config_devices = linux.and_then(|l| l.devices().as_ref());
            for (i, d) in config_devices.into_iter().flatten().enumerate() {
                let what = format!("linux.devices[{i}] {}", d.path().display());
                let ftype = match d.typ() {
                    LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
                    LinuxDeviceType::B => libc::S_IFBLK,
                    LinuxDeviceType::P => libc::S_IFIFO,
                    LinuxDeviceType::A => {
                        return Err(RootfsError::invalid(
                            what,
                            "type \"a\" is not a device node",
                        ))
                    }
                };
                let (major, minor) = (d.major(), d.minor());
                if major < 0 || minor < 0 {
                    return Err(RootfsError::invalid(what, "negative major or minor"));
                }
                let path = clean_container_path(d.path());
                if path == dev || !path.starts_with(dev) {
                    return Err(RootfsError::invalid(what, "device path must be under /dev"));
                }
                let step = DeviceStep {
                    path,
                    mode: ftype | (d.file_mode().unwrap_or(0o666) & 0o7777),
                    major: major as u64,
                    minor: minor as u64,
                    uid: d.uid(),
                    gid: d.gid(),
                    method,
                };
                devices.retain(|x| x.path != step.path);
                devices.push(step);
            }
            for &(path, major, minor) in DEFAULT_DEVICES {
                if !devices.iter().any(|d| d.path == Path::new(path)) {
                    devices.push(DeviceStep {
                        path: PathBuf::from(path),
                        mode: libc::S_IFCHR | 0o666,
                        major,
                        minor,
                        uid: None,
                        gid: None,
                        method,
                    });
                }
            }
        }
        let mut dev_symlinks = Vec::new();
        if setup_dev {
            dev_symlinks.push(("fd".to_string(), PathBuf::from("/proc/self/fd")));
            dev_symlinks.push(("stdin".to_string(), PathBuf::from("/proc/self/fd/0")));
            dev_symlinks.push(("stdout".to_string(), PathBuf::from("/proc/self/fd/1")));
            dev_symlinks.push(("stderr".to_string(), PathBuf::from("/proc/self/fd/2")));
            let has_proc = mounts
                .iter()
                .any(|m| matches!(&m.kind, MountKind::Fs { fstype, .. } if fstype == "proc"));
            // Like runc: only when the kernel has /proc/kcore at all.
            if has_proc && Path::new("/proc/kcore").exists() {
                dev_symlinks.push(("core".to_string(), PathBuf::from("/proc/kcore")));
            }
        }

        let clean_list = |v: Option<&Vec<String>>| -> Vec<PathBuf> {
            v.into_iter()
                .flatten()
                .map(|p| clean_container_path(Path::new(p)))
                .collect()
        };
        let masked_paths = clean_list(linux.and_then(|l| l.masked_paths().as_ref()));
        let readonly_paths = clean_list(linux.and_then(|l| l.readonly_paths().as_ref()));
        let readonly_root = root.readonly().unwrap_or(false);
        if !opts.new_mount_ns {
            // The runtime's own mount namespace: runc would mount into it (and make the
            // host's `/` rslave); hezi never changes the host's mounts, so everything that
            // needs a mount is refused by name and the init only chroots.
            let needs_mount = [
                (!mounts.is_empty(), "mounts"),
                (!masked_paths.is_empty(), "linux.maskedPaths"),
                (!readonly_paths.is_empty(), "linux.readonlyPaths"),
                (readonly_root, "root.readonly"),
                (final_propagation.is_some(), "linux.rootfsPropagation"),
                (
                    linux.is_some_and(|l| l.devices().as_ref().is_some_and(|d| !d.is_empty())),
                    "linux.devices",
                ),
                (opts.terminal, "process.terminal"),
            ];
            if let Some((_, setting)) = needs_mount.iter().find(|(needed, _)| *needed) {
                return Err(RootfsError::invalid(
                    *setting,
                    "needs a mount namespace (add one to linux.namespaces): without one the \
                     container shares the runtime's, where hezi makes no mounts",
                ));
            }
        }
        let setup_dev = setup_dev && opts.new_mount_ns;
        let plan = RootfsPlan {
            rootfs,
            opts,
            root_propagation,
            final_propagation,
            mounts,
            setup_dev,
            devices,
            dev_symlinks,
            masked_paths,
            readonly_paths,
            readonly_root,
        };
        // Only serialized when debug logging is on; plain data, so to_string cannot fail.
        tracing::debug!(
            plan = %serde_json::to_string(&plan).unwrap_or_default(),
            "rootfs plan"
        );
        Ok(plan)
    }
}
