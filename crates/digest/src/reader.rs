//! [`HashingReader`]: a `Read` adapter that hashes and counts what passes through.

use std::io::{self, Read};

use crate::algorithm::Algorithm;
use crate::digest::Digest;
use crate::digester::Digester;

/// Wraps a reader; every byte read through it is hashed and counted, so a blob can be
/// streamed to its destination and its digest and size checked at the end.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    digester: Digester,
    count: u64,
}

impl<R> HashingReader<R> {
    /// Hashes what is read from `inner` with `algorithm`.
    pub fn new(inner: R, algorithm: Algorithm) -> HashingReader<R> {
        HashingReader {
            inner,
            digester: algorithm.digester(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.count
    }

    /// The digest of the bytes read so far.
    pub fn digest(&self) -> Digest {
        self.digester.current()
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Ends hashing: the wrapped reader, the digest and the byte count.
    pub fn into_parts(self) -> (R, Digest, u64) {
        (self.inner, self.digester.finish(), self.count)
    }
}

impl<R: Read> HashingReader<R> {
    /// Reads (and hashes) the rest of the stream, discarding it; returns the digest and
    /// the total byte count.
    pub fn drain(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let (_, d, n) = self.into_parts();
        Ok((d, n))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}
