//! `hezi checkpoint` and `hezi restore`: runc's flags, CRIU through its RPC interface
//! (`hezi_runtime::criu`). Attached (`restore` without `--detach`), hezi waits for the
//! restored init as `run` does and deletes the container when it exits.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hezi_runtime::criu::container::{self as cr, parse_cg_mode, parse_empty_ns};
use nix::unistd::Pid;

use crate::cli::{CheckpointArgs, CriuCommonArgs, GlobalOpts, RestoreArgs};

/// runc's default image directory: `./checkpoint`.
fn image_path(common: &CriuCommonArgs) -> anyhow::Result<PathBuf> {
    match &common.image_path {
        Some(p) => Ok(p.clone()),
        None => Ok(std::env::current_dir()
            .context("current directory")?
            .join("checkpoint")),
    }
}

fn criu(g: &GlobalOpts) -> PathBuf {
    hezi_runtime::criu::criu_binary(g.criu.as_deref())
}

/// Options hezi accepts for runc's sake but cannot honour: refused by name, never ignored.
fn refuse_unsupported(common: &CriuCommonArgs, extra: &[(bool, &str)]) -> anyhow::Result<()> {
    let mut asked: Vec<&str> = Vec::new();
    if common.lazy_pages {
        asked.push("--lazy-pages");
    }
    asked.extend(extra.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
    if let Some(first) = asked.first() {
        anyhow::bail!(
            "{first} is not supported by hezi (lazy migration through a CRIU page server)"
        );
    }
    Ok(())
}

fn cg_mode(common: &CriuCommonArgs) -> anyhow::Result<Option<hezi_runtime::criu::rpc::CgMode>> {
    Ok(common
        .manage_cgroups_mode
        .as_deref()
        .map(parse_cg_mode)
        .transpose()?)
}

/// Runs `hezi checkpoint`.
pub fn checkpoint(g: &GlobalOpts, a: &CheckpointArgs) -> anyhow::Result<u8> {
    refuse_unsupported(
        &a.common,
        &[
            (a.page_server.is_some(), "--page-server"),
            (a.status_fd.is_some(), "--status-fd"),
        ],
    )?;
    if a.common.empty_ns.is_some() {
        // runc applies --empty-ns on restore only; on checkpoint it is accepted and unused.
        tracing::debug!("--empty-ns has no effect on checkpoint (as in runc)");
    }
    let manage_cgroups_mode = cg_mode(&a.common)?;
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    let opts = cr::CheckpointOptions {
        criu: criu(g),
        image_path: image_path(&a.common)?,
        work_path: a.common.work_path.clone(),
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        tcp_established: a.common.tcp_established,
        ext_unix_sk: a.common.ext_unix_sk,
        shell_job: a.common.shell_job,
        file_locks: a.common.file_locks,
        pre_dump: a.pre_dump,
        manage_cgroups_mode,
        auto_dedup: a.common.auto_dedup,
    };
    cr::checkpoint(&c, &opts).with_context(|| format!("checkpoint container {}", a.id))?;
    Ok(0)
}

/// Runs `hezi restore`.
pub fn restore(g: &GlobalOpts, a: &RestoreArgs) -> anyhow::Result<u8> {
    refuse_unsupported(&a.common, &[])?;
    let opts = cr::RestoreOptions {
        root: g.root.clone(),
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        criu: criu(g),
        image_path: image_path(&a.common)?,
        work_path: a.common.work_path.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        systemd_cgroup: g.systemd_cgroup,
        tcp_established: a.common.tcp_established,
        ext_unix_sk: a.common.ext_unix_sk,
        shell_job: a.common.shell_job,
        file_locks: a.common.file_locks,
        manage_cgroups_mode: cg_mode(&a.common)?,
        empty_ns: a
            .common
            .empty_ns
            .as_deref()
            .map(parse_empty_ns)
            .transpose()?
            .unwrap_or(0),
        auto_dedup: a.common.auto_dedup,
    };
    if !a.detach && !a.no_subreaper {
        // Orphans of the restored tree are reaped here while we wait, as runc does.
        nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
    }
    let c = cr::restore(&opts).with_context(|| format!("restore container {}", a.id))?;
    if a.detach {
        return Ok(0);
    }
    // The restored init is our child (CRIU's rst_sibling): wait for it as `run` does.
    let code = super::exec::wait_with_console(Pid::from_raw(c.init_pid()), None)?;
    delete_after(&g.root, &a.id)?;
    Ok(code)
}

fn delete_after(root: &Path, id: &str) -> anyhow::Result<()> {
    match hezi_runtime::Container::load(root, id) {
        Ok(c) => c
            .delete(true)
            .with_context(|| format!("delete container {id}")),
        Err(e) => {
            tracing::warn!("restore: {e}");
            Ok(())
        }
    }
}
