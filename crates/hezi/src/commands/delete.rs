//! `hezi delete`.

use crate::cli::{GlobalOpts, DeleteArgs};

/// Runs `hezi delete`.
pub fn run(_g: &GlobalOpts, _a: &DeleteArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi delete: not implemented in this build")
}
