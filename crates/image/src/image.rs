//! Resolving a reference to one image (manifest + config) and unpacking it.

use std::path::{Path, PathBuf};

use crate::document::{self, Descriptor, ImageConfig, Index, Manifest, Platform};
use crate::error::ImageError;
use crate::media;
use crate::store::Store;
use crate::unpack::{self, Expect, LayerReport, UnpackOptions, WhiteoutMode};

/// One image: the manifest chosen for a platform and its config.
#[derive(Debug, Clone)]
pub struct Image {
    /// The descriptor of the manifest.
    pub manifest_descriptor: Descriptor,
    /// The manifest.
    pub manifest: Manifest,
    /// The config.
    pub config: ImageConfig,
}

impl Image {
    /// What each layer is expected to be (digest, size, diffID, media type), base first.
    pub fn layer_expectations(&self) -> Result<Vec<Expect>, ImageError> {
        let ids = &self.config.rootfs.diff_ids;
        if ids.len() != self.manifest.layers.len() {
            return Err(ImageError::InvalidDocument {
                what: format!("image {}", self.manifest_descriptor.digest),
                reason: format!(
                    "manifest has {} layers but config lists {} diff_ids",
                    self.manifest.layers.len(),
                    ids.len()
                ),
            });
        }
        Ok(self
            .manifest
            .layers
            .iter()
            .zip(ids)
            .map(|(l, id)| Expect {
                digest: Some(l.digest.clone()),
                size: Some(l.size),
                diff_id: Some(id.clone()),
                media_type: l.media_type.clone(),
            })
            .collect())
    }
}

impl Store {
    /// Parses a manifest or index blob named by `desc`.
    pub fn read_manifest(&self, desc: &Descriptor) -> Result<Manifest, ImageError> {
        let bytes = self.read_bytes(&desc.digest)?;
        document::parse(&bytes, &format!("manifest {}", desc.digest))
    }

    /// Parses an index blob named by `desc`.
    pub fn read_index(&self, desc: &Descriptor) -> Result<Index, ImageError> {
        let bytes = self.read_bytes(&desc.digest)?;
        document::parse(&bytes, &format!("index {}", desc.digest))
    }

    /// Follows `desc` (a manifest, or an index, possibly nested) to the manifest for
    /// `platform` (default: this machine's).
    pub fn manifest_for(
        &self,
        desc: &Descriptor,
        platform: Option<&Platform>,
    ) -> Result<(Descriptor, Manifest), ImageError> {
        let want = platform.cloned().unwrap_or_else(Platform::host);
        let mut cur = desc.clone();
        for _ in 0..8 {
            let bytes = self.read_bytes(&cur.digest)?;
            let mt = if cur.media_type.is_empty() {
                crate::store::sniff(&bytes)
            } else {
                cur.media_type.clone()
            };
            if media::is_index(&mt)
                || (!media::is_manifest(&mt) && crate::store::sniff(&bytes) == media::OCI_INDEX)
            {
                let index: Index = document::parse(&bytes, &format!("index {}", cur.digest))?;
                let pick = index
                    .manifests
                    .iter()
                    .find(|m| m.platform.as_ref().is_some_and(|p| want.matches(p)))
                    .or_else(|| {
                        // An index with a single platform-less manifest (as some tools write).
                        if index.manifests.len() == 1 && index.manifests[0].platform.is_none() {
                            index.manifests.first()
                        } else {
                            None
                        }
                    })
                    .ok_or_else(|| ImageError::NoPlatform {
                        index: cur.digest.to_string(),
                        platform: want.to_string(),
                    })?;
                cur = pick.clone();
                continue;
            }
            let m: Manifest = document::parse(&bytes, &format!("manifest {}", cur.digest))?;
            return Ok((cur, m));
        }
        Err(ImageError::InvalidDocument {
            what: desc.digest.to_string(),
            reason: "indexes nested too deeply".into(),
        })
    }

    /// Resolves `reference` to one image for `platform`.
    pub fn image(&self, reference: &str, platform: Option<&Platform>) -> Result<Image, ImageError> {
        let desc = self.resolve(reference)?;
        let (manifest_descriptor, manifest) = self.manifest_for(&desc, platform)?;
        let cfg = self.read_bytes(&manifest.config.digest)?;
        let config: ImageConfig =
            document::parse(&cfg, &format!("config {}", manifest.config.digest))?;
        Ok(Image {
            manifest_descriptor,
            manifest,
            config,
        })
    }

    /// Unpacks the image's layers into `rootfs` (flat, whiteouts applied). Every layer's
    /// digest, size and diffID are checked while unpacking; on error the rootfs is removed
    /// if this call created it.
    pub fn unpack(
        &self,
        image: &Image,
        rootfs: &Path,
        opts: UnpackOptions,
    ) -> Result<Vec<LayerReport>, ImageError> {
        let expects = image.layer_expectations()?;
        let layers = expects.into_iter().map(|e| {
            let digest = e
                .digest
                .clone()
                .ok_or_else(|| ImageError::InvalidArgument("layer without digest".into()))?;
            Ok((self.reported(self.reader(&digest)?), e))
        });
        unpack::unpack_layers(rootfs, layers, opts)
    }

    /// Makes sure each layer of `image` is unpacked once under `<store>/layers/<diffid-hex>`
    /// in overlay form (whiteouts as char 0:0 devices, opaque dirs as
    /// `trusted.overlay.opaque=y`), built in a temp dir and renamed into place. Returns the
    /// layer directories base first; [`overlay_lowerdir`] turns them into a mount option.
    pub fn overlay_layers(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError> {
        self.overlay_layers_limited(image, None)
    }

    /// [`Self::overlay_layers`], refusing to cache a layer whose uncompressed tar stream is
    /// larger than `max_layer_size` ([`ImageError::LayerTooLarge`]; nothing of it stays in
    /// the cache). A layer cached earlier is used as it is: it is on disk already.
    pub fn overlay_layers_limited(
        &self,
        image: &Image,
        max_layer_size: Option<u64>,
    ) -> Result<Vec<PathBuf>, ImageError> {
        let base = self.path().join("layers");
        std::fs::create_dir_all(&base).map_err(ImageError::io_with("create directory", &base))?;
        let mut out = Vec::new();
        for e in image.layer_expectations()? {
            let (Some(digest), Some(diff_id)) = (e.digest.clone(), e.diff_id.clone()) else {
                return Err(ImageError::InvalidArgument("layer without digest".into()));
            };
            let dir = base.join(diff_id.encoded());
            if !dir.is_dir() {
                let tmp = tempfile::Builder::new()
                    .prefix(".tmp-")
                    .tempdir_in(&base)
                    .map_err(ImageError::io_with("create temp dir in", &base))?;
                let opts = UnpackOptions {
                    whiteouts: WhiteoutMode::Overlay,
                    max_layer_size,
                    ..UnpackOptions::default()
                };
                let mut u = unpack::Unpacker::new(tmp.path(), opts)?;
                u.layer(self.reported(self.reader(&digest)?), &e)?;
                let tmp_path = tmp.keep();
                if let Err(err) = std::fs::rename(&tmp_path, &dir) {
                    let _ = std::fs::remove_dir_all(&tmp_path);
                    if !dir.is_dir() {
                        return Err(ImageError::io("rename into", &dir, err));
                    }
                }
                crate::store::sync_dir(&base)?;
            }
            out.push(dir);
        }
        Ok(out)
    }
}

/// The overlayfs `lowerdir=` value for layer directories given base first (overlay wants
/// the top-most layer first).
pub fn overlay_lowerdir(layers: &[PathBuf]) -> String {
    layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}
