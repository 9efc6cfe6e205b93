//! hezi-runtime: the OCI container lifecycle (namespaces, rootfs, process, hooks, state).
#![deny(missing_docs)]

pub mod rootfs;
