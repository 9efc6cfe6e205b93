//! `hezi pause` and `hezi resume`.

use crate::cli::{GlobalOpts, IdArgs};

/// Runs `hezi pause`.
pub fn pause(_g: &GlobalOpts, _a: &IdArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi pause: not implemented in this build")
}

/// Runs `hezi resume`.
pub fn resume(_g: &GlobalOpts, _a: &IdArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi resume: not implemented in this build")
}
