//! `hezi pause` and `hezi resume`: freeze or thaw the container's cgroup. The status that
//! `state` prints follows from the freezer (`paused` while frozen), so nothing else is written.

use anyhow::Context as _;
use hezi_cgroups::FreezerState;
use hezi_runtime::{Container, Status};

use crate::cli::{GlobalOpts, IdArgs};

/// Runs `hezi pause`.
pub fn pause(g: &GlobalOpts, a: &IdArgs) -> anyhow::Result<u8> {
    let c = Container::load(&g.root, &a.id)?;
    let _lock = c.lock()?;
    match c.status() {
        Status::Running | Status::Created => {}
        Status::Paused => anyhow::bail!("container {} is already paused", a.id),
        _ => anyhow::bail!("container not running"),
    }
    let cg = c.cgroup()?;
    cg.freeze(FreezerState::Frozen)
        .with_context(|| format!("pause container {}", a.id))?;
    Ok(0)
}

/// Runs `hezi resume`.
pub fn resume(g: &GlobalOpts, a: &IdArgs) -> anyhow::Result<u8> {
    let c = Container::load(&g.root, &a.id)?;
    let _lock = c.lock()?;
    if c.status() != Status::Paused {
        anyhow::bail!("container not paused");
    }
    let cg = c.cgroup()?;
    cg.freeze(FreezerState::Thawed)
        .with_context(|| format!("resume container {}", a.id))?;
    Ok(0)
}
