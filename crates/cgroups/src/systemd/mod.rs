//! The systemd cgroup driver (`--systemd-cgroup`).
//!
//! Like runc, hezi asks systemd over D-Bus for a transient scope unit (`StartTransientUnit`)
//! named after the `slice:prefix:name` cgroupsPath, holding the container's init, with
//! `Delegate=yes` and the limits systemd has properties for. The limits are then also written
//! through the cgroupfs backend (v1 or v2, over the unit's cgroup), which covers everything
//! systemd has no property for; `pause`, `stats`, `ps` and friends read the files directly.
//! Delete kills what is left, then stops the unit.
//!
//! The D-Bus client ([`dbus`]) is a small blocking implementation of the wire protocol:
//! systemd's private socket is used when it exists (root), else the system bus
//! (`DBUS_SYSTEM_BUS_ADDRESS` overrides).
//!
//! Rootless (an ordinary user, or root of a user namespace as under rootless podman), the
//! driver talks to the user's own manager (`user@UID.service`) instead, as runc does: its
//! private socket or the session bus in `$XDG_RUNTIME_DIR`, scopes in `user.slice` of that
//! manager by default, on cgroup v2 only (a user's systemd cannot delegate v1 controllers).

pub mod client;
pub mod dbus;
pub mod instance;
mod manager;
pub mod path;
pub mod properties;

use std::path::Path;

pub use instance::Instance;
pub use manager::SystemdManager;
pub use path::SystemdPath;

use crate::{CgroupConfig, CgroupError, CgroupManager};

/// True when systemd is the init system (`/run/systemd/system` exists).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The systemd driver's manager for `cfg`. Refuses clearly when systemd is not running.
/// Connects to systemd only when an operation needs it.
/// Rootless, the user's manager is asked where its units live, so this connects to it.
pub fn manager(cfg: &CgroupConfig) -> Result<Box<dyn CgroupManager>, CgroupError> {
    let instance = Instance::detect()?;
    let p = SystemdPath::parse_in(
        cfg.cgroups_path.as_deref(),
        &cfg.container_id,
        instance.default_slice(),
    )?;
    if !systemd_running() {
        return Err(CgroupError::SystemdNotRunning);
    }
    Ok(Box::new(SystemdManager::new(cfg, p, instance)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_without_systemd() {
        let mut cfg = CgroupConfig::new("c1");
        cfg.systemd = true;
        if systemd_running() {
            eprintln!("skipped: systemd runs here");
            return;
        }
        let err = manager(&cfg).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("systemd cgroup driver requested but systemd is not running (no /run/systemd/system)")
        );
        cfg.cgroups_path = Some("/not/systemd".into());
        let err = manager(&cfg)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("slice:prefix:name"), "{err}");
    }
}
