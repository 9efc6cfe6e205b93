//! [`Digester`]: incremental hashing that ends in a [`Digest`].

use std::io;

use sha2::Digest as _;

use crate::algorithm::Algorithm;
use crate::digest::Digest;

/// The running state of one hash.
#[derive(Clone)]
enum State {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    #[cfg(feature = "blake3")]
    Blake3(Box<blake3::Hasher>),
}

/// A streaming hasher: feed bytes with [`Digester::update`] (or as an [`io::Write`]),
/// then take the [`Digest`] with [`Digester::finish`].
///
/// SHA-2 uses the CPU's SHA extensions when present (detected at run time).
#[derive(Clone)]
pub struct Digester {
    state: State,
    algorithm: Algorithm,
}

impl Digester {
    /// A fresh hasher for `algorithm` (same as [`Algorithm::digester`]).
    pub fn new(algorithm: Algorithm) -> Digester {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => State::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => State::Sha512(sha2::Sha512::new()),
            #[cfg(feature = "blake3")]
            Algorithm::Blake3 => State::Blake3(Box::new(blake3::Hasher::new())),
        };
        Digester { state, algorithm }
    }

    /// The algorithm being computed.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Hashes more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Sha256(h) => h.update(data),
            State::Sha384(h) => h.update(data),
            State::Sha512(h) => h.update(data),
            #[cfg(feature = "blake3")]
            State::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The digest of everything hashed so far.
    pub fn finish(self) -> Digest {
        let alg = self.algorithm;
        match self.state {
            State::Sha256(h) => Digest::from_raw_hash(alg, &h.finalize()),
            State::Sha384(h) => Digest::from_raw_hash(alg, &h.finalize()),
            State::Sha512(h) => Digest::from_raw_hash(alg, &h.finalize()),
            #[cfg(feature = "blake3")]
            State::Blake3(h) => Digest::from_raw_hash(alg, h.finalize().as_bytes()),
        }
    }

    /// The digest of everything hashed so far, leaving the hasher usable.
    pub fn current(&self) -> Digest {
        self.clone().finish()
    }
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digester")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl io::Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
