//! `hezi ps`.

use crate::cli::{GlobalOpts, PsArgs};

/// Runs `hezi ps`.
pub fn run(_g: &GlobalOpts, _a: &PsArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi ps: not implemented in this build")
}
