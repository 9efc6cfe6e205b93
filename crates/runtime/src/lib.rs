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

// Internals: each module has one job (see docs/architecture.md); the public API is the
// re-exports below plus `criu` (checkpoint/restore) and `features`.
pub(crate) mod apparmor;
pub(crate) mod cgjoin;
pub(crate) mod clone;
pub(crate) mod console;
pub(crate) mod container;
pub(crate) mod create;
pub mod criu;
pub(crate) mod devices;
pub(crate) mod error;
pub(crate) mod exec;
pub(crate) mod exeseal;
pub(crate) mod hooks;
pub(crate) mod id;
pub(crate) mod idmap;
pub(crate) mod init;
pub(crate) mod lock;
pub(crate) mod loopback;
pub(crate) mod namespaces;
pub(crate) mod notify;
pub(crate) mod nshelper;
pub(crate) mod parentns;
pub(crate) mod process;
pub(crate) mod procinfo;
// Public but hidden: the rootfs integration tests (tests/rootfs_mounts.rs) drive the mount
// plan directly, which an embedder has no reason to do.
#[doc(hidden)]
pub mod rootfs;
pub(crate) mod rootless;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod sync;

pub use container::Container;
pub use create::{create, load_config, CreateOptions};
pub use error::{Result, RuntimeError};
pub use exec::{exec, parse_sub_cgroups, ExecOptions};
pub use exeseal::ensure_sealed;
pub use id::validate_id;
/// The OCI types this crate speaks (re-exported for callers without their own dependency).
pub use oci_spec;
pub use rootless::in_user_namespace;
pub use signal::parse_signal;
pub use state::{now_rfc3339, rfc3339, ContainerRecord, RuncState, Status};

/// For tests of a `fault-injection` build: the stages at which `create` can be stopped.
#[doc(hidden)]
pub use create::FAULT_STAGES;

/// What this build of the runtime implements, for `hezi features` (runtime-spec's features
/// document).
pub mod features {
    pub use crate::apparmor::enabled as apparmor_enabled;
    pub use crate::namespaces::JOIN_ORDER as NAMESPACES;
    pub use crate::process::plan::{MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES};
    pub use crate::rootfs::options::KNOWN_MOUNT_OPTIONS as MOUNT_OPTIONS;
}
