//! `hezi exec`.

use crate::cli::{GlobalOpts, ExecArgs};

/// Runs `hezi exec`.
pub fn run(_g: &GlobalOpts, _a: &ExecArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi exec: not implemented in this build")
}
