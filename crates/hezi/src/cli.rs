//! The command line: runc's global flags and subcommands, plus hezi's `image` and `validate`.
//!
//! Flag names, short forms and defaults follow runc so that containerd (go-runc) and podman can
//! call `hezi` wherever they call `runc`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// The parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "hezi",
    about = "hezi (盒子): an OCI container runtime with a built-in image store",
    disable_version_flag = true
)]
pub struct Cli {
    /// Flags that apply to every subcommand.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Format of log lines written to `--log` (or stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`level`, `msg`, `time`), as containerd and podman read them.
    Json,
}

/// runc's global flags.
#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", global = true)]
    pub version: bool,
    /// Enable debug logging (phase timings of create and start).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Root directory for container state (a tmpfs is best). Default: /run/hezi, or
    /// $XDG_RUNTIME_DIR/hezi for a user other than root (as runc).
    #[arg(long, global = true, default_value_os_t = default_root(), env = "HEZI_ROOT")]
    pub root: PathBuf,
    /// Path to criu, for checkpoint and restore (default: criu from PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,
    /// Manage cgroups through systemd (cgroupsPath is "slice:prefix:name").
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (accepted for compatibility; before the subcommand).
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,
    /// Image store directory (an OCI image layout).
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/hezi",
        env = "HEZI_STORE"
    )]
    pub store: PathBuf,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Start the user process of a created container.
    Start(IdArgs),
    /// Create and start a container (attached unless --detach).
    Run(RunArgs),
    /// Print the runtime-spec state of a container as JSON.
    State(IdArgs),
    /// Send a signal to a container's init (or, with --all, to all its processes).
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// List containers under --root.
    List(ListArgs),
    /// List the processes of a container.
    Ps(PsArgs),
    /// Run a new process inside a running container.
    Exec(ExecArgs),
    /// Freeze all processes of a container.
    Pause(IdArgs),
    /// Thaw a paused container.
    Resume(IdArgs),
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// Stream stats and OOM events of a container.
    Events(EventsArgs),
    /// Write a default config.json into the bundle.
    Spec(SpecArgs),
    /// Checkpoint a running container with CRIU (the container stops unless --leave-running).
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint.
    Restore(RestoreArgs),
    /// Print the runtime-spec features JSON of this build.
    Features,
    /// Validate a bundle's config.json and report every problem with its JSON path.
    Validate(BundleArgs),
    /// Work with the image store.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Log in to a registry: check the credentials and store them in auth.json (mode 0600).
    Login(LoginArgs),
    /// Remove a registry's stored credentials.
    Logout(LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completion(CompletionArgs),
    /// Write the man pages, one per command (hezi.1, hezi-run.1, ...), into a directory.
    Man(ManArgs),
}

/// CRIU options shared by `checkpoint` and `restore` (runc's flags).
#[derive(Debug, Args, Clone)]
pub struct CriuCommonArgs {
    /// Directory of the checkpoint images (default: ./checkpoint).
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's log and work files (default: the image path).
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow a shell job (a terminal outside the container).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// How CRIU handles cgroups: soft, full, strict or ignore.
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create this namespace empty instead of restoring it (only "network").
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Option<String>,
    /// Deduplicate images against their parent.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Lazy migration through a page server (not supported by hezi; refused).
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

/// `hezi checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The container id.
    pub id: String,
    /// Options shared with restore.
    #[command(flatten)]
    pub common: CriuCommonArgs,
    /// Directory of a previous pre-dump, relative to the image path.
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<String>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump memory only, for a later incremental checkpoint (the container keeps running).
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Send the images to a CRIU page server at ADDRESS:PORT (not supported by hezi; refused).
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Fd to signal when the lazy-pages server is ready (not supported by hezi; refused).
    #[arg(long = "status-fd", value_name = "FD")]
    pub status_fd: Option<i32>,
}

/// `hezi restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The id of the restored container.
    pub id: String,
    /// Options shared with checkpoint.
    #[command(flatten)]
    pub common: CriuCommonArgs,
    /// The bundle (default: the current directory).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Detach from the restored container.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the restored init's pid here.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the terminal master of a `terminal: true` container.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Do not make hezi a child subreaper while it waits (without --detach).
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted as runc does: CRIU always restores the mount namespace with pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
}

/// `hezi completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `hezi man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing), e.g. /usr/local/share/man/man1.
    pub dir: PathBuf,
}

/// How to reach a registry: shared by `image pull`, `image push`, `login` and `run --image`.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryOpts {
    /// Credentials for the registry (default: the auth files).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// Read credentials from this auth file only (default: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
    /// ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// TLS and transport.
    #[command(flatten)]
    pub transport: TransportOpts,
}

/// How to talk to a registry (TLS, plain HTTP, certificates): shared by every registry
/// command and `hezi login`.
#[derive(Debug, Args, Clone)]
pub struct TransportOpts {
    /// Verify TLS certificates; `--tls-verify=false` also falls back to plain HTTP.
    #[arg(
        long = "tls-verify",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value_t = true,
        default_missing_value = "true"
    )]
    pub tls_verify: bool,
    /// Talk plain HTTP to the registry (default: only to localhost and 127.0.0.0/8).
    #[arg(long = "plain-http")]
    pub plain_http: bool,
    /// Directory of per-registry certificates (`DIR/HOST[:PORT]/*.crt`); default
    /// /etc/containers/certs.d and /etc/docker/certs.d.
    #[arg(long = "cert-dir", value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

impl Default for TransportOpts {
    fn default() -> Self {
        TransportOpts {
            tls_verify: true,
            plain_http: false,
            cert_dir: None,
        }
    }
}

/// `hezi login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (`HOST[:PORT]`).
    pub registry: String,
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (visible in the process list: prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The auth file to write (default: $REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/UID/auth.json).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// TLS and transport.
    #[command(flatten)]
    pub transport: TransportOpts,
}

/// `hezi logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (`HOST[:PORT]`).
    #[arg(required_unless_present = "all")]
    pub registry: Option<String>,
    /// Remove the credentials of every registry.
    #[arg(short, long)]
    pub all: bool,
    /// The auth file to change (default: the one `hezi login` writes).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

/// When `run --image` pulls the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PullPolicy {
    /// Only when the store does not have the reference.
    #[default]
    Missing,
    /// Always (the store's blobs are reused).
    Always,
    /// Never: a missing image is an error.
    Never,
}

/// A command that takes only a container id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The container id.
    pub id: String,
}

/// `--bundle` alone.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Path to the bundle (the directory holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
}

/// Flags shared by `create` and `run`.
#[derive(Debug, Args)]
pub struct CreateOpts {
    /// Path to the bundle.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to which the pty master of a terminal container is sent.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the container init's host pid to this file.
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for ramfs roots); uses MS_MOVE + chroot.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra file descriptors (3..3+N) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// `hezi create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container id.
    pub id: String,
    /// Bundle and process flags.
    #[command(flatten)]
    pub opts: CreateOpts,
}

/// `hezi run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The container id.
    pub id: String,
    /// Bundle and process flags.
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Detach from the container's process.
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits.
    #[arg(long)]
    pub keep: bool,
    /// Do not make hezi a child subreaper (accepted for compatibility).
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Make the bundle from this image in the store instead of using --bundle: an overlay of
    /// the store's cached layers with a private upper dir, removed with the container.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// With --image: unpack a full copy of the image instead of an overlay (for filesystems
    /// overlayfs cannot use as upper dir).
    #[arg(long, requires = "image")]
    pub copy: bool,
    /// With --image: when to pull it from its registry.
    #[arg(long, value_enum, default_value_t = PullPolicy::Missing, requires = "image")]
    pub pull: PullPolicy,
    /// With --image: what the image's Volumes become: bind (a directory of the container's
    /// bundle), tmpfs, or none.
    #[arg(long, value_name = "MODE", default_value = "bind", requires = "image")]
    pub volumes: hezi_image::VolumeMode,
    /// With --image: refuse a layer whose uncompressed tar stream is larger than SIZE (bytes,
    /// or K, M, G, T); checked when a layer is unpacked into the layer cache (or the copy).
    #[arg(long = "max-layer-size", value_name = "SIZE", value_parser = parse_size, requires = "image")]
    pub max_layer_size: Option<u64>,
    /// With --image: how to reach the registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// With --image: the command to run instead of the image's entrypoint and cmd.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `hezi kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The container id.
    pub id: String,
    /// Signal name (TERM, SIGKILL, ...) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to every process in the container.
    #[arg(short, long)]
    pub all: bool,
}

/// `hezi delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The container id.
    pub id: String,
    /// Kill a running container (SIGKILL) and delete it.
    #[arg(short, long)]
    pub force: bool,
}

/// Output format of `list` and `ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// `hezi list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Print only the container ids.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `hezi ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// The container id.
    pub id: String,
    /// Output format (json is a plain array of pids).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Options passed to ps(1) in table format.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `hezi exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The container id.
    pub id: String,
    /// The command and its arguments (unless --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Path to a process.json (runtime-spec Process) describing the process.
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Detach from the process.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's host pid to this file.
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Current working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE); may repeat.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group ids; may repeat.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NET_ADMIN, ...); may repeat.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass N extra file descriptors to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Unix socket to which the pty master is sent.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket to which a pidfd of the process is sent.
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// SELinux process label (accepted; labels are not applied by this build).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile for the new process (default: the container's).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Run in this sub-cgroup of the container (v2) or controller:path list (v1).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
}

/// `hezi update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The container id.
    pub id: String,
    /// LinuxResources JSON file, or - for stdin.
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Block IO weight (10..1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds).
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst (microseconds).
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// CPU realtime period (microseconds).
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (microseconds).
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (ignored, as by runc).
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (ignored, as by runc).
    #[arg(long = "kernel-memory-tcp")]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported).
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported).
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// SCHED_IDLE for the cgroup (0 or 1).
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
}

/// `hezi events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The container id.
    pub id: String,
    /// Interval between stats samples (5s, 500ms, ...).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Print the stats once and exit.
    #[arg(long)]
    pub stats: bool,
}

/// `hezi spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a config for a rootless container (user namespace with the caller's ids).
    #[arg(long = "rootless", id = "spec_rootless")]
    pub rootless: bool,
}

/// The default `--root`: `/run/hezi` for root; `$XDG_RUNTIME_DIR/hezi` for another user
/// when that is set (runc's rule), since /run is not theirs.
///
/// Root inside a user namespace that is not the initial one (rootless podman runs its
/// runtime so, as "root") counts as a user too, unless `$USER` says root: runc's rule.
pub fn default_root() -> PathBuf {
    let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) else {
        return PathBuf::from("/run/hezi");
    };
    let honour = if !nix::unistd::geteuid().is_root() {
        true
    } else if hezi_runtime::in_user_namespace() {
        std::env::var("USER").map_or(true, |u| u != "root")
    } else {
        false
    };
    if honour {
        PathBuf::from(xdg).join("hezi")
    } else {
        PathBuf::from("/run/hezi")
    }
}

/// `hezi image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import an OCI layout directory, oci-archive or docker-archive into the store.
    Import(ImageImportArgs),
    /// Export an image from the store as an OCI layout, oci-archive or docker-archive.
    Export(ImageExportArgs),
    /// List images in the store.
    Ls(ImageLsArgs),
    /// Show an image's manifest and config.
    Inspect(ImageRefArgs),
    /// Show the steps that built an image, newest first, with the size of each layer.
    History(ImageHistoryArgs),
    /// Show the store's disk usage: blobs, unpacked layers, and each image's shared and
    /// unique bytes.
    Du(ImageDuArgs),
    /// Remove image names (blobs go at the next gc).
    Rm(ImageRmArgs),
    /// Give an image another name.
    Tag(ImageTagArgs),
    /// Unpack an image into a rootfs or a runtime bundle.
    Unpack(ImageUnpackArgs),
    /// Pull an image from a registry (`docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`).
    Pull(ImagePullArgs),
    /// Push an image of the store to a registry.
    Push(ImagePushArgs),
    /// Remove blobs no name reaches.
    Gc,
    /// Re-hash every blob and report damage.
    Verify(ImageVerifyArgs),
}

/// `hezi image verify`.
#[derive(Debug, Args)]
pub struct ImageVerifyArgs {
    /// Repair what is found: restore damaged and missing blobs from `--from`, remove
    /// corrupt blobs that cannot be restored (they then show as missing).
    #[arg(long)]
    pub repair: bool,
    /// An OCI layout directory, oci-archive or docker-archive holding good copies.
    #[arg(long, value_name = "ARCHIVE_OR_LAYOUT", requires = "repair")]
    pub from: Option<PathBuf>,
}

/// Archive and layout formats for import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchiveFormat {
    /// An OCI image layout directory.
    OciDir,
    /// A tarball of an OCI image layout.
    OciArchive,
    /// A `docker save` tarball.
    DockerArchive,
}

/// `hezi image import`.
#[derive(Debug, Args)]
pub struct ImageImportArgs {
    /// Path of the layout directory or archive.
    pub source: PathBuf,
    /// Name to give the imported image (default: the names in the source).
    pub name: Option<String>,
    /// Source format (default: detected).
    #[arg(long, value_enum)]
    pub format: Option<ArchiveFormat>,
}

/// `hezi image pull`.
#[derive(Debug, Args)]
pub struct ImagePullArgs {
    /// `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    pub reference: String,
    /// Platform to pick from an index (os/arch[/variant]); default: this machine's.
    #[arg(long)]
    pub platform: Option<String>,
    /// Blobs to download at once.
    #[arg(short, long, default_value_t = 3)]
    pub jobs: usize,
    /// Name to give the image in the store (default: `HOST/REPO:TAG`).
    #[arg(long)]
    pub name: Option<String>,
    /// Of an index, pull every platform's manifest and name the index (skopeo's --all).
    #[arg(long = "all-platforms", conflicts_with = "platform")]
    pub all_platforms: bool,
    /// How to reach the registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
}

/// `hezi image push`.
#[derive(Debug, Args)]
pub struct ImagePushArgs {
    /// The image in the store (name or digest).
    pub source: String,
    /// `[docker://]HOST[:PORT]/REPO[:TAG]` (default: the source's name).
    pub dest: Option<String>,
    /// Blobs to upload at once.
    #[arg(short, long, default_value_t = 3)]
    pub jobs: usize,
    /// Mount blobs the registry has in this repository instead of uploading them.
    #[arg(long = "mount-from", value_name = "REPO")]
    pub mount_from: Option<String>,
    /// Upload blobs in chunks of this many bytes (PATCH) instead of one PUT each.
    #[arg(long = "chunk-size", value_name = "BYTES")]
    pub chunk_size: Option<u64>,
    /// Of an index, push every platform's manifest and fail if the store lacks one
    /// (default: push the index with the manifests the store has).
    #[arg(long = "all-platforms")]
    pub all_platforms: bool,
    /// How to reach the registry.
    #[command(flatten)]
    pub registry: RegistryOpts,
}

/// `hezi image export`.
#[derive(Debug, Args)]
pub struct ImageExportArgs {
    /// The image reference.
    pub reference: String,
    /// Destination path.
    pub dest: PathBuf,
    /// Destination format.
    #[arg(long, value_enum, default_value_t = ArchiveFormat::OciArchive)]
    pub format: ArchiveFormat,
}

/// `hezi image ls`.
#[derive(Debug, Args)]
pub struct ImageLsArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Print only the names.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `hezi image history`.
#[derive(Debug, Args)]
pub struct ImageHistoryArgs {
    /// The image reference (name or digest).
    pub reference: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `hezi image du`.
#[derive(Debug, Args)]
pub struct ImageDuArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// A command that takes one image reference.
#[derive(Debug, Args)]
pub struct ImageRefArgs {
    /// The image reference (name or digest).
    pub reference: String,
}

/// `hezi image rm`.
#[derive(Debug, Args)]
pub struct ImageRmArgs {
    /// The image references to remove.
    #[arg(required = true)]
    pub references: Vec<String>,
}

/// `hezi image tag`.
#[derive(Debug, Args)]
pub struct ImageTagArgs {
    /// The existing reference.
    pub source: String,
    /// The new name.
    pub target: String,
}

/// `hezi image unpack`.
#[derive(Debug, Args)]
pub struct ImageUnpackArgs {
    /// The image reference.
    pub reference: String,
    /// Destination directory (a bundle with config.json and rootfs/, unless --rootfs-only).
    pub dest: PathBuf,
    /// Write only the root filesystem, no config.json.
    #[arg(long = "rootfs-only")]
    pub rootfs_only: bool,
    /// What the image's Volumes become: bind (a directory of the bundle, `volumes/N`),
    /// tmpfs, or none (only the annotation).
    #[arg(long, value_name = "MODE", default_value = "bind")]
    pub volumes: hezi_image::VolumeMode,
    /// Platform to pick from an index (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Refuse a layer whose uncompressed tar stream is larger than SIZE (bytes, or with a
    /// K, M, G or T suffix, powers of 1024). Default: no limit.
    #[arg(long = "max-layer-size", value_name = "SIZE", value_parser = parse_size)]
    pub max_layer_size: Option<u64>,
}

/// A size in bytes with an optional binary suffix: `512`, `64K`, `100M`, `2G`, `1T`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(format!(
                        "{text:?}: unknown size suffix {c:?} (K, M, G or T)"
                    ))
                }
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (bytes, or a number with K, M, G or T)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_with_binary_suffixes() {
        use super::parse_size;
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("100m"), Ok(100 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn containerd_style_invocations_parse() {
        let c = Cli::try_parse_from([
            "hezi",
            "--root",
            "/run/x",
            "--log",
            "/tmp/l.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "c1",
        ])
        .unwrap();
        assert_eq!(c.global.log_format, LogFormat::Json);
        assert!(
            matches!(c.command, Some(Command::Create(ref a)) if a.id == "c1" && a.opts.bundle == std::path::Path::new("/b"))
        );
        let k = Cli::try_parse_from(["hezi", "kill", "--all", "c1", "9"]).unwrap();
        assert!(matches!(k.command, Some(Command::Kill(ref a)) if a.all && a.signal == "9"));
        let s = Cli::try_parse_from(["hezi", "spec", "--rootless"]).unwrap();
        assert!(matches!(s.command, Some(Command::Spec(ref a)) if a.rootless));
        assert!(Cli::try_parse_from(["hezi", "create"]).is_err());
        let u = Cli::try_parse_from([
            "hezi",
            "update",
            "--pids-limit",
            "-1",
            "--memory-swap",
            "-1",
            "c1",
        ])
        .unwrap();
        assert!(
            matches!(u.command, Some(Command::Update(ref a)) if a.pids_limit == Some(-1) && a.memory_swap.as_deref() == Some("-1"))
        );
    }
}
