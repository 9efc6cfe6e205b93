//! The cgroup mount: which host hierarchies exist (read once, in the parent, from
//! `/proc/self/mountinfo`) and how the container sees them (`/proc/self/cgroup`, read in the
//! child when there is no cgroup namespace).

use std::path::{Path, PathBuf};

use hezi_cgroups::hierarchy::unescape_mountinfo;
use serde::Serialize;

use super::options::FsParam;

/// One host cgroup hierarchy to show in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupHierarchy {
    /// Directory name under the cgroup mount destination (`cpu`, `systemd`, `unified`).
    pub name: String,
    /// Where the hierarchy is mounted on the host.
    pub host_mountpoint: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// `fsconfig` parameters for a fresh mount in a cgroup namespace (`cpu`, `name=systemd`).
    pub params: Vec<FsParam>,
    /// The controller field in `/proc/self/cgroup` that names this hierarchy
    /// (`cpu`, `name=systemd`, or empty for cgroup2).
    pub key: String,
}

/// The host's cgroup layout, as far as the container's cgroup mount needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CgroupLayout {
    /// A pure cgroup2 host: `/sys/fs/cgroup` is cgroup2.
    Unified {
        /// The host mountpoint of the cgroup2 hierarchy.
        host_mountpoint: PathBuf,
    },
    /// A v1 or hybrid host: a tmpfs with one directory per hierarchy.
    Legacy {
        /// The hierarchies, in mountinfo order.
        hierarchies: Vec<CgroupHierarchy>,
        /// Symlinks in the host's `/sys/fs/cgroup` (`cpu -> cpu,cpuacct`), as (name, target).
        links: Vec<(String, String)>,
    },
}

/// Superblock options of a v1 cgroup mount that are not controllers.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
    "favordynmods",
];

/// Reads the host layout from `/proc/self/mountinfo` and `/sys/fs/cgroup`.
pub fn host_layout() -> std::io::Result<CgroupLayout> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut layout = layout_from_mountinfo(&mountinfo);
    if let CgroupLayout::Legacy { links, .. } = &mut layout {
        if let Ok(dir) = std::fs::read_dir("/sys/fs/cgroup") {
            for entry in dir.flatten() {
                // An entry that vanished or cannot be typed is not a link to mirror.
                if entry.file_type().map(|t| t.is_symlink()).unwrap_or(false) {
                    if let Ok(target) = std::fs::read_link(entry.path()) {
                        if let (Some(name), Some(target)) =
                            (entry.file_name().to_str(), target.to_str())
                        {
                            links.push((name.to_string(), target.to_string()));
                        }
                    }
                }
            }
            links.sort();
        }
    }
    Ok(layout)
}

/// Parses the cgroup hierarchies under `/sys/fs/cgroup` out of a mountinfo text.
pub fn layout_from_mountinfo(mountinfo: &str) -> CgroupLayout {
    let base = Path::new("/sys/fs/cgroup");
    let mut hierarchies = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mountpoint = match left.split(' ').nth(4) {
            Some(m) => PathBuf::from(unescape_mountinfo(m)),
            None => continue,
        };
        let mut rf = right.split(' ');
        let (Some(fstype), _, Some(superopts)) = (rf.next(), rf.next(), rf.next()) else {
            continue;
        };
        match fstype {
            "cgroup2" if mountpoint == base => {
                return CgroupLayout::Unified {
                    host_mountpoint: mountpoint,
                }
            }
            "cgroup" | "cgroup2" if mountpoint.parent() == Some(base) => {}
            _ => continue,
        }
        let Some(name) = mountpoint.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let (params, key) = if fstype == "cgroup" {
            let mut params = Vec::new();
            let mut keys = Vec::new();
            for opt in superopts.split(',') {
                if NOT_CONTROLLERS.contains(&opt) || opt.starts_with("release_agent=") {
                    continue;
                }
                keys.push(opt.to_string());
                params.push(match opt.split_once('=') {
                    Some((k, v)) => FsParam::Value(k.to_string(), v.to_string()),
                    None => FsParam::Flag(opt.to_string()),
                });
            }
            (params, keys.join(","))
        } else {
            (Vec::new(), String::new())
        };
        hierarchies.push(CgroupHierarchy {
            name: name.to_string(),
            host_mountpoint: mountpoint,
            fstype: fstype.to_string(),
            params,
            key,
        });
    }
    CgroupLayout::Legacy {
        hierarchies,
        links: Vec::new(),
    }
}

/// Finds the cgroup path of the hierarchy `key` in a `/proc/self/cgroup` text
/// (`4:cpu:/hezi/x` → `/hezi/x`; key `""` matches the cgroup2 line `0::/x`).
pub fn own_cgroup_path(proc_self_cgroup: &str, key: &str) -> Option<String> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let same = if key.is_empty() {
            ctrls.is_empty()
        } else {
            let mut a: Vec<&str> = ctrls.split(',').collect();
            let mut b: Vec<&str> = key.split(',').collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        same.then(|| path.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
27 25 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
28 27 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
29 27 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
33 27 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn hybrid_layout_lists_each_hierarchy() {
        let CgroupLayout::Legacy { hierarchies, .. } = layout_from_mountinfo(HYBRID) else {
            panic!("expected legacy layout");
        };
        let names: Vec<&str> = hierarchies.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["unified", "systemd", "cpu,cpuacct"]);
        assert_eq!(hierarchies[1].key, "name=systemd");
        assert_eq!(
            hierarchies[1].params,
            vec![FsParam::Value("name".into(), "systemd".into())]
        );
        assert_eq!(hierarchies[2].key, "cpu,cpuacct");
        assert_eq!(hierarchies[0].fstype, "cgroup2");
    }

    #[test]
    fn unified_layout() {
        let mi = "30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            layout_from_mountinfo(mi),
            CgroupLayout::Unified {
                host_mountpoint: "/sys/fs/cgroup".into()
            }
        );
    }

    #[test]
    fn own_path_matches_controller_sets() {
        let text = "12:cpuacct,cpu:/a/b\n1:name=systemd:/s\n0::/u\n";
        assert_eq!(
            own_cgroup_path(text, "cpu,cpuacct").as_deref(),
            Some("/a/b")
        );
        assert_eq!(own_cgroup_path(text, "name=systemd").as_deref(), Some("/s"));
        assert_eq!(own_cgroup_path(text, "").as_deref(), Some("/u"));
        assert_eq!(own_cgroup_path(text, "memory"), None);
    }

    #[test]
    fn unescape_spaces() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
