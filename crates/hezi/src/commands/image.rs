//! `hezi image ...`.

use crate::cli::{GlobalOpts, ImageCommand};

/// Runs one `hezi image` subcommand.
pub fn run(_g: &GlobalOpts, _c: ImageCommand) -> anyhow::Result<u8> {
    anyhow::bail!("hezi image: not implemented in this build")
}
