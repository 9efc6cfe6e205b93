//! `hezi kill`.

use crate::cli::{GlobalOpts, KillArgs};

/// Runs `hezi kill`.
pub fn run(_g: &GlobalOpts, _a: &KillArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi kill: not implemented in this build")
}
