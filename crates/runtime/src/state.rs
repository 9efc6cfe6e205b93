//! The container record kept under `<root>/<id>/state.json`, its derived status, and the
//! runtime-spec state document printed by `hezi state`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// Name of the state file inside a container's directory.
pub const STATE_FILE: &str = "state.json";
/// Name of the exec fifo inside a container's directory.
pub const EXEC_FIFO: &str = "exec.fifo";

pub use hezi_spec::state::{RuncState, Status};

/// What the runtime records about a container at create time (everything later commands need:
/// delete needs the cgroup and poststop hooks, exec needs the namespaces and process defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// The container id.
    pub id: String,
    /// Host pid of the container's init process.
    pub pid: i32,
    /// Start time of the init (field 22 of `/proc/<pid>/stat`), to detect pid reuse.
    pub pid_start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 in UTC.
    pub created: String,
    /// Name of the user that created the container.
    pub owner: String,
    /// The cgroup the container was placed in (as given to hezi-cgroups), if any.
    pub cgroup_path: Option<String>,
    /// Whether the cgroup is managed through systemd.
    pub systemd_cgroup: bool,
    /// True when the container runs without a cgroup (rootless, nothing delegated).
    #[serde(default)]
    pub cgroup_disabled: bool,
    /// False while `create` is still setting the container up: the record is written before
    /// each side effect (cgroup, init process) so that `delete --force` can undo whatever a
    /// killed `create` left, and completed only once the init is ready. Records written by
    /// older versions lack the field and were complete.
    #[serde(default = "complete_by_default")]
    pub complete: bool,
    /// The parsed config.json the container was created from.
    pub config: Spec,
}

fn complete_by_default() -> bool {
    true
}

/// Writes `data` to `path` atomically: a temporary file in the same directory, fsync-free
/// (state lives on tmpfs), then rename over the target. The file is 0644 (pid files).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// [`write_atomic`] with the file mode `mode`, set explicitly so the umask cannot widen or
/// narrow it.
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        RuntimeError::io(format!("write {}", path.display()), e)
    })
}

impl ContainerRecord {
    /// Saves the record as `<dir>/state.json` atomically, mode 0600: it holds the whole
    /// config, environment secrets included, so only its owner may read it.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let data = serde_json::to_vec(self).map_err(|e| RuntimeError::State {
            id: self.id.clone(),
            msg: format!("serialize: {e}"),
        })?;
        write_atomic_mode(&dir.join(STATE_FILE), &data, 0o600)
    }

    /// Reads `<dir>/state.json`.
    pub fn read(dir: &Path, id: &str) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        let data = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RuntimeError::NotExist(id.to_string())
            } else {
                RuntimeError::io(format!("read {}", path.display()), e)
            }
        })?;
        serde_json::from_slice(&data).map_err(|e| RuntimeError::State {
            id: id.to_string(),
            msg: format!("{}: {e}", path.display()),
        })
    }

    /// The annotations of the config, sorted.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.config
            .annotations()
            .as_ref()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The state document `hezi state` prints (runc's shape) and hooks read, for a given status.
    pub fn oci_state(&self, status: Status) -> RuncState {
        RuncState {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations(),
        }
    }
}

/// Creates the state root `root` (and its parents) mode 0700 whatever the umask. An existing
/// root must be a directory; one that others can list is reported (not changed: `--root` may
/// point anywhere, and hezi does not re-mode a directory it did not make).
pub fn ensure_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match fs::metadata(root) {
        Ok(m) if !m.is_dir() => Err(RuntimeError::Io {
            what: format!("--root {}", root.display()),
            source: std::io::Error::other("not a directory"),
        }),
        Ok(m) => {
            // Search-only bits (containerd makes its roots 0711) expose nothing: ids cannot
            // be listed and state.json is 0600.
            if m.permissions().mode() & 0o044 != 0 && only_hezi_state(root, &m) {
                // Ours (a root made by an older hezi, e.g. /run/hezi 0755): tighten it.
                fs::set_permissions(root, fs::Permissions::from_mode(0o700))
                    .map_err(|e| RuntimeError::io(format!("chmod {}", root.display()), e))?;
                tracing::info!(root = %root.display(), "state root tightened to 0700");
            } else if m.permissions().mode() & 0o044 != 0 {
                tracing::warn!(
                    root = %root.display(),
                    mode = format!("{:o}", m.permissions().mode() & 0o7777),
                    "the state root is readable by other users (hezi makes it 0700); container configs and environments in it are exposed"
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)
                    .map_err(|e| RuntimeError::io(format!("create {}", parent.display()), e))?;
            }
            match fs::DirBuilder::new().mode(0o700).create(root) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(RuntimeError::io(format!("create {}", root.display()), e)),
            }
            fs::set_permissions(root, fs::Permissions::from_mode(0o700))
                .map_err(|e| RuntimeError::io(format!("chmod {}", root.display()), e))
        }
        Err(e) => Err(RuntimeError::io(format!("--root {}", root.display()), e)),
    }
}

/// True when `root` (whose metadata is `m`) belongs to this user and holds nothing but
/// container state directories (or nothing): a state root hezi made, safe to re-mode.
fn only_hezi_state(root: &Path, m: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    if m.uid() != nix::unistd::geteuid().as_raw() {
        return false;
    }
    let Ok(entries) = fs::read_dir(root) else {
        return false;
    };
    entries.take(10_000).all(|e| {
        e.is_ok_and(|e| {
            e.file_type().is_ok_and(|t| t.is_dir()) && e.path().join(STATE_FILE).is_file()
        })
    })
}

/// Formats a time since the epoch as RFC 3339 UTC with nanoseconds, like Go's
/// `time.RFC3339Nano` (`2026-11-23T14:53:05.123456789Z`).
pub fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs() as i64;
    let nanos = since_epoch.subsec_nanos();
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// The current time as RFC 3339.
pub fn now_rfc3339() -> String {
    // Err only for a clock set before 1970: stamp the epoch rather than fail a create.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now)
}

/// Name of the user with this uid from /etc/passwd, or the number (also when /etc/passwd
/// cannot be read: the owner column is informational, and `list` must not fail over it).
pub fn user_name(uid: u32) -> String {
    if uid == 0 {
        return "root".into();
    }
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let u = f.nth(1)?.parse::<u32>().ok()?;
                (u == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(
            rfc3339(Duration::from_secs(0)),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            rfc3339(Duration::new(1_795_445_585, 5)),
            "2026-11-23T14:53:05.000000005Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn record_roundtrip_and_state_pid_zero_when_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rec = ContainerRecord {
            id: "c1".into(),
            pid: 42,
            pid_start_time: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: "root".into(),
            cgroup_path: None,
            systemd_cgroup: false,
            cgroup_disabled: false,
            complete: true,
            config: Spec::default(),
        };
        rec.save(dir.path()).expect("save");
        let back = ContainerRecord::read(dir.path(), "c1").expect("read");
        assert_eq!(back.pid, 42);
        assert_eq!(back.oci_state(Status::Running).pid, 42);
        assert_eq!(back.oci_state(Status::Stopped).pid, 0);
        let json = serde_json::to_value(back.oci_state(Status::Created)).expect("json");
        assert_eq!(json["status"], "created");
        assert_eq!(json["ociVersion"], Spec::default().version().as_str());
    }

    #[test]
    fn missing_state_is_not_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = ContainerRecord::read(dir.path(), "zz").expect_err("missing");
        assert_eq!(err.to_string(), "container \"zz\" does not exist");
    }
}
