//! `linux.cgroupsPath` as runc reads it (cgroupfs driver).
//!
//! * absolute (`/a/b`): relative to the root of every hierarchy;
//! * relative (`a/b`): relative to the cgroup of the calling process in each hierarchy (as runc
//!   does for a relative path);
//! * absent: `/hezi/<id>`. runc uses the relative path `<id>` (below its own cgroup); hezi
//!   chooses an absolute default so that containers never land inside whatever cgroup the
//!   caller (a shell, a CI job, a systemd service) happens to be in, and all hezi cgroups are
//!   found under one directory per hierarchy.
//!
//! The path is cleaned lexically like runc's `CleanPath`: `..` can never climb above the
//! hierarchy root (or above the caller's cgroup for a relative path).

use std::path::{Component, Path, PathBuf};

use crate::CgroupError;

/// A cleaned cgroups path, always without a leading `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPath {
    /// Below the root of each hierarchy.
    Absolute(PathBuf),
    /// Below the caller's own cgroup in each hierarchy.
    Relative(PathBuf),
}

impl CgroupPath {
    /// The cleaned path without its leading `/`.
    pub fn as_path(&self) -> &Path {
        match self {
            CgroupPath::Absolute(p) | CgroupPath::Relative(p) => p,
        }
    }
}

/// The directory below each hierarchy root that holds hezi's default container cgroups.
pub const HEZI_PARENT: &str = "hezi";

/// True when `rel` is a default-style path `/hezi/<name>`, whose parent hezi creates and
/// may remove when it is empty.
pub fn in_hezi_parent(rel: &CgroupPath) -> bool {
    let mut parts = rel.as_path().components();
    matches!(rel, CgroupPath::Absolute(_))
        && parts.next().is_some_and(|c| c.as_os_str() == HEZI_PARENT)
        && parts.next().is_some()
        && parts.next().is_none()
}

/// Resolves `cgroups_path` (or the default for `container_id`).
pub fn resolve(cgroups_path: Option<&str>, container_id: &str) -> Result<CgroupPath, CgroupError> {
    let raw = match cgroups_path {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => format!("/{HEZI_PARENT}/{container_id}"),
    };
    if raw.contains('\0') {
        return Err(CgroupError::BadPath {
            path: raw,
            reason: "contains a NUL byte".into(),
        });
    }
    let absolute = raw.starts_with('/');
    let mut clean = PathBuf::new();
    for c in Path::new(&raw).components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if clean.as_os_str().is_empty() && !absolute {
        return Err(CgroupError::BadPath {
            path: raw,
            reason: "resolves to the caller's own cgroup".into(),
        });
    }
    if clean.as_os_str().is_empty() {
        return Err(CgroupError::BadPath {
            path: raw,
            reason: "resolves to the root cgroup, which a container cannot own".into(),
        });
    }
    Ok(if absolute {
        CgroupPath::Absolute(clean)
    } else {
        CgroupPath::Relative(clean)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_hezi_id() {
        assert_eq!(
            resolve(None, "c1").unwrap(),
            CgroupPath::Absolute(PathBuf::from("hezi/c1"))
        );
        assert_eq!(
            resolve(Some(""), "c1").unwrap(),
            CgroupPath::Absolute(PathBuf::from("hezi/c1"))
        );
    }

    #[test]
    fn only_default_style_paths_own_their_parent() {
        assert!(in_hezi_parent(&resolve(None, "c1").unwrap()));
        assert!(in_hezi_parent(&resolve(Some("/hezi/x"), "c1").unwrap()));
        assert!(!in_hezi_parent(
            &resolve(Some("/kubepods/x"), "c1").unwrap()
        ));
        assert!(!in_hezi_parent(&resolve(Some("/hezi/a/b"), "c1").unwrap()));
        assert!(!in_hezi_parent(&resolve(Some("hezi/x"), "c1").unwrap()));
    }

    #[test]
    fn absolute_and_relative() {
        assert_eq!(
            resolve(Some("/a/b"), "x").unwrap(),
            CgroupPath::Absolute(PathBuf::from("a/b"))
        );
        assert_eq!(
            resolve(Some("a/./b"), "x").unwrap(),
            CgroupPath::Relative(PathBuf::from("a/b"))
        );
    }

    #[test]
    fn dotdot_cannot_escape() {
        assert_eq!(
            resolve(Some("/../../etc/x"), "x").unwrap(),
            CgroupPath::Absolute(PathBuf::from("etc/x"))
        );
        assert_eq!(
            resolve(Some("a/../../b"), "x").unwrap(),
            CgroupPath::Relative(PathBuf::from("b"))
        );
        let e = resolve(Some("/.."), "x").unwrap_err();
        assert!(e.to_string().contains("root cgroup"), "{e}");
        assert!(resolve(Some("a/.."), "x").is_err());
    }
}
