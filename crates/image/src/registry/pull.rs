//! `pull`: manifest (or index, then the platform's manifest), then the blobs the store
//! lacks, downloaded in parallel and verified while they stream into the store's ingest.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use hezi_digest::Digest;

use super::client::{Body, Ctx};
use super::{Client, Reference, RegistryError, MAX_MANIFEST};
use crate::document::{self, Descriptor, ImageConfig, Index, Manifest, Platform};
use crate::error::ImageError;
use crate::media;
use crate::store::{BlobInfo, Store, StoreLock, Writer};

/// The Accept header of manifest requests: OCI manifest and index, Docker schema 2
/// manifest and manifest list.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index (this machine's when `None`).
    pub platform: Option<Platform>,
    /// How many blobs to download at once (at least 1).
    pub jobs: usize,
    /// The name to give the image in the store (the reference's full name when `None`).
    pub name: Option<String>,
    /// From an index, pull every manifest and name the index itself (skopeo's `--all`)
    /// instead of one platform's manifest.
    pub all_platforms: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            jobs: 3,
            name: None,
            all_platforms: false,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The name the image got in the store.
    pub name: String,
    /// The image manifest's descriptor.
    pub descriptor: Descriptor,
    /// The digest of the index the manifest was picked from, if the reference named one.
    pub index: Option<Digest>,
    /// Blobs downloaded.
    pub fetched: usize,
    /// Blobs the store already had.
    pub skipped: usize,
}

/// A manifest or index as the registry sent it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its media type (the Content-Type, or from its `mediaType` field).
    pub media_type: String,
    /// Its digest (verified against a digest reference and Docker-Content-Digest).
    pub digest: Digest,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Client {
    /// `GET /v2/<repo>/manifests/<reference>`, capped at [`MAX_MANIFEST`] bytes; checks the
    /// content against a digest reference and against `Docker-Content-Digest`.
    pub fn fetch_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Fetched, RegistryError> {
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"));
        let ctx = Ctx {
            repository,
            reference,
            push: false,
        };
        let resp = self.send(
            "GET",
            &url,
            &[("Accept", MANIFEST_ACCEPT)],
            Body::None,
            ctx,
            true,
        )?;
        let proto = |reason: String| RegistryError::Protocol {
            registry: self.registry().to_string(),
            reason: format!("manifest {repository}:{reference}: {reason}"),
        };
        // An unparsable length skips only this early check: the read below is capped.
        if let Some(len) = resp
            .header("content-length")
            .and_then(|l| l.parse::<u64>().ok())
        {
            if len > MAX_MANIFEST {
                return Err(proto(format!(
                    "{len} bytes is over the {MAX_MANIFEST}-byte limit"
                )));
            }
        }
        let content_type = resp
            .header("content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let header_digest = resp.header("docker-content-digest").map(str::to_string);
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| proto(format!("reading: {e}")))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(proto(format!("over the {MAX_MANIFEST}-byte limit")));
        }
        let digest = match reference.parse::<Digest>() {
            Ok(want) => {
                let got = Digest::from_bytes(want.algorithm(), &bytes);
                if got != want {
                    return Err(proto(format!(
                        "content hashes to {got}, not the digest asked for"
                    )));
                }
                got
            }
            Err(_) => Digest::from_bytes(hezi_digest::Algorithm::Sha256, &bytes),
        };
        if let Some(h) = header_digest {
            let hd = h
                .trim()
                .parse::<Digest>()
                .map_err(|e| proto(format!("Docker-Content-Digest {h:?}: {e}")))?;
            let got = Digest::from_bytes(hd.algorithm(), &bytes);
            if got != hd {
                return Err(proto(format!(
                    "content hashes to {got} but Docker-Content-Digest says {hd}"
                )));
            }
        }
        let media_type = if media::is_index(&content_type) || media::is_manifest(&content_type) {
            content_type
        } else {
            crate::store::sniff(&bytes)
        };
        if media_type.starts_with("application/vnd.docker.distribution.manifest.v1+") {
            return Err(proto(format!(
                "Docker schema 1 manifests ({media_type}) are not supported"
            )));
        }
        Ok(Fetched {
            media_type,
            digest,
            bytes,
        })
    }

    /// Downloads blob `desc` of `repository` into `store`, verifying size and digest while
    /// it streams into an ingest file; nothing is visible unless it verifies. A connection
    /// that breaks mid-blob is resumed with an HTTP Range request into the same ingest
    /// file (started over when the registry ignores the range).
    pub fn fetch_blob(
        &self,
        store: &Store,
        repository: &str,
        desc: &Descriptor,
    ) -> Result<BlobInfo, ImageError> {
        let digest = desc.digest.to_string();
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let ctx = Ctx {
            repository,
            reference: &digest,
            push: false,
        };
        // One puller per blob at a time; what a failed pull got is kept under a fixed name
        // in ingest/ and continued (Range) by the next pull, in this process or a later one.
        let alg = desc.digest.algorithm();
        let partial = format!("partial-{}-{}", alg.name(), desc.digest.encoded());
        let _lock = IngestLock::take(store, &partial)?;
        if let Ok(info) = store.info(&desc.digest) {
            if info.size == desc.size {
                return Ok(info);
            }
        }
        let mut w = Writer::resume(store, &partial, alg, desc.size)?;
        let mut kept = true;
        if w.written() > 0 {
            tracing::info!(%digest, offset = w.written(), "continuing a kept partial download");
        }
        let mut resumes = 0u32;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let offset = w.written();
            let range = format!("bytes={offset}-");
            let headers: Vec<(&str, &str)> = if offset > 0 {
                vec![("Range", range.as_str())]
            } else {
                Vec::new()
            };
            let resp = match self.send("GET", &url, &headers, Body::None, ctx, true) {
                Ok(r) => r,
                Err(e) => {
                    if kept {
                        w.keep()?;
                    }
                    return Err(e.into());
                }
            };
            if offset > 0 {
                let partial = resp.status() == 206
                    && resp
                        .header("content-range")
                        .is_some_and(|r| r.trim().starts_with(&format!("bytes {offset}-")));
                if partial {
                    tracing::info!(%digest, offset, "resuming the download");
                } else {
                    tracing::info!(%digest, "the registry ignored the range; starting over");
                    w = store.writer_for(alg)?;
                    kept = false;
                }
            }
            let mut reader = resp.into_reader();
            let broke = loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break None,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => break Some(e),
                };
                if w.written() + n as u64 > desc.size {
                    return Err(ImageError::SizeMismatch {
                        digest: digest.clone(),
                        expected: desc.size,
                        actual: w.written() + n as u64,
                        truncated_read: true,
                    });
                }
                w.write_all(&buf[..n])
                    .map_err(ImageError::io_with("write ingest of", digest.clone()))?;
            };
            // A body that ends early without an error (no Content-Length) is broken too.
            let broke = match broke {
                None if w.written() < desc.size => Some(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the body ended after {} of {} bytes",
                        w.written(),
                        desc.size
                    ),
                )),
                b => b,
            };
            match broke {
                None => break,
                Some(e) if resumes < self.retries() => {
                    tracing::warn!(%digest, written = w.written(), error = %e, "download broke off");
                    self.wait(resumes, None);
                    resumes += 1;
                }
                Some(e) => {
                    if kept {
                        tracing::info!(%digest, written = w.written(), "keeping the partial download for the next pull");
                        w.keep()?;
                    }
                    return Err(RegistryError::Transport {
                        registry: self.registry().to_string(),
                        url,
                        message: format!("reading blob {digest}: {e}"),
                    }
                    .into());
                }
            }
        }
        let info = w.commit(Some(desc.size), Some(&desc.digest))?;
        tracing::info!(%digest, size = info.size, "blob stored");
        Ok(info)
    }
}

/// An exclusive lock on `ingest/<name>.lock`, whose file is removed when released (a
/// waiter then holding the lock on the removed file finds the blob committed, or at worst
/// races another resumer on a partial file, which verification catches).
struct IngestLock {
    path: std::path::PathBuf,
    _lock: StoreLock,
}

impl IngestLock {
    fn take(store: &Store, name: &str) -> Result<IngestLock, ImageError> {
        let path = store.path().join("ingest").join(format!("{name}.lock"));
        let lock = StoreLock::acquire(&path, true)?;
        Ok(IngestLock { path, _lock: lock })
    }
}

impl Drop for IngestLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Picks the manifest for `want` from an index: an exact variant match first, then any.
pub fn select_platform<'a>(index: &'a Index, want: &Platform) -> Option<&'a Descriptor> {
    let candidates = || {
        index
            .manifests
            .iter()
            .filter(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
    };
    if want.variant.is_none() && want.architecture == "arm64" {
        if let Some(d) = candidates().find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| matches!(p.variant.as_deref(), None | Some("v8")))
        }) {
            return Some(d);
        }
    }
    candidates().next()
}

/// Pulls `reference` from `client`'s registry into `store` and names it (by default the
/// reference's full name, `host/repo:tag`). From an index only the manifest of the wanted
/// platform is pulled and named. Blobs the store has are skipped; the rest are fetched
/// with `opts.jobs` threads. The name is set only after every blob is in.
pub fn pull(
    store: &Store,
    client: &Client,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<Pulled, ImageError> {
    let _gc = store.lock_gc(false)?;
    let repo = reference.repository.as_str();
    let want = opts.platform.clone().unwrap_or_else(Platform::host);
    let mut top = client.fetch_manifest(repo, &reference.reference())?;
    let mut index_digest = None;
    if opts.all_platforms && media::is_index(&top.media_type) {
        return pull_all_platforms(store, client, reference, &top, opts);
    }
    if media::is_index(&top.media_type) {
        let index: Index = document::parse(&top.bytes, &format!("index {}", top.digest))?;
        let chosen = select_platform(&index, &want).ok_or_else(|| ImageError::NoPlatform {
            index: format!("{reference} ({})", top.digest),
            platform: want.to_string(),
        })?;
        tracing::info!(index = %top.digest, manifest = %chosen.digest, platform = %want, "picked from the index");
        index_digest = Some(top.digest.clone());
        let child = client.fetch_manifest(repo, chosen.digest.as_ref())?;
        if !media::is_manifest(&child.media_type) {
            return Err(ImageError::Unsupported(format!(
                "index {} entry {} is a {} (nested indexes are not pulled)",
                top.digest, chosen.digest, child.media_type
            )));
        }
        top = child;
    }
    let manifest: Manifest = document::parse(&top.bytes, &format!("manifest {}", top.digest))?;
    let (fetched, skipped) = fetch_blobs(
        store,
        client,
        repo,
        std::slice::from_ref(&manifest),
        opts.jobs,
    )?;
    tracing::info!(reference = %reference, fetched, skipped, "pulled blobs");
    if index_digest.is_none() {
        // A single manifest: say so when its config is for another platform.
        // Only for the note below: a config that cannot be read here gives no note, and
        // whoever uses the image reports the failure.
        let cfg = store
            .read_bytes(&manifest.config.digest)
            .unwrap_or_default();
        if let Ok(c) = document::parse::<ImageConfig>(&cfg, "config") {
            let mut got = Platform::parse(&format!("{}/{}", c.os, c.architecture))
                .unwrap_or_else(|_| Platform::host());
            got.variant = c.variant.clone();
            if !want.matches(&got) {
                tracing::warn!(image = %reference, platform = %got, wanted = %want, "the image is for another platform");
            }
        }
    }
    let (name, descriptor) = store_named(store, &top, reference, opts)?;
    Ok(Pulled {
        name,
        descriptor,
        index: index_digest,
        fetched,
        skipped,
    })
}

/// Fetches the config and layer blobs of `manifests` that the store lacks (each blob once)
/// with `jobs` threads; returns how many were fetched and how many the store had.
fn fetch_blobs(
    store: &Store,
    client: &Client,
    repo: &str,
    manifests: &[Manifest],
    jobs: usize,
) -> Result<(usize, usize), ImageError> {
    let mut wanted: Vec<Descriptor> = Vec::new();
    for m in manifests {
        for d in std::iter::once(&m.config).chain(m.layers.iter()) {
            if !wanted.iter().any(|w| w.digest == d.digest) {
                wanted.push(d.clone());
            }
        }
    }
    let (have, todo): (Vec<Descriptor>, Vec<Descriptor>) = wanted
        .into_iter()
        .partition(|d| store.info(&d.digest).is_ok_and(|i| i.size == d.size));
    download_all(store, client, repo, &todo, jobs)?;
    Ok((todo.len(), have.len()))
}

/// Stores the manifest or index `top` and gives it its name (`opts.name`, else the
/// reference), last, once everything it needs is in.
fn store_named(
    store: &Store,
    top: &Fetched,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<(String, Descriptor), ImageError> {
    let info = store.ingest(
        top.bytes.as_slice(),
        &top.digest,
        Some(top.bytes.len() as u64),
    )?;
    let descriptor = Descriptor::new(&top.media_type, info.digest, info.size);
    let name = opts.name.clone().unwrap_or_else(|| reference.to_string());
    store.set_name(&name, &descriptor)?;
    Ok((name, descriptor))
}

/// `pull` of a whole index: every manifest it lists (each verified against its descriptor
/// and stored), the blobs of all of them, then the index, which gets the name. Nested
/// indexes are refused by name, as in a single-platform pull.
fn pull_all_platforms(
    store: &Store,
    client: &Client,
    reference: &Reference,
    top: &Fetched,
    opts: &PullOptions,
) -> Result<Pulled, ImageError> {
    let repo = reference.repository.as_str();
    let index: Index = document::parse(&top.bytes, &format!("index {}", top.digest))?;
    let mut children = Vec::new();
    let mut manifests = Vec::new();
    for entry in &index.manifests {
        let child = client.fetch_manifest(repo, entry.digest.as_ref())?;
        if !media::is_manifest(&child.media_type) {
            return Err(ImageError::Unsupported(format!(
                "index {} entry {} is a {} (nested indexes are not pulled)",
                top.digest, entry.digest, child.media_type
            )));
        }
        manifests.push(document::parse::<Manifest>(
            &child.bytes,
            &format!("manifest {}", child.digest),
        )?);
        children.push(child);
    }
    let (fetched, skipped) = fetch_blobs(store, client, repo, &manifests, opts.jobs)?;
    tracing::info!(reference = %reference, manifests = children.len(), fetched, skipped, "pulled every platform");
    for child in &children {
        store.ingest(
            child.bytes.as_slice(),
            &child.digest,
            Some(child.bytes.len() as u64),
        )?;
    }
    let (name, descriptor) = store_named(store, top, reference, opts)?;
    Ok(Pulled {
        name,
        index: Some(descriptor.digest.clone()),
        descriptor,
        fetched,
        skipped,
    })
}

/// Runs `fetch_blob` over `todo` with `jobs` threads; the first error stops the others
/// from taking new blobs and is returned.
fn download_all(
    store: &Store,
    client: &Client,
    repo: &str,
    todo: &[Descriptor],
    jobs: usize,
) -> Result<(), ImageError> {
    let next = Mutex::new(todo.iter());
    let failed: Mutex<Option<ImageError>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let workers = jobs.max(1).min(todo.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let d = {
                    let mut it = next.lock().unwrap_or_else(|e| e.into_inner());
                    it.next()
                };
                let Some(d) = d else { break };
                if let Err(e) = client.fetch_blob(store, repo, d) {
                    stop.store(true, Ordering::Relaxed);
                    let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                    if f.is_none() {
                        *f = Some(e);
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new(
            media::OCI_MANIFEST,
            Digest::from_bytes(hezi_digest::Algorithm::Sha256, &[n]),
            1,
        );
        let mut p = Platform::parse(&format!("linux/{arch}")).unwrap();
        p.variant = variant.map(str::to_string);
        d.platform = Some(p);
        d
    }

    #[test]
    fn picks_platforms() {
        let index = Index {
            manifests: vec![
                desc("amd64", None, 1),
                desc("arm", Some("v6"), 2),
                desc("arm", Some("v7"), 3),
                desc("arm64", Some("v8"), 4),
            ],
            ..Index::default()
        };
        let pick = |s: &str| {
            select_platform(&index, &Platform::parse(s).unwrap()).map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64"), Some(index.manifests[0].digest.clone()));
        assert_eq!(
            pick("linux/arm/v7"),
            Some(index.manifests[2].digest.clone())
        );
        assert_eq!(pick("linux/arm"), Some(index.manifests[1].digest.clone()));
        assert_eq!(pick("linux/arm64"), Some(index.manifests[3].digest.clone()));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("windows/amd64"), None);
    }
}
