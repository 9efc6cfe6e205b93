//! [`Verifier`]: checks that written content matches an expected digest.

use std::io;

use crate::digest::Digest;
use crate::digester::Digester;

/// Hashes everything written to it; [`Verifier::verified`] tells whether the content so
/// far has exactly the expected digest. Made by [`Digest::verifier`].
#[derive(Debug, Clone)]
pub struct Verifier {
    expected: Digest,
    digester: Digester,
    written: u64,
}

impl Verifier {
    /// A verifier for content expected to hash to `expected`.
    pub fn new(expected: Digest) -> Verifier {
        let digester = expected.algorithm().digester();
        Verifier {
            expected,
            digester,
            written: 0,
        }
    }

    /// The digest the content must have.
    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The digest of the content written so far.
    pub fn actual(&self) -> Digest {
        self.digester.current()
    }

    /// True if the content written so far hashes to the expected digest.
    pub fn verified(&self) -> bool {
        self.actual() == self.expected
    }
}

impl io::Write for Verifier {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.digester.update(buf);
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
