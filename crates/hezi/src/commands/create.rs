//! `hezi create`.

use crate::cli::{GlobalOpts, CreateArgs};

/// Runs `hezi create`.
pub fn run(_g: &GlobalOpts, _a: &CreateArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi create: not implemented in this build")
}
