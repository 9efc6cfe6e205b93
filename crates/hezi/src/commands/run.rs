//! `hezi run`.

use crate::cli::{GlobalOpts, RunArgs};

/// Runs `hezi run`.
pub fn run(_g: &GlobalOpts, _a: &RunArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi run: not implemented in this build")
}
