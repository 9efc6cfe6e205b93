//! End-to-end tests of exec, the console socket, seccomp, cgroup limits, sysctl and time
//! namespaces through the real binary. Root only; plain `cargo test` skips them.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use helpers::{default_memory_cgroup, World};
use hezi_testsupport::require_root;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::json;

#[test]
fn exec_joins_the_container() {
    require_root!();
    let w = World::new("rt-exec");
    let id = w.id("ex");
    let b = w.bundle("ex", &["sleep", "1000"], |_| {});
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    let init = w.state(&id)["pid"].as_i64().expect("pid");
    let init_ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).expect("ns");
    let o = w.out(&[
        "exec",
        "--env",
        "X=42",
        "--user",
        "1000:1000",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "echo $X; id -u; id -g; pwd; readlink /proc/self/ns/pid; hostname; exit 5",
    ]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "42",
            "1000",
            "1000",
            "/tmp",
            &init_ns.display().to_string(),
            "hezi"
        ],
        "{out}"
    );
    // the exec'd process is in the container's cgroup while it runs
    let pidfile = w.tmp.path().join("exec.pid");
    let (ok, err) = w.detached(&[
        "exec",
        "-d",
        "--pid-file",
        &pidfile.display().to_string(),
        &id,
        "sleep",
        "100",
    ]);
    assert!(ok, "{err}");
    let epid = std::fs::read_to_string(&pidfile).expect("pid file");
    let pids: Vec<i32> =
        serde_json::from_slice(&w.out(&["ps", "-f", "json", &id]).stdout).expect("ps");
    assert!(
        pids.contains(&epid.trim().parse().expect("pid")),
        "{pids:?} {epid}"
    );
    // errors
    let o = w.out(&["exec", &id, "no-such-cmd-xyz"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("executable file not found"));
    assert!(w.out(&["kill", &id, "KILL"]).status.success());
    let t = Instant::now();
    while w.status(&id) != "stopped" && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = w.out(&["exec", &id, "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot exec in a stopped container"));
}

/// Accepts one connection on `sock` and receives the pty master fd.
fn receive_master(listener: &UnixListener) -> OwnedFd {
    let (conn, _) = listener.accept().expect("accept console");
    let mut buf = [0u8; 4096];
    let mut cbuf = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&conn),
        &mut iov,
        Some(&mut cbuf),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is owned by nobody else.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received");
}

#[test]
fn terminal_through_the_console_socket() {
    require_root!();
    let w = World::new("rt-tty");
    let sock = w.tmp.path().join("console.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let id = w.id("tty");
    let b = w.bundle("tty", &["sh"], |c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    });
    let bs = b.display().to_string();
    let ss = sock.display().to_string();
    let idc = id.clone();
    let hezi = std::thread::spawn({
        let mut cmd = w.hezi();
        move || {
            cmd.args(["run", "-d", "--console-socket", &ss, "-b", &bs, &idc])
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run")
        }
    });
    let master = receive_master(&listener);
    let o = hezi.join().expect("join");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut f = std::fs::File::from(master);
    f.write_all(b"echo tty-$((40+2)); tty; stty size; readlink /proc/self/fd/0\n")
        .expect("write");
    let mut seen = String::new();
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    while !(seen.contains("tty-42")
        && seen.contains("30 100")
        && seen.matches("/dev/pts/0").count() >= 1)
        && t.elapsed() < Duration::from_secs(10)
    {
        let n = f.read(&mut buf).expect("read pty");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("tty-42"), "{seen}");
    assert!(seen.contains("30 100"), "{seen}");
    assert!(
        seen.contains("/dev/console") || seen.contains("/dev/pts/0"),
        "{seen}"
    );
    f.write_all(b"exit\n").expect("write");
}

#[test]
fn seccomp_profile_is_enforced() {
    require_root!();
    let w = World::new("rt-seccomp");
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let (code, out, err) = w.sh(
        "mkdir /dev/shm/a 2>&1 || echo blocked; touch /dev/shm/f && echo touched",
        |c| {
            c["linux"]["seccomp"] = profile.clone();
        },
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Operation not permitted") && out.contains("blocked"),
        "{out}"
    );
    assert!(out.contains("touched"), "{out}");
    // the same without the profile works (the test can fail)
    let (_, out, _) = w.sh("mkdir /dev/shm/a && echo made", |_| {});
    assert!(out.contains("made"), "{out}");
}

#[test]
fn cgroup_limits_are_applied_and_removed() {
    require_root!();
    let w = World::new("rt-cg");
    let id = w.id("cg");
    let b = w.bundle("cg", &["sleep", "1000"], |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
        c["linux"]["resources"]["pids"] = json!({"limit": 50});
    });
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    let dir = default_memory_cgroup(&id);
    let limit = std::fs::read_to_string(dir.join("memory.limit_in_bytes")).expect("limit");
    assert_eq!(limit.trim(), "67108864");
    let pid = w.state(&id)["pid"].as_i64().expect("pid").to_string();
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("procs");
    assert!(procs.lines().any(|l| l == pid), "{procs}");
    assert!(w.out(&["delete", "--force", &id]).status.success());
    assert!(!dir.exists());
}

#[test]
fn sysctl_and_time_offsets() {
    require_root!();
    let w = World::new("rt-sysctl");
    let (code, out, err) = w.sh(
        "cat /proc/sys/net/ipv4/ip_forward; cut -d. -f1 /proc/uptime",
        |c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("ns")
                .push(json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
        },
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    let host_up: u64 = std::fs::read_to_string("/proc/uptime")
        .expect("uptime")
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("parse");
    let up: u64 = lines[1].parse().expect("uptime");
    assert!(up >= 864000 + host_up - 5, "{up} vs host {host_up}");
}

#[test]
fn seccomp_notify_listener_gets_the_fd_and_answers() {
    require_root!();
    use std::os::fd::AsFd;
    let w = World::new("rt-notify");
    let sock = w.tmp.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 8192];
        let mut cbuf = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            std::os::fd::AsRawFd::as_raw_fd(&conn),
            &mut iov,
            Some(&mut cbuf),
            MsgFlags::empty(),
        )
        .expect("recvmsg");
        let mut fd = None;
        for c in msg.cmsgs().expect("cmsgs") {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: freshly received fd, owned by nobody else.
                fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
            }
        }
        let n = msg.bytes;
        let fd = fd.expect("listener fd");
        let state: serde_json::Value = serde_json::from_slice(&buf[..n]).expect("state json");
        // answer one mkdir with EACCES
        let req = hezi_seccomp::notify::recv(fd.as_fd()).expect("recv notification");
        hezi_seccomp::notify::respond(
            fd.as_fd(),
            &hezi_seccomp::notify::Response::Error {
                id: req.id,
                errno: libc::EACCES,
            },
        )
        .expect("respond");
        state
    });
    let (code, out, err) = w.sh("mkdir /dev/shm/a 2>&1; echo done", |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock.display().to_string(),
            "listenerMetadata": "meta-1",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Permission denied") && out.contains("done"),
        "{out}"
    );
    let state = agent.join().expect("agent");
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["metadata"], "meta-1", "{state}");
    assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{state}");
}

#[test]
fn attached_run_and_exec_with_a_terminal_proxy_the_pty() {
    require_root!();
    let w = World::new("rt-ttyrun");
    let id = w.id("ttyrun");
    let b = w.bundle("ttyrun", &["sh"], |c| {
        c["process"]["terminal"] = json!(true)
    });
    let mut child = w
        .hezi()
        .args(["run", "-b", &b.display().to_string(), &id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"echo got-$((20+22)); tty\nexit 3\n")
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("got-42") && out.contains("/dev/pts/"), "{out}");
}
