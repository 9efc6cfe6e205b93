//! `hezi state`.

use crate::cli::{GlobalOpts, IdArgs};

/// Runs `hezi state`.
pub fn run(_g: &GlobalOpts, _a: &IdArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi state: not implemented in this build")
}
