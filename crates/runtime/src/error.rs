//! The error type of every fallible operation in this crate.

use std::io;
use std::path::PathBuf;

use hezi_cgroups::CgroupError;
use hezi_seccomp::SeccompError;

use crate::rootfs::RootfsError;

/// What went wrong, naming the container, path or setting involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No container with this id exists under the state root.
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    /// A container with this id already exists.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The id does not match `^[\w+-\.]+$`.
    #[error("invalid container id {0:?}: must match ^[\\w+-\\.]+$, not be . or .. and be at most 255 bytes")]
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
    /// The process's program cannot be executed; the text is Go's `exec.LookPath` wording
    /// (`exec: "/x": stat /x: no such file or directory`), which engines map to exit codes.
    #[error("{msg}")]
    Exec {
        /// The whole message.
        msg: String,
    },
    /// The container's init process reported an error during setup.
    #[error("{0}")]
    Child(String),
    /// A hook failed or timed out.
    #[error("{0}")]
    Hook(String),
    /// Cgroup setup or query failed; the hezi-cgroups error is kept whole (its message names
    /// the setting, file or unit).
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A seccomp failure described as text (prefer [`RuntimeError::SeccompFilter`], which
    /// keeps the error and its source chain).
    #[error("seccomp: {0}")]
    Seccomp(String),
    /// Compiling, installing or handing over a seccomp filter failed; the [`SeccompError`]
    /// is kept whole (its message names the syscall, rule or listener path).
    #[error(transparent)]
    SeccompFilter(#[from] SeccompError),
    /// A rootfs failure described as text (callers without a [`RootfsError`]; prefer
    /// [`RuntimeError::RootfsSetup`], which keeps the error and its source chain).
    #[error("rootfs: {0}")]
    Rootfs(String),
    /// Planning or building the rootfs failed. The [`RootfsError`] is kept whole (its message
    /// names the mount, device or path; its source is the OS error), so `?` on a
    /// `RootfsError` lands here.
    #[error(transparent)]
    RootfsSetup(#[from] RootfsError),
    /// A checkpoint or restore request to CRIU failed; the message carries CRIU's.
    #[error(transparent)]
    Criu(#[from] crate::criu::CriuError),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_rootfs_error_keeps_its_type_and_source_chain() {
        let errno = io::Error::from_raw_os_error(libc::EPERM);
        let inner = RootfsError::Sys {
            what: "mounts[2] /dev/pts: attach mount".into(),
            source: errno,
        };
        let err = RuntimeError::from(inner);
        // Same text as the RootfsError (the init sends this text to the parent) ...
        assert!(
            err.to_string()
                .starts_with("mounts[2] /dev/pts: attach mount: "),
            "{err}"
        );
        // ... the type survives for in-process callers ...
        assert!(matches!(
            &err,
            RuntimeError::RootfsSetup(RootfsError::Sys { what, .. }) if what.contains("/dev/pts")
        ));
        // ... and the OS error is reachable as the source.
        let source = err.source().expect("source");
        let io = source
            .downcast_ref::<io::Error>()
            .expect("io::Error source");
        assert_eq!(io.raw_os_error(), Some(libc::EPERM));
    }

    #[test]
    fn a_seccomp_error_keeps_its_type() {
        let err = RuntimeError::from(SeccompError::TooLarge { len: 5000 });
        assert!(err.to_string().contains("5000"), "{err}");
        assert!(matches!(
            err,
            RuntimeError::SeccompFilter(SeccompError::TooLarge { len: 5000 })
        ));
    }
}
