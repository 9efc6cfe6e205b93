//! The systemd cgroup driver (`--systemd-cgroup`).
//!
//! Where systemd runs, runc asks it over D-Bus to create a transient scope unit
//! (`StartTransientUnit`) named after the `slice:prefix:name` cgroupsPath. hezi does not carry a
//! D-Bus client yet: this module parses the path, refuses clearly when systemd is not running,
//! and otherwise reports the driver as unsupported rather than silently falling back to the
//! cgroupfs driver (which would fight systemd over the same hierarchy).

use std::path::Path;

use crate::{CgroupConfig, CgroupError, CgroupManager};

/// A systemd cgroupsPath `slice:prefix:name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdPath {
    /// The parent slice (`system.slice` when empty).
    pub slice: String,
    /// The unit prefix (`hezi` when empty).
    pub prefix: String,
    /// The unit name part (the container id when empty).
    pub name: String,
}

impl SystemdPath {
    /// Parses `slice:prefix:name`; an absent path means `system.slice:hezi:<id>`.
    pub fn parse(path: Option<&str>, container_id: &str) -> Result<Self, CgroupError> {
        let Some(p) = path.filter(|p| !p.is_empty()) else {
            return Ok(Self {
                slice: "system.slice".into(),
                prefix: "hezi".into(),
                name: container_id.into(),
            });
        };
        let parts: Vec<&str> = p.split(':').collect();
        let [slice, prefix, name] = parts.as_slice() else {
            return Err(CgroupError::BadPath {
                path: p.into(),
                reason: "with --systemd-cgroup the form is slice:prefix:name".into(),
            });
        };
        if slice.contains('/') || prefix.contains('/') || name.contains('/') {
            return Err(CgroupError::BadPath {
                path: p.into(),
                reason: "slice, prefix and name must not contain '/'".into(),
            });
        }
        Ok(Self {
            slice: if slice.is_empty() {
                "system.slice"
            } else {
                slice
            }
            .to_string(),
            prefix: prefix.to_string(),
            name: if name.is_empty() { container_id } else { name }.to_string(),
        })
    }

    /// The transient unit systemd would create: `<prefix>-<name>.scope`.
    pub fn unit_name(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }
}

/// True when systemd is PID 1's init (`/run/systemd/system` exists).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The systemd driver's manager.
pub fn manager(cfg: &CgroupConfig) -> Result<Box<dyn CgroupManager>, CgroupError> {
    let p = SystemdPath::parse(cfg.cgroups_path.as_deref(), &cfg.container_id)?;
    if !systemd_running() {
        return Err(CgroupError::SystemdNotRunning);
    }
    Err(CgroupError::Systemd(format!(
        "creating transient unit {} in {} over D-Bus is not implemented in this build; \
         run without --systemd-cgroup",
        p.unit_name(),
        p.slice
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slice_prefix_name() {
        let p = SystemdPath::parse(Some("machine.slice:crio:abc"), "id").unwrap();
        assert_eq!(p.slice, "machine.slice");
        assert_eq!(p.unit_name(), "crio-abc.scope");
        let d = SystemdPath::parse(None, "id").unwrap();
        assert_eq!(d.unit_name(), "hezi-id.scope");
        assert!(SystemdPath::parse(Some("/a/b"), "id").is_err());
    }

    #[test]
    fn refuses_without_systemd() {
        let mut cfg = CgroupConfig::new("c1");
        cfg.systemd = true;
        let err = manager(&cfg).err().unwrap();
        if systemd_running() {
            assert!(matches!(err, CgroupError::Systemd(_)));
        } else {
            assert_eq!(
                err.to_string(),
                "systemd cgroup driver requested but systemd is not running (no /run/systemd/system)"
            );
        }
    }
}
