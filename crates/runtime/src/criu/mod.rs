//! Checkpoint/restore through CRIU's RPC interface (`criu swrk`).
//!
//! hezi never parses CRIU's command-line output: it starts `criu swrk <fd>` with one end of a
//! `SOCK_SEQPACKET` socketpair and exchanges the protobuf messages of CRIU's `rpc.proto`
//! (see [`rpc`]). A host whose CRIU cannot work (for example Debian's criu 3.17 on a 6.x kernel
//! whose vDSO it does not understand) gets a [`CriuError`] that carries CRIU's own message.

pub mod container;
pub mod rpc;
mod swrk;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub use swrk::{Notification, Swrk};

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
    /// hezi's handling of a CRIU notification failed (a hook, the console socket, ...).
    #[error("criu notification {script}: {msg}")]
    Notify {
        /// The notification.
        script: String,
        /// What failed.
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
        ..Default::default()
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
    /// The tree's root directory (the container's rootfs).
    pub root: Option<PathBuf>,
    /// External mounts: (mount point in the tree, key it is recorded under).
    pub ext_mounts: Vec<(String, String)>,
    /// External resources, e.g. `net[<inode>]:<key>` for a network namespace joined by path.
    pub external: Vec<String>,
    /// Let CRIU record cgroups, in this mode (`None`: CRIU's default, soft).
    pub manage_cgroups_mode: Option<rpc::CgMode>,
    /// Freeze the tree through this cgroup (a paused container's).
    pub freeze_cgroup: Option<PathBuf>,
    /// The tree has a terminal whose master is outside (a container with `terminal: true`).
    pub orphan_pts_master: bool,
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
            root: opts.root.as_ref().map(|r| r.to_string_lossy().into_owned()),
            ext_mnt: ext_mounts(&opts.ext_mounts),
            external: opts.external.clone(),
            manage_cgroups: Some(true),
            manage_cgroups_mode: opts.manage_cgroups_mode.map(|m| m as i32),
            freeze_cgroup: opts
                .freeze_cgroup
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            orphan_pts_master: Some(opts.orphan_pts_master),
            ..Default::default()
        }),
        ..Default::default()
    };
    // CRIU writes its log in the work directory (the image directory without one).
    let log_dir = opts.work_path.as_deref().unwrap_or(&opts.image_path);
    swrk.request(&req, Some(&log_dir.join(log_name)))?;
    Ok(())
}

fn ext_mounts(pairs: &[(String, String)]) -> Vec<rpc::ExtMountMap> {
    pairs
        .iter()
        .map(|(key, val)| rpc::ExtMountMap {
            key: key.clone(),
            val: val.clone(),
        })
        .collect()
}

/// Options of one restore (runc's `restore` flags plus what the container needs).
#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    /// Directory the images are read from.
    pub image_path: PathBuf,
    /// Directory for CRIU's log and work files; defaults to `image_path`.
    pub work_path: Option<PathBuf>,
    /// The directory that becomes the restored tree's root (a mount point).
    pub root: PathBuf,
    /// External mounts: (key recorded at dump, host path to bind there).
    pub ext_mounts: Vec<(String, String)>,
    /// Files the tree gets from this process's fds: (key in the image, fd number).
    pub inherit_fds: Vec<(String, i32)>,
    /// Where CRIU puts the tree's cgroups (v1: controller and path relative to its root).
    pub cgroup_roots: Vec<(Option<String>, String)>,
    /// How CRIU restores cgroups (`None`: CRIU's default, soft).
    pub manage_cgroups_mode: Option<rpc::CgMode>,
    /// Allow open TCP connections.
    pub tcp_established: bool,
    /// Allow external unix sockets.
    pub ext_unix_sk: bool,
    /// A shell job (a controlling terminal outside the tree).
    pub shell_job: bool,
    /// Restore file locks.
    pub file_locks: bool,
    /// Namespaces (clone flags) created empty instead of restored.
    pub empty_ns: u32,
    /// Deduplicate images while restoring.
    pub auto_dedup: bool,
}

/// What a restore's `prepare` step adds once CRIU runs in the container's cgroup.
#[derive(Debug, Default, Clone)]
pub struct Prepared {
    /// Cgroup roots (controller, path), see [`RestoreOptions::cgroup_roots`].
    pub cgroup_roots: Vec<(Option<String>, String)>,
    /// External mounts (key, host path), see [`RestoreOptions::ext_mounts`].
    pub ext_mounts: Vec<(String, String)>,
}

/// Restore the tree in `opts.image_path` as a child of the calling process (CRIU's
/// `rst_sibling`). `prepare` runs once `criu swrk` exists and before the request is sent,
/// with its pid (to move it into the container's cgroup: the tree is restored where CRIU
/// runs); `on_notify` gets CRIU's notifications (`setup-namespaces`, `orphan-pts-master`,
/// `post-restore`, ...). `prepare` returns what depends on where it moved CRIU (cgroup roots,
/// the host directories of v1 cgroup mounts). Returns the host pid of the restored tree's
/// root. CRIU's stdio is this process's, so inherited fds 0-2 are this process's stdio.
pub fn restore(
    criu: &Path,
    opts: &RestoreOptions,
    prepare: impl FnOnce(i32) -> Result<Prepared, String>,
    on_notify: impl FnMut(Notification) -> Result<(), String>,
) -> Result<i32, CriuError> {
    let images = open_dir(&opts.image_path)?;
    let work = opts.work_path.as_deref().map(open_dir).transpose()?;
    let mut inherit: Vec<&dyn std::os::fd::AsFd> = vec![&images];
    if let Some(w) = work.as_ref() {
        inherit.push(w);
    }
    let swrk = Swrk::start_inheriting_stdio(criu, &inherit)?;
    let more = prepare(swrk.pid()).map_err(|msg| CriuError::Notify {
        script: "prepare".into(),
        msg,
    })?;
    let mut ext_mnt = ext_mounts(&opts.ext_mounts);
    ext_mnt.extend(ext_mounts(&more.ext_mounts));
    let req = rpc::CriuReq {
        r#type: rpc::ReqType::Restore as i32,
        opts: Some(rpc::CriuOpts {
            images_dir_fd: images.as_raw_fd(),
            work_dir_fd: work.as_ref().map(AsRawFd::as_raw_fd),
            log_file: Some("restore.log".into()),
            log_level: Some(4),
            root: Some(opts.root.to_string_lossy().into_owned()),
            rst_sibling: Some(true),
            notify_scripts: Some(true),
            evasive_devices: Some(true),
            orphan_pts_master: Some(true),
            manage_cgroups: Some(true),
            manage_cgroups_mode: opts.manage_cgroups_mode.map(|m| m as i32),
            cg_root: opts
                .cgroup_roots
                .iter()
                .chain(more.cgroup_roots.iter())
                .map(|(ctrl, path)| rpc::CgroupRoot {
                    ctrl: ctrl.clone(),
                    path: path.clone(),
                })
                .collect(),
            ext_mnt,
            inherit_fd: opts
                .inherit_fds
                .iter()
                .map(|(key, fd)| rpc::InheritFd {
                    key: key.clone(),
                    fd: *fd,
                })
                .collect(),
            tcp_established: Some(opts.tcp_established),
            ext_unix_sk: Some(opts.ext_unix_sk),
            shell_job: Some(opts.shell_job),
            file_locks: Some(opts.file_locks),
            empty_ns: (opts.empty_ns != 0).then_some(opts.empty_ns),
            auto_dedup: Some(opts.auto_dedup),
            ..Default::default()
        }),
        ..Default::default()
    };
    let log_dir = opts.work_path.as_deref().unwrap_or(&opts.image_path);
    let resp = swrk.converse(&req, Some(&log_dir.join("restore.log")), on_notify)?;
    resp.restore
        .map(|r| r.pid)
        .ok_or_else(|| CriuError::Failed {
            request: "RESTORE".into(),
            errno: 0,
            msg: "criu answered without the restored pid".into(),
        })
}
