//! Image to runtime bundle (image-spec conversion.md): unpack the rootfs and derive
//! `config.json` from `hezi_spec::defaults::default_spec()` and the image config.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hezi_spec::oci_spec::runtime::Spec;

use crate::document::{ImageConfig, Platform, RunConfig};
use crate::error::ImageError;
use crate::store::Store;
use crate::unpack::UnpackOptions;
use crate::user::resolve_user;
use crate::volumes::{volume_mounts, VolumeMode};

/// How to turn an image into a bundle.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// Replaces the image's Cmd (the Entrypoint stays), as `docker run IMAGE cmd...`.
    pub command: Option<Vec<String>>,
    /// Replaces the image's Entrypoint (and drops its Cmd unless `command` is given), as
    /// `docker run --entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// Extra `NAME=value` variables, overriding the image's.
    pub env: Vec<String>,
    /// Overrides the image's User.
    pub user: Option<String>,
    /// Platform to pick from an index (default: this machine's).
    pub platform: Option<Platform>,
    /// Unpack options for the rootfs.
    pub unpack: UnpackOptions,
    /// What the image's `Volumes` become (see [`crate::volumes`]).
    pub volumes: VolumeMode,
    /// Annotations to add to config.json (they win over the image's).
    pub annotations: BTreeMap<String, String>,
    /// A writable root (`root.readonly: false`) instead of the default read-only one: for a
    /// container with its own copy or upper dir, as `docker run` and `podman run` give.
    pub writable_root: bool,
}

/// Unpacks `reference` into `dest/rootfs` and writes `dest/config.json`; returns the spec.
/// On error, a rootfs this call created is removed.
pub fn create_bundle(
    store: &Store,
    reference: &str,
    dest: &Path,
    opts: &BundleOptions,
) -> Result<Spec, ImageError> {
    let image = store.image(reference, opts.platform.as_ref())?;
    let rootfs = dest.join("rootfs");
    // A failed conversion leaves nothing it made: the bundle directory when this call created
    // it, else the rootfs when it created that.
    let dest_existed = dest.exists();
    let fresh = !rootfs.exists();
    let result = (|| {
        std::fs::create_dir_all(dest).map_err(ImageError::io_with("create directory", dest))?;
        if !fresh {
            let non_empty = std::fs::read_dir(&rootfs)
                .map_err(ImageError::io_with("list", &rootfs))?
                .next()
                .is_some();
            if non_empty {
                return Err(ImageError::InvalidArgument(format!(
                    "{} already exists and is not empty",
                    rootfs.display()
                )));
            }
        }
        store.unpack(&image, &rootfs, opts.unpack.clone())?;
        let spec = spec_for(&image.config, &rootfs, dest, opts)?;
        let json = serde_json::to_vec_pretty(&spec).map_err(|source| ImageError::Json {
            what: "config.json".into(),
            source,
        })?;
        crate::store::write_atomic(&dest.join("config.json"), &json)?;
        Ok(spec)
    })();
    if result.is_err() {
        let made = if !dest_existed {
            Some(dest)
        } else if fresh {
            Some(rootfs.as_path())
        } else {
            None
        };
        if let Some(dir) = made.filter(|d| d.exists()) {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove a failed bundle");
            }
        }
    }
    result
}

/// Merges `NAME=value` lists: later entries replace earlier ones with the same name,
/// keeping first-seen order.
fn merge_env(lists: &[&[String]]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in lists {
        for e in list.iter() {
            let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
            match out
                .iter_mut()
                .find(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) == key)
            {
                Some(slot) => *slot = e.clone(),
                None => out.push(e.clone()),
            }
        }
    }
    out
}

/// The process arguments: Entrypoint + Cmd with docker's override rules.
pub fn process_args(rc: &RunConfig, opts: &BundleOptions) -> Vec<String> {
    let entrypoint = opts
        .entrypoint
        .clone()
        .or_else(|| rc.entrypoint.clone())
        .unwrap_or_default();
    let cmd = match (&opts.command, &opts.entrypoint) {
        (Some(c), _) => c.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => rc.cmd.clone().unwrap_or_default(),
    };
    entrypoint.into_iter().chain(cmd).collect()
}

/// Derives the runtime config for an image whose rootfs is at `rootfs`, in the bundle
/// directory `bundle` (where bind-mounted volumes get their directories).
pub fn spec_for(
    config: &ImageConfig,
    rootfs: &Path,
    bundle: &Path,
    opts: &BundleOptions,
) -> Result<Spec, ImageError> {
    let rc = config.config.clone().unwrap_or_default();
    // An ordinary user gets runc's rootless shape (user namespace mapping the caller to
    // root, no network namespace, host /sys bound): the only one it can start.
    let euid = nix::unistd::geteuid();
    let mut spec = if euid.is_root() {
        hezi_spec::defaults::default_spec()
    } else {
        hezi_spec::defaults::rootless_spec(euid.as_raw(), nix::unistd::getegid().as_raw())
    };
    let mut process = spec.process().clone().unwrap_or_default();
    let args = process_args(&rc, opts);
    if args.is_empty() {
        // umoci falls back to `sh`; like Docker and podman, hezi asks for a command instead
        // of guessing one the image may not have.
        return Err(ImageError::InvalidArgument(
            "the image has no Entrypoint or Cmd: give the command to run after the image reference"
                .into(),
        ));
    }
    process.set_args(Some(args));
    let defaults = process.env().clone().unwrap_or_default();
    let image_env = rc.env.clone().unwrap_or_default();
    let mut env = merge_env(&[&defaults, &image_env, &opts.env]);
    let cwd = rc
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    let cwd = if cwd.starts_with('/') {
        cwd
    } else {
        format!("/{cwd}")
    };
    process.set_cwd(PathBuf::from(cwd));
    process.set_terminal(Some(false));
    let user_spec = opts
        .user
        .clone()
        .or_else(|| rc.user.clone())
        .unwrap_or_default();
    let u = resolve_user(rootfs, &user_spec)?;
    // HOME from the user's passwd entry (or /) when neither the image nor the caller set it,
    // as Docker, podman and runc's exec do.
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", u.home.as_deref().unwrap_or("/")));
    }
    process.set_env(Some(env));
    let mut user = process.user().clone();
    user.set_uid(u.uid);
    user.set_gid(u.gid);
    user.set_additional_gids(if u.additional_gids.is_empty() {
        None
    } else {
        Some(u.additional_gids)
    });
    process.set_user(user);
    spec.set_process(Some(process));
    if let Some(v) = &rc.volumes {
        let extra = volume_mounts(v.keys(), rootfs, bundle, opts.volumes)?;
        if !extra.is_empty() {
            let mut mounts = spec.mounts().clone().unwrap_or_default();
            // A default mount at the same destination gives way to the volume.
            mounts.retain(|m| !extra.iter().any(|x| x.destination() == m.destination()));
            mounts.extend(extra);
            spec.set_mounts(Some(mounts));
        }
    }
    let mut ann: HashMap<String, String> = spec.annotations().clone().unwrap_or_default();
    for (k, v) in annotations(config, &rc) {
        ann.entry(k).or_insert(v);
    }
    for (k, v) in &opts.annotations {
        ann.insert(k.clone(), v.clone());
    }
    spec.set_annotations(Some(ann));
    if opts.writable_root {
        if let Some(mut root) = spec.root().clone() {
            root.set_readonly(Some(false));
            spec.set_root(Some(root));
        }
    }
    Ok(spec)
}

/// conversion.md's annotations: platform, author, created, exposed ports, stop signal,
/// volumes and labels (labels never override the image-spec keys).
fn annotations(config: &ImageConfig, rc: &RunConfig) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let p = "org.opencontainers.image.";
    if !config.os.is_empty() {
        a.insert(format!("{p}os"), config.os.clone());
    }
    if !config.architecture.is_empty() {
        a.insert(format!("{p}architecture"), config.architecture.clone());
    }
    if let Some(v) = &config.variant {
        a.insert(format!("{p}variant"), v.clone());
    }
    if let Some(v) = &config.author {
        a.insert(format!("{p}author"), v.clone());
    }
    if let Some(v) = &config.created {
        a.insert(format!("{p}created"), v.clone());
    }
    if let Some(ports) = &rc.exposed_ports {
        if !ports.is_empty() {
            a.insert(
                format!("{p}exposedPorts"),
                ports.keys().cloned().collect::<Vec<_>>().join(","),
            );
        }
    }
    if let Some(s) = &rc.stop_signal {
        a.insert(format!("{p}stopSignal"), s.clone());
    }
    if let Some(v) = &rc.volumes {
        if !v.is_empty() {
            a.insert(
                format!("{p}volumes"),
                v.keys().cloned().collect::<Vec<_>>().join(","),
            );
        }
    }
    if let Some(labels) = &rc.labels {
        for (k, v) in labels {
            a.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> RunConfig {
        RunConfig {
            entrypoint: entrypoint.map(|v| v.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|v| v.iter().map(|s| s.to_string()).collect()),
            ..RunConfig::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn args_follow_docker_rules() {
        let r = rc(Some(&["/entry"]), Some(&["a", "b"]));
        assert_eq!(
            process_args(&r, &BundleOptions::default()),
            s(&["/entry", "a", "b"])
        );
        let o = BundleOptions {
            command: Some(s(&["x"])),
            ..Default::default()
        };
        assert_eq!(process_args(&r, &o), s(&["/entry", "x"]));
        let o = BundleOptions {
            entrypoint: Some(s(&["/other"])),
            ..Default::default()
        };
        assert_eq!(process_args(&r, &o), s(&["/other"]));
        assert_eq!(
            process_args(&rc(None, Some(&["sh"])), &BundleOptions::default()),
            s(&["sh"])
        );
    }

    #[test]
    fn env_merges_by_name() {
        let a = s(&["PATH=/bin", "TERM=xterm"]);
        let b = s(&["PATH=/usr/bin", "X=1"]);
        assert_eq!(
            merge_env(&[&a, &b]),
            s(&["PATH=/usr/bin", "TERM=xterm", "X=1"])
        );
    }
}
