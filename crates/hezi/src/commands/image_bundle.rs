//! Bundles that `hezi run --image` makes from the image store: where they live, how they are
//! marked, and their removal when the container is deleted.
//!
//! A bundle made for container `ID` lives at `<store>/bundles/ID` and its config carries the
//! annotation [`OWNED_BUNDLE`], so `hezi delete` (or `run` itself, when attached) can remove
//! exactly the bundles hezi made and never a user's own bundle.
//!
//! The rootfs is an overlay of the store's cached layers (each layer unpacked once, shared by
//! every container of the image) with the container's own upper dir; `--copy`, or a
//! filesystem overlayfs refuses, gives a full unpacked copy instead.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::GlobalOpts;

/// Annotation set on configs of bundles hezi made from an image; its value is the bundle dir.
pub const OWNED_BUNDLE: &str = "io.github.hezi.image-bundle";

/// How `run --image` makes its bundle.
#[derive(Debug, Clone, Copy)]
pub struct MakeOptions {
    /// A full unpacked copy instead of an overlay of the cached layers.
    pub copy: bool,
    /// What the image's Volumes become.
    pub volumes: hezi_image::VolumeMode,
    /// Refuse a layer that expands beyond this many bytes (copy or layer cache).
    pub max_layer_size: Option<u64>,
}

/// Makes the bundle for container `id` from image `reference` (with `command` replacing the
/// image's Cmd when non-empty) and returns its directory: an overlay of the cached layers, or
/// a full copy with `copy` (or when the overlay cannot be mounted here, which is logged).
pub fn make(
    g: &GlobalOpts,
    id: &str,
    reference: &str,
    command: &[String],
    how: MakeOptions,
) -> anyhow::Result<PathBuf> {
    let MakeOptions {
        copy,
        volumes,
        max_layer_size,
    } = how;
    hezi_runtime::validate_id(id)?;
    let store = super::image::open_store(g)?;
    let dir = g.store.join("bundles").join(id);
    if dir.exists() {
        anyhow::bail!(
            "container with id {id} exists: its image bundle {} is still there",
            dir.display()
        );
    }
    let opts = hezi_image::BundleOptions {
        command: (!command.is_empty()).then(|| command.to_vec()),
        volumes,
        annotations: [(OWNED_BUNDLE.to_string(), dir.display().to_string())].into(),
        writable_root: true,
        unpack: hezi_image::unpack::UnpackOptions {
            max_layer_size,
            ..Default::default()
        },
        ..Default::default()
    };
    let context = || format!("making a bundle of image {reference} for container {id}");
    // An ordinary user cannot mount an overlay here: a copy it is, without trying.
    let copy = copy || !nix::unistd::geteuid().is_root();
    let made = if copy {
        hezi_image::create_bundle(&store, reference, &dir, &opts).map(|_| ())
    } else {
        match hezi_image::overlay::create_overlay_bundle(&store, reference, &dir, &opts) {
            Err(hezi_image::ImageError::Io { op, path, source })
                if op == hezi_image::overlay::MOUNT_OP =>
            {
                tracing::warn!(
                    "overlay rootfs not possible here ({}: {source}); unpacking a full copy",
                    path.display()
                );
                hezi_image::create_bundle(&store, reference, &dir, &opts).map(|_| ())
            }
            other => other.map(|_| ()),
        }
    };
    let made = made.with_context(context);
    let result = made;
    if result.is_err() {
        let _ = hezi_image::overlay::remove_bundle(&dir);
    }
    result.map(|()| dir)
}

/// The bundle dir to remove with a container, if hezi made it from an image.
pub fn owned(state: &hezi_runtime::RuncState) -> Option<PathBuf> {
    let dir = state.annotations.get(OWNED_BUNDLE)?;
    (Path::new(dir) == state.bundle).then(|| state.bundle.clone())
}

/// Removes a bundle hezi made (after its container is gone): its overlay rootfs is unmounted
/// first, then the directory goes.
pub fn remove(dir: &Path) -> anyhow::Result<()> {
    hezi_image::overlay::remove_bundle(dir)
        .with_context(|| format!("removing image bundle {}", dir.display()))
}
