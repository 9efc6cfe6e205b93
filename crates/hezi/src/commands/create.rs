//! `hezi create`.

use anyhow::Context as _;

use crate::cli::{CreateArgs, CreateOpts, GlobalOpts};

/// The runtime's create options from the command line.
pub fn options(g: &GlobalOpts, id: &str, o: &CreateOpts) -> hezi_runtime::CreateOptions {
    hezi_runtime::CreateOptions {
        root: g.root.clone(),
        id: id.to_string(),
        bundle: o.bundle.clone(),
        pid_file: o.pid_file.clone(),
        console_socket: o.console_socket.clone(),
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        preserve_fds: o.preserve_fds,
        systemd_cgroup: g.systemd_cgroup,
        spec: None,
    }
}

/// Runs `hezi create`.
pub fn run(g: &GlobalOpts, a: &CreateArgs) -> anyhow::Result<u8> {
    hezi_runtime::create(&options(g, &a.id, &a.opts))
        .with_context(|| format!("create container {}", a.id))?;
    Ok(0)
}
