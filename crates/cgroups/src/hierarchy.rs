//! Finding the cgroup filesystems: which hierarchy the host runs (unified, hybrid, legacy),
//! where each v1 controller is mounted (from `/proc/self/mountinfo`), and which cgroup this
//! process is in (from `/proc/self/cgroup`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::CgroupError;

/// The v1 controllers hezi knows how to drive (plus `name=systemd`, which is only joined):
/// mountinfo parsing recognises these, and the v1 backend creates a container cgroup in each
/// one that is mounted.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "rdma",
    "perf_event",
    "misc",
];

/// The key of systemd's named v1 hierarchy (mounted at `/sys/fs/cgroup/systemd` on v1 and
/// hybrid hosts), as `/proc/<pid>/cgroup` and runc's `cgroup_paths` name it.
pub const SYSTEMD_NAMED: &str = "name=systemd";

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hierarchy {
    /// cgroup2 at the root (`/sys/fs/cgroup`), no v1 controllers.
    Unified,
    /// v1 controllers plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// v1 controllers only.
    Legacy,
}

/// One cgroup mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The cgroup path that appears at the mountpoint (`/` unless bind-mounted or in a cgroup
    /// namespace).
    pub root: PathBuf,
}

/// The cgroup mounts below one root directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts {
    /// v1 controller name (`cpu`, `memory`, `name=systemd`, ...) → its mount.
    pub v1: BTreeMap<String, Mount>,
    /// The cgroup2 mount, if any.
    pub unified: Option<Mount>,
    /// The root that was searched (`/sys/fs/cgroup`).
    pub root: PathBuf,
}

impl Mounts {
    /// Parses mountinfo text, keeping cgroup mounts at or below `root`.
    pub fn from_mountinfo(text: &str, root: &Path) -> Result<Self, CgroupError> {
        let mut m = Mounts {
            root: root.to_path_buf(),
            ..Default::default()
        };
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: &str| CgroupError::Parse {
                path: PathBuf::from("/proc/self/mountinfo"),
                reason: format!("line {}: {reason}: {line:?}", n + 1),
            };
            let (pre, post) = line
                .split_once(" - ")
                .ok_or_else(|| bad("no ' - ' separator"))?;
            let pre: Vec<&str> = pre.split(' ').collect();
            if pre.len() < 5 {
                return Err(bad("too few fields"));
            }
            let post: Vec<&str> = post.split(' ').collect();
            let fstype = post.first().copied().unwrap_or("");
            if fstype != "cgroup" && fstype != "cgroup2" {
                continue;
            }
            let mountpoint = PathBuf::from(unescape_mountinfo(pre[4]));
            if !mountpoint.starts_with(root) {
                continue;
            }
            let mount = Mount {
                mountpoint,
                root: PathBuf::from(unescape_mountinfo(pre[3])),
            };
            if fstype == "cgroup2" {
                m.unified = Some(mount);
                continue;
            }
            let opts = post.get(2).copied().unwrap_or("");
            for opt in opts.split(',') {
                if V1_CONTROLLERS.contains(&opt) || opt.starts_with("name=") {
                    m.v1.insert(opt.to_string(), mount.clone());
                }
            }
        }
        Ok(m)
    }

    /// Reads `/proc/self/mountinfo` for mounts under `root`. When none is found there (a fake
    /// tree in tests), falls back to [`Mounts::scan_dir`].
    pub fn for_root(root: &Path) -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let m = Self::from_mountinfo(&text, root)?;
        if m.v1.is_empty() && m.unified.is_none() {
            return Self::scan_dir(root);
        }
        Ok(m)
    }

    /// Infers the mounts from a directory layout: `root/cgroup.controllers` means cgroup2 at
    /// the root; otherwise each subdirectory named after v1 controllers (`cpu,cpuacct`) is a v1
    /// mount and `root/unified` with `cgroup.controllers` is the cgroup2 mount.
    pub fn scan_dir(root: &Path) -> Result<Self, CgroupError> {
        let mut m = Mounts {
            root: root.to_path_buf(),
            ..Default::default()
        };
        let slash = PathBuf::from("/");
        if root.join("cgroup.controllers").exists() {
            m.unified = Some(Mount {
                mountpoint: root.to_path_buf(),
                root: slash,
            });
            return Ok(m);
        }
        let entries = std::fs::read_dir(root).map_err(|source| CgroupError::Io {
            op: "read directory",
            path: root.to_path_buf(),
            source,
        })?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if !dir.is_dir() {
                continue;
            }
            let mount = Mount {
                mountpoint: dir.clone(),
                root: slash.clone(),
            };
            if name == "unified" && dir.join("cgroup.controllers").exists() {
                m.unified = Some(mount);
            } else if name == "systemd" {
                m.v1.insert(SYSTEMD_NAMED.into(), mount);
            } else {
                for c in name.split(',') {
                    if V1_CONTROLLERS.contains(&c) {
                        m.v1.insert(c.to_string(), mount.clone());
                    }
                }
            }
        }
        if m.v1.is_empty() && m.unified.is_none() {
            return Err(CgroupError::NoHierarchy {
                root: root.to_path_buf(),
            });
        }
        Ok(m)
    }

    /// Which hierarchy these mounts form.
    pub fn hierarchy(&self) -> Hierarchy {
        let has_v1 = self.v1.keys().any(|k| !k.starts_with("name="));
        match (has_v1, &self.unified) {
            (false, Some(_)) => Hierarchy::Unified,
            (true, Some(_)) => Hierarchy::Hybrid,
            _ => Hierarchy::Legacy,
        }
    }

    /// The controllers the cgroup2 mount offers (its root's `cgroup.controllers`); none
    /// without a cgroup2 mount. A root whose `cgroup.controllers` cannot be read offers
    /// nothing usable either; that failure is logged with its path.
    pub fn unified_controllers(&self) -> Vec<String> {
        let Some(u) = &self.unified else {
            return Vec::new();
        };
        match crate::fsutil::read(&u.mountpoint, "cgroup.controllers") {
            Ok(t) => t.split_whitespace().map(str::to_string).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cgroup2 controllers unknown");
                Vec::new()
            }
        }
    }
}

/// Detects the hierarchy of the cgroup filesystems under `root`.
pub fn detect(root: &Path) -> Result<Hierarchy, CgroupError> {
    Ok(Mounts::for_root(root)?.hierarchy())
}

/// Undoes mountinfo's octal escapes (`\040` for a space) in one field of a
/// `/proc/<pid>/mountinfo` line (mount point, root). Shared with hezi-runtime's cgroup mount.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroups of a process as `/proc/<pid>/cgroup` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// v1 controller (`memory`, `name=systemd`, ...) → cgroup path.
    pub v1: BTreeMap<String, PathBuf>,
    /// The v2 path (the `0::` line).
    pub unified: Option<PathBuf>,
}

impl OwnCgroups {
    /// Parses `/proc/<pid>/cgroup` text.
    pub fn parse(text: &str) -> Result<Self, CgroupError> {
        let mut out = OwnCgroups::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut it = line.splitn(3, ':');
            let (Some(_id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
                return Err(CgroupError::Parse {
                    path: PathBuf::from("/proc/self/cgroup"),
                    reason: format!("malformed line {line:?}"),
                });
            };
            if ctrls.is_empty() {
                out.unified = Some(PathBuf::from(path));
            } else {
                for c in ctrls.split(',') {
                    out.v1.insert(c.to_string(), PathBuf::from(path));
                }
            }
        }
        Ok(out)
    }

    /// This process's cgroups.
    pub fn current() -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/cgroup");
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }
}

/// Where `rel` (a resolved cgroupsPath) lives inside one mount, given the caller's cgroup
/// `own` in that hierarchy (used only for relative paths).
pub fn dir_in_mount(mount: &Mount, own: Option<&Path>, rel: &crate::path::CgroupPath) -> PathBuf {
    match rel {
        crate::path::CgroupPath::Absolute(p) => mount.mountpoint.join(p),
        crate::path::CgroupPath::Relative(p) => {
            let own = own.unwrap_or(Path::new("/"));
            // The mount shows `mount.root`; the caller's cgroup is relative to the hierarchy.
            let inside = own.strip_prefix(&mount.root).unwrap_or(Path::new(""));
            let inside = inside.strip_prefix("/").unwrap_or(inside);
            mount.mountpoint.join(inside).join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const UNIFIED: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
";
    const LEGACY: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";

    #[test]
    fn detects_hybrid_with_separate_cpu_and_cpuacct() {
        let m = Mounts::from_mountinfo(HYBRID, Path::new("/sys/fs/cgroup")).unwrap();
        assert_eq!(m.hierarchy(), Hierarchy::Hybrid);
        assert_eq!(m.v1["cpu"].mountpoint, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(
            m.v1["cpuacct"].mountpoint,
            Path::new("/sys/fs/cgroup/cpuacct")
        );
        assert!(m.v1.contains_key("name=systemd"));
        assert_eq!(
            m.unified.unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn detects_unified_and_legacy() {
        let u = Mounts::from_mountinfo(UNIFIED, Path::new("/sys/fs/cgroup")).unwrap();
        assert_eq!(u.hierarchy(), Hierarchy::Unified);
        let l = Mounts::from_mountinfo(LEGACY, Path::new("/sys/fs/cgroup")).unwrap();
        assert_eq!(l.hierarchy(), Hierarchy::Legacy);
        assert_eq!(
            l.v1["cpu"].mountpoint,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(l.v1["memory"].root, Path::new("/docker/abc"));
    }

    #[test]
    fn ignores_mounts_outside_root_and_rejects_garbage() {
        let m = Mounts::from_mountinfo(HYBRID, Path::new("/elsewhere")).unwrap();
        assert!(m.v1.is_empty() && m.unified.is_none());
        let err = Mounts::from_mountinfo("garbage line", Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("mountinfo"), "{err}");
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
    }

    #[test]
    fn parses_proc_cgroup_and_joins_relative_paths() {
        let own = OwnCgroups::parse("4:memory:/docker/abc/user\n2:cpu,cpuacct:/\n0::/init.scope\n")
            .unwrap();
        assert_eq!(own.v1["memory"], Path::new("/docker/abc/user"));
        assert_eq!(own.v1["cpuacct"], Path::new("/"));
        assert_eq!(own.unified.as_deref(), Some(Path::new("/init.scope")));
        let mount = Mount {
            mountpoint: PathBuf::from("/sys/fs/cgroup/memory"),
            root: PathBuf::from("/docker/abc"),
        };
        let rel = crate::path::CgroupPath::Relative(PathBuf::from("c1"));
        assert_eq!(
            dir_in_mount(&mount, own.v1.get("memory").map(|p| p.as_path()), &rel),
            Path::new("/sys/fs/cgroup/memory/user/c1")
        );
        let abs = crate::path::CgroupPath::Absolute(PathBuf::from("hezi/c1"));
        assert_eq!(
            dir_in_mount(&mount, None, &abs),
            Path::new("/sys/fs/cgroup/memory/hezi/c1")
        );
    }

    #[test]
    fn scans_fake_trees() {
        let t = tempfile::tempdir().unwrap();
        for d in ["cpu", "memory", "systemd", "unified"] {
            std::fs::create_dir(t.path().join(d)).unwrap();
        }
        std::fs::write(t.path().join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
        let m = Mounts::scan_dir(t.path()).unwrap();
        assert_eq!(m.hierarchy(), Hierarchy::Hybrid);
        assert_eq!(m.unified_controllers(), vec!["hugetlb".to_string()]);
        let u = tempfile::tempdir().unwrap();
        std::fs::write(u.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(
            Mounts::scan_dir(u.path()).unwrap().hierarchy(),
            Hierarchy::Unified
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            Mounts::scan_dir(empty.path()),
            Err(CgroupError::NoHierarchy { .. })
        ));
    }
}
