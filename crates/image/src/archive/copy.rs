//! Copies a descriptor and everything below it from a source into the store, children
//! before parents, verifying each blob before it becomes visible.

use std::io::Read;

use crate::document::{self, Descriptor, Index, Manifest};
use crate::error::ImageError;
use crate::media;
use crate::store::{sniff, Store, MAX_DOCUMENT};

/// Where blobs come from.
pub(crate) trait Source {
    /// Opens a blob, `None` if the source does not have it.
    fn open(&self, d: &Descriptor) -> Result<Option<Box<dyn Read + '_>>, ImageError>;

    /// True when the source is the store itself, whose blobs this import just verified.
    fn is_store(&self) -> bool {
        false
    }
}

/// The store itself (blobs already ingested by a streaming import).
pub(crate) struct StoreSource<'a>(pub &'a Store);

impl Source for StoreSource<'_> {
    fn open(&self, d: &Descriptor) -> Result<Option<Box<dyn Read + '_>>, ImageError> {
        match self.0.reader(&d.digest) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(ImageError::BlobNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn is_store(&self) -> bool {
        true
    }
}

/// Copies `d` and its children. Children of an index that the source lacks (platforms not
/// included) are skipped; anything else missing is an error.
pub(crate) fn copy_tree(
    store: &Store,
    src: &dyn Source,
    d: &Descriptor,
    depth: usize,
) -> Result<(), ImageError> {
    if depth > 8 {
        return Err(ImageError::InvalidDocument {
            what: d.digest.to_string(),
            reason: "nested too deeply".into(),
        });
    }
    let missing = || ImageError::BlobNotFound {
        digest: d.digest.to_string(),
        store: "the import source".into(),
    };
    let maybe_doc = media::is_index(&d.media_type)
        || media::is_manifest(&d.media_type)
        || d.media_type.is_empty();
    if !maybe_doc {
        // Same size is not enough: a blob corrupted in place keeps its size. `present`
        // re-hashes a same-size blob so that a re-import repairs it.
        if src.is_store() {
            if store.info(&d.digest)?.size == d.size {
                return Ok(());
            }
        } else if store.present(&d.digest, Some(d.size))?.is_some() {
            return Ok(());
        }
        let r = src.open(d)?.ok_or_else(missing)?;
        store.ingest(r, &d.digest, Some(d.size))?;
        return Ok(());
    }
    if d.size > MAX_DOCUMENT {
        return Err(ImageError::InvalidDocument {
            what: d.digest.to_string(),
            reason: format!("document of {} bytes is too large", d.size),
        });
    }
    let mut bytes = Vec::new();
    src.open(d)?
        .ok_or_else(missing)?
        .take(d.size + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ImageError::io("read", d.digest.to_string(), e))?;
    if bytes.len() as u64 != d.size {
        return Err(ImageError::SizeMismatch {
            digest: d.digest.to_string(),
            expected: d.size,
            actual: bytes.len() as u64,
            truncated_read: bytes.len() as u64 > d.size,
        });
    }
    let actual = hezi_digest::Digest::from_bytes(d.digest.algorithm(), &bytes);
    if actual != d.digest {
        return Err(ImageError::DigestMismatch {
            expected: d.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    let mt = if d.media_type.is_empty() {
        sniff(&bytes)
    } else {
        d.media_type.clone()
    };
    let what = format!("document {}", d.digest);
    if media::is_index(&mt) {
        let index: Index = document::parse(&bytes, &what)?;
        for child in &index.manifests {
            if src.open(child)?.is_none() && !store.contains(&child.digest) {
                tracing::info!(digest = %child.digest, platform = ?child.platform, "index entry not in the source; skipped");
                continue;
            }
            copy_tree(store, src, child, depth + 1)?;
        }
    } else {
        let m: Manifest = document::parse(&bytes, &what)?;
        if m.config.size > MAX_DOCUMENT {
            // The config is read whole when the image is used: the same cap as there.
            return Err(ImageError::InvalidDocument {
                what: m.config.digest.to_string(),
                reason: format!("config of {} bytes is too large", m.config.size),
            });
        }
        copy_tree(store, src, &m.config, depth + 1)?;
        for l in &m.layers {
            copy_tree(store, src, l, depth + 1)?;
        }
    }
    store.ingest(bytes.as_slice(), &d.digest, Some(d.size))?;
    Ok(())
}

/// Every blob `d` reaches in the store (documents, configs, layers), present ones only
/// for index children.
pub(crate) fn closure(
    store: &Store,
    d: &Descriptor,
    out: &mut Vec<Descriptor>,
) -> Result<(), ImageError> {
    if out.iter().any(|x| x.digest == d.digest) {
        return Ok(());
    }
    out.push(d.clone());
    let maybe_doc = media::is_index(&d.media_type)
        || media::is_manifest(&d.media_type)
        || d.media_type.is_empty();
    if !maybe_doc {
        return Ok(());
    }
    let bytes = store.read_bytes(&d.digest)?;
    let mt = if d.media_type.is_empty() {
        sniff(&bytes)
    } else {
        d.media_type.clone()
    };
    let what = format!("document {}", d.digest);
    if media::is_index(&mt) {
        let index: Index = document::parse(&bytes, &what)?;
        for child in &index.manifests {
            if store.contains(&child.digest) {
                closure(store, child, out)?;
            }
        }
    } else {
        let m: Manifest = document::parse(&bytes, &what)?;
        closure(store, &m.config, out)?;
        for l in &m.layers {
            closure(store, l, out)?;
        }
    }
    Ok(())
}
