//! OCI image layout directories and oci-archive tarballs.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hezi_digest::Digest;

use super::copy::{closure, copy_tree, Source, StoreSource};
use super::{assign_names, open_archive, Imported};
use crate::document::{self, Descriptor, Index};
use crate::error::ImageError;
use crate::media;
use crate::store::{read_document, write_atomic, Store, OCI_LAYOUT};

/// Blobs of a layout directory.
struct DirSource(PathBuf);

impl Source for DirSource {
    fn open(&self, d: &Descriptor) -> Result<Option<Box<dyn Read + '_>>, ImageError> {
        let p = self
            .0
            .join("blobs")
            .join(d.digest.algorithm().name())
            .join(d.digest.encoded());
        match File::open(&p) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::io("open", p, e)),
        }
    }
}

fn top_level(index: &Index) -> Vec<(Option<String>, Descriptor)> {
    index
        .manifests
        .iter()
        .map(|d| (d.ref_name().map(str::to_string), d.clone()))
        .collect()
}

/// Imports every image of an OCI layout directory.
pub fn import_oci_dir(
    store: &Store,
    dir: &Path,
    name: Option<&str>,
) -> Result<Vec<Imported>, ImageError> {
    if !dir.join("oci-layout").is_file() {
        tracing::warn!(dir = %dir.display(), "no oci-layout file; reading it as an OCI layout anyway");
    }
    let p = dir.join("index.json");
    let f = fs::File::open(&p).map_err(ImageError::io_with("open", &p))?;
    let bytes = read_document(f, &p.display().to_string())?;
    let index: Index = document::parse(&bytes, &p.display().to_string())?;
    let src = DirSource(dir.to_path_buf());
    let found = top_level(&index);
    for (_, d) in &found {
        copy_tree(store, &src, d, 0)?;
    }
    assign_names(store, found, name)
}

/// Imports every image of an oci-archive, streaming blobs straight into the store (each is
/// verified against its file name before it becomes visible).
pub fn import_oci_archive(
    store: &Store,
    path: &Path,
    name: Option<&str>,
) -> Result<Vec<Imported>, ImageError> {
    let mut ar = tar::Archive::new(open_archive(path)?);
    let mut index_bytes: Option<Vec<u8>> = None;
    let entries = ar
        .entries()
        .map_err(ImageError::io_with("read archive", path))?;
    for e in entries {
        let mut e = e.map_err(ImageError::io_with("read archive", path))?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let raw = e.path_bytes().into_owned();
        let rel = raw.strip_prefix(b"./").unwrap_or(&raw);
        let rel = String::from_utf8_lossy(rel).into_owned();
        if rel == "index.json" {
            let what = format!("index.json in {}", path.display());
            index_bytes = Some(read_document(&mut e, &what)?);
        } else if let Some(rest) = rel.strip_prefix("blobs/") {
            let Some((alg, hex)) = rest.split_once('/') else {
                continue;
            };
            let d =
                Digest::parse(&format!("{alg}:{hex}")).map_err(|source| ImageError::Digest {
                    context: format!("blob file {rel} in {}", path.display()),
                    source,
                })?;
            store.ingest(&mut e, &d, None)?;
        }
    }
    let bytes = index_bytes.ok_or_else(|| ImageError::InvalidDocument {
        what: path.display().to_string(),
        reason: "no index.json in the archive".into(),
    })?;
    let index: Index = document::parse(&bytes, &format!("index.json in {}", path.display()))?;
    let found = top_level(&index);
    let src = StoreSource(store);
    for (_, d) in &found {
        copy_tree(store, &src, d, 0)?;
    }
    assign_names(store, found, name)
}

/// The descriptor to export for `reference`, with its name annotation set (when the
/// reference is a name).
fn export_root(
    store: &Store,
    reference: &str,
) -> Result<(Descriptor, Vec<Descriptor>), ImageError> {
    let mut d = store.resolve(reference)?;
    let name = d.ref_name().map(str::to_string);
    d.annotations.remove(media::REF_NAME);
    let mut blobs = Vec::new();
    closure(store, &d, &mut blobs)?;
    if let Some(n) = name {
        d.annotations.insert(media::REF_NAME.to_string(), n);
    }
    Ok((d, blobs))
}

/// Writes `reference` into an OCI layout directory (created, or added to if it exists).
pub fn export_oci_dir(store: &Store, reference: &str, dest: &Path) -> Result<(), ImageError> {
    let (root, blobs) = export_root(store, reference)?;
    for b in &blobs {
        let dir = dest.join("blobs").join(b.digest.algorithm().name());
        fs::create_dir_all(&dir).map_err(ImageError::io_with("create directory", &dir))?;
        let target = dir.join(b.digest.encoded());
        if !target.exists() {
            let from = store.blob_path(&b.digest);
            let tmp = dir.join(format!(".tmp-{}", b.digest.encoded()));
            fs::copy(&from, &tmp).map_err(ImageError::io_with("copy blob to", &tmp))?;
            fs::rename(&tmp, &target).map_err(ImageError::io_with("rename into", &target))?;
        }
        store.report(b.size);
    }
    let layout = dest.join("oci-layout");
    if !layout.exists() {
        write_atomic(&layout, OCI_LAYOUT.as_bytes())?;
    }
    let index_path = dest.join("index.json");
    let mut index: Index = match fs::read(&index_path) {
        Ok(b) => document::parse(&b, &index_path.display().to_string())?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Index::default(),
        Err(e) => return Err(ImageError::io("read", &index_path, e)),
    };
    index
        .manifests
        .retain(|m| !(m.digest == root.digest && m.ref_name() == root.ref_name()));
    if let Some(n) = root.ref_name() {
        index.manifests.retain(|m| m.ref_name() != Some(n));
    }
    index.manifests.push(root);
    write_atomic(&index_path, &document::to_json(&index, "index.json")?)
}

/// Appends a file with fixed metadata to a tar.
pub(crate) fn append<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
) -> Result<(), ImageError> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, path, data)
        .map_err(|e| ImageError::io("write archive entry", path, e))
}

/// Writes a tar to `dest` atomically (temp file next to it, then rename).
pub(crate) fn write_tar(
    dest: &Path,
    fill: impl FnOnce(&mut tar::Builder<io::BufWriter<File>>) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".hezi-export-")
        .tempfile_in(dir)
        .map_err(ImageError::io_with("create temp file in", dir))?;
    let file = tmp
        .as_file()
        .try_clone()
        .map_err(ImageError::io_with("dup", tmp.path().to_path_buf()))?;
    let mut b = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, file));
    fill(&mut b)?;
    let mut w = b
        .into_inner()
        .map_err(ImageError::io_with("finish archive", dest))?;
    w.flush().map_err(ImageError::io_with("write", dest))?;
    tmp.persist(dest)
        .map_err(|e| ImageError::io("rename into", dest, e.error))?;
    Ok(())
}

/// Writes `reference` as an oci-archive tarball.
pub fn export_oci_archive(store: &Store, reference: &str, dest: &Path) -> Result<(), ImageError> {
    let (root, blobs) = export_root(store, reference)?;
    let mut index = Index::default();
    index.manifests.push(root);
    let index_bytes = document::to_json(&index, "index.json")?;
    write_tar(dest, |b| {
        append(
            b,
            "oci-layout",
            OCI_LAYOUT.len() as u64,
            OCI_LAYOUT.as_bytes(),
        )?;
        append(
            b,
            "index.json",
            index_bytes.len() as u64,
            index_bytes.as_slice(),
        )?;
        for blob in &blobs {
            let info = store.info(&blob.digest)?;
            let path = format!(
                "blobs/{}/{}",
                blob.digest.algorithm().name(),
                blob.digest.encoded()
            );
            append(
                b,
                &path,
                info.size,
                store.reported(store.reader(&blob.digest)?),
            )?;
        }
        Ok(())
    })
}
