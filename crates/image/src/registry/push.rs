//! `push`: blobs first (HEAD, then a monolithic POST + PUT upload, or a cross-repository
//! mount), then the manifest with its media type; an index's present manifests before it.

use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::client::{Body, Ctx};
use super::{Client, Reference, RegistryError};
use crate::document::{self, Descriptor, Index, Manifest};
use crate::error::ImageError;
use crate::media;
use crate::store::Store;

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// How many blobs to upload at once (at least 1).
    pub jobs: usize,
    /// A repository of the same registry to mount blobs from instead of uploading them.
    pub mount_from: Option<String>,
    /// Upload blobs in PATCH chunks of this many bytes (then a closing PUT) instead of one
    /// monolithic PUT.
    pub chunk_size: Option<u64>,
    /// Of an index, every manifest must be in the store and is pushed (skopeo's `--all`);
    /// without it, entries the store lacks are left out.
    pub all_platforms: bool,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            jobs: 3,
            mount_from: None,
            chunk_size: None,
            all_platforms: false,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The descriptor of the manifest or index pushed under the destination tag.
    pub descriptor: Descriptor,
    /// Blobs uploaded (or mounted).
    pub uploaded: usize,
    /// Blobs the registry already had.
    pub skipped: usize,
}

impl Client {
    /// True if the repository has the blob (`HEAD /v2/<repo>/blobs/<digest>`).
    pub fn has_blob(&self, repository: &str, desc: &Descriptor) -> Result<bool, RegistryError> {
        let digest = desc.digest.to_string();
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let ctx = Ctx {
            repository,
            reference: &digest,
            push: true,
        };
        match self.send("HEAD", &url, &[], Body::None, ctx, true) {
            Ok(_) => Ok(true),
            Err(RegistryError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Uploads blob `desc` from `store` unless the repository has it; true if uploaded.
    pub fn push_blob(
        &self,
        store: &Store,
        repository: &str,
        desc: &Descriptor,
        opts: &PushOptions,
    ) -> Result<bool, ImageError> {
        if self.has_blob(repository, desc)? {
            tracing::info!(digest = %desc.digest, "the registry has the blob");
            return Ok(false);
        }
        let digest = desc.digest.to_string();
        let ctx = Ctx {
            repository,
            reference: &digest,
            push: true,
        };
        let mut attempt = 0u32;
        loop {
            match self.upload_once(store, repository, desc, opts, ctx) {
                Ok(()) => return Ok(true),
                Err(ImageError::Registry(e))
                    if matches!(
                        *e,
                        RegistryError::Transport { .. } | RegistryError::Status { .. }
                    ) && attempt < self.retries() =>
                {
                    tracing::warn!(%digest, error = %e, "upload failed; starting it over");
                    self.wait(attempt, None);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn upload_once(
        &self,
        store: &Store,
        repository: &str,
        desc: &Descriptor,
        opts: &PushOptions,
        ctx: Ctx<'_>,
    ) -> Result<(), ImageError> {
        let mount_from = opts.mount_from.as_deref();
        let digest = desc.digest.to_string();
        let mut start = format!("/v2/{repository}/blobs/uploads/");
        if let Some(from) = mount_from {
            start.push_str(&format!(
                "?mount={}&from={}",
                super::client::encode_query(&digest),
                super::client::encode_query(from)
            ));
        }
        let url = self.url(&start);
        let resp = self.send("POST", &url, &[], Body::Bytes(&[]), ctx, true)?;
        if resp.status() == 201 {
            tracing::info!(%digest, from = mount_from.unwrap_or(""), "blob mounted");
            return Ok(());
        }
        let no_location = || RegistryError::Protocol {
            registry: self.registry().to_string(),
            reason: format!("upload of {digest} to {repository}: no Location in the answer"),
        };
        let mut location = resp.header("location").ok_or_else(no_location)?.to_string();
        let path = store.blob_path(&desc.digest);
        let size = store.info(&desc.digest)?.size;
        let octets = ("Content-Type", "application/octet-stream");
        let mut body_done = false;
        if let Some(chunk) = opts.chunk_size.filter(|c| *c > 0 && size > 0) {
            let mut off = 0u64;
            while off < size {
                let len = chunk.min(size - off);
                let p = path.clone();
                let open = move || -> std::io::Result<Box<dyn Read + Send>> {
                    let mut f = std::fs::File::open(&p)?;
                    f.seek(SeekFrom::Start(off))?;
                    Ok(Box::new(f.take(len)))
                };
                let range = format!("{off}-{}", off + len - 1);
                let url = self.url(&location);
                let resp = self.send(
                    "PATCH",
                    &url,
                    &[octets, ("Content-Range", range.as_str())],
                    Body::Reader(&open, len),
                    ctx,
                    false,
                )?;
                location = resp.header("location").ok_or_else(no_location)?.to_string();
                off += len;
            }
            body_done = true;
        }
        let put = format!(
            "{}{}digest={}",
            self.url(&location),
            if location.contains('?') { '&' } else { '?' },
            super::client::encode_query(&digest)
        );
        let open = move || -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::fs::File::open(&path)?))
        };
        let body = if body_done {
            Body::Bytes(&[])
        } else {
            Body::Reader(&open, size)
        };
        self.send("PUT", &put, &[octets], body, ctx, false)?;
        tracing::info!(%digest, size, "blob uploaded");
        Ok(())
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with the document's media type; checks the
    /// registry's Docker-Content-Digest if it sends one.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"));
        let ctx = Ctx {
            repository,
            reference,
            push: true,
        };
        let resp = self.send(
            "PUT",
            &url,
            &[("Content-Type", media_type)],
            Body::Bytes(bytes),
            ctx,
            true,
        )?;
        if let Some(h) = resp.header("docker-content-digest") {
            let ours = hezi_digest::Digest::from_bytes(hezi_digest::Algorithm::Sha256, bytes);
            if h.trim() != ours.as_str() {
                return Err(RegistryError::Protocol {
                    registry: self.registry().to_string(),
                    reason: format!(
                        "manifest {repository}:{reference}: registry stored digest {h}, we sent {ours}"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Pushes image `source` of `store` to `dest` (its tag, `latest` if none; a digest-only
/// destination pushes by digest). An index is pushed with the manifests of it the store
/// has.
pub fn push(
    store: &Store,
    client: &Client,
    source: &str,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Pushed, ImageError> {
    let mut desc = store.resolve(source)?;
    desc.annotations.remove(media::REF_NAME);
    let bytes = store.read_bytes(&desc.digest)?;
    let mt = if desc.media_type.is_empty() {
        crate::store::sniff(&bytes)
    } else {
        desc.media_type.clone()
    };
    if let Some(d) = &dest.digest {
        if *d != desc.digest {
            return Err(ImageError::InvalidArgument(format!(
                "{source} is {} but the destination names digest {d}",
                desc.digest
            )));
        }
    }
    let repo = dest.repository.as_str();
    let mut manifests: Vec<(Descriptor, Vec<u8>, String)> = Vec::new();
    if media::is_index(&mt) {
        let index: Index = document::parse(&bytes, &format!("index {}", desc.digest))?;
        for child in &index.manifests {
            if !store.contains(&child.digest) {
                if opts.all_platforms {
                    return Err(ImageError::InvalidArgument(format!(
                        "--all-platforms: index {} lists manifest {} ({}) which the store does not have (pull it with --all-platforms first)",
                        desc.digest,
                        child.digest,
                        child
                            .platform
                            .as_ref()
                            .map_or_else(|| "no platform".to_string(), |p| p.to_string())
                    )));
                }
                tracing::info!(digest = %child.digest, "index entry not in the store; not pushed");
                continue;
            }
            let cb = store.read_bytes(&child.digest)?;
            let cmt = if child.media_type.is_empty() {
                crate::store::sniff(&cb)
            } else {
                child.media_type.clone()
            };
            if !media::is_manifest(&cmt) {
                return Err(ImageError::Unsupported(format!(
                    "index {} entry {} is a {cmt} (nested indexes are not pushed)",
                    desc.digest, child.digest
                )));
            }
            manifests.push((child.clone(), cb, cmt));
        }
    } else {
        manifests.push((desc.clone(), bytes.clone(), mt.clone()));
    }
    let mut blobs: Vec<Descriptor> = Vec::new();
    for (d, b, _) in &manifests {
        let m: Manifest = document::parse(b, &format!("manifest {}", d.digest))?;
        for x in std::iter::once(&m.config).chain(m.layers.iter()) {
            if !blobs.iter().any(|y| y.digest == x.digest) {
                blobs.push(x.clone());
            }
        }
    }
    let uploaded = upload_all(store, client, repo, &blobs, opts)?;
    let tag = match (&dest.tag, &dest.digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".to_string(),
    };
    if media::is_index(&mt) {
        for (d, b, cmt) in &manifests {
            client.put_manifest(repo, d.digest.as_ref(), cmt, b)?;
        }
    }
    client.put_manifest(repo, &tag, &mt, &bytes)?;
    tracing::info!(dest = %dest, digest = %desc.digest, "pushed");
    Ok(Pushed {
        descriptor: Descriptor::new(&mt, desc.digest.clone(), desc.size),
        uploaded,
        skipped: blobs.len() - uploaded,
    })
}

/// Uploads `blobs` with `opts.jobs` threads; returns how many were uploaded.
fn upload_all(
    store: &Store,
    client: &Client,
    repo: &str,
    blobs: &[Descriptor],
    opts: &PushOptions,
) -> Result<usize, ImageError> {
    let next = Mutex::new(blobs.iter());
    let failed: Mutex<Option<ImageError>> = Mutex::new(None);
    let uploaded = Mutex::new(0usize);
    let stop = AtomicBool::new(false);
    let workers = opts.jobs.max(1).min(blobs.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let d = next.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(d) = d else { break };
                match client.push_blob(store, repo, d, opts) {
                    Ok(true) => *uploaded.lock().unwrap_or_else(|e| e.into_inner()) += 1,
                    Ok(false) => {}
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                        if f.is_none() {
                            *f = Some(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    Ok(uploaded.into_inner().unwrap_or_else(|e| e.into_inner()))
}
