//! hezi-seccomp: OCI seccomp profiles compiled to classic BPF in pure Rust.
//!
//! * [`compile`] turns an [`oci_spec::runtime::LinuxSeccomp`] into a
//!   [`CompiledFilter`]: per-architecture dispatch (x86_64, i386, x32, aarch64), a
//!   binary search over syscall numbers, 64-bit argument compares, long-jump
//!   trampolines, and runc's `-ENOSYS` answer for syscalls newer than the profile.
//! * [`install`] loads it with seccomp(2) (no allocation; callable right
//!   before exec) and returns the notify listener fd for NOTIFY rules.
//! * [`notify`] has the agent side (`recv`/`respond`) and [`notify::send_listener`]
//!   for runtime-spec's `listenerPath`.
//! * [`Cache`] keeps compiled programs on disk keyed by a hash of the profile.
//! * [`bpf::run`] is a reference interpreter for testing filters without the kernel.
//!
//! Semantics follow runc + libseccomp: rules whose action equals the default
//! action are dropped; for one syscall an unconditional rule beats
//! conditional ones; among conditional rules the first whose conditions all
//! hold (conditions within a rule are ANDed, including several on one
//! argument) decides; syscall names unknown on every architecture are logged
//! and skipped; other architectures get `SECCOMP_RET_KILL_THREAD`
//! (libseccomp's default bad-arch action, kept by runc).
#![deny(missing_docs)]

pub mod action;
pub mod arch;
pub mod bpf;
mod cache;
mod compile;
#[cfg(test)]
mod compile_tests;
mod emit;
mod error;
mod filter;
mod install;
mod multiplex;
pub mod notify;
pub mod syscalls;

pub use cache::Cache;
pub use compile::{
    compile, compile_with, CompileOptions, FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW,
    FLAG_TSYNC, FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV, MAX_INSNS,
};
pub use error::SeccompError;
pub use filter::CompiledFilter;
pub use install::{install, set_no_new_privs};
pub use notify::send_listener;

/// Actions accepted in profiles (runtime-spec names), for `hezi features`.
pub const SUPPORTED_ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Argument operators accepted in profiles.
pub const SUPPORTED_OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Architectures with syscall tables.
pub const SUPPORTED_ARCHS: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
];

/// Filter flags accepted in profiles.
pub const SUPPORTED_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Parse a `linux.seccomp` JSON object (unknown action/operator/arch/flag
/// names are errors naming the line and column).
pub fn parse_profile(json: &[u8]) -> Result<oci_spec::runtime::LinuxSeccomp, SeccompError> {
    Ok(serde_json::from_slice(json)?)
}

/// The README's example, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
