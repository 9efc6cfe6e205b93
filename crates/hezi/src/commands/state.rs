//! `hezi state`.

use crate::cli::{GlobalOpts, IdArgs};

/// Runs `hezi state`: the runtime-spec state JSON (pid 0 once stopped), indented like runc's.
pub fn run(g: &GlobalOpts, a: &IdArgs) -> anyhow::Result<u8> {
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    println!("{}", serde_json::to_string_pretty(&c.state())?);
    Ok(0)
}
