//! `hezi spec`.

use crate::cli::{GlobalOpts, SpecArgs};

/// Runs `hezi spec`.
pub fn run(_g: &GlobalOpts, _a: &SpecArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi spec: not implemented in this build")
}
