//! OCI types for hezi: the runtime-spec and image-spec types of `oci-spec` re-exported,
//! plus what hezi adds around them:
//!
//! * [`defaults`]: `runc spec`-shaped default configs (root and rootless),
//! * [`validate`]: validation of a bundle's `config.json` that reports every problem
//!   with its JSON path,
//! * [`image`]: image-spec document checks (descriptors, manifests, indexes, layouts),
//! * [`state`]: the runtime state document (runtime-spec `state.md`, and runc's shape),
//! * [`features`]: a builder for the runtime-spec `features.md` document,
//! * [`names`]: the capability, rlimit, namespace, hook and seccomp name tables.
//!
//! ```
//! use hezi_spec::{defaults, validate, SPEC_VERSION};
//!
//! let spec = defaults::default_spec();
//! assert_eq!(spec.version(), SPEC_VERSION);
//! let json = serde_json::to_value(&spec).unwrap();
//! assert!(validate::validate_config(&json).is_ok());
//! ```
#![deny(missing_docs)]

pub mod defaults;
pub mod features;
pub mod image;
pub mod state;
pub mod validate;

pub mod names;

pub use oci_spec;
pub use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
pub use oci_spec::runtime::{
    Linux, LinuxNamespace, LinuxNamespaceType, Mount, Process, Root, Spec,
};
pub use state::{RuncState, State, Status};
pub use validate::{Problem, ValidationErrors};

/// The runtime-spec version hezi implements and writes into configs and state.
pub const SPEC_VERSION: &str = "1.2.1";

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
