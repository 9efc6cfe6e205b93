//! The systemd form of `linux.cgroupsPath`, `slice:prefix:name`, and where the resulting unit
//! lives in the cgroup tree.

use std::path::PathBuf;

use crate::path::CgroupPath;
use crate::CgroupError;

/// A systemd cgroupsPath `slice:prefix:name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdPath {
    /// The parent slice (`system.slice` when empty).
    pub slice: String,
    /// The unit prefix (`hezi` when the whole path is absent).
    pub prefix: String,
    /// The unit name part (the container id when empty).
    pub name: String,
}

impl SystemdPath {
    /// Parses `slice:prefix:name`; an absent path means `system.slice:hezi:<id>`.
    pub fn parse(path: Option<&str>, container_id: &str) -> Result<Self, CgroupError> {
        Self::parse_in(path, container_id, "system.slice")
    }

    /// [`SystemdPath::parse`] with `default_slice` for an absent path or an empty slice part
    /// (`user.slice` in a user's manager, as runc).
    pub fn parse_in(
        path: Option<&str>,
        container_id: &str,
        default_slice: &str,
    ) -> Result<Self, CgroupError> {
        let Some(p) = path.filter(|p| !p.is_empty()) else {
            return Ok(Self {
                slice: default_slice.into(),
                prefix: "hezi".into(),
                name: container_id.into(),
            });
        };
        let bad = |reason: &str| CgroupError::BadPath {
            path: p.into(),
            reason: reason.into(),
        };
        let parts: Vec<&str> = p.split(':').collect();
        let [slice, prefix, name] = parts.as_slice() else {
            return Err(bad("with --systemd-cgroup the form is slice:prefix:name"));
        };
        if [slice, prefix, name].iter().any(|s| s.contains('/')) {
            return Err(bad("slice, prefix and name must not contain '/'"));
        }
        let name = if name.is_empty() { container_id } else { name };
        if name.ends_with(".slice") {
            return Err(bad(
                "a .slice unit as the container's own unit is not supported (hezi creates scopes)",
            ));
        }
        let parsed = Self {
            slice: if slice.is_empty() {
                default_slice
            } else {
                slice
            }
            .to_string(),
            prefix: prefix.to_string(),
            name: name.to_string(),
        };
        expand_slice(&parsed.slice).map_err(|reason| bad(&reason))?;
        Ok(parsed)
    }

    /// The transient unit: `<prefix>-<name>.scope` (`<name>.scope` without a prefix).
    pub fn unit_name(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }

    /// Where systemd puts the unit's cgroup, below the root of each hierarchy:
    /// `system.slice/hezi-c1.scope`, `a.slice/a-b.slice/hezi-c1.scope`, ...
    pub fn cgroup_path(&self) -> Result<CgroupPath, CgroupError> {
        let mut p = expand_slice(&self.slice).map_err(|reason| CgroupError::BadPath {
            path: self.slice.clone(),
            reason,
        })?;
        p.push(self.unit_name());
        Ok(CgroupPath::Absolute(p))
    }
}

/// systemd's slice nesting: `a-b-c.slice` lives at `a.slice/a-b.slice/a-b-c.slice`; `-.slice`
/// is the root.
pub fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(format!("slice {slice:?} does not end in .slice"));
    };
    if stem == "-" {
        return Ok(PathBuf::new());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(format!("slice {slice:?} is not a valid slice name"));
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_slice_prefix_name() {
        let p = SystemdPath::parse(Some("machine.slice:crio:abc"), "id").unwrap();
        assert_eq!(p.slice, "machine.slice");
        assert_eq!(p.unit_name(), "crio-abc.scope");
        let d = SystemdPath::parse(None, "id").unwrap();
        assert_eq!(d.unit_name(), "hezi-id.scope");
        let e = SystemdPath::parse(Some("::"), "id").unwrap();
        assert_eq!(
            (e.slice.as_str(), e.unit_name()),
            ("system.slice", "id.scope".into())
        );
        for bad in [
            "/a/b",
            "a:b",
            "x.slice:p:n:q",
            "bad:p:n",
            "a--b.slice:p:n",
            "s.slice:p:x.slice",
        ] {
            assert!(SystemdPath::parse(Some(bad), "id").is_err(), "{bad}");
        }
    }

    #[test]
    fn expands_nested_slices() {
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            Path::new("system.slice")
        );
        assert_eq!(
            expand_slice("kubepods-besteffort-pod12.slice").unwrap(),
            Path::new("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), Path::new(""));
        assert!(expand_slice("-a.slice").is_err());
        assert!(expand_slice("a-.slice").is_err());
        assert!(expand_slice("a.scope").is_err());
        let p = SystemdPath::parse(Some("user-1000.slice:hezi:c1"), "c1").unwrap();
        assert_eq!(
            p.cgroup_path().unwrap(),
            CgroupPath::Absolute(PathBuf::from("user.slice/user-1000.slice/hezi-c1.scope"))
        );
    }
}
