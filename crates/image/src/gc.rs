//! Reachability over names (index.json → indexes → manifests → config + layers), garbage
//! collection of what no name reaches, and verification of every blob.

use std::collections::{BTreeSet, HashSet};
use std::fs;

use hezi_digest::Digest;

use crate::document::{self, Descriptor, ImageConfig, Index, Manifest};
use crate::error::ImageError;
use crate::media;
use crate::store::{sniff, BlobInfo, Store};

/// A reference that points at something missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A blob's content does not hash to its name.
    Corrupt {
        /// The blob's name.
        digest: String,
        /// What it hashes to.
        actual: String,
    },
    /// A blob referenced (from `referrer`) is missing.
    Missing {
        /// The missing digest.
        digest: String,
        /// The name or document that refers to it.
        referrer: String,
    },
    /// A blob's size differs from its descriptor.
    WrongSize {
        /// The blob.
        digest: String,
        /// Size in the descriptor.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A manifest, index or config does not parse.
    BadDocument {
        /// The blob.
        digest: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Corrupt { digest, actual } => {
                write!(f, "blob {digest} is corrupt: content hashes to {actual}")
            }
            Problem::Missing { digest, referrer } => {
                write!(f, "blob {digest} is missing (referenced by {referrer})")
            }
            Problem::WrongSize {
                digest,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "blob {digest} has {actual} bytes, its descriptor says {expected}"
                )
            }
            Problem::BadDocument { digest, reason } => {
                write!(f, "document {digest} is invalid: {reason}")
            }
        }
    }
}

/// What the names reach.
#[derive(Debug, Default)]
pub struct Reachable {
    /// Blobs reached (present or not).
    pub blobs: HashSet<Digest>,
    /// diffIDs of reached configs (for the overlay layer cache).
    pub diff_ids: HashSet<Digest>,
    /// References that could not be followed.
    pub problems: Vec<Problem>,
}

/// Walks from every descriptor in index.json. Manifests listed by an index but absent
/// (other platforms not copied) are not problems.
pub fn reachable(store: &Store) -> Result<Reachable, ImageError> {
    let mut r = Reachable::default();
    for d in store.index()?.manifests {
        let who = d
            .ref_name()
            .map(|n| format!("name {n:?}"))
            .unwrap_or_else(|| format!("index.json entry {}", d.digest));
        visit(store, &d, &who, false, &mut r);
    }
    Ok(r)
}

fn visit(store: &Store, d: &Descriptor, referrer: &str, optional: bool, r: &mut Reachable) {
    if !r.blobs.insert(d.digest.clone()) {
        return;
    }
    let info = match store.info(&d.digest) {
        Ok(i) => i,
        Err(_) => {
            if !optional {
                r.problems.push(Problem::Missing {
                    digest: d.digest.to_string(),
                    referrer: referrer.to_string(),
                });
            }
            return;
        }
    };
    if info.size != d.size {
        r.problems.push(Problem::WrongSize {
            digest: d.digest.to_string(),
            expected: d.size,
            actual: info.size,
        });
        return;
    }
    let is_doc = media::is_index(&d.media_type)
        || media::is_manifest(&d.media_type)
        || d.media_type.is_empty();
    let is_config = d.media_type == media::OCI_CONFIG || d.media_type == media::DOCKER_CONFIG;
    if !is_doc && !is_config {
        return;
    }
    let bytes = match store.read_bytes(&d.digest) {
        Ok(b) => b,
        Err(e) => {
            r.problems.push(Problem::BadDocument {
                digest: d.digest.to_string(),
                reason: e.to_string(),
            });
            return;
        }
    };
    let me = format!(
        "{} {}",
        if is_config { "config" } else { "document" },
        d.digest
    );
    if is_config {
        if let Ok(c) = document::parse::<ImageConfig>(&bytes, &me) {
            r.diff_ids.extend(c.rootfs.diff_ids);
        }
        return;
    }
    let mt = if d.media_type.is_empty() {
        sniff(&bytes)
    } else {
        d.media_type.clone()
    };
    if media::is_index(&mt) {
        match document::parse::<Index>(&bytes, &me) {
            Ok(i) => {
                for c in &i.manifests {
                    visit(store, c, &me, true, r);
                }
            }
            Err(e) => r.problems.push(Problem::BadDocument {
                digest: d.digest.to_string(),
                reason: e.to_string(),
            }),
        }
    } else {
        match document::parse::<Manifest>(&bytes, &me) {
            Ok(m) => {
                visit(store, &m.config, &me, false, r);
                for l in &m.layers {
                    visit(store, l, &me, false, r);
                }
            }
            Err(e) => r.problems.push(Problem::BadDocument {
                digest: d.digest.to_string(),
                reason: e.to_string(),
            }),
        }
    }
}

/// What garbage collection removed.
#[derive(Debug, Default)]
pub struct GcReport {
    /// Blobs removed.
    pub removed: Vec<BlobInfo>,
    /// Bytes freed by removed blobs.
    pub bytes: u64,
    /// Unpacked overlay layer directories removed.
    pub layer_dirs: usize,
    /// Stale ingest files removed.
    pub ingest_files: usize,
}

/// Removes blobs no name reaches, overlay layer directories no reached config lists, and
/// ingest leftovers (of killed imports and pulls, whatever their age, including a pull's
/// partial layer kept for a Range resume). Holds the gc lock exclusively, so it waits for
/// running imports and pulls; an ingest file a writer still has open (each holds a flock
/// on its file, also when written through the library without the gc lock) is left alone.
pub fn gc(store: &Store) -> Result<GcReport, ImageError> {
    let _lock = store.lock_gc(true)?;
    let reach = reachable(store)?;
    let mut report = GcReport::default();
    for b in store.walk()? {
        if !reach.blobs.contains(&b.digest) {
            store.delete(&b.digest)?;
            report.bytes += b.size;
            report.removed.push(b);
        }
    }
    let layers = store.path().join("layers");
    if let Ok(rd) = fs::read_dir(&layers) {
        let keep: BTreeSet<String> = reach
            .diff_ids
            .iter()
            .map(|d| d.encoded().to_string())
            .collect();
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                let p = ent.path();
                fs::remove_dir_all(&p).map_err(ImageError::io_with("remove", &p))?;
                report.layer_dirs += 1;
            }
        }
    }
    let ingest = store.path().join("ingest");
    if let Ok(rd) = fs::read_dir(&ingest) {
        for ent in rd.flatten() {
            let p = ent.path();
            if ingest_in_use(&p)? {
                continue;
            }
            let r = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            match r {
                Ok(()) => report.ingest_files += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ImageError::io("remove", &p, e)),
            }
        }
    }
    Ok(report)
}

/// True when an ingest file is open in a writer (its flock is held). Directories (an
/// archive import's scratch space) are only made under the gc lock, which the caller holds
/// exclusively, so none is in use.
fn ingest_in_use(path: &std::path::Path) -> Result<bool, ImageError> {
    if path.is_dir() {
        return Ok(false);
    }
    let f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(ImageError::io("open", path, e)),
    };
    let free = crate::store::try_lock_exclusive(&f).map_err(ImageError::io_with("lock", path))?;
    Ok(!free)
}

/// What verification found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Blobs re-hashed.
    pub blobs: usize,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Damage found (empty means the store is sound).
    pub problems: Vec<Problem>,
}

/// Re-hashes every blob and follows every name; reports corrupt blobs, missing blobs,
/// wrong sizes and unreadable documents.
pub fn verify(store: &Store) -> Result<VerifyReport, ImageError> {
    let mut report = VerifyReport::default();
    for b in store.walk()? {
        let f = store.reader(&b.digest)?;
        let actual = Digest::from_reader(
            b.digest.algorithm(),
            std::io::BufReader::with_capacity(1 << 20, f),
        )
        .map_err(ImageError::io_with("read", store.blob_path(&b.digest)))?;
        report.blobs += 1;
        report.bytes += b.size;
        if actual != b.digest {
            report.problems.push(Problem::Corrupt {
                digest: b.digest.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    let corrupt: HashSet<String> = report
        .problems
        .iter()
        .filter_map(|p| match p {
            Problem::Corrupt { digest, .. } => Some(digest.clone()),
            _ => None,
        })
        .collect();
    for p in reachable(store)?.problems {
        // A corrupt document is already reported; do not report it twice.
        if let Problem::BadDocument { digest, .. } = &p {
            if corrupt.contains(digest) {
                continue;
            }
        }
        report.problems.push(p);
    }
    Ok(report)
}

/// What [`repair`] did.
#[derive(Debug, Default)]
pub struct RepairReport {
    /// Blobs restored from the source (verified copies renamed over damaged ones, or
    /// missing ones put back).
    pub restored: Vec<Digest>,
    /// Corrupt blobs the source could not restore, removed so that they show as missing
    /// and a later import or pull fetches them again.
    pub removed: Vec<Digest>,
    /// A verification of the store after the repair.
    pub after: VerifyReport,
}

/// Repairs what [`verify`] finds: corrupt, missing and wrong-size blobs are looked up in
/// `from` (an OCI layout directory, or an uncompressed tar: oci-archive or docker-archive)
/// and ingested again with their digests verified; a blob a docker-archive holds under
/// another name (an uncompressed layer, a config) is found by size and hash. Corrupt
/// blobs that cannot be restored are removed. Image names are not changed.
pub fn repair(store: &Store, from: Option<&std::path::Path>) -> Result<RepairReport, ImageError> {
    let _gc = store.lock_gc(true)?;
    let before = verify(store)?;
    // Wanted digest -> size if known.
    let mut wanted: std::collections::HashMap<Digest, Option<u64>> = Default::default();
    let mut corrupt = Vec::new();
    for p in &before.problems {
        let (d, size) = match p {
            Problem::Corrupt { digest, .. } => {
                let Ok(d) = Digest::parse(digest) else {
                    continue;
                };
                // A corrupt blob may not even stat; then its size is unknown and the
                // refetch is checked by digest alone.
                let size = store.info(&d).ok().map(|i| i.size);
                corrupt.push(d.clone());
                (d, size)
            }
            Problem::Missing { digest, .. } => match Digest::parse(digest) {
                Ok(d) => (d, None),
                Err(_) => continue,
            },
            Problem::WrongSize {
                digest, expected, ..
            } => match Digest::parse(digest) {
                Ok(d) => (d, Some(*expected)),
                Err(_) => continue,
            },
            Problem::BadDocument { .. } => continue,
        };
        wanted.insert(d, size);
    }
    let mut report = RepairReport::default();
    if let (Some(src), false) = (from, wanted.is_empty()) {
        if src.is_dir() {
            restore_from_dir(store, src, &mut wanted, &mut report)?;
        } else {
            restore_from_tar(store, src, &mut wanted, &mut report)?;
        }
    }
    for d in corrupt {
        if wanted.contains_key(&d) {
            store.delete(&d)?;
            report.removed.push(d);
        }
    }
    report.after = verify(store)?;
    Ok(report)
}

fn restore_from_dir(
    store: &Store,
    src: &std::path::Path,
    wanted: &mut std::collections::HashMap<Digest, Option<u64>>,
    report: &mut RepairReport,
) -> Result<(), ImageError> {
    let digests: Vec<Digest> = wanted.keys().cloned().collect();
    for d in digests {
        let p = src
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.encoded());
        let f = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ImageError::io("open", &p, e)),
        };
        match store.ingest(f, &d, None) {
            Ok(_) => {
                wanted.remove(&d);
                report.restored.push(d);
            }
            Err(e) => {
                tracing::warn!(digest = %d, source = %p.display(), error = %e, "source copy is damaged too")
            }
        }
    }
    Ok(())
}

fn restore_from_tar(
    store: &Store,
    src: &std::path::Path,
    wanted: &mut std::collections::HashMap<Digest, Option<u64>>,
    report: &mut RepairReport,
) -> Result<(), ImageError> {
    let f = fs::File::open(src).map_err(ImageError::io_with("open", src))?;
    let mut ar = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, f));
    let entries = ar.entries().map_err(ImageError::io_with("read", src))?;
    for e in entries {
        if wanted.is_empty() {
            break;
        }
        let mut e = e.map_err(ImageError::io_with("read", src))?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let size = e.size();
        let candidate = wanted.values().any(|s| s.is_none() || *s == Some(size));
        if !candidate {
            continue;
        }
        // Hashed with the algorithm of a wanted digest (all sha256 in practice).
        let Some(alg) = wanted.keys().next().map(|d| d.algorithm()) else {
            break;
        };
        let mut w = store.writer_for(alg)?;
        std::io::copy(&mut e, &mut w).map_err(ImageError::io_with("read", src))?;
        let d = w.digest();
        if wanted.contains_key(&d) {
            w.commit(Some(size), Some(&d))?;
            wanted.remove(&d);
            report.restored.push(d);
        }
    }
    Ok(())
}
