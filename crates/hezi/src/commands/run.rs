//! `hezi run`: create + start; attached, it forwards signals to the container's init, waits
//! for it and exits with its status (128+signal when killed), then deletes the container
//! unless `--keep`.

use anyhow::Context as _;
use nix::unistd::Pid;

use crate::cli::{GlobalOpts, RunArgs};

/// Runs `hezi run`.
pub fn run(g: &GlobalOpts, a: &RunArgs) -> anyhow::Result<u8> {
    let mut opts = super::create::options(g, &a.id, &a.opts);
    // --image: make the bundle from the store; it is removed with the container.
    let image_bundle = match &a.image {
        Some(reference) => {
            if hezi_runtime::Container::load(&g.root, &a.id).is_ok() {
                anyhow::bail!("container with id {} exists", a.id);
            }
            let store = super::image::open_store(g)?;
            let reference = super::registry::image_for_run(&store, reference, a.pull, &a.registry)?;
            let how = super::image_bundle::MakeOptions {
                copy: a.copy,
                volumes: a.volumes,
                max_layer_size: a.max_layer_size,
            };
            let dir = super::image_bundle::make(g, &a.id, &reference, &a.command, how)?;
            opts.bundle = dir.clone();
            Some(dir)
        }
        None if !a.command.is_empty() => {
            anyhow::bail!(
                "a command after -- needs --image (a bundle's command is in its config.json)"
            )
        }
        None => None,
    };
    let result = run_created(g, a, opts);
    if let Some(dir) = image_bundle {
        // Keep the bundle while its container exists (--detach, --keep, or a failed delete).
        if hezi_runtime::Container::load(&g.root, &a.id).is_err() {
            super::image_bundle::remove(&dir)?;
        }
    }
    result
}

/// create + start (+ wait and delete when attached) with the bundle in `opts`.
fn run_created(
    g: &GlobalOpts,
    a: &RunArgs,
    mut opts: hezi_runtime::CreateOptions,
) -> anyhow::Result<u8> {
    // Attached with a terminal and no --console-socket: serve the socket ourselves, as runc does.
    // Load (and validate) config.json once, here, and hand it to create.
    let spec = hezi_runtime::load_config(&opts.bundle)
        .with_context(|| format!("create container {}", a.id))?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    opts.spec = Some(spec);
    let local = if !a.detach && opts.console_socket.is_none() && terminal {
        let l = super::exec::LocalConsole::bind(&g.root)?;
        opts.console_socket = Some(l.path().to_path_buf());
        Some(l)
    } else {
        None
    };
    let c = hezi_runtime::create(&opts).with_context(|| format!("create container {}", a.id))?;
    let master = local.as_ref().map(|l| l.receive()).transpose()?;
    drop(local);
    let pid = Pid::from_raw(c.init_pid());
    if let Err(e) = c.start() {
        let _ = c.clone().delete(true);
        return Err(anyhow::Error::from(e).context(format!("start container {}", a.id)));
    }
    if a.detach {
        return Ok(0);
    }
    let code = super::exec::wait_with_console(pid, master)?;
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
