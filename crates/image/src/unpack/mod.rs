//! Safe, fast unpacking of layer stacks into a rootfs (image-spec layer.md).
//!
//! Paths are resolved as umoci does (securejoin): the parent directory of every entry is
//! resolved INSIDE the rootfs, following symlinks with the rootfs as `/` (absolute targets
//! start at the rootfs, `..` never climbs above it: `openat2(RESOLVE_IN_ROOT)`), so a layer
//! can write through `lib -> usr/lib` or `var/run -> /run` that a lower layer made; the final
//! component is never followed (the inode there is replaced). Absolute entry names are taken
//! inside the root (`/` is the rootfs itself); names that climb above the root with `..`,
//! and a bare `.wh.`, are errors. Whatever an archive
//! holds, nothing is created, modified or removed outside the rootfs. Decompression and
//! hashing run on one thread while files are written on another.

mod apply;
mod guard;
mod limit;
pub(crate) mod path;
mod root;
pub mod rootless_xattr;
mod stream;

/// The error for a zstd blob in a build without the `zstd` feature.
#[cfg(not(feature = "zstd"))]
pub(crate) fn zstd_not_built() -> crate::ImageError {
    crate::ImageError::Unsupported(
        "zstd-compressed content: hezi-image was built without its `zstd` feature".into(),
    )
}

use std::io::Read;
use std::path::Path;

pub use guard::MAX_META;
pub use stream::{Compression, Expect, Observed};

use crate::error::ImageError;

/// How whiteout entries are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhiteoutMode {
    /// Delete what lower layers put there (a flat rootfs).
    Apply,
    /// Keep each layer separate and write overlayfs whiteouts (char 0:0 devices and
    /// `trusted.overlay.opaque=y`), for a layer directory used as an overlay lowerdir.
    Overlay,
}

/// Options for unpacking.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Set owners from the archive (needs root). Default: true when running as root.
    pub preserve_owner: bool,
    /// Where owners cannot be set (`preserve_owner` false), record each entry's owner in the
    /// `user.rootlesscontainers` xattr, as `umoci unpack --rootless` does (see
    /// [`rootless_xattr`](crate::unpack::rootless_xattr)). Default: true when not root.
    pub rootless_owner_xattr: bool,
    /// How whiteouts are applied.
    pub whiteouts: WhiteoutMode,
    /// The largest uncompressed tar stream accepted for one layer, in bytes (`None`: no
    /// limit). A layer that expands beyond it fails with [`ImageError::LayerTooLarge`]
    /// as soon as the limit is crossed, before more is written.
    pub max_layer_size: Option<u64>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            preserve_owner: nix::unistd::geteuid().is_root(),
            rootless_owner_xattr: !nix::unistd::geteuid().is_root(),
            whiteouts: WhiteoutMode::Apply,
            max_layer_size: None,
        }
    }
}

/// What unpacking one layer did.
#[derive(Debug, Clone)]
pub struct LayerReport {
    /// Digests and sizes observed while reading.
    pub observed: Observed,
    /// Number of tar entries applied.
    pub entries: u64,
}

/// Unpacks layers, in order, into one rootfs.
pub struct Unpacker {
    applier: apply::Applier,
    max_layer_size: Option<u64>,
}

impl Unpacker {
    /// Opens (creating if needed) `rootfs` for unpacking.
    pub fn new(rootfs: &Path, opts: UnpackOptions) -> Result<Unpacker, ImageError> {
        let max_layer_size = opts.max_layer_size;
        Ok(Unpacker {
            applier: apply::Applier::new(rootfs, opts)?,
            max_layer_size,
        })
    }

    /// Unpacks one layer blob (tar, tar+gzip or tar+zstd, detected from the media type and
    /// the magic bytes), checking its size, digest and diffID against `expect` at the end.
    /// On error the rootfs is left partially written; the caller removes it.
    pub fn layer<R: Read + Send>(
        &mut self,
        blob: R,
        expect: &Expect,
    ) -> Result<LayerReport, ImageError> {
        let mut entries = 0u64;
        let applier = &mut self.applier;
        let limit_hit = std::cell::Cell::new(false);
        let limit = self.max_layer_size;
        let observed = stream::run(blob, expect, |tar_stream| {
            let limited = limit::Limited::new(tar_stream, limit, &limit_hit);
            let mut archive = tar::Archive::new(guard::Guard::new(limited));
            let iter = archive.entries().map_err(|e| ImageError::BadEntry {
                path: String::new(),
                reason: format!("reading tar stream: {e}"),
            })?;
            for entry in iter {
                let mut entry = entry.map_err(|e| ImageError::BadEntry {
                    path: format!("(entry after #{entries})"),
                    reason: format!("reading tar header: {e}"),
                })?;
                applier.apply(&mut entry)?;
                entries += 1;
            }
            applier.finish_layer()
        });
        // Whatever error the tar reader or the writer wrapped it in, a crossed limit is
        // reported as such.
        let observed = match (observed, limit, limit_hit.get()) {
            (Err(_), Some(limit), true) => {
                return Err(ImageError::LayerTooLarge {
                    layer: expect
                        .digest
                        .as_ref()
                        .map_or_else(|| "(without digest)".to_string(), |d| d.to_string()),
                    limit,
                })
            }
            (r, _, _) => r?,
        };
        Ok(LayerReport { observed, entries })
    }
}

/// Unpacks `layers` in order into `rootfs`. On any error a rootfs this call created is
/// removed, and an existing rootfs that was empty is emptied again, so a failed unpack
/// leaves nothing half-written behind. (Layers applied on top of an existing non-empty
/// rootfs are the caller's to undo: hezi cannot tell its files from what was there.)
pub fn unpack_layers<R, I>(
    rootfs: &Path,
    layers: I,
    opts: UnpackOptions,
) -> Result<Vec<LayerReport>, ImageError>
where
    R: Read + Send,
    I: IntoIterator<Item = Result<(R, Expect), ImageError>>,
{
    let existed = rootfs.exists();
    let was_empty = existed && is_empty_dir(rootfs);
    let run = || -> Result<Vec<LayerReport>, ImageError> {
        let mut unpacker = Unpacker::new(rootfs, opts)?;
        let mut out = Vec::new();
        for layer in layers {
            let (reader, expect) = layer?;
            out.push(unpacker.layer(reader, &expect)?);
        }
        Ok(out)
    };
    let result = run();
    if result.is_err() {
        let cleaned = if !existed {
            std::fs::remove_dir_all(rootfs)
        } else if was_empty {
            empty_dir(rootfs)
        } else {
            Ok(())
        };
        if let Err(e) = cleaned {
            tracing::warn!(rootfs = %rootfs.display(), error = %e, "could not remove a failed unpack");
        }
    }
    result
}

/// True when `dir` is a directory with no entries.
fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Removes everything inside `dir`, keeping `dir` itself (its owner and mode are the
/// caller's), through the unpacker's own no-follow removal ([`root::empty_dir_at`]).
fn empty_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{}: not a directory name", dir.display())))?;
    let parent_fd = std::fs::File::open(parent)?;
    root::empty_dir_at(parent_fd.as_fd(), name, &mut |_| true).map_err(std::io::Error::from)
}
