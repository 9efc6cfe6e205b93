//! CVE-2019-5736 regression tests: a container process must never be able to write the
//! host's hezi binary through `/proc/<pid>/exe`, neither while hezi sets it up nor after.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::os::unix::fs::OpenOptionsExt;

use helpers::World;
use hezi_testsupport::require_root;

/// True when the file `/proc/<pid>/exe` names lives on a read-only mount.
fn exe_on_readonly_mount(pid: i64) -> bool {
    let st = nix::sys::statvfs::statvfs(format!("/proc/{pid}/exe").as_str()).expect("statvfs");
    st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
}

#[test]
fn container_init_runs_from_an_unwritable_binary() {
    require_root!();
    let w = World::new("hezi-exeseal");
    let id = w.id("seal");
    let b = w.bundle(&id, &["true"], |_| {});
    let (ok, err) = w.detached(&["create", "-b", &b.display().to_string(), &id]);
    assert!(ok, "create failed: {err}");
    let pid = w.state(&id)["pid"].as_i64().expect("pid");
    assert!(pid > 0);
    // Before exec, the init's exe is hezi: it must be the read-only bind (or a sealed memfd),
    // never the writable file on the host's filesystem.
    let target = std::fs::read_link(format!("/proc/{pid}/exe")).expect("readlink exe");
    assert_ne!(
        target,
        std::path::Path::new(env!("CARGO_BIN_EXE_hezi")),
        "the init runs the host binary itself"
    );
    let sealed_memfd = target.to_string_lossy().starts_with("/memfd:");
    assert!(
        sealed_memfd || exe_on_readonly_mount(pid),
        "init's binary ({}) is writable",
        target.display()
    );
    // What the attack does: hold the exe, let the process go, then open it for writing.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(format!("/proc/{pid}/exe"))
        .expect("O_PATH exe");
    let (ok, err) = w.detached(&["delete", "--force", &id]);
    assert!(ok, "delete failed: {err}");
    let reopen = std::fs::OpenOptions::new().write(true).open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&held)
    ));
    assert!(
        reopen.is_err(),
        "the hezi binary opened for writing after the container exited"
    );
}

#[test]
fn a_stray_mark_in_the_environment_does_not_disable_the_seal() {
    require_root!();
    let w = World::new("hezi-exeseal-mark");
    let id = w.id("mark");
    let b = w.bundle(&id, &["true"], |_| {});
    let o = w
        .hezi()
        .env("_HEZI_EXE_SEALED", "1")
        .args(["create", "-b", &b.display().to_string(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("spawn hezi");
    // The mark is not trusted: the binary is checked, found writable, and create refuses
    // (exit 1) rather than run a container from the host binary; nothing is left behind.
    assert!(!o.success(), "create ran with a stray seal mark");
    assert!(!w.root().join(&id).exists());
}
