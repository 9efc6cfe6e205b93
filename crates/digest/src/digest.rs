//! [`Digest`]: a validated `algorithm:encoded` string of a supported algorithm, and
//! [`GenericDigest`]: one that only follows the image-spec grammar.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use crate::algorithm::Algorithm;
use crate::error::DigestError;
use crate::grammar;
use crate::verifier::Verifier;

/// A content digest such as `sha256:e3b0c442...` whose algorithm this build implements
/// and whose encoded part is lower-case hex of the right length.
///
/// This is go-digest's strict view: [`Digest::parse`] (also [`FromStr`] and serde)
/// rejects a well-formed digest of an unknown algorithm with
/// [`DigestError::Unsupported`]. The image-spec says grammar validation of such a
/// digest SHOULD pass (the content just cannot be verified); use [`GenericDigest`]
/// for that view and [`GenericDigest::to_supported`] to go from one to the other.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    value: String,
    algorithm: Algorithm,
}

/// Splits `s` at its first `:`, rejecting the shapes go-digest calls a format error.
fn split(s: &str) -> Result<(&str, &str), DigestError> {
    match s.find(':') {
        Some(i) if i > 0 && i + 1 < s.len() => Ok((&s[..i], &s[i + 1..])),
        _ => Err(DigestError::InvalidFormat {
            input: s.to_string(),
            reason: "expected <algorithm>:<encoded>",
        }),
    }
}

impl Digest {
    /// Parses and validates a digest string (go-digest's `Parse`).
    ///
    /// Checks, in order: the `algorithm:encoded` shape and grammar (invalid format),
    /// the algorithm (unsupported), the encoded length (invalid length), and lower-case
    /// hex (invalid format).
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, encoded) = split(s)?;
        let Some(algorithm) = Algorithm::from_name(alg) else {
            if grammar::is_algorithm(alg) && grammar::is_encoded(encoded) {
                return Err(DigestError::Unsupported {
                    algorithm: alg.to_string(),
                    input: s.to_string(),
                });
            }
            return Err(DigestError::InvalidFormat {
                input: s.to_string(),
                reason: "does not match the digest grammar",
            });
        };
        algorithm.check_encoded(s, encoded)?;
        Ok(Digest {
            value: s.to_string(),
            algorithm,
        })
    }

    /// Builds a digest from an algorithm and its encoded (hex) part, validating the latter.
    pub fn from_encoded(algorithm: Algorithm, encoded: &str) -> Result<Digest, DigestError> {
        let value = format!("{}:{}", algorithm.name(), encoded);
        algorithm.check_encoded(&value, encoded)?;
        Ok(Digest { value, algorithm })
    }

    /// Builds a digest from a raw hash value. The caller guarantees `hash` came from
    /// `algorithm`, so its length is right.
    pub(crate) fn from_raw_hash(algorithm: Algorithm, hash: &[u8]) -> Digest {
        debug_assert_eq!(hash.len(), algorithm.size());
        Digest {
            value: format!("{}:{}", algorithm.name(), hex::encode(hash)),
            algorithm,
        }
    }

    /// The digest of `data` under `algorithm`.
    pub fn from_bytes(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut d = algorithm.digester();
        d.update(data);
        d.finish()
    }

    /// The SHA-256 digest of `data` (the canonical algorithm).
    pub fn sha256(data: &[u8]) -> Digest {
        Digest::from_bytes(Algorithm::Sha256, data)
    }

    /// The digest of everything `reader` yields, read in 1 MiB chunks.
    pub fn from_reader(algorithm: Algorithm, mut reader: impl Read) -> io::Result<Digest> {
        let mut d = algorithm.digester();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(d.finish()),
                Ok(n) => d.update(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded (hex) part, after the `:`.
    pub fn encoded(&self) -> &str {
        &self.value[self.algorithm.name().len() + 1..]
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The raw hash bytes decoded from the hex part.
    pub fn hash_bytes(&self) -> Vec<u8> {
        // The encoded part was validated as lower-case hex of even length.
        hex::decode(self.encoded()).unwrap_or_default()
    }

    /// A writer that hashes what is written and tells whether it matches this digest.
    pub fn verifier(&self) -> Verifier {
        Verifier::new(self.clone())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.value)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.value
    }
}

impl TryFrom<&str> for Digest {
    type Error = DigestError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Digest::parse(&s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A digest checked only against the image-spec grammar, so a well-formed digest of an
/// unknown algorithm (say `sha256+b64u:LCa0...`) is accepted.
///
/// For the algorithms this build implements, the encoded part must still be lower-case
/// hex of the right length (image-spec requires that of the registered sha256 and
/// sha512). Call [`GenericDigest::to_supported`] before trusting it to verify content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GenericDigest {
    value: String,
    colon: usize,
}

impl GenericDigest {
    /// Parses `s` against the image-spec digest grammar.
    pub fn parse(s: &str) -> Result<GenericDigest, DigestError> {
        let (alg, encoded) = split(s)?;
        if !grammar::is_algorithm(alg) || !grammar::is_encoded(encoded) {
            return Err(DigestError::InvalidFormat {
                input: s.to_string(),
                reason: "does not match the digest grammar",
            });
        }
        if let Some(known) = Algorithm::from_name(alg) {
            known.check_encoded(s, encoded)?;
        }
        Ok(GenericDigest {
            value: s.to_string(),
            colon: alg.len(),
        })
    }

    /// The algorithm part as written.
    pub fn algorithm_name(&self) -> &str {
        &self.value[..self.colon]
    }

    /// The algorithm, if this build implements it.
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::from_name(self.algorithm_name())
    }

    /// The encoded part, after the `:`.
    pub fn encoded(&self) -> &str {
        &self.value[self.colon + 1..]
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The strict [`Digest`], or [`DigestError::Unsupported`] for an unknown algorithm.
    pub fn to_supported(&self) -> Result<Digest, DigestError> {
        Digest::parse(&self.value)
    }
}

impl From<Digest> for GenericDigest {
    fn from(d: Digest) -> GenericDigest {
        let colon = d.algorithm.name().len();
        GenericDigest {
            value: d.value,
            colon,
        }
    }
}

impl fmt::Display for GenericDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl FromStr for GenericDigest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GenericDigest::parse(s)
    }
}

impl serde::Serialize for GenericDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for GenericDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        GenericDigest::parse(&s).map_err(serde::de::Error::custom)
    }
}
