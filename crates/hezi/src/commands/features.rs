//! `hezi features`.

use crate::cli::GlobalOpts;

/// Runs `hezi features`.
pub fn run(_g: &GlobalOpts) -> anyhow::Result<u8> {
    anyhow::bail!("hezi features: not implemented in this build")
}
