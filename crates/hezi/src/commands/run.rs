//! `hezi run`: create + start; attached, it forwards signals to the container's init, waits
//! for it and exits with its status (128+signal when killed), then deletes the container
//! unless `--keep`.

use anyhow::Context as _;
use nix::unistd::Pid;

use crate::cli::{GlobalOpts, RunArgs};

/// Runs `hezi run`.
pub fn run(g: &GlobalOpts, a: &RunArgs) -> anyhow::Result<u8> {
    if a.image.is_some() {
        anyhow::bail!("run --image: not wired into this build yet; unpack the image with `hezi image unpack` and use --bundle");
    }
    let opts = super::create::options(g, &a.id, &a.opts);
    let c = hezi_runtime::create(&opts).with_context(|| format!("create container {}", a.id))?;
    let pid = Pid::from_raw(c.init_pid());
    if let Err(e) = c.start() {
        let _ = c.clone().delete(true);
        return Err(anyhow::Error::from(e).context(format!("start container {}", a.id)));
    }
    if a.detach {
        return Ok(0);
    }
    let code = super::exec::wait_forwarding(pid)?;
    if !a.keep {
        match hezi_runtime::Container::load(&g.root, &a.id) {
            Ok(c) => c
                .delete(true)
                .with_context(|| format!("delete container {}", a.id))?,
            Err(e) => tracing::warn!("run: {e}"),
        }
    }
    Ok(code)
}
