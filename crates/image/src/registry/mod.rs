//! The registry client (feature `registry`): OCI distribution spec v1.1 and Docker
//! registry v2 over a blocking ureq agent with rustls.
//!
//! * [`Reference`]: `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]` (and Docker Hub short forms).
//! * [`Client`]: one registry; `/v2/` ping, anonymous, basic and bearer auth (tokens cached
//!   per scope), retries with backoff for 429 (Retry-After), 5xx and broken connections,
//!   redirects, TLS with system roots plus `certs.d` CAs, plain HTTP for loopback.
//! * [`pull()`]: manifest (platform picked from an index), blobs the store lacks fetched in
//!   parallel and verified while streaming into the store's ingest (a broken download is
//!   resumed with a Range request), then the name.
//! * [`push()`]: HEAD, then POST + monolithic PUT of each missing blob, then the manifest.
//! * [`auth`]: auth.json / Docker config lookup and the file `hezi login` writes.

pub mod auth;
mod client;
pub mod credhelper;
mod error;
mod pull;
mod push;
pub mod reference;
mod tls;

pub use auth::Credentials;
pub use client::{is_loopback, Client, ClientOptions};
pub use error::RegistryError;
pub use pull::{pull, select_platform, Fetched, PullOptions, Pulled, MANIFEST_ACCEPT};
pub use push::{push, PushOptions, Pushed};
pub use reference::Reference;
pub use tls::CERTS_DIRS;

/// The largest manifest or index accepted from a registry (4 MiB, as containerd).
pub const MAX_MANIFEST: u64 = 4 << 20;

/// Connects to the registry of `reference` with `opts`.
pub fn connect(reference: &Reference, opts: &ClientOptions) -> Result<Client, RegistryError> {
    Client::connect(&reference.registry, &reference.repository, opts)
}
