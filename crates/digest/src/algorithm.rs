//! Hash algorithms that hezi can compute.

use std::fmt;
use std::str::FromStr;

use crate::digester::Digester;
use crate::error::DigestError;

/// A digest algorithm this build implements.
///
/// `Sha256` is the canonical algorithm (the OCI image-spec default). `Blake3` exists
/// only with the `blake3` cargo feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 (FIPS 180-4), registered by image-spec.
    Sha256,
    /// SHA-384 (FIPS 180-4), supported by go-digest.
    Sha384,
    /// SHA-512 (FIPS 180-4), registered by image-spec.
    Sha512,
    /// BLAKE3 with 256-bit output, as go-digest's `blake3` extension.
    #[cfg(feature = "blake3")]
    Blake3,
}

impl Algorithm {
    /// The canonical algorithm: SHA-256.
    pub const CANONICAL: Algorithm = Algorithm::Sha256;

    /// Every algorithm available in this build.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::Sha256,
        Algorithm::Sha384,
        Algorithm::Sha512,
        #[cfg(feature = "blake3")]
        Algorithm::Blake3,
    ];

    /// The name used in digest strings (`sha256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
            #[cfg(feature = "blake3")]
            Algorithm::Blake3 => "blake3",
        }
    }

    /// Size of the raw hash in bytes.
    pub fn size(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
            #[cfg(feature = "blake3")]
            Algorithm::Blake3 => 32,
        }
    }

    /// Length of the encoded (lower-case hex) part of a digest of this algorithm.
    pub fn encoded_len(self) -> usize {
        self.size() * 2
    }

    /// Looks an algorithm up by its name; `None` for names this build does not implement.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// A fresh streaming hasher for this algorithm.
    pub fn digester(self) -> Digester {
        Digester::new(self)
    }

    /// Checks an encoded part against this algorithm in go-digest's order: length first,
    /// then lower-case hex only.
    pub(crate) fn check_encoded(self, input: &str, encoded: &str) -> Result<(), DigestError> {
        if encoded.len() != self.encoded_len() {
            return Err(DigestError::InvalidLength {
                input: input.to_string(),
                algorithm: self.name().to_string(),
                expected: self.encoded_len(),
                actual: encoded.len(),
            });
        }
        if !encoded
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(DigestError::InvalidFormat {
                input: input.to_string(),
                reason: "encoded part must be lower-case hex",
            });
        }
        Ok(())
    }
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm::CANONICAL
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s).ok_or_else(|| DigestError::Unsupported {
            algorithm: s.to_string(),
            input: s.to_string(),
        })
    }
}
