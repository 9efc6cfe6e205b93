//! Checkpoint/restore through CRIU's RPC interface (`criu swrk`).
//!
//! hezi never parses CRIU's command-line output: it starts `criu swrk <fd>` with one end of a
//! `SOCK_SEQPACKET` socketpair and exchanges the protobuf messages of CRIU's `rpc.proto`
//! (see [`rpc`]). A host whose CRIU cannot work (for example Debian's criu 3.17 on a 6.x kernel
//! whose vDSO it does not understand) gets a [`CriuError`] that carries CRIU's own message.

pub mod rpc;
mod swrk;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub use swrk::Swrk;

/// Why a CRIU request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CriuError {
    /// The criu binary could not be started.
    #[error("cannot run criu ({path}): {source}")]
    Spawn {
        /// The criu binary tried.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Talking to `criu swrk` over the socketpair failed.
    #[error("criu rpc: {0}")]
    Io(#[from] std::io::Error),
    /// CRIU exited without answering, usually because it could not initialise on this kernel.
    #[error(
        "criu does not work on this host: criu swrk exited ({status}) without answering: {log}"
    )]
    NoAnswer {
        /// How criu exited.
        status: String,
        /// The last lines criu wrote to stderr.
        log: String,
    },
    /// CRIU answered with something that is not a valid `criu_resp`.
    #[error("criu rpc: malformed answer: {0}")]
    Decode(#[from] prost::DecodeError),
    /// CRIU answered that the request failed.
    #[error("criu {request} failed (errno {errno}): {msg}")]
    Failed {
        /// The request type, e.g. `DUMP`.
        request: String,
        /// CRIU's `cr_errno`.
        errno: i32,
        /// CRIU's `cr_errmsg`, or a pointer to its log.
        msg: String,
    },
    /// An image or work directory could not be opened.
    #[error("{path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The criu binary to use: `--criu` if given, else `criu` from `PATH`.
pub fn criu_binary(explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| PathBuf::from("criu"), Path::to_path_buf)
}

/// Ask CRIU for its version; fails with CRIU's message when CRIU cannot work on this host.
pub fn version(criu: &Path) -> Result<rpc::CriuVersion, CriuError> {
    let req = rpc::CriuReq {
        r#type: rpc::ReqType::Version as i32,
        ..Default::default()
    };
    let resp = Swrk::start(criu)?.request(&req, None)?;
    resp.version.ok_or_else(|| CriuError::Failed {
        request: "VERSION".into(),
        errno: 0,
        msg: "criu sent no version".into(),
    })
}

/// Ask CRIU whether it can checkpoint on this host (`CHECK` request); on failure the error
/// carries CRIU's own `Error` log lines.
pub fn check(criu: &Path) -> Result<(), CriuError> {
    // Removed when dropped, whatever CRIU left in it.
    let dir = tempfile::Builder::new()
        .prefix("hezi-criu-check-")
        .tempdir()
        .map_err(|source| CriuError::Dir {
            path: std::env::temp_dir(),
            source,
        })?;
    let images = open_dir(dir.path())?;
    let req = rpc::CriuReq {
        r#type: rpc::ReqType::Check as i32,
        opts: Some(rpc::CriuOpts {
            images_dir_fd: images.as_raw_fd(),
            log_file: Some("check.log".into()),
            log_level: Some(2),
            ..Default::default()
        }),
    };
    Swrk::start_with(criu, &[&images])?.request(&req, Some(&dir.path().join("check.log")))?;
    Ok(())
}

/// Options of one dump (runc's `checkpoint` flags).
#[derive(Debug, Default, Clone)]
pub struct DumpOptions {
    /// Directory the images are written to (created if missing).
    pub image_path: PathBuf,
    /// Directory for CRIU's log and work files; defaults to `image_path`.
    pub work_path: Option<PathBuf>,
    /// Previous (pre-)dump, relative to `image_path`, for an incremental dump.
    pub parent_path: Option<String>,
    /// Leave the process running after the dump.
    pub leave_running: bool,
    /// Allow open TCP connections.
    pub tcp_established: bool,
    /// Allow external unix sockets.
    pub ext_unix_sk: bool,
    /// Allow a shell job (a controlling terminal outside the tree).
    pub shell_job: bool,
    /// Dump file locks.
    pub file_locks: bool,
    /// Only dump memory, for a later incremental dump.
    pub pre_dump: bool,
    /// Deduplicate parent images.
    pub auto_dedup: bool,
}

fn open_dir(path: &Path) -> Result<std::fs::File, CriuError> {
    std::fs::create_dir_all(path)
        .and_then(|()| std::fs::File::open(path))
        .map_err(|source| CriuError::Dir {
            path: path.to_path_buf(),
            source,
        })
}

/// Dump (or pre-dump) the process tree rooted at `pid` into `opts.image_path`.
pub fn dump(criu: &Path, pid: i32, opts: &DumpOptions) -> Result<(), CriuError> {
    let images = open_dir(&opts.image_path)?;
    let work = opts.work_path.as_deref().map(open_dir).transpose()?;
    let images_fd = images.as_raw_fd();
    let work_fd = work.as_ref().map(AsRawFd::as_raw_fd);
    // criu inherits both directory fds under the same numbers.
    let mut inherit: Vec<&dyn std::os::fd::AsFd> = vec![&images];
    if let Some(w) = work.as_ref() {
        inherit.push(w);
    }
    let swrk = Swrk::start_with(criu, &inherit)?;
    let log_name = if opts.pre_dump {
        "predump.log"
    } else {
        "dump.log"
    };
    let req = rpc::CriuReq {
        r#type: if opts.pre_dump {
            rpc::ReqType::PreDump
        } else {
            rpc::ReqType::Dump
        } as i32,
        opts: Some(rpc::CriuOpts {
            images_dir_fd: images_fd,
            work_dir_fd: work_fd,
            pid: Some(pid),
            leave_running: Some(opts.leave_running || opts.pre_dump),
            tcp_established: Some(opts.tcp_established),
            ext_unix_sk: Some(opts.ext_unix_sk),
            shell_job: Some(opts.shell_job),
            file_locks: Some(opts.file_locks),
            auto_dedup: Some(opts.auto_dedup),
            track_mem: Some(opts.pre_dump),
            parent_img: opts.parent_path.clone(),
            log_file: Some(log_name.into()),
            log_level: Some(4),
            ..Default::default()
        }),
    };
    // CRIU writes its log in the work directory (the image directory without one).
    let log_dir = opts.work_path.as_deref().unwrap_or(&opts.image_path);
    swrk.request(&req, Some(&log_dir.join(log_name)))?;
    Ok(())
}
