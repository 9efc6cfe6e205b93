//! `hezi kill`.

use crate::cli::{GlobalOpts, KillArgs};

/// Runs `hezi kill ID [SIGNAL] [--all]`.
pub fn run(g: &GlobalOpts, a: &KillArgs) -> anyhow::Result<u8> {
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    let sig = hezi_runtime::parse_signal(&a.signal)?;
    c.kill(sig, a.all)?;
    Ok(0)
}
