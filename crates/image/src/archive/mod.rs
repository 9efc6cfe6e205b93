//! Import and export: OCI layout directories, oci-archive tarballs and docker-archive
//! (`docker save`) tarballs. Imports verify every blob before it becomes visible and name
//! images only after all their blobs are in; a killed import leaves only unnamed (and
//! collectable) blobs and temp files in `ingest/`.

mod copy;
mod docker;
mod oci;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub use docker::{export_docker_archive, import_docker_archive};
pub use oci::{export_oci_archive, export_oci_dir, import_oci_archive, import_oci_dir};

use crate::document::Descriptor;
use crate::error::ImageError;
use crate::store::Store;

/// An on-disk image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// An OCI image layout directory.
    OciDir,
    /// A tar (optionally gzip-compressed) of an OCI image layout.
    OciArchive,
    /// A `docker save` tar (optionally gzip-compressed).
    DockerArchive,
}

/// One image an import brought in.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The name it was given (none if the source had none and none was asked for).
    pub name: Option<String>,
    /// The manifest or index descriptor.
    pub descriptor: Descriptor,
}

/// Guesses the format of `source`: a directory is an OCI layout; a tarball with
/// `oci-layout` is an oci-archive, one with `manifest.json` a docker-archive.
pub fn detect(source: &Path) -> Result<Format, ImageError> {
    let md = std::fs::metadata(source).map_err(ImageError::io_with("stat", source))?;
    if md.is_dir() {
        return Ok(Format::OciDir);
    }
    let mut oci = false;
    let mut docker = false;
    let reader = open_archive(source)?;
    let mut ar = tar::Archive::new(reader);
    let entries = ar
        .entries()
        .map_err(ImageError::io_with("read archive", source))?;
    for e in entries {
        let e = e.map_err(ImageError::io_with("read archive", source))?;
        let p = e.path_bytes();
        let p = p.strip_prefix(b"./").unwrap_or(&p);
        match p {
            b"oci-layout" => oci = true,
            b"manifest.json" => docker = true,
            _ => {}
        }
    }
    match (oci, docker) {
        (true, _) => Ok(Format::OciArchive),
        (false, true) => Ok(Format::DockerArchive),
        _ => Err(ImageError::InvalidArgument(format!(
            "{}: neither an OCI layout (no oci-layout) nor a docker archive (no manifest.json)",
            source.display()
        ))),
    }
}

/// Opens a tarball, transparently decompressing gzip or zstd.
pub(crate) fn open_archive(path: &Path) -> Result<Box<dyn Read + Send>, ImageError> {
    let f = File::open(path).map_err(ImageError::io_with("open", path))?;
    let mut br = BufReader::with_capacity(1 << 20, f);
    let magic = br.fill_buf().map_err(ImageError::io_with("read", path))?;
    Ok(match crate::unpack::Compression::sniff(magic) {
        crate::unpack::Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        #[cfg(feature = "zstd")]
        crate::unpack::Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(br)
                .map_err(ImageError::io_with("read", path))?,
        ),
        #[cfg(not(feature = "zstd"))]
        crate::unpack::Compression::Zstd => return Err(crate::unpack::zstd_not_built()),
        crate::unpack::Compression::None => Box::new(br),
    })
}

/// Imports `source` in `format` (detected if `None`), naming the image `name` if given
/// (only allowed when the source holds one image).
pub fn import(
    store: &Store,
    source: &Path,
    format: Option<Format>,
    name: Option<&str>,
) -> Result<Vec<Imported>, ImageError> {
    let format = match format {
        Some(f) => f,
        None => detect(source)?,
    };
    let _gc = store.lock_gc(false)?;
    match format {
        Format::OciDir => import_oci_dir(store, source, name),
        Format::OciArchive => import_oci_archive(store, source, name),
        Format::DockerArchive => import_docker_archive(store, source, name),
    }
}

/// Exports `reference` to `dest` in `format`.
pub fn export(
    store: &Store,
    reference: &str,
    dest: &Path,
    format: Format,
) -> Result<(), ImageError> {
    match format {
        Format::OciDir => export_oci_dir(store, reference, dest),
        Format::OciArchive => export_oci_archive(store, reference, dest),
        Format::DockerArchive => export_docker_archive(store, reference, dest, None),
    }
}

/// Decides the names for imported top-level descriptors.
pub(crate) fn assign_names(
    store: &Store,
    found: Vec<(Option<String>, Descriptor)>,
    name: Option<&str>,
) -> Result<Vec<Imported>, ImageError> {
    if let Some(n) = name {
        if found.len() != 1 {
            return Err(ImageError::InvalidArgument(format!(
                "the source holds {} images; a single name ({n:?}) cannot be given to all",
                found.len()
            )));
        }
    }
    let mut out = Vec::new();
    for (src_name, d) in found {
        let mut d = d;
        d.annotations.remove(crate::media::REF_NAME);
        let final_name = name.map(str::to_string).or(src_name);
        if let Some(n) = &final_name {
            store.set_name(n, &d)?;
        } else {
            tracing::warn!(digest = %d.digest, "imported image has no name; `hezi image gc` will remove it");
        }
        out.push(Imported {
            name: final_name,
            descriptor: d,
        });
    }
    Ok(out)
}
