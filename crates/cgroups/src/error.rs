//! The one error type of this crate. Every variant names the file, setting or path involved.

use std::path::PathBuf;

/// Errors from cgroup operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// A cgroupfs file or directory operation failed.
    #[error("cgroup {op} {path}: {source}")]
    Io {
        /// What was attempted (`write`, `read`, `mkdir`, `rmdir`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A write of a value to a cgroup file failed.
    #[error("cgroup write {value:?} to {path}: {source}")]
    Write {
        /// The file written.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file or sample text could not be parsed.
    #[error("parse {path}: {reason}")]
    Parse {
        /// The file (or a pseudo path such as `/proc/self/mountinfo`).
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A resource setting this host (or this driver) cannot enforce.
    #[error("linux.resources.{setting}: {reason}")]
    Unsupported {
        /// JSON path of the setting below `linux.resources` (e.g. `rdma`, `unified."memory.max"`).
        setting: String,
        /// Why it cannot be applied.
        reason: String,
    },
    /// A resource value that is out of range or malformed.
    #[error("linux.resources.{setting}: invalid value {value}: {reason}")]
    Invalid {
        /// JSON path of the setting below `linux.resources`.
        setting: String,
        /// The offending value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// `linux.cgroupsPath` is malformed.
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No cgroup filesystem was found.
    #[error("no cgroup filesystem mounted under {root}")]
    NoHierarchy {
        /// The root that was searched.
        root: PathBuf,
    },
    /// A controller the operation needs is not mounted.
    #[error("cgroup controller {controller} is not available on this host")]
    NoController {
        /// Controller name (`freezer`, `pids`, ...).
        controller: String,
    },
    /// `--systemd-cgroup` on a host without systemd.
    #[error("systemd cgroup driver requested but systemd is not running (no /run/systemd/system)")]
    SystemdNotRunning,
    /// The systemd driver cannot do what was asked.
    #[error("systemd cgroup driver: {0}")]
    Systemd(String),
    /// The backend this host or request needs was left out of this build (a cargo feature
    /// of hezi-cgroups is off).
    #[error("cgroup {backend} support is not built in (hezi-cgroups feature `{feature}` is off)")]
    NotBuiltIn {
        /// What is missing (`v1`, `v2`, `systemd driver`).
        backend: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// The kernel did not reach a state in time (freezer, emptying a cgroup, rmdir).
    #[error("cgroup {path}: {what} after {waited_ms} ms")]
    Timeout {
        /// The cgroup directory.
        path: PathBuf,
        /// What did not happen.
        what: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// A bpf(2) call for the v2 device filter failed.
    #[error("cgroup {path}: bpf {op}: {source}{log}")]
    Bpf {
        /// The cgroup directory.
        path: PathBuf,
        /// `BPF_PROG_LOAD`, `BPF_PROG_ATTACH`, ...
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
        /// Verifier log (empty when none), prefixed with a newline.
        log: String,
    },
}

impl CgroupError {
    /// True when the error is "no such file or directory" (a cgroup that is already gone).
    pub fn is_not_found(&self) -> bool {
        match self {
            CgroupError::Io { source, .. } | CgroupError::Write { source, .. } => {
                source.kind() == std::io::ErrorKind::NotFound
            }
            _ => false,
        }
    }
}
