//! What the store holds, for people: image summaries (`image ls`), an image's history
//! (`image history`) and disk usage with shared and unique bytes (`image du`).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::error::ImageError;
use crate::image::Image;
use crate::store::Store;

/// One name of the store with its image's creation time and size.
#[derive(Debug, Clone, Serialize)]
pub struct ImageSummary {
    /// The name (`busybox:latest`).
    pub name: String,
    /// The digest the name points at (a manifest or an index).
    pub digest: String,
    /// The media type of what the name points at.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The image config's `created`, when the image resolves for this platform and has one.
    pub created: Option<String>,
    /// Bytes of the image as stored (manifest, config and compressed layers), `None` when it
    /// does not resolve for this platform.
    pub size: Option<u64>,
}

/// The bytes of an image as stored: manifest, config and (compressed) layers.
pub fn image_size(image: &Image) -> u64 {
    image.manifest_descriptor.size
        + image.manifest.config.size
        + image.manifest.layers.iter().map(|l| l.size).sum::<u64>()
}

/// Every name of the store with its image's creation time and size (an index is resolved
/// for this machine's platform; a name that does not resolve gets neither: an index
/// without this platform, or one pulled for another platform whose manifest is not here).
/// Any other failure to read the image (a corrupt or unreadable document) is logged with
/// the name and the listing goes on, so one bad image does not hide the others.
pub fn summaries(store: &Store) -> Result<Vec<ImageSummary>, ImageError> {
    let mut out = Vec::new();
    for (name, desc) in store.names()? {
        let image = match store.image(&name, None) {
            Ok(i) => Some(i),
            Err(ImageError::NoPlatform { .. } | ImageError::BlobNotFound { .. }) => None,
            Err(e) => {
                tracing::warn!(%name, error = %e, "image cannot be read");
                None
            }
        };
        out.push(ImageSummary {
            digest: desc.digest.to_string(),
            media_type: desc.media_type.clone(),
            created: image.as_ref().and_then(|i| i.config.created.clone()),
            size: image.as_ref().map(image_size),
            name,
        });
    }
    Ok(out)
}

/// One step of an image's history (the config's `history`), with the size of the layer it
/// made.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// When the step ran.
    pub created: Option<String>,
    /// The command that made it.
    pub created_by: Option<String>,
    /// The compressed size of its layer; `None` for a step that made no layer.
    pub size: Option<u64>,
    /// The step's comment.
    pub comment: Option<String>,
}

/// The history of `image`, newest step first (as `docker history`); steps marked
/// `empty_layer` have no size, the others take the layers in order.
pub fn history(image: &Image) -> Vec<HistoryEntry> {
    let steps = image
        .config
        .extra
        .get("history")
        .and_then(|h| h.as_array())
        .cloned()
        .unwrap_or_default();
    let mut layers = image.manifest.layers.iter();
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let mut out: Vec<HistoryEntry> = steps
        .iter()
        .map(|s| {
            let empty = s
                .get("empty_layer")
                .and_then(|e| e.as_bool())
                .unwrap_or(false);
            HistoryEntry {
                created: text(s, "created"),
                created_by: text(s, "created_by"),
                size: if empty {
                    None
                } else {
                    layers.next().map(|l| l.size)
                },
                comment: text(s, "comment"),
            }
        })
        .collect();
    out.reverse();
    out
}

/// The store's disk usage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// Number of blobs.
    pub blobs: u64,
    /// Bytes of the blobs.
    pub blob_bytes: u64,
    /// Number of unpacked layers in the overlay layer cache.
    pub unpacked_layers: u64,
    /// Disk bytes of the layer cache (allocated blocks).
    pub unpacked_bytes: u64,
    /// Per image (names of one manifest together).
    pub images: Vec<ImageUsage>,
}

/// One image's share of the store.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUsage {
    /// The names of the image.
    pub names: Vec<String>,
    /// All its bytes (manifest, config, layers).
    pub size: u64,
    /// Bytes of blobs other images use too.
    pub shared: u64,
    /// Bytes only this image uses (what removing it and running gc frees).
    pub unique: u64,
}

/// Allocated bytes under `dir` (files, directories and links, not following links).
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

/// Measures the store: blobs, the layer cache, and each image's shared and unique bytes.
pub fn usage(store: &Store) -> Result<Usage, ImageError> {
    let blobs = store.walk()?;
    let mut u = Usage {
        blobs: blobs.len() as u64,
        blob_bytes: blobs.iter().map(|b| b.size).sum(),
        ..Usage::default()
    };
    let layers = store.path().join("layers");
    if let Ok(entries) = std::fs::read_dir(&layers) {
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with('.') {
                u.unpacked_layers += 1;
                u.unpacked_bytes += disk_bytes(&e.path());
            }
        }
    }
    // Images by manifest digest: the names of each, and the blobs (digest -> size) it uses.
    let mut images: BTreeMap<String, (Vec<String>, HashMap<String, u64>)> = BTreeMap::new();
    for (name, _) in store.names()? {
        let Ok(image) = store.image(&name, None) else {
            continue;
        };
        let entry = images
            .entry(image.manifest_descriptor.digest.to_string())
            .or_default();
        entry.0.push(name);
        let m = &image.manifest;
        entry.1.insert(
            image.manifest_descriptor.digest.to_string(),
            image.manifest_descriptor.size,
        );
        entry.1.insert(m.config.digest.to_string(), m.config.size);
        for l in &m.layers {
            entry.1.insert(l.digest.to_string(), l.size);
        }
    }
    let mut users: HashMap<&str, u32> = HashMap::new();
    for (_, blobs) in images.values() {
        for d in blobs.keys() {
            *users.entry(d.as_str()).or_default() += 1;
        }
    }
    for (names, blobs) in images.values() {
        let mut iu = ImageUsage {
            names: names.clone(),
            size: 0,
            shared: 0,
            unique: 0,
        };
        for (d, size) in blobs {
            iu.size += size;
            if users.get(d.as_str()).copied().unwrap_or(0) > 1 {
                iu.shared += size;
            } else {
                iu.unique += size;
            }
        }
        u.images.push(iu);
    }
    Ok(u)
}
