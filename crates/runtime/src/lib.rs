//! hezi-runtime: the OCI container lifecycle (namespaces, rootfs, process, hooks, state).
//!
//! ```no_run
//! use hezi_runtime::{create, Container, CreateOptions};
//! # fn main() -> Result<(), hezi_runtime::RuntimeError> {
//! let opts = CreateOptions {
//!     root: "/run/hezi".into(),
//!     id: "demo".into(),
//!     bundle: "/tmp/bundle".into(),
//!     ..Default::default()
//! };
//! let c = create(&opts)?;      // init waits on the exec fifo
//! c.start()?;                  // the user's program runs
//! let c = Container::load(&opts.root, "demo")?;
//! println!("{}", serde_json::to_string(&c.state()).unwrap_or_default());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod apparmor;
pub mod cgjoin;
pub mod clone;
pub mod console;
pub mod container;
pub mod create;
pub mod criu;
pub mod devices;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod id;
pub mod idmap;
pub mod init;
pub mod lock;
pub mod loopback;
pub mod namespaces;
pub mod notify;
pub mod parentns;
pub mod process;
pub mod procinfo;
pub mod rootfs;
pub mod rootless;
pub mod signal;
pub mod state;
pub mod sync;

pub use container::Container;
pub use create::{create, CreateOptions};
pub use error::{Result, RuntimeError};
pub use exec::{exec, ExecOptions};
/// The OCI types this crate speaks (re-exported for callers without their own dependency).
pub use oci_spec;
pub use signal::parse_signal;
pub use state::{RuncState, Status};
