//! Bundles whose rootfs is an overlay of the store's cached layers: each layer is unpacked once
//! (see [`Store::overlay_layers`]) and every container gets its own upper and work
//! directories, so a second container from a cached image costs a mount, not an unpack.
//!
//! Layout of a bundle made by [`create_overlay_bundle`]:
//!
//! ```text
//! <dest>/config.json
//! <dest>/rootfs      overlay mount: lowerdir = cached layers, top first
//! <dest>/upper       the container's writes
//! <dest>/work        overlayfs' work directory
//! ```
//!
//! [`remove_bundle`] unmounts the rootfs before deleting anything, so a delete never reaches
//! through the mount into the shared layers.
//!
//! ```no_run
//! use std::path::Path;
//! use hezi_image::{overlay, BundleOptions, Store};
//!
//! # fn main() -> Result<(), hezi_image::ImageError> {
//! let store = Store::open(Path::new("/var/lib/hezi"))?;
//! let dest = Path::new("/var/lib/hezi/bundles/web");
//! overlay::create_overlay_bundle(&store, "busybox:latest", dest, &BundleOptions::default())?;
//! // ... run the container ...
//! overlay::remove_bundle(dest)?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use hezi_spec::oci_spec::runtime::Spec;
use nix::mount::{MntFlags, MsFlags};

use crate::bundle::{spec_for, BundleOptions};
use crate::error::ImageError;
use crate::image::overlay_lowerdir;
use crate::store::Store;

/// The `op` of the [`ImageError::Io`] a failed overlay mount returns, for callers that fall
/// back to a full copy where overlayfs cannot be used.
pub const MOUNT_OP: &str = "mount overlay on";

/// The kernel's limit on the mount option string (one page).
const MAX_MOUNT_OPTIONS: usize = 4095;

/// Mounts an overlay of the cached layers of `reference` on `dest/rootfs` (upper and work
/// dirs beside it) and writes `dest/config.json` per image-spec's conversion rules. `dest`
/// must not exist yet. On error nothing is left: no mount, no directory.
pub fn create_overlay_bundle(
    store: &Store,
    reference: &str,
    dest: &Path,
    opts: &BundleOptions,
) -> Result<Spec, ImageError> {
    if dest.exists() {
        return Err(ImageError::InvalidArgument(format!(
            "{} already exists",
            dest.display()
        )));
    }
    let image = store.image(reference, opts.platform.as_ref())?;
    let layers = store.overlay_layers_limited(&image, opts.unpack.max_layer_size)?;
    let made = (|| {
        let rootfs = dest.join("rootfs");
        let upper = dest.join("upper");
        let work = dest.join("work");
        for d in [&rootfs, &upper, &work] {
            std::fs::create_dir_all(d).map_err(ImageError::io_with("create directory", d))?;
        }
        mount_overlay(&layers, &upper, &work, &rootfs)?;
        let spec = spec_for(&image.config, &rootfs, dest, opts)?;
        let json = serde_json::to_vec_pretty(&spec).map_err(|source| ImageError::Json {
            what: "config.json".into(),
            source,
        })?;
        // Not fsynced: the bundle lives only as long as its container (after a crash it is
        // garbage either way), and an fsync costs milliseconds on every start.
        let config = dest.join("config.json");
        std::fs::write(&config, &json).map_err(ImageError::io_with("write", &config))?;
        Ok(spec)
    })();
    if made.is_err() {
        // Best effort: the error being returned is the one that matters.
        let _ = remove_bundle(dest);
    }
    made
}

/// The option string of an overlay mount, refusing paths overlayfs cannot take (`,` and `:`
/// separate options and layers) and strings over the kernel's one-page limit.
pub fn overlay_options(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
) -> Result<String, ImageError> {
    if layers.is_empty() {
        return Err(ImageError::InvalidArgument(
            "an overlay needs at least one layer".into(),
        ));
    }
    for p in layers.iter().map(PathBuf::as_path).chain([upper, work]) {
        let s = p.to_string_lossy();
        if s.contains(',') || s.contains(':') || !p.is_absolute() {
            return Err(ImageError::InvalidArgument(format!(
                "overlay: {s:?} must be an absolute path without ',' or ':'"
            )));
        }
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        overlay_lowerdir(layers),
        upper.display(),
        work.display()
    );
    if opts.len() > MAX_MOUNT_OPTIONS {
        return Err(ImageError::InvalidArgument(format!(
            "overlay: {} layers make {} bytes of mount options, over the kernel's {MAX_MOUNT_OPTIONS}",
            layers.len(),
            opts.len()
        )));
    }
    Ok(opts)
}

/// Mounts the overlay of `layers` (base first) with `upper` and `work` on `target`.
pub fn mount_overlay(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), ImageError> {
    let data = overlay_options(layers, upper, work)?;
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::MS_NODEV,
        Some(data.as_str()),
    )
    .map_err(|e| ImageError::io(MOUNT_OP, target, std::io::Error::from(e)))
}

/// Whether `path` is a mount point (its device differs from its parent's, or mountinfo
/// names it).
fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Some(parent)) = (std::fs::symlink_metadata(path), path.parent()) else {
        return false;
    };
    match std::fs::metadata(parent) {
        Ok(p) if p.dev() != me.dev() => true,
        _ => std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|mi| {
            let want = path.to_string_lossy().replace(' ', "\\040");
            mi.lines()
                .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
        }),
    }
}

/// Removes a bundle made by [`create_overlay_bundle`] (or a plain one): the rootfs is
/// unmounted first (lazily, so a process still holding it cannot keep the delete from
/// finishing), then the directory is deleted. A missing bundle is not an error.
pub fn remove_bundle(dest: &Path) -> Result<(), ImageError> {
    let rootfs = dest.join("rootfs");
    if is_mount_point(&rootfs) {
        nix::mount::umount2(&rootfs, MntFlags::MNT_DETACH)
            .map_err(|e| ImageError::io("unmount", &rootfs, std::io::Error::from(e)))?;
    }
    match std::fs::remove_dir_all(dest) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(ImageError::io("remove", dest, e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_put_the_top_layer_first_and_refuse_separators() {
        let layers = vec![PathBuf::from("/s/layers/a"), PathBuf::from("/s/layers/b")];
        let o =
            overlay_options(&layers, Path::new("/b/upper"), Path::new("/b/work")).expect("options");
        assert_eq!(
            o,
            "lowerdir=/s/layers/b:/s/layers/a,upperdir=/b/upper,workdir=/b/work"
        );
        let bad = vec![PathBuf::from("/s/lay:ers/a")];
        assert!(overlay_options(&bad, Path::new("/u"), Path::new("/w")).is_err());
        assert!(overlay_options(&[], Path::new("/u"), Path::new("/w")).is_err());
        let many: Vec<PathBuf> = (0..100)
            .map(|i| PathBuf::from(format!("/var/lib/hezi/layers/{i:064}")))
            .collect();
        let err = overlay_options(&many, Path::new("/u"), Path::new("/w")).expect_err("long");
        assert!(err.to_string().contains("mount options"), "{err}");
    }

    #[test]
    fn removing_a_missing_bundle_is_fine() {
        let dir = tempfile::tempdir().expect("tmp");
        remove_bundle(&dir.path().join("nope")).expect("missing is ok");
        let b = dir.path().join("b");
        std::fs::create_dir_all(b.join("rootfs/etc")).expect("mkdir");
        remove_bundle(&b).expect("plain bundle");
        assert!(!b.exists());
    }
}
