//! One pass over a layer blob: a producer thread reads the compressed bytes, hashes and
//! counts them, decompresses and hashes the tar stream (the diffID), and hands big chunks
//! over a bounded channel to the consumer that writes files.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use hezi_digest::{Algorithm, Digest, Digester};

use crate::error::ImageError;

const CHUNK: usize = 512 * 1024;
const DEPTH: usize = 8;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The compression a layer media type announces; `Ok(None)` when the media type does
    /// not say (unknown vendor types), an error for compressions hezi cannot read.
    pub fn from_media_type(media_type: &str) -> Result<Option<Compression>, ImageError> {
        let mt = media_type.trim();
        if mt.ends_with("+gzip") || mt.ends_with(".tar.gzip") || mt.ends_with("tar.gzip") {
            return Ok(Some(Compression::Gzip));
        }
        if mt.ends_with("+zstd") {
            return Ok(Some(Compression::Zstd));
        }
        if mt.ends_with(".tar") || mt.ends_with(".layer.v1.tar") {
            return Ok(Some(Compression::None));
        }
        if let Some((_, suffix)) = mt.rsplit_once('+') {
            if mt.contains(".layer.") {
                return Err(ImageError::Unsupported(format!(
                    "layer compression {suffix:?} (media type {media_type})"
                )));
            }
        }
        Ok(None)
    }

    /// The compression the first bytes of a blob show.
    pub fn sniff(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What a layer is expected to be.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The blob's digest (compressed), if known.
    pub digest: Option<Digest>,
    /// The blob's size in bytes, if known.
    pub size: Option<u64>,
    /// The diffID (digest of the uncompressed tar), if known.
    pub diff_id: Option<Digest>,
    /// The media type ("" if unknown).
    pub media_type: String,
}

/// What a layer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Digest of the blob as read.
    pub digest: Digest,
    /// Size of the blob as read.
    pub size: u64,
    /// Digest of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub tar_size: u64,
    /// The compression that was used.
    pub compression: Compression,
}

/// Counts and hashes what passes through, and fails once more than `limit` bytes came.
struct Counted<R> {
    inner: R,
    digester: Digester,
    n: u64,
    limit: Option<u64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if let Some(limit) = self.limit {
            if self.n > limit {
                return Err(io::Error::new(io::ErrorKind::InvalidData, Oversize(self.n)));
            }
        }
        self.digester.update(&buf[..k]);
        Ok(k)
    }
}

#[derive(Debug)]
struct Oversize(u64);
impl std::fmt::Display for Oversize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "blob is larger than its descriptor says (read {} bytes)",
            self.0
        )
    }
}
impl std::error::Error for Oversize {}

/// The consumer's end: a `Read` over the chunks.
struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

enum ProduceError {
    /// The consumer hung up (it failed; its error is the one to report).
    Cancelled,
    /// Reading or decompressing failed.
    Failed(ImageError),
}

fn label(expect: &Expect) -> String {
    expect
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "layer".into())
}

fn read_err(expect: &Expect, e: io::Error) -> ImageError {
    if let Some(o) = e.get_ref().and_then(|i| i.downcast_ref::<Oversize>()) {
        return ImageError::SizeMismatch {
            digest: label(expect),
            expected: expect.size.unwrap_or(0),
            actual: o.0,
            truncated_read: true,
        };
    }
    ImageError::io("read/decompress", label(expect), e)
}

/// Pumps decompressed chunks into the channel; returns the diffID digester and tar size.
fn pump<D: Read>(
    dec: &mut D,
    tx: &SyncSender<io::Result<Vec<u8>>>,
    alg: Algorithm,
    expect: &Expect,
) -> Result<(Digest, u64), ProduceError> {
    let mut diff = alg.digester();
    let mut total = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match dec.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let msg = e.to_string();
                    let _ = tx.send(Err(io::Error::new(e.kind(), msg)));
                    return Err(ProduceError::Failed(read_err(expect, e)));
                }
            }
        }
        if filled == 0 {
            return Ok((diff.finish(), total));
        }
        buf.truncate(filled);
        diff.update(&buf);
        total += filled as u64;
        if tx.send(Ok(buf)).is_err() {
            return Err(ProduceError::Cancelled);
        }
    }
}

fn produce<R: Read>(
    input: R,
    expect: &Expect,
    tx: SyncSender<io::Result<Vec<u8>>>,
) -> Result<Observed, ProduceError> {
    let alg = expect
        .digest
        .as_ref()
        .map(|d| d.algorithm())
        .unwrap_or(Algorithm::Sha256);
    let counted = Counted {
        inner: input,
        digester: alg.digester(),
        n: 0,
        limit: expect.size,
    };
    let mut br = BufReader::with_capacity(1 << 20, counted);
    let magic = br
        .fill_buf()
        .map_err(|e| ProduceError::Failed(read_err(expect, e)))?;
    let compression = Compression::sniff(magic);
    let announced =
        Compression::from_media_type(&expect.media_type).map_err(ProduceError::Failed)?;
    if let Some(a) = announced {
        if a != compression && !magic.is_empty() {
            tracing::warn!(layer = %label(expect), media_type = %expect.media_type, ?compression,
                "media type and content disagree about compression; using the content");
        }
    }
    let diff_alg = expect
        .diff_id
        .as_ref()
        .map(|d| d.algorithm())
        .unwrap_or(Algorithm::Sha256);
    let (diff_id, tar_size, mut rest) = match compression {
        Compression::Gzip => {
            let mut dec = flate2::bufread::MultiGzDecoder::new(br);
            let (d, n) = pump(&mut dec, &tx, diff_alg, expect)?;
            (d, n, dec.into_inner())
        }
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd => return Err(ProduceError::Failed(super::zstd_not_built())),
        #[cfg(feature = "zstd")]
        Compression::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(br)
                .map_err(|e| ProduceError::Failed(read_err(expect, e)))?;
            let (d, n) = pump(&mut dec, &tx, diff_alg, expect)?;
            (d, n, dec.finish())
        }
        Compression::None => {
            let (d, n) = pump(&mut br, &tx, diff_alg, expect)?;
            (d, n, br)
        }
    };
    // Hash whatever follows the compressed stream, so the digest covers the whole blob.
    io::copy(&mut rest, &mut io::sink()).map_err(|e| ProduceError::Failed(read_err(expect, e)))?;
    let counted = rest.into_inner();
    Ok(Observed {
        digest: counted.digester.finish(),
        size: counted.n,
        diff_id,
        tar_size,
        compression,
    })
}

/// Runs `consume` on the uncompressed tar stream of `input` while another thread reads,
/// hashes and decompresses it; then checks size, digest and diffID against `expect`.
pub fn run<R, F>(input: R, expect: &Expect, consume: F) -> Result<Observed, ImageError>
where
    R: Read + Send,
    F: FnOnce(&mut dyn Read) -> Result<(), ImageError>,
{
    let (tx, rx) = sync_channel(DEPTH);
    let (consumed, produced) = std::thread::scope(|s| {
        let producer = s.spawn(move || produce(input, expect, tx));
        let mut reader = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        };
        let mut consumed = consume(&mut reader);
        if consumed.is_ok() {
            // Trailing padding after the end-of-archive marker is part of the diffID.
            if let Err(e) = io::copy(&mut reader, &mut io::sink()) {
                consumed = Err(ImageError::io("read", label(expect), e));
            }
        }
        drop(reader);
        let produced = producer.join();
        (consumed, produced)
    });
    let observed = match produced {
        Ok(Ok(o)) => o,
        Ok(Err(ProduceError::Failed(e))) => return Err(e),
        Ok(Err(ProduceError::Cancelled)) => {
            return Err(consumed.err().unwrap_or_else(|| {
                ImageError::InvalidArgument("layer reader stopped early".into())
            }))
        }
        Err(_) => {
            return Err(ImageError::InvalidArgument(
                "layer decompression thread panicked".into(),
            ))
        }
    };
    consumed?;
    check(expect, &observed)?;
    Ok(observed)
}

/// Compares what was read with what was expected.
pub fn check(expect: &Expect, observed: &Observed) -> Result<(), ImageError> {
    if let Some(size) = expect.size {
        if size != observed.size {
            return Err(ImageError::SizeMismatch {
                digest: label(expect),
                expected: size,
                actual: observed.size,
                truncated_read: false,
            });
        }
    }
    if let Some(d) = &expect.digest {
        if *d != observed.digest {
            return Err(ImageError::DigestMismatch {
                expected: d.to_string(),
                actual: observed.digest.to_string(),
            });
        }
    }
    if let Some(d) = &expect.diff_id {
        if *d != observed.diff_id {
            return Err(ImageError::DiffIdMismatch {
                layer: label(expect),
                expected: d.to_string(),
                actual: observed.diff_id.to_string(),
            });
        }
    }
    Ok(())
}
