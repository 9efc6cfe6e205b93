//! Test fixtures for hezi, built offline from Debian's `busybox-static`.
//!
//! - [`busybox_rootfs`]: a root filesystem with the static busybox, its applet links and a
//!   small `/etc/passwd` and `/etc/group`;
//! - [`busybox_bundle`]: an OCI runtime bundle (`config.json` in `runc spec`'s shape) around it;
//! - [`busybox_layer_tar_gz`] and [`busybox_oci_layout`]: the same rootfs as a gzip layer and an
//!   OCI image layout, hashed here with `sha2` independently of `hezi-digest`, so image tests
//!   have an oracle that does not share code with what they test;
//! - helpers for root-only tests ([`is_root`], [`require_root!`]) and for tests that run
//!   containers ([`unique_id`], [`hezi_bin`], [`TempRoot`]).
//!
//! Nothing here depends on hezi's own crates.
#![deny(missing_docs)]

pub mod registry;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use sha2::{Digest as _, Sha256};

/// Where Debian's busybox-static installs the binary.
const BUSYBOX_CANDIDATES: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// `/etc/passwd` of the fixture rootfs.
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// `/etc/group` of the fixture rootfs.
pub const GROUP: &str = "root:x:0:\n\
tty:x:5:\n\
wheel:x:10:alice\n\
audio:x:29:alice\n\
alice:x:1000:\n\
nogroup:x:65534:\n";

/// True when the process runs as root (euid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Returns early from a test, with a message, unless it runs as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!(
                "skipped: {} needs root (run scripts/test.sh as root)",
                module_path!()
            );
            return;
        }
    };
}

/// Path of a static busybox, installing Debian's `busybox-static` when root and missing.
pub fn busybox() -> io::Result<PathBuf> {
    let found = || {
        BUSYBOX_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    };
    if let Some(p) = found() {
        return Ok(p);
    }
    if is_root() {
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "busybox-static"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    found().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "busybox not found: install Debian's busybox-static (apt-get install -y busybox-static)",
        )
    })
}

/// The applet names the installed busybox provides.
fn applets(busybox: &Path) -> io::Result<Vec<String>> {
    let out = Command::new(busybox).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} --list failed",
            busybox.display()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(String::from)
        .collect())
}

/// Builds a busybox root filesystem in `dir` (created if missing): `/bin/busybox` with a
/// symlink per applet, the usual empty mount points, `/etc/passwd`, `/etc/group`, `/tmp`
/// (mode 1777) and home directories.
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    let bb = busybox()?;
    for d in [
        "bin",
        "sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/alice",
        "usr/bin",
        "usr/sbin",
        "var",
        "run",
        "mnt",
    ] {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    let target = dir.join("bin/busybox");
    if !target.exists() {
        fs::copy(&bb, &target)?;
    }
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
    for a in applets(&bb)? {
        let link = dir.join("bin").join(&a);
        if fs::symlink_metadata(&link).is_err() {
            symlink("busybox", &link)?;
        }
    }
    fs::write(dir.join("etc/passwd"), PASSWD)?;
    fs::write(dir.join("etc/group"), GROUP)?;
    fs::write(dir.join("etc/hostname"), "hezi\n")?;
    Ok(())
}

/// The `config.json` document of a bundle, in `runc spec`'s shape, with `terminal: false`,
/// the given `args` and root path `rootfs`.
pub fn bundle_config(args: &[&str]) -> serde_json::Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hezi",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Builds an OCI bundle in `dir`: `dir/rootfs` (see [`busybox_rootfs`]) and `dir/config.json`
/// (see [`bundle_config`]) running `args`.
pub fn busybox_bundle(dir: &Path, args: &[&str]) -> io::Result<()> {
    busybox_rootfs(&dir.join("rootfs"))?;
    write_config(dir, &bundle_config(args))
}

/// Writes `config` as `dir/config.json`.
pub fn write_config(dir: &Path, config: &serde_json::Value) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(config).map_err(io::Error::other)?;
    fs::write(dir.join("config.json"), text)
}

/// A deterministic tar of `rootfs` (sorted entries, owner 0:0, mtime 0), uncompressed.
pub fn busybox_layer_tar(rootfs: &Path) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    append_tree(&mut builder, rootfs, Path::new(""))?;
    builder.into_inner()
}

/// Appends `dir` (recursively, sorted) to `builder` under the archive path `rel`.
fn append_tree(builder: &mut tar::Builder<Vec<u8>>, dir: &Path, rel: &Path) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = rel.join(e.file_name());
        let meta = fs::symlink_metadata(&path)?;
        builder.append_path_with_name(&path, &name)?;
        if meta.is_dir() {
            append_tree(builder, &path, &name)?;
        }
    }
    Ok(())
}

/// [`busybox_layer_tar`] compressed with gzip.
pub fn busybox_layer_tar_gz(rootfs: &Path) -> io::Result<Vec<u8>> {
    let tar = busybox_layer_tar(rootfs)?;
    gzip(&tar)
}

/// Compresses `data` with gzip (default level).
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    enc.finish()
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Writes `data` as a blob of the OCI layout at `layout` and returns its descriptor.
pub fn write_blob(layout: &Path, media_type: &str, data: &[u8]) -> io::Result<serde_json::Value> {
    let digest = sha256_digest(data);
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(&digest["sha256:".len()..]), data)?;
    Ok(json!({"mediaType": media_type, "digest": digest, "size": data.len()}))
}

/// Builds an OCI image layout of the busybox rootfs in `dir` (one gzip layer; config with
/// `Cmd ["sh"]`), names it `ref_name` through the `org.opencontainers.image.ref.name`
/// annotation, and returns the manifest digest.
pub fn busybox_oci_layout(dir: &Path, ref_name: &str) -> io::Result<String> {
    let staging = tempfile_dir("hezi-layout-rootfs")?;
    let result = (|| {
        busybox_rootfs(&staging)?;
        let tar = busybox_layer_tar(&staging)?;
        let diff_id = sha256_digest(&tar);
        let layer = gzip(&tar)?;
        layout_from_layers(dir, ref_name, &[(layer, diff_id)], &["sh"])
    })();
    let _ = fs::remove_dir_all(&staging);
    result
}

/// Builds an OCI image layout in `dir` from gzip `layers` (each with its uncompressed
/// digest), a config running `cmd`, named `ref_name`; returns the manifest digest.
pub fn layout_from_layers(
    dir: &Path,
    ref_name: &str,
    layers: &[(Vec<u8>, String)],
    cmd: &[&str],
) -> io::Result<String> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (blob, diff_id) in layers {
        layer_descs.push(write_blob(
            dir,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            blob,
        )?);
        diff_ids.push(diff_id.clone());
    }
    let config = json!({
        "created": "2026-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd,
            "WorkingDir": "/"
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "hezi-testsupport"}]
    });
    let config_desc = write_blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).map_err(io::Error::other)?,
    )?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layer_descs
    });
    let mut manifest_desc = write_blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).map_err(io::Error::other)?,
    )?;
    let digest = manifest_desc["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    manifest_desc["annotations"] = json!({"org.opencontainers.image.ref.name": ref_name});
    manifest_desc["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let index_path = dir.join("index.json");
    let mut index = match fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(io::Error::other)?,
        Err(_) => {
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
        }
    };
    if let Some(list) = index["manifests"].as_array_mut() {
        list.retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != ref_name);
        list.push(manifest_desc);
    }
    fs::write(
        &index_path,
        serde_json::to_vec_pretty(&index).map_err(io::Error::other)?,
    )?;
    Ok(digest)
}

/// Creates a fresh directory under the system temp dir.
fn tempfile_dir(prefix: &str) -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(unique_id(prefix));
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// An id unique to this process and call, valid as a container id: `prefix-<pid>-<n>-<nanos>`.
pub fn unique_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// The workspace's target directory, found from the running test binary
/// (`target/<profile>/deps/<test>`) or `CARGO_TARGET_DIR`.
fn target_profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    if deps.file_name()? == "deps" {
        return deps.parent().map(Path::to_path_buf);
    }
    Some(deps.to_path_buf())
}

/// Path of the `hezi` binary of this build (`target/<profile>/hezi`), built with cargo when
/// missing. Tests inside `crates/hezi` should prefer `env!("CARGO_BIN_EXE_hezi")`.
pub fn hezi_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HEZI_BIN") {
        return PathBuf::from(p);
    }
    let dir = target_profile_dir().unwrap_or_else(|| PathBuf::from("target/debug"));
    let bin = dir.join("hezi");
    if !bin.is_file() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let _ = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "hezi", "--manifest-path"])
            .arg(manifest)
            .status();
    }
    bin
}

/// A temporary directory for a test, holding a `--root` state dir and bundles; removed on
/// drop. Tests that start containers should also force-delete them in their own guards
/// before this drops.
pub struct TempRoot {
    path: PathBuf,
}

impl TempRoot {
    /// Creates a fresh directory `/tmp/<prefix>-<unique>`.
    pub fn new(prefix: &str) -> io::Result<Self> {
        Ok(Self {
            path: tempfile_dir(prefix)?,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/state`: a directory for `hezi --root`.
    pub fn state_dir(&self) -> PathBuf {
        self.path.join("state")
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_differ_and_are_valid_container_ids() {
        let a = unique_id("t");
        let b = unique_id("t");
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn rootfs_has_busybox_and_users() {
        if busybox().is_err() {
            eprintln!("skipped: busybox-static is not installed");
            return;
        }
        let t = TempRoot::new("hezi-ts-rootfs").unwrap();
        busybox_rootfs(t.path()).unwrap();
        assert!(t.path().join("bin/busybox").is_file());
        assert_eq!(
            fs::read_link(t.path().join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert!(fs::read_to_string(t.path().join("etc/passwd"))
            .unwrap()
            .contains("alice:x:1000:1000"));
    }

    #[test]
    fn layout_is_self_consistent() {
        if busybox().is_err() {
            eprintln!("skipped: busybox-static is not installed");
            return;
        }
        let t = TempRoot::new("hezi-ts-layout").unwrap();
        let digest = busybox_oci_layout(t.path(), "busybox:latest").unwrap();
        let blob = fs::read(t.path().join("blobs/sha256").join(&digest[7..])).unwrap();
        assert_eq!(sha256_digest(&blob), digest);
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(t.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"][0]["digest"], digest.as_str());
        let manifest: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        let layer_blob = fs::read(t.path().join("blobs/sha256").join(&layer[7..])).unwrap();
        assert_eq!(sha256_digest(&layer_blob), layer);
        assert_eq!(
            manifest["layers"][0]["size"].as_u64().unwrap(),
            layer_blob.len() as u64
        );
    }
}
