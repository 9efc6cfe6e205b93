//! The compiled-filter cache and the listenerPath handoff.

mod common;

use hezi_seccomp::{compile, notify, Cache};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

#[test]
fn cache_stores_reuses_and_repairs_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::new(dir.path().join("seccomp"));
    let docker = common::fixture("docker-default.json");
    let podman = common::fixture("podman-default.json");
    let first = cache.get_or_compile(&docker).expect("compile via cache");
    assert_eq!(first, compile(&docker).expect("compile"));
    let path = cache.path_for(&docker).expect("key");
    assert!(path.exists(), "entry written at {}", path.display());
    assert_ne!(
        path,
        cache.path_for(&podman).expect("key"),
        "different profiles, different keys"
    );

    // A hit is served from the file: plant a different (valid) program there.
    let planted = compile(&podman).expect("compile");
    std::fs::write(&path, planted.to_bytes()).expect("plant");
    assert_eq!(cache.get_or_compile(&docker).expect("hit"), planted);

    // A corrupt entry is ignored and rewritten.
    std::fs::write(&path, b"not a filter").expect("corrupt");
    assert_eq!(cache.get_or_compile(&docker).expect("recompile"), first);
    assert_eq!(std::fs::read(&path).expect("rewritten"), first.to_bytes());
}

#[test]
fn cache_still_compiles_when_the_directory_is_unwritable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    // A directory below a regular file can never be created.
    let cache = Cache::new(file.join("cache"));
    let docker = common::fixture("docker-default.json");
    assert_eq!(
        cache.get_or_compile(&docker).expect("compiled anyway"),
        compile(&docker).expect("compile")
    );
}

#[test]
fn send_listener_passes_fd_and_container_process_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock_path).expect("bind");
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().expect("accept");
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut buf = vec![0u8; 64 * 1024];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .expect("recvmsg");
        let mut fds = Vec::new();
        for c in msg.cmsgs().expect("cmsgs") {
            if let ControlMessageOwned::ScmRights(v) = c {
                fds.extend(v);
            }
        }
        let n = msg.bytes;
        let mut body = buf[..n].to_vec();
        let mut rest = Vec::new();
        (&conn).read_to_end(&mut rest).expect("read rest");
        body.extend(rest);
        assert_eq!(fds.len(), 1, "exactly one fd");
        // SAFETY: received via SCM_RIGHTS, owned by us now.
        (unsafe { OwnedFd::from_raw_fd(fds[0]) }, body)
    });

    let (r, w) = nix::unistd::pipe().expect("pipe");
    let state: oci_spec::runtime::State = serde_json::from_str(
        r#"{"ociVersion":"1.2.0","id":"box-1","status":"creating","pid":4321,"bundle":"/b"}"#,
    )
    .expect("state");
    let json = notify::process_state_json(&state, 4321, Some("agent-meta")).expect("json");
    hezi_seccomp::send_listener(&sock_path, w.as_fd(), &json).expect("send");
    drop(w);
    let (fd, body) = agent.join().expect("agent");

    let v: serde_json::Value = serde_json::from_slice(&body).expect("state JSON");
    assert_eq!(v["ociVersion"], "1.2.0");
    assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(v["pid"], 4321);
    assert_eq!(v["metadata"], "agent-meta");
    assert_eq!(v["state"]["id"], "box-1");
    assert_eq!(v["state"]["status"], "creating");

    // The received fd is the pipe's write end.
    nix::unistd::write(&fd, b"ok").expect("write through passed fd");
    let mut got = [0u8; 2];
    nix::unistd::read(&r, &mut got).expect("read");
    assert_eq!(&got, b"ok");
}

#[test]
fn send_listener_names_the_path_on_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nobody-listens.sock");
    let (_r, w) = nix::unistd::pipe().expect("pipe");
    let e = hezi_seccomp::send_listener(&missing, w.as_fd(), b"{}").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("nobody-listens.sock") && msg.contains("connect"),
        "{msg}"
    );
}
