//! The error type of every fallible operation in this crate.

use std::io;
use std::path::PathBuf;

/// What went wrong, naming the container, path or setting involved.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No container with this id exists under the state root.
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    /// A container with this id already exists.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The id does not match `^[\w+-\.]+$`.
    #[error("invalid container id {0:?}: must match ^[\\w+-\\.]+$ and not be . or ..")]
    InvalidId(String),
    /// The operation does not fit the container's current status.
    #[error("{0}")]
    WrongStatus(String),
    /// The bundle's config.json could not be read or parsed.
    #[error("bundle {bundle}: {msg}")]
    Config {
        /// The bundle directory.
        bundle: PathBuf,
        /// What was wrong.
        msg: String,
    },
    /// A setting is valid but this build cannot apply it (never silently ignored).
    #[error("{setting}: {msg}")]
    Unsupported {
        /// The JSON path of the setting in config.json (or the flag).
        setting: String,
        /// Why it cannot be applied.
        msg: String,
    },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path or object.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The container's init process reported an error during setup.
    #[error("{0}")]
    Child(String),
    /// A hook failed or timed out.
    #[error("{0}")]
    Hook(String),
    /// Cgroup setup or query failed.
    #[error("cgroup: {0}")]
    Cgroup(String),
    /// Seccomp compile or install failed.
    #[error("seccomp: {0}")]
    Seccomp(String),
    /// The rootfs setup failed.
    #[error("rootfs: {0}")]
    Rootfs(String),
    /// The state file is missing fields or malformed.
    #[error("state of container {id}: {msg}")]
    State {
        /// The container id.
        id: String,
        /// What was wrong.
        msg: String,
    },
}

impl RuntimeError {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        RuntimeError::Io {
            what: what.into(),
            source,
        }
    }

    /// Wraps a nix errno with a description of what was being done.
    pub fn sys(what: impl Into<String>, errno: nix::errno::Errno) -> Self {
        RuntimeError::Io {
            what: what.into(),
            source: io::Error::from_raw_os_error(errno as i32),
        }
    }
}

/// Shorthand result type.
pub type Result<T> = std::result::Result<T, RuntimeError>;
