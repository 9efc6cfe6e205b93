//! docker-archive (`docker save`) tarballs: `manifest.json` with Config/RepoTags/Layers,
//! a JSON config and (usually uncompressed) layer tars. Imported images become OCI
//! manifests; exports are loadable by `docker load`.

use std::collections::HashMap;
use std::io::{self, Read, Seek};
use std::path::Path;

use hezi_digest::{Algorithm, Digest};
use serde::{Deserialize, Serialize};

use super::oci::{append, write_tar};
use super::{open_archive, Imported};
use crate::document::{self, Descriptor, ImageConfig, Manifest};
use crate::error::ImageError;
use crate::media;
use crate::store::{read_document, BlobInfo, Store};
use crate::unpack::Compression;

/// One entry of `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Joins `target` (relative to the directory of `from`) and normalises `..`.
fn resolve_link(from: &str, target: &str, hard: bool) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !hard {
        parts.extend(from.split('/'));
        parts.pop();
    }
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn compression_of(store: &Store, d: &Digest) -> Result<Compression, ImageError> {
    let mut f = store.reader(d)?;
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        match f.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(ImageError::io("read", store.blob_path(d), e)),
        }
    }
    Ok(Compression::sniff(&magic[..n]))
}

fn decompressor<'a>(
    r: impl Read + 'a,
    c: Compression,
    d: &Digest,
) -> Result<Box<dyn Read + 'a>, ImageError> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        #[cfg(feature = "zstd")]
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(r)
                .map_err(|e| ImageError::io("decompress", d.to_string(), e))?,
        ),
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd => {
            let _ = d;
            return Err(crate::unpack::zstd_not_built());
        }
        Compression::None => Box::new(r),
    })
}

/// Imports every image of a docker-archive. Layer tars are stored as they are and checked
/// against the config's diffIDs; the manifest written for each image is an OCI manifest.
pub fn import_docker_archive(
    store: &Store,
    path: &Path,
    name: Option<&str>,
) -> Result<Vec<Imported>, ImageError> {
    let mut ar = tar::Archive::new(open_archive(path)?);
    let mut files: HashMap<String, BlobInfo> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut manifest_json: Option<Vec<u8>> = None;
    let entries = ar
        .entries()
        .map_err(ImageError::io_with("read archive", path))?;
    for e in entries {
        let mut e = e.map_err(ImageError::io_with("read archive", path))?;
        let raw = e.path_bytes().into_owned();
        let rel = String::from_utf8_lossy(raw.strip_prefix(b"./").unwrap_or(&raw))
            .trim_end_matches('/')
            .to_string();
        match e.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let hard = e.header().entry_type() == tar::EntryType::Link;
                if let Some(t) = e.link_name_bytes() {
                    let t = String::from_utf8_lossy(&t).into_owned();
                    links.insert(rel.clone(), resolve_link(&rel, &t, hard));
                }
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            _ => continue,
        }
        if rel == "manifest.json" {
            let what = format!("manifest.json in {}", path.display());
            manifest_json = Some(read_document(&mut e, &what)?);
            continue;
        }
        let blob_name = rel.strip_prefix("blobs/").and_then(|r| r.split_once('/'));
        let wanted = blob_name.is_some()
            || rel.ends_with(".tar")
            || (rel.ends_with(".json") && rel != "index.json");
        if !wanted {
            continue;
        }
        let expected = match blob_name {
            Some((alg, hex)) => Some(Digest::parse(&format!("{alg}:{hex}")).map_err(|source| {
                ImageError::Digest {
                    context: format!("blob file {rel} in {}", path.display()),
                    source,
                }
            })?),
            None => None,
        };
        let mut w = store.writer_for(
            expected
                .as_ref()
                .map(|d| d.algorithm())
                .unwrap_or(Algorithm::Sha256),
        )?;
        io::copy(&mut e, &mut w).map_err(|err| {
            ImageError::io(
                "read archive entry",
                format!("{} in {}", rel, path.display()),
                err,
            )
        })?;
        let info = w.commit(None, expected.as_ref())?;
        files.insert(rel, info);
    }
    let bytes = manifest_json.ok_or_else(|| ImageError::InvalidDocument {
        what: path.display().to_string(),
        reason: "no manifest.json in the archive".into(),
    })?;
    let what = format!("manifest.json in {}", path.display());
    let entries: Vec<DockerEntry> = document::parse(&bytes, &what)?;
    if name.is_some() && entries.len() != 1 {
        return Err(ImageError::InvalidArgument(format!(
            "the archive holds {} images; a single name cannot be given to all",
            entries.len()
        )));
    }
    let lookup = |p: &str| -> Result<BlobInfo, ImageError> {
        let mut p = p.trim_start_matches("./").to_string();
        for _ in 0..16 {
            if let Some(i) = files.get(&p) {
                return Ok(i.clone());
            }
            match links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        Err(ImageError::InvalidDocument {
            what: what.clone(),
            reason: format!("{p} is listed but not in the archive"),
        })
    };
    let mut out = Vec::new();
    for entry in entries {
        let cfg = lookup(&entry.config)?;
        let cfg_bytes = store.read_bytes(&cfg.digest)?;
        let config: ImageConfig = document::parse(
            &cfg_bytes,
            &format!("config {} ({})", entry.config, cfg.digest),
        )?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(ImageError::InvalidDocument {
                what: format!("config {}", cfg.digest),
                reason: format!(
                    "{} diff_ids for {} layers",
                    config.rootfs.diff_ids.len(),
                    entry.layers.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for (lp, want) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            let info = lookup(lp)?;
            let c = compression_of(store, &info.digest)?;
            let diff_id = match c {
                Compression::None => info.digest.clone(),
                _ => {
                    let r = decompressor(store.reader(&info.digest)?, c, &info.digest)?;
                    Digest::from_reader(want.algorithm(), r)
                        .map_err(|e| ImageError::io("decompress", info.digest.to_string(), e))?
                }
            };
            if diff_id != *want {
                return Err(ImageError::DiffIdMismatch {
                    layer: format!("{lp} ({})", info.digest),
                    expected: want.to_string(),
                    actual: diff_id.to_string(),
                });
            }
            let mt = match c {
                Compression::None => media::OCI_LAYER,
                Compression::Gzip => media::OCI_LAYER_GZIP,
                Compression::Zstd => media::OCI_LAYER_ZSTD,
            };
            layers.push(Descriptor::new(mt, info.digest, info.size));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_string()),
            config: Descriptor::new(media::OCI_CONFIG, cfg.digest, cfg.size),
            layers,
            annotations: Default::default(),
            extra: Default::default(),
        };
        let mbytes = document::to_json(&manifest, "manifest")?;
        let info = store.put_bytes(&mbytes)?;
        let desc = Descriptor::new(media::OCI_MANIFEST, info.digest, info.size);
        let names: Vec<String> = match name {
            Some(n) => vec![n.to_string()],
            None => entry.repo_tags.clone().unwrap_or_default(),
        };
        if names.is_empty() {
            tracing::warn!(digest = %desc.digest, "imported image has no name; `hezi image gc` will remove it");
            out.push(Imported {
                name: None,
                descriptor: desc.clone(),
            });
        }
        for n in names {
            store.set_name(&n, &desc)?;
            out.push(Imported {
                name: Some(n),
                descriptor: desc.clone(),
            });
        }
    }
    Ok(out)
}

/// Writes `reference` (the manifest for this machine's platform) as a docker-archive with
/// uncompressed layers, tagged `tag` (default: the image's name, `:latest` added if it has
/// no tag).
pub fn export_docker_archive(
    store: &Store,
    reference: &str,
    dest: &Path,
    tag: Option<&str>,
) -> Result<(), ImageError> {
    let desc = store.resolve(reference)?;
    let image = store.image(reference, None)?;
    let name = tag
        .map(str::to_string)
        .or_else(|| desc.ref_name().map(str::to_string));
    let repo_tags = name.map(|n| {
        let last = n.rsplit('/').next().unwrap_or(&n);
        if last.contains(':') || n.contains('@') {
            n.clone()
        } else {
            format!("{n}:latest")
        }
    });
    let cfg = &image.manifest.config;
    let cfg_path = format!("{}.json", cfg.digest.encoded());
    let mut layer_paths = Vec::new();
    let expects = image.layer_expectations()?;
    for e in &expects {
        let id = e
            .diff_id
            .as_ref()
            .ok_or_else(|| ImageError::InvalidArgument("layer without diffID".into()))?;
        layer_paths.push(format!("{}/layer.tar", id.encoded()));
    }
    let entry = DockerEntry {
        config: cfg_path.clone(),
        repo_tags: Some(repo_tags.into_iter().collect()),
        layers: layer_paths.clone(),
    };
    let manifest_bytes = serde_json::to_vec(&vec![entry]).map_err(|source| ImageError::Json {
        what: "manifest.json".into(),
        source,
    })?;
    let scratch = store.path().join("ingest");
    write_tar(dest, |b| {
        let info = store.info(&cfg.digest)?;
        append(
            b,
            &cfg_path,
            info.size,
            store.reported(store.reader(&cfg.digest)?),
        )?;
        let mut done = std::collections::HashSet::new();
        for (e, lp) in expects.iter().zip(&layer_paths) {
            if !done.insert(lp.clone()) {
                continue;
            }
            let Some(d) = e.digest.as_ref() else { continue };
            let c = compression_of(store, d)?;
            if c == Compression::None {
                append(b, lp, store.info(d)?.size, store.reported(store.reader(d)?))?;
            } else {
                let mut tmp = tempfile::tempfile_in(&scratch)
                    .map_err(ImageError::io_with("create temp file in", &scratch))?;
                let mut r = decompressor(store.reported(store.reader(d)?), c, d)?;
                let n = io::copy(&mut r, &mut tmp)
                    .map_err(|err| ImageError::io("decompress", d.to_string(), err))?;
                tmp.rewind()
                    .map_err(ImageError::io_with("rewind", &scratch))?;
                append(b, lp, n, tmp)?;
            }
        }
        append(
            b,
            "manifest.json",
            manifest_bytes.len() as u64,
            manifest_bytes.as_slice(),
        )
    })
}
