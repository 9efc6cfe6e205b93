//! Ingest writers: content goes to a uniquely named temp file in `ingest/` and becomes a
//! blob only after its size and digest are verified, by fsync + rename + directory fsync.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::PathBuf;

use hezi_digest::{Algorithm, Digest, Digester};
use tempfile::NamedTempFile;

use super::{sync_dir, BlobInfo, Store};
use crate::error::ImageError;

/// An ingest in progress. Dropping it without [`Writer::commit`] deletes the temp file.
pub struct Writer {
    tmp: NamedTempFile,
    digester: Digester,
    written: u64,
    store: Store,
    buf: io::BufWriter<File>,
}

impl Writer {
    pub(super) fn new(store: &Store) -> Result<Writer, ImageError> {
        Writer::with_algorithm(store, Algorithm::Sha256)
    }

    pub(super) fn with_algorithm(store: &Store, alg: Algorithm) -> Result<Writer, ImageError> {
        let dir = store.root.join("ingest");
        let tmp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&dir)
            .map_err(ImageError::io_with("create ingest file in", &dir))?;
        // Held while this writer (or a duplicate of its fd) is open: gc removes only ingest
        // files nobody holds.
        super::lock::try_lock_exclusive(tmp.as_file())
            .map_err(ImageError::io_with("lock", tmp.path().to_path_buf()))?;
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(ImageError::io_with("dup", tmp.path().to_path_buf()))?;
        Ok(Writer {
            tmp,
            digester: alg.digester(),
            written: 0,
            store: store.clone(),
            buf: io::BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// Reopens (or creates) the partial ingest file `ingest/<name>` kept by
    /// [`Writer::keep`]: its content is hashed again and writing continues at its end
    /// (content longer than `max` bytes is dropped). It is still only a blob after
    /// [`Writer::commit`] verifies it; a failed commit deletes it. Callers serialise access
    /// to one name (the registry client holds a lock file).
    #[cfg(feature = "registry")]
    pub(crate) fn resume(
        store: &Store,
        name: &str,
        alg: Algorithm,
        max: u64,
    ) -> Result<Writer, ImageError> {
        let path = store.root.join("ingest").join(name);
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(ImageError::io_with("open ingest file", &path))?;
        if !super::lock::try_lock_exclusive(&file)
            .map_err(ImageError::io_with("lock", path.clone()))?
        {
            return Err(ImageError::io(
                "lock",
                &path,
                io::Error::new(io::ErrorKind::WouldBlock, "another writer has it open"),
            ));
        }
        let mut digester = alg.digester();
        let mut written =
            io::copy(&mut (&file), &mut digester).map_err(ImageError::io_with("read", &path))?;
        if written > max {
            tracing::debug!(path = %path.display(), written, max, "kept ingest is too long; starting over");
            file.set_len(0)
                .map_err(ImageError::io_with("truncate", &path))?;
            io::Seek::rewind(&mut (&file)).map_err(ImageError::io_with("seek", &path))?;
            digester = alg.digester();
            written = 0;
        }
        let dup = file
            .try_clone()
            .map_err(ImageError::io_with("dup", &path))?;
        let tmp_path = tempfile::TempPath::try_from_path(&path)
            .map_err(ImageError::io_with("resolve", &path))?;
        Ok(Writer {
            tmp: NamedTempFile::from_parts(file, tmp_path),
            digester,
            written,
            store: store.clone(),
            buf: io::BufWriter::with_capacity(1 << 20, dup),
        })
    }

    /// Flushes and leaves the ingest file in place (not a blob), so that a later
    /// [`Writer::resume`] of its name continues it.
    #[cfg(feature = "registry")]
    pub(crate) fn keep(mut self) -> Result<(), ImageError> {
        let path = self.tmp.path().to_path_buf();
        self.buf
            .flush()
            .map_err(ImageError::io_with("write", path.clone()))?;
        self.tmp
            .into_temp_path()
            .keep()
            .map_err(|e| ImageError::io("keep", path, e.error))?;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest of what was written so far.
    pub fn digest(&self) -> Digest {
        self.digester.current()
    }

    /// Copies `reader` in, failing early (naming `expected`) once more than `size` bytes come.
    pub fn copy_from(
        &mut self,
        mut reader: impl Read,
        size: Option<u64>,
        expected: &Digest,
    ) -> Result<(), ImageError> {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ImageError::io("read content of", expected.to_string(), e)),
            };
            if let Some(size) = size {
                if self.written + n as u64 > size {
                    return Err(ImageError::SizeMismatch {
                        digest: expected.to_string(),
                        expected: size,
                        actual: self.written + n as u64,
                        truncated_read: true,
                    });
                }
            }
            self.write_all(&buf[..n])
                .map_err(ImageError::io_with("write", self.tmp.path().to_path_buf()))?;
        }
    }

    /// Verifies size and digest (each only if given), fsyncs and renames the content into
    /// place. If an intact blob is already there the temp file is dropped; one that fails
    /// verification (corrupted on disk) is replaced atomically by the rename.
    pub fn commit(
        mut self,
        size: Option<u64>,
        expected: Option<&Digest>,
    ) -> Result<BlobInfo, ImageError> {
        let tmp_path = self.tmp.path().to_path_buf();
        self.buf
            .flush()
            .map_err(ImageError::io_with("write", tmp_path.clone()))?;
        let actual = self.digester.current();
        let label = expected
            .map(|d| d.to_string())
            .unwrap_or_else(|| actual.to_string());
        if let Some(size) = size {
            if size != self.written {
                return Err(ImageError::SizeMismatch {
                    digest: label,
                    expected: size,
                    actual: self.written,
                    truncated_read: false,
                });
            }
        }
        if let Some(d) = expected {
            if *d != actual {
                return Err(ImageError::DigestMismatch {
                    expected: d.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        let target = self.store.blob_path(&actual);
        let info = BlobInfo {
            digest: actual,
            size: self.written,
        };
        if target.is_file() {
            if self.store.blob_is_intact(&info.digest)? {
                return Ok(info);
            }
            tracing::warn!(digest = %info.digest, "replacing a stored blob that fails verification");
        }
        let dir: PathBuf = target.parent().map(PathBuf::from).unwrap_or_default();
        fs::create_dir_all(&dir).map_err(ImageError::io_with("create directory", &dir))?;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(ImageError::io_with("fsync", tmp_path.clone()))?;
        self.tmp
            .persist(&target)
            .map_err(|e| ImageError::io("rename into", &target, e.error))?;
        sync_dir(&dir)?;
        Ok(info)
    }
}

impl Write for Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.buf.write(data)?;
        self.digester.update(&data[..n]);
        self.written += n as u64;
        if let Some(p) = &self.store.progress {
            p(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.buf.flush()
    }
}
