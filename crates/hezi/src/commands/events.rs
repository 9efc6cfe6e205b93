//! `hezi events`.

use crate::cli::{GlobalOpts, EventsArgs};

/// Runs `hezi events`.
pub fn run(_g: &GlobalOpts, _a: &EventsArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hezi events: not implemented in this build")
}
