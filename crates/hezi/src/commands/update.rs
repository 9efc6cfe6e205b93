//! `hezi update`.

use crate::cli::{GlobalOpts, UpdateArgs};

/// Runs `hezi update`.
pub fn run(_g: &GlobalOpts, _a: &UpdateArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi update: not implemented in this build")
}
