//! `hezi validate`.

use crate::cli::{GlobalOpts, BundleArgs};

/// Runs `hezi validate`.
pub fn run(_g: &GlobalOpts, _a: &BundleArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi validate: not implemented in this build")
}
