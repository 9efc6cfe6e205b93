//! The error type of the rootfs module.

use std::io;
use std::path::PathBuf;

/// What went wrong while planning or building the container's filesystem view.
///
/// Every variant names the thing: the mount index in `config.json` and the path inside the
/// rootfs, the device path, or the masked/readonly path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootfsError {
    /// `config.json` asks for something that is invalid on its face.
    #[error("{what}: {reason}")]
    InvalidConfig {
        /// The JSON path or item, e.g. `mounts[3] /proc` or `root.path`.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A feature hezi does not implement; never silently ignored.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A kernel operation failed; `what` names the item and the operation.
    #[error("{what}: {source}")]
    Sys {
        /// The item and operation, e.g. `mounts[2] /dev/pts: attach mount`.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A path in the rootfs that must be a real directory or file is a symlink or of the wrong
    /// kind (the defence against symlink attacks, e.g. `/dev` or `/proc` being a symlink).
    #[error("{what}: {path} inside the rootfs {reason}")]
    UnsafePath {
        /// The item, e.g. `mounts[0] /proc` or `device /dev/null`.
        what: String,
        /// The path inside the rootfs.
        path: PathBuf,
        /// What is wrong with it, e.g. `is a symlink`.
        reason: String,
    },
}

impl RootfsError {
    /// Builds a [`RootfsError::Sys`] naming `what`.
    pub(crate) fn sys(what: impl Into<String>, source: io::Error) -> Self {
        let mut what = what.into();
        if source.raw_os_error() == Some(libc::ENOSYS) {
            what.push_str(" (this kernel lacks the new mount API; hezi needs Linux 5.12 or later)");
        }
        RootfsError::Sys { what, source }
    }

    /// Builds a [`RootfsError::InvalidConfig`].
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        RootfsError::InvalidConfig {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
