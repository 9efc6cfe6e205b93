//! hezi-image: an OCI image store (content store over an OCI image layout), image documents,
//! import and export of OCI layouts, oci-archives and docker-archives, safe layer unpacking
//! and image-to-bundle conversion.
#![deny(missing_docs)]

pub mod document;
pub mod error;
pub mod media;
pub mod store;
pub mod unpack;

pub use document::{Descriptor, ImageConfig, Index, Manifest, Platform};
pub use error::ImageError;
pub use store::{BlobInfo, Store};
pub mod image;
pub use image::{overlay_lowerdir, Image};
pub mod archive;
pub mod bundle;
pub mod gc;
pub mod overlay;
#[cfg(feature = "registry")]
pub mod registry;
pub mod report;
pub mod user;
pub mod volumes;
pub use bundle::{create_bundle, BundleOptions};
pub use volumes::VolumeMode;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
