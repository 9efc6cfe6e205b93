//! `hezi start`.

use anyhow::Context as _;

use crate::cli::{GlobalOpts, IdArgs};

/// Runs `hezi start`.
pub fn run(g: &GlobalOpts, a: &IdArgs) -> anyhow::Result<u8> {
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    let _lock = c.lock()?;
    c.start()
        .with_context(|| format!("start container {}", a.id))?;
    Ok(0)
}
