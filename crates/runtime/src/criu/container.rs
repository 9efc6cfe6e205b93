//! Checkpoint and restore of a whole container (`hezi checkpoint`, `hezi restore`), on top of
//! the RPC requests of [`super`]: what CRIU must be told about a container (its root, the
//! bind mounts that come from the host, a network namespace joined by path, its cgroup, a
//! terminal) and what hezi keeps around it (the state record, hooks, `descriptors.json`).
//! The choices follow runc's, so that images written by one restore with the other.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use super::rpc::CgMode;
use super::{CriuError, DumpOptions, Notification, Prepared};
use crate::container::Container;
use crate::create::Cleanup;
use crate::error::{Result, RuntimeError};
use crate::hooks::{run_hooks, HookKind};
use crate::id::validate_id;
use crate::lock::DirLock;
use crate::procinfo;
use crate::state::{now_rfc3339, user_name, write_atomic, ContainerRecord, Status};

/// The file in the image directory that records what the init's fds 0-2 were (runc's name
/// and format: a JSON array of `readlink /proc/<pid>/fd/N`), so that a restore can hand
/// pipes back through `inherit_fd`.
pub const DESCRIPTORS_FILE: &str = "descriptors.json";

/// The key under which a network namespace joined by path is recorded (runc's).
const EXT_NETNS_KEY: &str = "extRootNetNS";

/// `hezi checkpoint` options (runc's flags).
#[derive(Debug, Default, Clone)]
pub struct CheckpointOptions {
    /// The criu binary.
    pub criu: PathBuf,
    /// Where the images go (created if missing).
    pub image_path: PathBuf,
    /// Where CRIU's log and work files go (default: the image path).
    pub work_path: Option<PathBuf>,
    /// A previous pre-dump, relative to the image path.
    pub parent_path: Option<String>,
    /// Keep the container running afterwards.
    pub leave_running: bool,
    /// Allow open TCP connections.
    pub tcp_established: bool,
    /// Allow external unix sockets.
    pub ext_unix_sk: bool,
    /// Allow a shell job.
    pub shell_job: bool,
    /// Dump file locks.
    pub file_locks: bool,
    /// Only dump memory (the container keeps running).
    pub pre_dump: bool,
    /// How CRIU records cgroups.
    pub manage_cgroups_mode: Option<CgMode>,
    /// Deduplicate parent images.
    pub auto_dedup: bool,
}

/// `hezi restore` options (runc's flags).
#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    /// The state root (`--root`).
    pub root: PathBuf,
    /// The new container's id (need not be the checkpointed one).
    pub id: String,
    /// The bundle whose config and rootfs the container is restored with.
    pub bundle: PathBuf,
    /// The criu binary.
    pub criu: PathBuf,
    /// Where the images are.
    pub image_path: PathBuf,
    /// Where CRIU's log and work files go (default: the image path).
    pub work_path: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`: receives the terminal master of a `terminal: true` container.
    pub console_socket: Option<PathBuf>,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// Allow open TCP connections.
    pub tcp_established: bool,
    /// Allow external unix sockets.
    pub ext_unix_sk: bool,
    /// A shell job.
    pub shell_job: bool,
    /// Restore file locks.
    pub file_locks: bool,
    /// How CRIU restores cgroups.
    pub manage_cgroups_mode: Option<CgMode>,
    /// Namespaces (clone flags) created empty instead of restored.
    pub empty_ns: u32,
    /// Deduplicate images while restoring.
    pub auto_dedup: bool,
}

/// Parses runc's `--manage-cgroups-mode` values.
pub fn parse_cg_mode(s: &str) -> Result<CgMode> {
    match s {
        "soft" => Ok(CgMode::Soft),
        "full" => Ok(CgMode::Full),
        "strict" => Ok(CgMode::Strict),
        "ignore" => Ok(CgMode::Ignore),
        other => Err(RuntimeError::Unsupported {
            setting: "--manage-cgroups-mode".into(),
            msg: format!(
                "invalid manage cgroups mode {other:?} (want soft, full, strict or ignore)"
            ),
        }),
    }
}

/// Parses runc's `--empty-ns` value: only `network` is supported (as in runc).
pub fn parse_empty_ns(s: &str) -> Result<u32> {
    match s {
        "network" => Ok(libc::CLONE_NEWNET as u32),
        other => Err(RuntimeError::Unsupported {
            setting: "--empty-ns".into(),
            msg: format!("namespace {other:?} is not supported (only network)"),
        }),
    }
}

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

/// The mounts CRIU must treat as external: binds of host paths (key: the destination, as
/// runc records them) and, when paths are masked, `/dev/null`.
fn external_mounts(spec: &Spec, bundle: &Path, for_restore: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        if !is_bind(m) {
            continue;
        }
        let dest = m.destination().to_string_lossy().into_owned();
        let val = if for_restore {
            let src = m.source().clone().unwrap_or_default();
            let src = if src.is_absolute() {
                src
            } else {
                bundle.join(src)
            };
            src.to_string_lossy().into_owned()
        } else {
            dest.clone()
        };
        out.push((dest, val));
    }
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|m| !m.is_empty());
    if masked {
        out.push(("/dev/null".into(), "/dev/null".into()));
    }
    out
}

/// On a v1 or hybrid host, the container's cgroup mount is one bind of a host cgroup
/// directory per hierarchy (`<dest>/<name>`), whose propagation peers are outside the
/// container: CRIU must treat each as external, as runc does. Returns (mount point in the
/// container, hierarchy). Empty on a pure v2 host, where the cgroup2 mount is the
/// container's own (CRIU dumps it).
fn legacy_cgroup_mounts(spec: &Spec) -> Vec<(String, crate::rootfs::cgroup::CgroupHierarchy)> {
    let dests: Vec<String> = spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|m| m.typ().as_deref() == Some("cgroup"))
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    if dests.is_empty() {
        return Vec::new();
    }
    let Ok(crate::rootfs::cgroup::CgroupLayout::Legacy { hierarchies, .. }) =
        crate::rootfs::cgroup::host_layout()
    else {
        return Vec::new();
    };
    dests
        .iter()
        .flat_map(|d| {
            hierarchies
                .iter()
                .map(move |h| (format!("{}/{}", d.trim_end_matches('/'), h.name), h.clone()))
        })
        .collect()
}

/// The host directories to bind at the v1 cgroup mount points on restore: each hierarchy's
/// host mount point plus the cgroup `pid` (CRIU, moved into the container's cgroup) is in.
fn legacy_cgroup_sources(
    mounts: &[(String, crate::rootfs::cgroup::CgroupHierarchy)],
    proc_cgroup: &str,
) -> Vec<(String, String)> {
    mounts
        .iter()
        .filter_map(|(dest, h)| {
            let path = proc_cgroup.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                (ctrls == h.key).then_some(path)
            })?;
            let src = h.host_mountpoint.join(path.trim_start_matches('/'));
            Some((dest.clone(), src.to_string_lossy().into_owned()))
        })
        .collect()
}

/// The network namespace path the config joins, if any.
fn joined_netns(spec: &Spec) -> Option<PathBuf> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_deref()?
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)?
        .path()
        .clone()
}

fn criu_err(e: CriuError) -> RuntimeError {
    RuntimeError::Criu(e)
}

/// Checkpoints the container: its process tree goes into `opts.image_path`; unless
/// `leave_running` or `pre_dump`, the container is then deleted (as runc does), poststop
/// hooks included. A paused container is dumped frozen.
pub fn checkpoint(c: &Container, opts: &CheckpointOptions) -> Result<()> {
    let lock = DirLock::acquire(c.dir())?;
    let status = c.status();
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(RuntimeError::WrongStatus(format!(
            "container {} is not running: {status}",
            c.id()
        )));
    }
    let record = c.record();
    let pid = record.pid;
    fs::create_dir_all(&opts.image_path)
        .map_err(|e| RuntimeError::io(format!("create {}", opts.image_path.display()), e))?;
    write_descriptors(pid, &opts.image_path)?;
    let mut external = Vec::new();
    if let Some(ns) = joined_netns(&record.config) {
        let ino = fs::metadata(&ns)
            .map_err(|e| RuntimeError::io(format!("network namespace {}", ns.display()), e))?
            .ino();
        external.push(format!("net[{ino}]:{EXT_NETNS_KEY}"));
    }
    let freeze_cgroup = if status == Status::Paused {
        let cg = c.cgroup()?;
        let paths = cg.paths();
        paths.get("freezer").or_else(|| paths.get("")).cloned()
    } else {
        None
    };
    let terminal = record
        .config
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let dump = DumpOptions {
        image_path: opts.image_path.clone(),
        work_path: opts.work_path.clone(),
        parent_path: opts.parent_path.clone(),
        leave_running: opts.leave_running,
        tcp_established: opts.tcp_established,
        ext_unix_sk: opts.ext_unix_sk,
        shell_job: opts.shell_job,
        file_locks: opts.file_locks,
        pre_dump: opts.pre_dump,
        auto_dedup: opts.auto_dedup,
        root: Some(record.rootfs.clone()),
        ext_mounts: {
            let mut m = external_mounts(&record.config, &record.bundle, false);
            m.extend(
                legacy_cgroup_mounts(&record.config)
                    .into_iter()
                    .map(|(dest, _)| (dest.clone(), dest)),
            );
            m
        },
        external,
        manage_cgroups_mode: opts.manage_cgroups_mode,
        freeze_cgroup,
        orphan_pts_master: terminal,
    };
    super::dump(&opts.criu, pid, &dump).map_err(criu_err)?;
    if opts.leave_running || opts.pre_dump {
        return Ok(());
    }
    drop(lock);
    // CRIU has killed the tree; what is left is a stopped container, deleted as runc does.
    c.clone().delete(true)
}

fn write_descriptors(pid: i32, image_path: &Path) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|n| {
            fs::read_link(format!("/proc/{pid}/fd/{n}"))
                .map(|p| p.to_string_lossy().into_owned())
                // A closed fd is recorded as runc does for one it cannot read: /dev/null.
                .unwrap_or_else(|_| "/dev/null".into())
        })
        .collect();
    let json = serde_json::to_vec(&fds).map_err(|e| RuntimeError::State {
        id: pid.to_string(),
        msg: format!("descriptors: {e}"),
    })?;
    write_atomic(&image_path.join(DESCRIPTORS_FILE), &json)
}

fn read_descriptors(image_path: &Path) -> Result<Vec<String>> {
    let path = image_path.join(DESCRIPTORS_FILE);
    match fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data).map_err(|e| {
            RuntimeError::io(
                format!("parse {}", path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        }),
        // Images written by CRIU alone have none: nothing is inherited then.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(RuntimeError::io(format!("read {}", path.display()), e)),
    }
}

/// The rootfs bind-mounted at `<state dir>/criu-root` for CRIU's `root` (runc does the
/// same: CRIU wants a mount point it can pivot into); unmounted and removed on drop.
struct CriuRoot(PathBuf);

impl CriuRoot {
    fn bind(rootfs: &Path, dir: &Path) -> Result<Self> {
        let at = dir.join("criu-root");
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&at)
            .map_err(|e| RuntimeError::io(format!("create {}", at.display()), e))?;
        if let Err(e) = mount(
            Some(rootfs),
            &at,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ) {
            let _ = fs::remove_dir(&at);
            return Err(RuntimeError::sys(
                format!("bind {} to {}", rootfs.display(), at.display()),
                e,
            ));
        }
        Ok(CriuRoot(at))
    }
}

impl Drop for CriuRoot {
    fn drop(&mut self) {
        if let Err(e) = umount2(&self.0, MntFlags::MNT_DETACH) {
            tracing::warn!("restore: unmount {}: {e}", self.0.display());
        }
        let _ = fs::remove_dir(&self.0);
    }
}

/// Where CRIU must put the restored tree's cgroups, from the `/proc/<pid>/cgroup` of CRIU
/// once it is in the container's cgroup, as `cg_root` entries: one per v1 hierarchy (as
/// runc) and, for the cgroup2 hierarchy, one without controller (CRIU's default root for
/// every hierarchy not named). Without that entry, a restore under a new id lands in the
/// cgroup2 path recorded at dump time (runc 1.1 does that on v2: its `ps` then shows
/// nothing, and on hybrid hosts the old id's directory under `unified/` comes back).
fn roots_from_proc_cgroup(text: &str) -> Vec<(Option<String>, String)> {
    let mut roots = Vec::new();
    let mut unified = None;
    for l in text.lines() {
        let mut parts = l.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(cg)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            unified = Some(cg.to_string());
        } else {
            roots.push((Some(ctrls.to_string()), cg.to_string()));
        }
    }
    roots.extend(unified.map(|u| (None, u)));
    roots
}

/// Restores the container `opts.id` from `opts.image_path` with the bundle's config and
/// rootfs: the state directory and cgroup are made as by `create`, CRIU is moved into the
/// cgroup and restores the tree as this process's child, prestart and createRuntime hooks
/// run when CRIU has set up the namespaces (runc's order), and the container is recorded
/// running. On failure nothing is left: no state, cgroup, mount or process.
pub fn restore(opts: &RestoreOptions) -> Result<Container> {
    validate_id(&opts.id)?;
    if !nix::unistd::geteuid().is_root() {
        return Err(RuntimeError::Unsupported {
            setting: "restore".into(),
            msg: "checkpoint/restore needs root (CRIU does)".into(),
        });
    }
    let dir = opts.root.join(&opts.id);
    if dir.exists() {
        return Err(RuntimeError::Exists(opts.id.clone()));
    }
    let bundle = fs::canonicalize(&opts.bundle)
        .map_err(|e| RuntimeError::io(format!("bundle {}", opts.bundle.display()), e))?;
    let spec = crate::create::load_config(&bundle)?;
    let rootfs = crate::rootfs::rootfs_path(&spec, &bundle)?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && opts.console_socket.is_none() {
        return Err(RuntimeError::Unsupported {
            setting: "process.terminal".into(),
            msg: "cannot restore a terminal container without --console-socket".into(),
        });
    }
    let image_path = fs::canonicalize(&opts.image_path)
        .map_err(|e| RuntimeError::io(format!("--image-path {}", opts.image_path.display()), e))?;
    let descriptors = read_descriptors(&image_path)?;
    let (cg_cfg, cg, resources) = crate::create::cgroup_for(&spec, &opts.id, opts.systemd_cgroup)?;
    cg.validate(&resources).map_err(RuntimeError::Cgroup)?;
    let console = opts
        .console_socket
        .as_ref()
        .filter(|_| terminal)
        .map(|p| {
            UnixStream::connect(p).map_err(|e| {
                RuntimeError::io(format!("--console-socket: connect {}", p.display()), e)
            })
        })
        .transpose()?;
    let netns: Option<OwnedFd> = joined_netns(&spec)
        .map(|p| {
            fs::File::open(&p)
                .map(OwnedFd::from)
                .map_err(|e| RuntimeError::io(format!("network namespace {}", p.display()), e))
        })
        .transpose()?;

    let mut undo = Cleanup::default();
    let dir = crate::create::make_state_dir(&opts.root, &opts.id, &mut undo)?;
    let _lock = DirLock::acquire(&dir)?;
    let mut record = ContainerRecord {
        id: opts.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created: now_rfc3339(),
        owner: user_name(0),
        cgroup_path: cg_cfg.cgroups_path.clone(),
        systemd_cgroup: opts.systemd_cgroup,
        cgroup_disabled: false,
        complete: false,
        config: spec.clone(),
    };
    record.save(&dir)?;
    cg.create().map_err(RuntimeError::Cgroup)?;
    undo.cgroup = Some(cg);
    let criu_root = CriuRoot::bind(&rootfs, &dir)?;

    let mut inherit_fds: Vec<(String, i32)> = descriptors
        .iter()
        .enumerate()
        .filter(|(_, d)| d.contains("pipe:"))
        .map(|(i, d)| (d.clone(), i as i32))
        .collect();
    if let Some(ns) = &netns {
        inherit_fds.push((EXT_NETNS_KEY.into(), ns.as_raw_fd()));
    }
    let restore_opts = super::RestoreOptions {
        image_path: image_path.clone(),
        work_path: opts.work_path.clone(),
        root: criu_root.0.clone(),
        ext_mounts: external_mounts(&spec, &bundle, true),
        inherit_fds,
        cgroup_roots: Vec::new(),
        manage_cgroups_mode: opts.manage_cgroups_mode,
        tcp_established: opts.tcp_established,
        ext_unix_sk: opts.ext_unix_sk,
        shell_job: opts.shell_job,
        file_locks: opts.file_locks,
        empty_ns: opts.empty_ns,
        auto_dedup: opts.auto_dedup,
    };
    let cg_ref = undo.cgroup.as_deref();
    let cgroup_mounts = legacy_cgroup_mounts(&spec);
    let prepare = |criu_pid: i32| -> std::result::Result<Prepared, String> {
        let Some(cg) = cg_ref else {
            return Ok(Prepared::default());
        };
        // CRIU restores the tree into the cgroups it runs in (runc moves it the same way).
        cg.add_task(criu_pid).map_err(|e| e.to_string())?;
        cg.apply(&resources).map_err(|e| e.to_string())?;
        let path = format!("/proc/{criu_pid}/cgroup");
        let text = fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
        Ok(Prepared {
            cgroup_roots: roots_from_proc_cgroup(&text),
            ext_mounts: legacy_cgroup_sources(&cgroup_mounts, &text),
        })
    };
    let mut restored_pid: Option<i32> = None;
    let hooks = spec.hooks().as_ref();
    let on_notify = |n: Notification| -> std::result::Result<(), String> {
        match n.script.as_str() {
            "setup-namespaces" => {
                let mut state = record.oci_state(Status::Creating);
                state.pid = n.pid.unwrap_or(0);
                let json = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
                run_hooks(hooks, HookKind::Prestart, &json).map_err(|e| e.to_string())?;
                run_hooks(hooks, HookKind::CreateRuntime, &json).map_err(|e| e.to_string())
            }
            "orphan-pts-master" => {
                let (Some(sock), Some(fd)) = (console.as_ref(), n.fd.as_ref()) else {
                    return Err("no console socket or no terminal master from criu".into());
                };
                crate::console::send_fd(sock.as_fd(), "/dev/ptmx", fd.as_fd())
                    .map_err(|e| e.to_string())
            }
            "post-restore" => {
                restored_pid = n.pid;
                Ok(())
            }
            _ => Ok(()),
        }
    };
    let result = super::restore(&opts.criu, &restore_opts, prepare, on_notify);
    drop(criu_root);
    let pid = match result {
        Ok(pid) => pid,
        Err(e) => {
            undo.child = restored_pid.map(Pid::from_raw);
            return Err(criu_err(e));
        }
    };
    undo.child = Some(Pid::from_raw(pid));
    record.pid = pid;
    // Without a start time the record could not tell the restored init from a later process
    // with its pid: a restore that cannot read it fails (and the undo kills the tree).
    record.pid_start_time = procinfo::stat(pid).map(|s| s.start_time).ok_or_else(|| {
        RuntimeError::Child(format!("restored init {pid}: cannot read /proc/{pid}/stat"))
    })?;
    record.complete = true;
    record.save(&dir)?;
    if let Some(pf) = &opts.pid_file {
        write_atomic(pf, pid.to_string().as_bytes())?;
    }
    undo.disarm();
    Ok(Container::from_record(&opts.root, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).expect("spec")
    }

    #[test]
    fn bind_mounts_and_masked_paths_are_external() {
        let s = spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind"]},
                {"destination": "/etc/hosts", "source": "hosts", "options": ["bind", "ro"]}
            ],
            "linux": {"maskedPaths": ["/proc/kcore"]}
        }));
        let dump = external_mounts(&s, Path::new("/b"), false);
        assert_eq!(
            dump,
            vec![
                ("/data".to_string(), "/data".to_string()),
                ("/etc/hosts".into(), "/etc/hosts".into()),
                ("/dev/null".into(), "/dev/null".into()),
            ]
        );
        let restore = external_mounts(&s, Path::new("/b"), true);
        assert_eq!(restore[0], ("/data".into(), "/srv/data".into()));
        assert_eq!(restore[1], ("/etc/hosts".into(), "/b/hosts".into()));
    }

    #[test]
    fn runc_flag_values_parse_and_bad_ones_are_named() {
        assert_eq!(parse_cg_mode("full").expect("full"), CgMode::Full);
        let err = parse_cg_mode("hard").expect_err("hard");
        assert!(err.to_string().contains("\"hard\""), "{err}");
        assert_eq!(
            parse_empty_ns("network").expect("net"),
            libc::CLONE_NEWNET as u32
        );
        assert!(parse_empty_ns("pid").is_err());
    }

    #[test]
    fn legacy_cgroup_mounts_bind_the_containers_own_cgroups() {
        use crate::rootfs::cgroup::CgroupHierarchy;
        let h = |name: &str, key: &str, mp: &str| CgroupHierarchy {
            name: name.into(),
            host_mountpoint: mp.into(),
            fstype: "cgroup".into(),
            params: Vec::new(),
            key: key.into(),
        };
        let mounts = vec![
            (
                "/sys/fs/cgroup/cpu,cpuacct".to_string(),
                h("cpu,cpuacct", "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
            ),
            (
                "/sys/fs/cgroup/systemd".to_string(),
                h("systemd", "name=systemd", "/sys/fs/cgroup/systemd"),
            ),
            (
                "/sys/fs/cgroup/pids".to_string(),
                h("pids", "pids", "/sys/fs/cgroup/pids"),
            ),
        ];
        let proc_cgroup = "4:cpu,cpuacct:/hezi/c2\n1:name=systemd:/x.scope\n0::/\n";
        assert_eq!(
            legacy_cgroup_sources(&mounts, proc_cgroup),
            vec![
                (
                    "/sys/fs/cgroup/cpu,cpuacct".to_string(),
                    "/sys/fs/cgroup/cpu,cpuacct/hezi/c2".to_string()
                ),
                (
                    "/sys/fs/cgroup/systemd".into(),
                    "/sys/fs/cgroup/systemd/x.scope".into()
                ),
            ],
            "a hierarchy the process is not in is left out"
        );
    }

    #[test]
    fn proc_cgroup_lines_become_roots() {
        let hybrid = "12:pids:/hezi/c\n3:cpu,cpuacct:/hezi/c\n1:name=systemd:/x\n0::/u\n";
        assert_eq!(
            roots_from_proc_cgroup(hybrid),
            vec![
                (Some("pids".into()), "/hezi/c".into()),
                (Some("cpu,cpuacct".into()), "/hezi/c".into()),
                (Some("name=systemd".into()), "/x".into()),
                (None, "/u".into()),
            ]
        );
        assert_eq!(
            roots_from_proc_cgroup("0::/hezi/c2\n"),
            vec![(None, "/hezi/c2".to_string())]
        );
        assert!(roots_from_proc_cgroup("").is_empty());
    }
}
