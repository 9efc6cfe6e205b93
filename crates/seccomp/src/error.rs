//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while compiling, caching, installing or
/// notifying. Messages name the syscall, argument, path or operation involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// The profile JSON could not be parsed (unknown action, operator,
    /// architecture or flag names end up here, with serde's line and column).
    #[error("invalid seccomp profile JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The architecture cannot be compiled for (no syscall table).
    #[error("unsupported seccomp architecture {arch}")]
    UnsupportedArch {
        /// The architecture name as in runtime-spec (e.g. `SCMP_ARCH_PPC64`).
        arch: String,
    },
    /// `SCMP_ACT_NOTIFY` was used as the default action.
    #[error("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")]
    NotifyDefaultAction,
    /// An argument condition names an argument index above 5.
    #[error(
        "linux.seccomp.syscalls[{rule}] ({syscall}): argument index {index} is out of range 0..=5"
    )]
    ArgIndex {
        /// Index of the rule in `linux.seccomp.syscalls`.
        rule: usize,
        /// The syscall name.
        syscall: String,
        /// The offending index.
        index: usize,
    },
    /// The compiled program exceeds the kernel's limit of 4096 instructions.
    #[error("compiled seccomp filter has {len} instructions, more than the kernel limit of 4096")]
    TooLarge {
        /// Number of instructions produced.
        len: usize,
    },
    /// A serialized filter (cache entry) is malformed.
    #[error("malformed serialized seccomp filter: {reason}")]
    Decode {
        /// What was wrong.
        reason: &'static str,
    },
    /// A syscall (seccomp(2), ioctl, socket call) failed.
    #[error("{op} failed: {source}")]
    Sys {
        /// The operation (e.g. `seccomp(SECCOMP_SET_MODE_FILTER)`).
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Talking to the seccomp agent at `listenerPath` failed.
    #[error("seccomp listener {path}: {op}: {source}")]
    Listener {
        /// The listener socket path.
        path: PathBuf,
        /// The step that failed (connect, sendmsg, ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the compiled-filter cache failed.
    #[error("seccomp cache {path}: {source}")]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl SeccompError {
    /// Wrap the current `errno` as a [`SeccompError::Sys`] for `op`.
    pub(crate) fn last_os(op: &'static str) -> Self {
        SeccompError::Sys {
            op,
            source: std::io::Error::last_os_error(),
        }
    }
}
