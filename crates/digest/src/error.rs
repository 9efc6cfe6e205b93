//! The error type of this crate.

/// Why a digest string, algorithm name or hash check was rejected.
///
/// Parsing reports the first failing check in go-digest's order: format, then
/// unsupported algorithm, then encoded length (then encoded character set, which is
/// again a format error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The string does not follow the digest grammar (`algorithm ":" encoded`) or the
    /// encoding of its algorithm (for example upper-case hex for sha256).
    #[error("invalid digest format {input:?}: {reason}")]
    InvalidFormat {
        /// The rejected input.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The string is well-formed but names an algorithm this build does not implement.
    #[error("unsupported digest algorithm {algorithm:?} in {input:?}")]
    Unsupported {
        /// The algorithm named by the input.
        algorithm: String,
        /// The rejected input.
        input: String,
    },
    /// The encoded part has the wrong length for its algorithm.
    #[error("invalid digest length in {input:?}: {algorithm} needs {expected} hex characters, got {actual}")]
    InvalidLength {
        /// The rejected input.
        input: String,
        /// The algorithm named by the input.
        algorithm: String,
        /// Hex characters the algorithm needs.
        expected: usize,
        /// Characters the input has.
        actual: usize,
    },
}
