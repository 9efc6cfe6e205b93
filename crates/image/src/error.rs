//! The error type of hezi-image.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the image store, in archive import/export, in unpacking
/// and in image-to-bundle conversion. Every message names the thing involved (path, digest,
/// reference or layer entry).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A system call or file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "write", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A layer's uncompressed tar stream is larger than the limit the caller set
    /// ([`crate::unpack::UnpackOptions::max_layer_size`]).
    #[error("layer {layer} expands to more than {limit} bytes, the limit set by --max-layer-size")]
    LayerTooLarge {
        /// The layer's digest (or a description when it has none).
        layer: String,
        /// The limit, in bytes of uncompressed tar stream.
        limit: u64,
    },
    /// A layer entry would be written (or would link to something) outside the rootfs.
    #[error("layer entry {path:?} escapes the rootfs: {reason}")]
    Escape {
        /// The entry's path as written in the archive.
        path: String,
        /// Why the path leaves the rootfs.
        reason: &'static str,
    },
    /// A layer entry is malformed or cannot be applied.
    #[error("layer entry {path:?}: {reason}")]
    BadEntry {
        /// The entry's path as written in the archive.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A directory on the way to a layer entry is a non-directory in the rootfs.
    #[error("layer entry {path:?}: {dir} (or a directory on its way) is not a directory")]
    NotADirectory {
        /// The entry's path as written in the archive.
        path: String,
        /// The directory path (as written in the archive) that did not resolve to one.
        dir: String,
    },
    /// Content did not hash to the digest it was expected to have.
    #[error("blob {expected}: digest mismatch (content hashes to {actual})")]
    DigestMismatch {
        /// The expected digest.
        expected: String,
        /// The digest of the content actually read.
        actual: String,
    },
    /// Content was shorter or longer than the size it was expected to have.
    #[error("blob {digest}: size mismatch: expected {expected} bytes, got {actual}{more}", more = if *.truncated_read { " or more" } else { "" })]
    SizeMismatch {
        /// The digest of the blob.
        digest: String,
        /// The expected size.
        expected: u64,
        /// The bytes actually read (a lower bound when the read stopped early).
        actual: u64,
        /// True when reading stopped as soon as the content exceeded the expected size.
        truncated_read: bool,
    },
    /// An uncompressed layer did not hash to the diffID listed in the image config.
    #[error("layer {layer}: uncompressed content hashes to {actual} but the image config lists diffID {expected}")]
    DiffIdMismatch {
        /// The layer's (compressed) digest.
        layer: String,
        /// The diffID from the config.
        expected: String,
        /// The digest of the uncompressed content.
        actual: String,
    },
    /// A blob is not in the store.
    #[error("blob {digest} not found in store {store}")]
    BlobNotFound {
        /// The missing digest.
        digest: String,
        /// The store directory.
        store: PathBuf,
    },
    /// No image has this name or digest.
    #[error("image {reference:?} not found in store {store}")]
    ImageNotFound {
        /// The reference asked for.
        reference: String,
        /// The store directory.
        store: PathBuf,
    },
    /// A digest string was malformed.
    #[error("{context}: {source}")]
    Digest {
        /// Where the digest came from.
        context: String,
        /// The parse error.
        #[source]
        source: hezi_digest::DigestError,
    },
    /// A JSON document could not be parsed.
    #[error("{what}: invalid JSON: {source}")]
    Json {
        /// Which document (with its digest or path).
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A document is well-formed JSON but not a valid image document.
    #[error("{what}: {reason}")]
    InvalidDocument {
        /// Which document (with its digest or path).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// An index has no manifest for the requested platform.
    #[error("index {index}: no manifest for platform {platform}")]
    NoPlatform {
        /// The index digest.
        index: String,
        /// The platform asked for (os/arch[/variant]).
        platform: String,
    },
    /// The image config's user cannot be resolved in the rootfs.
    #[error("user {user:?}: {reason}")]
    User {
        /// The user string from the image config or the override.
        user: String,
        /// Why it cannot be resolved.
        reason: String,
    },
    /// A feature the input asks for is not supported by hezi.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An argument given by the caller is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Talking to a registry failed (boxed: it is the largest variant).
    #[cfg(feature = "registry")]
    #[error(transparent)]
    Registry(Box<crate::registry::RegistryError>),
}

#[cfg(feature = "registry")]
impl From<crate::registry::RegistryError> for ImageError {
    fn from(e: crate::registry::RegistryError) -> Self {
        ImageError::Registry(Box::new(e))
    }
}

impl ImageError {
    /// Builds an [`ImageError::Io`] for `op` on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A closure that wraps an `io::Error` into [`ImageError::Io`], for `map_err`.
    pub fn io_with(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io { op, path, source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;
