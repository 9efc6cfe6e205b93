//! Names: `org.opencontainers.image.ref.name` annotations in index.json, updated under a lock.

use std::fs;

use hezi_digest::Digest;

use super::{Store, StoreLock};
use crate::document::{self, Descriptor, Index};
use crate::error::ImageError;
use crate::media;

impl Store {
    /// Locks index.json for a read-modify-write.
    pub(crate) fn lock_index(&self) -> Result<StoreLock, ImageError> {
        StoreLock::acquire(&self.root.join("index.json.lock"), true)
    }

    /// Blocks garbage collection while held (imports hold it so that blobs they wrote but
    /// have not named yet survive a concurrent gc). `exclusive` is for the collector.
    pub fn lock_gc(&self, exclusive: bool) -> Result<StoreLock, ImageError> {
        StoreLock::acquire(&self.root.join("gc.lock"), exclusive)
    }

    /// Reads index.json.
    pub fn index(&self) -> Result<Index, ImageError> {
        let p = self.root.join("index.json");
        let f = fs::File::open(&p).map_err(ImageError::io_with("open", &p))?;
        let bytes = super::read_document(f, &p.display().to_string())?;
        document::parse(&bytes, &p.display().to_string())
    }

    /// Changes index.json under the lock and replaces it atomically.
    pub fn update_index<T>(
        &self,
        f: impl FnOnce(&mut Index) -> Result<T, ImageError>,
    ) -> Result<T, ImageError> {
        let _lock = self.lock_index()?;
        let mut index = self.index()?;
        let out = f(&mut index)?;
        let p = self.root.join("index.json");
        self.write_atomic(&p, &document::to_json(&index, "index.json")?)?;
        Ok(out)
    }

    /// Names `desc` `name`, replacing what the name pointed to before.
    pub fn set_name(&self, name: &str, desc: &Descriptor) -> Result<(), ImageError> {
        check_name(name)?;
        let mut d = desc.clone();
        d.annotations
            .insert(media::REF_NAME.to_string(), name.to_string());
        self.update_index(|index| {
            index.manifests.retain(|m| m.ref_name() != Some(name));
            index.manifests.push(d);
            Ok(())
        })
    }

    /// Removes a name; returns the descriptor it pointed to.
    pub fn remove_name(&self, reference: &str) -> Result<Descriptor, ImageError> {
        let store = self.root.clone();
        self.update_index(|index| {
            let name = canonical_in(index, reference).ok_or_else(|| ImageError::ImageNotFound {
                reference: reference.to_string(),
                store: store.clone(),
            })?;
            let pos = index
                .manifests
                .iter()
                .position(|m| m.ref_name() == Some(name.as_str()));
            match pos {
                Some(i) => Ok(index.manifests.remove(i)),
                None => Err(ImageError::ImageNotFound {
                    reference: reference.to_string(),
                    store,
                }),
            }
        })
    }

    /// Every named image: (name, descriptor).
    pub fn names(&self) -> Result<Vec<(String, Descriptor)>, ImageError> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| d.ref_name().map(|n| (n.to_string(), d.clone())))
            .collect())
    }

    /// Resolves a reference: a name (`name`, or `name:latest` for a name without a tag), a
    /// digest of a manifest or index listed in index.json, or a stored blob digest.
    pub fn resolve(&self, reference: &str) -> Result<Descriptor, ImageError> {
        let index = self.index()?;
        if let Some(name) = canonical_in(&index, reference) {
            if let Some(d) = index
                .manifests
                .iter()
                .find(|m| m.ref_name() == Some(name.as_str()))
            {
                return Ok(d.clone());
            }
        }
        if let Ok(d) = reference.parse::<Digest>() {
            if let Some(m) = index.manifests.iter().find(|m| m.digest == d) {
                return Ok(m.clone());
            }
            if self.contains(&d) {
                let bytes = self.read_bytes(&d)?;
                let mt = sniff(&bytes);
                return Ok(Descriptor::new(&mt, d, bytes.len() as u64));
            }
        }
        Err(ImageError::ImageNotFound {
            reference: reference.to_string(),
            store: self.root.clone(),
        })
    }
}

/// The media type a manifest or index names itself, or guessed from its fields.
pub(crate) fn sniff(bytes: &[u8]) -> String {
    // Not JSON: guessed a manifest here; whoever reads it as one reports the parse error
    // with its digest.
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
        return mt.to_string();
    }
    if v.get("manifests").is_some() {
        media::OCI_INDEX.to_string()
    } else {
        media::OCI_MANIFEST.to_string()
    }
}

/// The name in `index` that `reference` means (exact, or with `:latest` added).
fn canonical_in(index: &Index, reference: &str) -> Option<String> {
    let has = |n: &str| index.manifests.iter().any(|m| m.ref_name() == Some(n));
    if has(reference) {
        return Some(reference.to_string());
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if !last.contains(':') && !reference.contains('@') {
        let tagged = format!("{reference}:latest");
        if has(&tagged) {
            return Some(tagged);
        }
    }
    None
}

/// Rejects names that cannot be stored (empty, control characters).
fn check_name(name: &str) -> Result<(), ImageError> {
    if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ImageError::InvalidArgument(format!(
            "image name {name:?}: empty or has whitespace/control characters"
        )));
    }
    Ok(())
}
