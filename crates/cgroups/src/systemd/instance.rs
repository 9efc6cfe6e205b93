//! Which systemd the driver talks to: PID 1's system manager when hezi runs as real root, the
//! calling user's own manager (`systemd --user`, `user@UID.service`) when it runs rootless:
//! as an ordinary user, or as root of a user namespace (how rootless podman runs its
//! runtime). runc draws the same line.

use std::path::PathBuf;

use crate::CgroupError;

/// systemd's own socket, peer to peer, root only (what `systemctl` uses as root).
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
/// The system message bus.
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// The systemd instance that owns hezi's scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Instance {
    /// PID 1 (hezi runs as root in the initial user namespace).
    System,
    /// The manager of the user `uid` (its uid outside every user namespace), reached in
    /// `runtime_dir` (`$XDG_RUNTIME_DIR`, else `/run/user/<uid>`).
    User {
        /// The user's uid as systemd sees it: D-Bus authenticates with it.
        uid: u32,
        /// The user's runtime directory, holding `systemd/private` and `bus`.
        runtime_dir: PathBuf,
    },
}

impl Instance {
    /// The instance for this process: `System` for root in the initial user namespace,
    /// otherwise the user's manager.
    pub fn detect() -> Result<Self, CgroupError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let map = std::fs::read_to_string("/proc/self/uid_map").map_err(|e| {
            CgroupError::Systemd(format!("read /proc/self/uid_map: {e} (is /proc mounted?)"))
        })?;
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
        Self::from_parts(euid, &map, runtime_dir)
    }

    /// [`Instance::detect`] from its inputs: the effective uid, the text of
    /// `/proc/self/uid_map` and `$XDG_RUNTIME_DIR`.
    pub fn from_parts(
        euid: u32,
        uid_map: &str,
        runtime_dir: Option<PathBuf>,
    ) -> Result<Self, CgroupError> {
        let identity = uid_map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"];
        if euid == 0 && identity {
            return Ok(Instance::System);
        }
        // The kernel reports our credentials to systemd translated into its (the initial)
        // user namespace; one level of mapping is what rootless engines set up.
        let uid = outside_uid(uid_map, euid).ok_or_else(|| {
            CgroupError::Systemd(format!(
                "rootless: uid {euid} has no mapping in /proc/self/uid_map, so the user's \
                 systemd cannot authenticate this process"
            ))
        })?;
        let runtime_dir = runtime_dir
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
        Ok(Instance::User { uid, runtime_dir })
    }

    /// True for the user's manager.
    pub fn is_user(&self) -> bool {
        matches!(self, Instance::User { .. })
    }

    /// The slice of a cgroupsPath with an empty slice part: `system.slice`, or `user.slice`
    /// in the user's manager (runc's defaults).
    pub fn default_slice(&self) -> &'static str {
        match self {
            Instance::System => "system.slice",
            Instance::User { .. } => "user.slice",
        }
    }

    /// The uid to authenticate as.
    pub fn auth_uid(&self) -> u32 {
        match self {
            Instance::System => 0,
            Instance::User { uid, .. } => *uid,
        }
    }

    /// The socket to use and whether it is a message bus (true) or systemd's peer-to-peer
    /// private socket (false).
    ///
    /// System: `DBUS_SYSTEM_BUS_ADDRESS` when set, else `/run/systemd/private` when it exists,
    /// else the system bus. User: `DBUS_SESSION_BUS_ADDRESS` when set, else
    /// `<runtime dir>/systemd/private` when it exists, else `<runtime dir>/bus`.
    pub fn socket(&self) -> Result<(PathBuf, bool), CgroupError> {
        let (var, private, bus) = match self {
            Instance::System => (
                "DBUS_SYSTEM_BUS_ADDRESS",
                PathBuf::from(PRIVATE_SOCKET),
                PathBuf::from(SYSTEM_BUS_SOCKET),
            ),
            Instance::User { runtime_dir, .. } => (
                "DBUS_SESSION_BUS_ADDRESS",
                runtime_dir.join("systemd/private"),
                runtime_dir.join("bus"),
            ),
        };
        if let Some(addr) = std::env::var_os(var) {
            let addr = addr.to_string_lossy();
            return unix_path(&addr).map(|p| (p, true)).ok_or_else(|| {
                CgroupError::Systemd(format!(
                    "{var}={addr:?}: only unix:path=... addresses are supported"
                ))
            });
        }
        if private.exists() {
            return Ok((private, false));
        }
        if self.is_user() && !bus.exists() {
            return Err(CgroupError::Systemd(format!(
                "rootless --systemd-cgroup needs the user's systemd instance, but neither {} \
                 nor {} exists (is user@{}.service running? `loginctl enable-linger` starts it \
                 without a login)",
                private.display(),
                bus.display(),
                self.auth_uid()
            )));
        }
        Ok((bus, true))
    }
}

/// The path of the first `unix:path=...` address in a D-Bus address list.
fn unix_path(addr: &str) -> Option<PathBuf> {
    addr.split(';').find_map(|part| {
        part.strip_prefix("unix:")?
            .split(',')
            .find_map(|kv| kv.strip_prefix("path=").map(PathBuf::from))
    })
}

/// `uid` mapped through `uid_map` (lines `inside outside count`) to the parent namespace.
fn outside_uid(uid_map: &str, uid: u32) -> Option<u32> {
    uid_map.lines().find_map(|line| {
        let f: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [inside, outside, count] = f.as_slice() else {
            return None;
        };
        let uid = u64::from(uid);
        (uid >= *inside && uid < inside + count)
            .then(|| u32::try_from(outside + (uid - inside)).ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn root_in_the_initial_namespace_uses_pid1() {
        let i = Instance::from_parts(0, "         0          0 4294967295\n", None).unwrap();
        assert_eq!(i, Instance::System);
        assert_eq!(i.default_slice(), "system.slice");
    }

    #[test]
    fn an_ordinary_user_uses_its_own_manager() {
        let i = Instance::from_parts(1000, "0 0 4294967295\n", None).unwrap();
        assert_eq!(
            i,
            Instance::User {
                uid: 1000,
                runtime_dir: "/run/user/1000".into()
            }
        );
        assert_eq!(i.default_slice(), "user.slice");
        let i = Instance::from_parts(1000, "0 0 4294967295\n", Some("/x/xdg".into())).unwrap();
        assert_eq!(i.auth_uid(), 1000);
        assert!(
            matches!(i, Instance::User { runtime_dir, .. } if runtime_dir == Path::new("/x/xdg"))
        );
    }

    #[test]
    fn root_of_a_user_namespace_authenticates_as_its_host_uid() {
        // Rootless podman's namespace: 0 -> 1000, 1.. -> the subuid range.
        let map = "0 1000 1\n1 100000 65536\n";
        assert_eq!(Instance::from_parts(0, map, None).unwrap().auth_uid(), 1000);
        assert_eq!(
            Instance::from_parts(5, map, None).unwrap().auth_uid(),
            100004
        );
        let err = Instance::from_parts(70000, map, None).unwrap_err();
        assert!(err.to_string().contains("no mapping"), "{err}");
    }

    #[test]
    fn reads_unix_paths_from_bus_addresses() {
        assert_eq!(
            unix_path("unix:path=/run/user/1000/bus"),
            Some("/run/user/1000/bus".into())
        );
        assert_eq!(
            unix_path("tcp:host=x;unix:guid=1,path=/b"),
            Some("/b".into())
        );
        assert_eq!(unix_path("unix:abstract=/tmp/x"), None);
    }
}
