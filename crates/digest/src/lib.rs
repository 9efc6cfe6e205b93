//! Content digests for OCI images: parse, validate, compute and stream-verify
//! (the job of Go's `github.com/opencontainers/go-digest`).
//!
//! * [`Digest`]: a validated `algorithm:hex` string of an algorithm this build
//!   implements (go-digest's strict rules and error order).
//! * [`GenericDigest`]: a digest that only follows the image-spec grammar, so a
//!   well-formed digest of an unknown algorithm is kept rather than rejected.
//! * [`Algorithm`], [`Digester`] (streaming hash), [`Verifier`] (an `io::Write` that
//!   checks content against a digest), [`HashingReader`] (a `Read` adapter that hashes
//!   and counts), and the typed [`DigestError`].
//!
//! ```
//! use hezi_digest::{Algorithm, Digest};
//! use std::io::Write;
//!
//! let d = Digest::from_bytes(Algorithm::Sha256, b"hello");
//! assert_eq!(d.to_string(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
//! let parsed: Digest = d.to_string().parse().unwrap();
//! assert_eq!(parsed, d);
//!
//! let mut v = d.verifier();
//! v.write_all(b"hello").unwrap();
//! assert!(v.verified());
//! ```
#![deny(missing_docs)]

mod algorithm;
mod digest;
mod digester;
mod error;
mod grammar;
mod reader;
mod verifier;

pub use algorithm::Algorithm;
pub use digest::{Digest, GenericDigest};
pub use digester::Digester;
pub use error::DigestError;
pub use reader::HashingReader;
pub use verifier::Verifier;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
