//! The image's `Volumes` as mounts of the bundle (image-spec conversion.md leaves the
//! choice to the runtime's user; Docker and podman give each container an anonymous
//! volume).
//!
//! [`VolumeMode::Bind`] (the default) binds a fresh directory of the bundle,
//! `<bundle>/volumes/<n>`, with the mode and owner of the image's directory at that path: the
//! data lives as long as the bundle (for `run --image`, as long as the container). Unlike
//! Docker, the image's files under that path are not copied in: the volume starts empty.
//! [`VolumeMode::Tmpfs`] mounts an empty tmpfs (data lost at exit); [`VolumeMode::None`]
//! only records the paths in the `org.opencontainers.image.volumes` annotation, as umoci does.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use hezi_spec::oci_spec::runtime::{Mount, MountBuilder};

use crate::error::ImageError;
use crate::unpack::path::EntryPath;
use crate::user::stat_in_root;

/// What an image's `Volumes` become in the bundle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum VolumeMode {
    /// A bind mount of a per-bundle directory (default).
    #[default]
    Bind,
    /// An empty tmpfs.
    Tmpfs,
    /// No mount (only the annotation).
    None,
}

impl std::str::FromStr for VolumeMode {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bind" => Ok(VolumeMode::Bind),
            "tmpfs" => Ok(VolumeMode::Tmpfs),
            "none" => Ok(VolumeMode::None),
            other => Err(ImageError::InvalidArgument(format!(
                "volume mode {other:?}: expected bind, tmpfs or none"
            ))),
        }
    }
}

/// A volume path of the image config, made absolute and clean by the rules layer entries
/// follow (`crate::unpack::path::EntryPath`); `None` for the root itself or one that climbs
/// above it with `..` (such an entry is skipped with a warning by the caller).
fn clean_path(p: &str) -> Option<PathBuf> {
    let e = EntryPath::parse(p.as_bytes()).ok()?;
    if e.is_root() {
        return None;
    }
    Some(Path::new("/").join(std::ffi::OsStr::from_bytes(&e.joined)))
}

/// The mounts for `volumes` (the image config's keys), creating what `mode` needs under
/// `bundle`. `rootfs` is where the image is unpacked (for the directories' modes and owners).
pub fn volume_mounts<'a>(
    volumes: impl IntoIterator<Item = &'a String>,
    rootfs: &Path,
    bundle: &Path,
    mode: VolumeMode,
) -> Result<Vec<Mount>, ImageError> {
    let mut mounts = Vec::new();
    if mode == VolumeMode::None {
        return Ok(mounts);
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for v in volumes {
        match clean_path(v) {
            Some(p) if !paths.contains(&p) => paths.push(p),
            Some(_) => {}
            None => {
                tracing::warn!(volume = %v, "image volume path skipped: not a clean absolute path")
            }
        }
    }
    // Parents before children, so a nested volume is mounted on top of its parent's.
    paths.sort();
    for (n, dest) in paths.iter().enumerate() {
        let meta = stat_in_root(rootfs, &dest.to_string_lossy())?;
        let (perm, uid, gid) = meta
            .filter(|m| m.is_dir())
            .map(|m| (m.mode() & 0o7777, m.uid(), m.gid()))
            .unwrap_or((0o755, 0, 0));
        let mount = match mode {
            VolumeMode::Bind => {
                let dir = bundle.join("volumes").join(n.to_string());
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(&dir)
                    .map_err(ImageError::io_with("create directory", &dir))?;
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                    .map_err(ImageError::io_with("chown", &dir))?;
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(perm))
                    .map_err(ImageError::io_with("chmod", &dir))?;
                MountBuilder::default()
                    .destination(dest.clone())
                    .typ("bind")
                    .source(dir)
                    .options(vec!["rbind".to_string(), "rw".to_string()])
                    .build()
            }
            VolumeMode::Tmpfs => MountBuilder::default()
                .destination(dest.clone())
                .typ("tmpfs")
                .source("tmpfs")
                .options(vec![
                    "nosuid".to_string(),
                    "nodev".to_string(),
                    format!("mode={perm:o}"),
                    format!("uid={uid}"),
                    format!("gid={gid}"),
                ])
                .build(),
            VolumeMode::None => continue,
        }
        .map_err(|e| ImageError::InvalidArgument(format!("volume {}: {e}", dest.display())))?;
        mounts.push(mount);
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_climbing_ones_refused() {
        assert_eq!(clean_path("/data"), Some(PathBuf::from("/data")));
        assert_eq!(clean_path("data/./x/"), Some(PathBuf::from("/data/x")));
        assert_eq!(clean_path("/a/../../etc"), None);
        assert_eq!(clean_path("/"), None);
        assert_eq!(clean_path(""), None);
    }

    #[test]
    fn bind_volumes_get_a_directory_with_the_image_dirs_mode() {
        let tmp = tempfile::tempdir().expect("tmp");
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("data")).expect("mkdir");
        std::fs::set_permissions(
            rootfs.join("data"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .expect("chmod");
        let vols = [
            "/data".to_string(),
            "/logs/".to_string(),
            "../x".to_string(),
        ];
        let m = volume_mounts(&vols, &rootfs, tmp.path(), VolumeMode::Bind).expect("mounts");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].destination(), Path::new("/data"));
        let src = m[0].source().clone().expect("source");
        assert_eq!(src, tmp.path().join("volumes/0"));
        let mode = std::fs::metadata(&src).expect("stat").mode() & 0o7777;
        assert_eq!(mode, 0o1777);
        assert_eq!(m[1].destination(), Path::new("/logs"));
        let t = volume_mounts(&vols, &rootfs, tmp.path(), VolumeMode::Tmpfs).expect("tmpfs");
        assert_eq!(t[0].typ().as_deref(), Some("tmpfs"));
        assert!(t[0]
            .options()
            .as_ref()
            .is_some_and(|o| o.contains(&"mode=1777".to_string())));
        assert!(volume_mounts(&vols, &rootfs, tmp.path(), VolumeMode::None)
            .expect("none")
            .is_empty());
    }
}
