//! `hezi list`.

use crate::cli::{GlobalOpts, ListArgs};

/// Runs `hezi list`.
pub fn run(_g: &GlobalOpts, _a: &ListArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi list: not implemented in this build")
}
