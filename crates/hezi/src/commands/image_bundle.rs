//! Bundles that `hezi run --image` makes from the image store: where they live, how they are
//! marked, and their removal when the container is deleted.
//!
//! A bundle made for container `ID` lives at `<store>/bundles/ID` and its config carries the
//! annotation [`OWNED_BUNDLE`], so `hezi delete` (or `run` itself, when attached) can remove
//! exactly the bundles hezi made and never a user's own bundle.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::GlobalOpts;

/// Annotation set on configs of bundles hezi made from an image; its value is the bundle dir.
pub const OWNED_BUNDLE: &str = "io.github.hezi.image-bundle";

/// Makes the bundle for container `id` from image `reference` (with `command` replacing the
/// image's Cmd when non-empty) and returns its directory.
pub fn make(
    g: &GlobalOpts,
    id: &str,
    reference: &str,
    command: &[String],
) -> anyhow::Result<PathBuf> {
    hezi_runtime::id::validate_id(id)?;
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
        ..Default::default()
    };
    let made = hezi_image::create_bundle(&store, reference, &dir, &opts)
        .with_context(|| format!("making a bundle of image {reference} for container {id}"));
    let result = made.and_then(|_| mark_owned(&dir));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.map(|()| dir)
}

/// Adds the [`OWNED_BUNDLE`] annotation to `dir/config.json`.
fn mark_owned(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("config.json");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
    cfg["annotations"][OWNED_BUNDLE] = serde_json::Value::String(dir.display().to_string());
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// The bundle dir to remove with a container, if hezi made it from an image.
pub fn owned(state: &hezi_runtime::RuncState) -> Option<PathBuf> {
    let dir = state.annotations.get(OWNED_BUNDLE)?;
    (Path::new(dir) == state.bundle).then(|| state.bundle.clone())
}

/// Removes a bundle hezi made (after its container is gone).
pub fn remove(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing image bundle {}", dir.display()))
        }
        _ => Ok(()),
    }
}
