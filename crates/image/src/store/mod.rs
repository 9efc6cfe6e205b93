//! The content store: an OCI image layout on disk (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`), written only through verified ingests, plus names in index.json.

mod ingest;
mod lock;
mod names;
mod progress;
pub(crate) use names::sniff;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hezi_digest::{Algorithm, Digest};

pub use ingest::Writer;
pub(crate) use lock::try_lock_exclusive;
pub use lock::StoreLock;
pub use progress::Reported;

use crate::error::ImageError;

/// Content of the `oci-layout` file.
pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// Largest JSON document (manifest, index, config) read into memory.
pub const MAX_DOCUMENT: u64 = 16 << 20;

/// Reads a whole JSON document (index.json, manifest.json, a manifest, index or config)
/// from `r`, failing once it is larger than [`MAX_DOCUMENT`]: the one cap that import,
/// the store and unpack all apply. `what` names it in errors.
pub fn read_document(r: impl Read, what: &str) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    r.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut buf)
        .map_err(ImageError::io_with("read", what.to_string()))?;
    if buf.len() as u64 > MAX_DOCUMENT {
        return Err(ImageError::InvalidDocument {
            what: what.to_string(),
            reason: format!("larger than {MAX_DOCUMENT} bytes"),
        });
    }
    Ok(buf)
}

/// Size and digest of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
}

/// Called with the number of bytes just moved (for progress displays): ingested by an
/// import, read from a layer blob by an unpack, or copied by an export.
pub type Progress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// An image store rooted at a directory.
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    progress: Option<Progress>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `dir`, creating an empty OCI layout there if needed.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, ImageError> {
        let root = dir.as_ref().to_path_buf();
        for sub in ["blobs/sha256", "ingest"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(ImageError::io_with("create directory", &p))?;
        }
        let store = Store {
            root,
            progress: None,
        };
        let layout = store.root.join("oci-layout");
        if !layout.exists() {
            store.write_atomic(&layout, OCI_LAYOUT.as_bytes())?;
        }
        let index = store.root.join("index.json");
        if !index.exists() {
            let _lock = store.lock_index()?;
            if !index.exists() {
                let doc =
                    crate::document::to_json(&crate::document::Index::default(), "index.json")?;
                store.write_atomic(&index, &doc)?;
            }
        }
        Ok(store)
    }

    /// Reports bytes to `progress` from now on: imports as blobs stream in, unpacks as layer
    /// blobs are read, exports as blobs are copied out.
    pub fn set_progress(&mut self, progress: Option<Progress>) {
        self.progress = progress;
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where the blob with digest `d` lives (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.encoded())
    }

    /// True if the blob is present.
    pub fn contains(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Opens a blob for reading.
    pub fn reader(&self, d: &Digest) -> Result<File, ImageError> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| self.not_found_or(d, "open", &p, e))
    }

    /// Size and digest of a present blob.
    pub fn info(&self, d: &Digest) -> Result<BlobInfo, ImageError> {
        let p = self.blob_path(d);
        let md = fs::symlink_metadata(&p).map_err(|e| self.not_found_or(d, "stat", &p, e))?;
        Ok(BlobInfo {
            digest: d.clone(),
            size: md.len(),
        })
    }

    /// Every blob in the store (of the algorithms this build knows), in no particular order.
    pub fn walk(&self) -> Result<Vec<BlobInfo>, ImageError> {
        let mut out = Vec::new();
        for alg in Algorithm::ALL {
            let dir = self.root.join("blobs").join(alg.name());
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ImageError::io("list", &dir, e)),
            };
            for ent in rd {
                let ent = ent.map_err(ImageError::io_with("list", &dir))?;
                let name = ent.file_name();
                let Some(name) = name.to_str() else { continue };
                let Ok(d) = Digest::from_encoded(*alg, name) else {
                    tracing::warn!(path = %ent.path().display(), "ignoring a file that is not a blob name");
                    continue;
                };
                let md = ent
                    .metadata()
                    .map_err(ImageError::io_with("stat", ent.path()))?;
                out.push(BlobInfo {
                    digest: d,
                    size: md.len(),
                });
            }
        }
        Ok(out)
    }

    /// Deletes a blob (absent is not an error).
    pub fn delete(&self, d: &Digest) -> Result<(), ImageError> {
        let p = self.blob_path(d);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io("remove", &p, e)),
        }
    }

    /// Starts an ingest: a temp file in `ingest/` that becomes a blob only when committed
    /// with a matching size and digest.
    pub fn writer(&self) -> Result<Writer, ImageError> {
        Writer::new(self)
    }

    /// Copies `reader` into the store, verifying it against `expected` (and `size` if
    /// given) before it becomes visible.
    pub fn ingest(
        &self,
        reader: impl Read,
        expected: &Digest,
        size: Option<u64>,
    ) -> Result<BlobInfo, ImageError> {
        if let Some(info) = self.present(expected, size)? {
            return Ok(info);
        }
        let mut w = self.writer_for(expected.algorithm())?;
        w.copy_from(reader, size, expected)?;
        w.commit(size, Some(expected))
    }

    /// Stores bytes whose digest is computed here (sha256).
    pub fn put_bytes(&self, data: &[u8]) -> Result<BlobInfo, ImageError> {
        let d = Digest::from_bytes(Algorithm::Sha256, data);
        self.ingest(data, &d, Some(data.len() as u64))
    }

    /// Reads a whole (small) blob and checks its digest.
    pub fn read_bytes(&self, d: &Digest) -> Result<Vec<u8>, ImageError> {
        let f = self.reader(d)?;
        let buf = read_document(f, d.as_ref())?;
        let actual = Digest::from_bytes(d.algorithm(), &buf);
        if actual != *d {
            return Err(ImageError::DigestMismatch {
                expected: d.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(buf)
    }

    pub(crate) fn writer_for(&self, alg: Algorithm) -> Result<Writer, ImageError> {
        Writer::with_algorithm(self, alg)
    }

    /// The blob `d` if it is present, of `size` (when given) and hashes to `d`. A blob of
    /// another size is not hashed; one that fails verification is logged and reported
    /// absent, so that the caller ingests the content again and replaces it.
    pub(crate) fn present(
        &self,
        d: &Digest,
        size: Option<u64>,
    ) -> Result<Option<BlobInfo>, ImageError> {
        let info = match self.info(d) {
            Ok(info) if size.is_none() || size == Some(info.size) => info,
            Ok(_) | Err(ImageError::BlobNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if self.blob_is_intact(d)? {
            Ok(Some(info))
        } else {
            tracing::warn!(digest = %d, "stored blob fails verification; it will be replaced");
            Ok(None)
        }
    }

    /// True when the stored blob `d` hashes to `d` (false when absent).
    pub fn blob_is_intact(&self, d: &Digest) -> Result<bool, ImageError> {
        let f = match self.reader(d) {
            Ok(f) => f,
            Err(ImageError::BlobNotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let actual = Digest::from_reader(d.algorithm(), io::BufReader::with_capacity(1 << 20, f))
            .map_err(ImageError::io_with("read", self.blob_path(d)))?;
        Ok(actual == *d)
    }

    fn not_found_or(&self, d: &Digest, op: &'static str, p: &Path, e: io::Error) -> ImageError {
        if e.kind() == io::ErrorKind::NotFound {
            ImageError::BlobNotFound {
                digest: d.to_string(),
                store: self.root.clone(),
            }
        } else {
            ImageError::io(op, p, e)
        }
    }

    /// Writes `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
    pub(crate) fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), ImageError> {
        write_atomic(path, data)
    }
}

/// Writes `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ImageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(ImageError::io_with("create temp file in", dir))?;
    tmp.write_all(data)
        .map_err(ImageError::io_with("write", tmp.path().to_path_buf()))?;
    tmp.as_file()
        .sync_all()
        .map_err(ImageError::io_with("fsync", tmp.path().to_path_buf()))?;
    tmp.persist(path)
        .map_err(|e| ImageError::io("rename into", path, e.error))?;
    sync_dir(dir)
}

/// fsyncs a directory so a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(ImageError::io_with("fsync directory", dir))
}
