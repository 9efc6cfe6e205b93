//! `hezi start`.

use crate::cli::{GlobalOpts, IdArgs};

/// Runs `hezi start`.
pub fn run(_g: &GlobalOpts, _a: &IdArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi start: not implemented in this build")
}
