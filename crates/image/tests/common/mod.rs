//! Helpers for hezi-image tests: raw tar layers (paths written byte for byte, so escape
//! attempts can be built) and OCI layouts around them.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hezi_digest::Digest;
use serde_json::json;

/// One tar entry to write.
pub enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
    Char(&'a str, u32, u32),
    Owned(&'a str, &'a [u8], u32, u64, u64),
    Xattr(&'a str, &'a [u8], &'a str, &'a [u8]),
    /// A directory with everything set: path, mode, uid, gid, mtime, optional xattr.
    DirFull(&'a str, u32, u64, u64, u64, Option<(&'a str, &'a [u8])>),
}

fn header(path: &str, ty: tar::EntryType, size: u64, mode: u32, link: Option<&str>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    {
        let old = h.as_old_mut();
        let p = path.as_bytes();
        assert!(p.len() < 100, "test paths must be short");
        old.name[..p.len()].copy_from_slice(p);
        if let Some(l) = link {
            let l = l.as_bytes();
            old.linkname[..l.len()].copy_from_slice(l);
        }
    }
    h.set_cksum();
    h
}

/// Builds an uncompressed tar from entries, paths written verbatim.
pub fn tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::Dir(p, m) => b
                .append(&header(p, tar::EntryType::Directory, 0, *m, None), &[][..])
                .unwrap(),
            E::File(p, d, m) => b
                .append(
                    &header(p, tar::EntryType::Regular, d.len() as u64, *m, None),
                    *d,
                )
                .unwrap(),
            E::Owned(p, d, m, uid, gid) => {
                let mut h = header(p, tar::EntryType::Regular, d.len() as u64, *m, None);
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_cksum();
                b.append(&h, *d).unwrap()
            }
            E::Symlink(p, t) => b
                .append(
                    &header(p, tar::EntryType::Symlink, 0, 0o777, Some(t)),
                    &[][..],
                )
                .unwrap(),
            E::Hardlink(p, t) => b
                .append(&header(p, tar::EntryType::Link, 0, 0o644, Some(t)), &[][..])
                .unwrap(),
            E::Fifo(p) => b
                .append(&header(p, tar::EntryType::Fifo, 0, 0o644, None), &[][..])
                .unwrap(),
            E::Char(p, maj, min) => {
                let mut h = header(p, tar::EntryType::Char, 0, 0o666, None);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap()
            }
            E::Xattr(p, d, k, v) => {
                let key = format!("SCHILY.xattr.{k}");
                b.append_pax_extensions([(key.as_str(), *v)]).unwrap();
                b.append(
                    &header(p, tar::EntryType::Regular, d.len() as u64, 0o644, None),
                    *d,
                )
                .unwrap()
            }
            E::DirFull(p, m, uid, gid, mtime, xattr) => {
                if let Some((k, v)) = xattr {
                    let key = format!("SCHILY.xattr.{k}");
                    b.append_pax_extensions([(key.as_str(), *v)]).unwrap();
                }
                let mut h = header(p, tar::EntryType::Directory, 0, *m, None);
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_mtime(*mtime);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap()
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

pub fn sha(data: &[u8]) -> Digest {
    Digest::sha256(data)
}

/// A layer: compressed bytes, media type and the diffID.
pub struct Layer {
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    pub diff_id: Digest,
}

pub fn gz_layer(entries: &[E<'_>]) -> Layer {
    let t = tar(entries);
    Layer {
        diff_id: sha(&t),
        blob: gzip(&t),
        media_type: hezi_image::media::OCI_LAYER_GZIP,
    }
}

fn write_blob(dir: &Path, data: &[u8]) -> Digest {
    let d = sha(data);
    let p = dir.join("blobs/sha256");
    fs::create_dir_all(&p).unwrap();
    fs::write(p.join(d.encoded()), data).unwrap();
    d
}

/// Writes an OCI layout with one image named `name` and returns the manifest digest.
pub fn layout(dir: &Path, name: &str, layers: &[Layer], config_extra: serde_json::Value) -> Digest {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut descs = Vec::new();
    for l in layers {
        let d = write_blob(dir, &l.blob);
        descs.push(
            json!({"mediaType": l.media_type, "digest": d.to_string(), "size": l.blob.len()}),
        );
    }
    let mut rc = json!({"Cmd": ["sh"], "Env": ["PATH=/bin"]});
    if let (Some(o), Some(extra)) = (rc.as_object_mut(), config_extra.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": rc,
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>()}
    });
    let cb = serde_json::to_vec(&config).unwrap();
    let cd = write_blob(dir, &cb);
    let m = json!({"schemaVersion": 2, "mediaType": hezi_image::media::OCI_MANIFEST,
        "config": {"mediaType": hezi_image::media::OCI_CONFIG, "digest": cd.to_string(), "size": cb.len()},
        "layers": descs});
    let mb = serde_json::to_vec(&m).unwrap();
    let md = write_blob(dir, &mb);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": hezi_image::media::OCI_MANIFEST,
        "digest": md.to_string(), "size": mb.len(),
        "annotations": {"org.opencontainers.image.ref.name": name}}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    md
}

/// A temp dir removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    pub fn new(prefix: &str) -> Tmp {
        let p = std::env::temp_dir().join(hezi_testsupport::unique_id(prefix));
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
