//! The errors of the registry client.

use std::path::PathBuf;

/// What can go wrong talking to a registry. Every message names the registry, and where
/// one is involved the repository and the reference (tag or digest).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An image reference could not be parsed.
    #[error("invalid image reference {reference:?}: {reason}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry answered 404 (MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN, ...).
    #[error("registry {registry}: {reference} not found in repository {repository}{detail}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
        /// The registry's error code and message, if it sent any (`: CODE: message`).
        detail: String,
    },
    /// The registry answered 401 even with the credentials (or token) we had.
    #[error("registry {registry}: authentication required for repository {repository} ({reference}){detail}; log in with `hezi login {registry}` or pass --creds")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
        /// The registry's error code and message, if any.
        detail: String,
    },
    /// The registry answered 403.
    #[error("registry {registry}: access to repository {repository} ({reference}) denied{detail}")]
    Denied {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
        /// The registry's error code and message, if any.
        detail: String,
    },
    /// Any other unexpected HTTP status (after retries, for 429 and 5xx).
    #[error("registry {registry}: repository {repository} ({reference}): {method} answered HTTP {status}{detail}")]
    Status {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The tag or digest involved.
        reference: String,
        /// The HTTP method of the request.
        method: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error code and message, if any.
        detail: String,
    },
    /// The connection failed (after retries): DNS, refused, reset, TLS, timeout.
    #[error("registry {registry}: {url}: {message}")]
    Transport {
        /// The registry host.
        registry: String,
        /// The URL of the request.
        url: String,
        /// What failed.
        message: String,
    },
    /// The registry answered something that breaks the protocol.
    #[error("registry {registry}: {reason}")]
    Protocol {
        /// The registry host.
        registry: String,
        /// What is wrong.
        reason: String,
    },
    /// A token could not be obtained from the registry's auth server.
    #[error("registry {registry}: getting a token from {realm}: {reason}")]
    Token {
        /// The registry host.
        registry: String,
        /// The token endpoint.
        realm: String,
        /// What went wrong.
        reason: String,
    },
    /// TLS could not be set up (CA files, client config).
    #[error("registry {registry}: TLS setup: {reason}")]
    Tls {
        /// The registry host.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// An auth file (auth.json, ~/.docker/config.json) is unreadable or malformed.
    #[error("credentials file {path}: {reason}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
