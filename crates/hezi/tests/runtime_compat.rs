//! What real engines and real profiles send, checked as runc behaves (Debian's runc is the
//! oracle where it is installed): seccomp as the last step before exec, the notify listener
//! during create, session leaders, exec error wording, exec's environment, personality and
//! memory policy, `exec --cgroup` and `--pidfd-socket`, `rootfsPropagation: unbindable`, and
//! containers without a mount namespace of their own or joining one by path.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helpers::World;
use hezi_testsupport::{require_root, unique_id};
use serde_json::{json, Value};

/// Debian's runc, the oracle.
const RUNC: &str = "/usr/sbin/runc";

/// `runc run` of `bundle` with its own state dir under the world: (exit code, stdout, stderr);
/// `None` when runc is not installed.
fn runc_run(w: &World, bundle: &Path) -> Option<(i32, String, String)> {
    if !Path::new(RUNC).is_file() {
        eprintln!("note: {RUNC} not installed, no comparison");
        return None;
    }
    let root = w.tmp.path().join("runc-state");
    let id = unique_id("compat-runc");
    let o = Command::new(RUNC)
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("spawn runc");
    let _ = Command::new(RUNC)
        .arg("--root")
        .arg(&root)
        .args(["delete", "--force", &id])
        .output();
    Some((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

/// Runs `script` (stderr folded in) under hezi and, when installed, runc; returns hezi's
/// (code, output) and runc's.
fn both(
    w: &World,
    script: &str,
    edit: impl Fn(&mut Value),
) -> ((i32, String), Option<(i32, String)>) {
    let id = w.id("compat");
    let full = format!("exec 2>&1; {script}");
    let b = w.bundle(&id, &["sh", "-c", &full], &edit);
    let (code, out, err) = w.run(&b, &id);
    assert!(
        code != 255 || !err.is_empty(),
        "hezi failed without a message"
    );
    let r = runc_run(w, &b).map(|(c, o, _)| (c, o));
    ((code, format!("{out}{err}")), r)
}

/// A process killed when dropped (namespace holders).
struct Holder(Child);

impl Holder {
    /// `unshare <flags> sleep 600`, waiting until the new namespace exists.
    fn new(flags: &[&str], ns: &str) -> Self {
        let child = Command::new("unshare")
            .args(flags)
            .args(["sleep", "600"])
            .spawn()
            .expect("spawn unshare");
        let h = Holder(child);
        let own = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("own ns");
        let start = Instant::now();
        loop {
            let theirs = std::fs::read_link(format!("/proc/{}/ns/{ns}", h.0.id()));
            if theirs.is_ok_and(|t| t != own) {
                return h;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "unshare too slow"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ns_path(&self, ns: &str) -> String {
        format!("/proc/{}/ns/{ns}", self.0.id())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An allow-list profile of classic syscalls, as users write by hand: it does not name
/// `close_range`, `openat2`, `execveat`, `faccessat2`, `clone3`, `seccomp` or `pidfd_*`, and
/// everything else fails with EPERM.
fn classic_allow_list() -> Value {
    let names = [
        "read",
        "write",
        "open",
        "openat",
        "close",
        "stat",
        "fstat",
        "lstat",
        "newfstatat",
        "poll",
        "lseek",
        "mmap",
        "mprotect",
        "munmap",
        "brk",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "ioctl",
        "pread64",
        "pwrite64",
        "readv",
        "writev",
        "access",
        "pipe",
        "pipe2",
        "select",
        "dup",
        "dup2",
        "dup3",
        "nanosleep",
        "getpid",
        "clone",
        "fork",
        "vfork",
        "execve",
        "exit",
        "exit_group",
        "wait4",
        "kill",
        "uname",
        "fcntl",
        "getcwd",
        "chdir",
        "getuid",
        "getgid",
        "geteuid",
        "getegid",
        "getppid",
        "getpgrp",
        "setpgid",
        "getpgid",
        "getsid",
        "arch_prctl",
        "set_tid_address",
        "gettid",
        "futex",
        "set_robust_list",
        "prlimit64",
        "getrlimit",
        "umask",
        "sigaltstack",
        "getdents64",
        "clock_gettime",
        "clock_nanosleep",
        "restart_syscall",
        "gettimeofday",
        "sysinfo",
        "statfs",
        "fstatfs",
        "capget",
        "capset",
        "prctl",
        "setuid",
        "setgid",
        "setgroups",
        "setresuid",
        "setresgid",
    ];
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names.to_vec(), "action": "SCMP_ACT_ALLOW"}]
    })
}

#[test]
fn allow_list_profile_without_newer_syscalls_runs() {
    require_root!();
    let w = World::new("hezi-compat-allowlist");
    for nnp in [true, false] {
        for user in [0, 1000] {
            let (h, r) = both(&w, "echo ok; id -u", |c| {
                c["linux"]["seccomp"] = classic_allow_list();
                c["process"]["noNewPrivileges"] = json!(nnp);
                c["process"]["user"] = json!({"uid": user, "gid": user});
            });
            assert_eq!(
                h,
                (0, format!("ok\n{user}\n")),
                "noNewPrivileges {nnp}, uid {user}"
            );
            if let Some(r) = r {
                eprintln!("runc (noNewPrivileges {nnp}, uid {user}): {r:?}");
            }
        }
    }
}

#[test]
fn allow_list_profile_applies_to_exec() {
    require_root!();
    let w = World::new("hezi-compat-allowlist-exec");
    let id = w.id("allow-exec");
    let b = w.bundle(&id, &["sleep", "30"], |c| {
        c["linux"]["seccomp"] = classic_allow_list();
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    let o = w.out(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo in-exec; mkdir /tmp/denied || echo denied",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // mkdir is not in the list: the filter is really in place in the exec'd process.
    assert_eq!(out, "in-exec\ndenied\n");
}

/// Reads one message with an fd from a connection accepted on `l` (non-blocking: it must be
/// there already); returns the payload and the fd.
fn take_fd(l: &UnixListener) -> Option<(String, OwnedFd)> {
    l.set_nonblocking(true).ok()?;
    let (conn, _) = l.accept().ok()?;
    conn.set_nonblocking(false).ok()?;
    // A runtime that connected but sends only later must fail the test, not hang it.
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = vec![0u8; 8192];
    let mut cbuf = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cbuf),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let n = msg.bytes;
    let mut fd = None;
    for c in msg.cmsgs().ok()? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: freshly received fd owned by nobody else.
            fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
        }
    }
    Some((String::from_utf8_lossy(&buf[..n]).into_owned(), fd?))
}

#[test]
fn notify_listener_arrives_during_create() {
    require_root!();
    let w = World::new("hezi-compat-notify");
    let sock = w.tmp.path().join("agent.sock");
    for nnp in [true, false] {
        let _ = std::fs::remove_file(&sock);
        let l = UnixListener::bind(&sock).expect("bind agent socket");
        let id = w.id("notify");
        let b = w.bundle(&id, &["true"], |c| {
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": sock.display().to_string(),
                "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_NOTIFY"}]
            });
        });
        let (ok, err) = w.detached(&["create", "-b", &b.display().to_string(), &id]);
        assert!(ok, "create (noNewPrivileges {nnp}): {err}");
        // Before `start`: the agent must already hold the listener (runc sends it in create).
        let got = take_fd(&l);
        assert!(
            got.is_some(),
            "noNewPrivileges {nnp}: no listener fd before start"
        );
        let (payload, fd) = got.expect("checked");
        let st: Value = serde_json::from_str(&payload).expect("seccomp state JSON");
        assert_eq!(st["state"]["id"], json!(id), "{payload}");
        let link =
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("fd link");
        assert!(link.to_string_lossy().contains("seccomp"), "{link:?}");
        let (ok, err) = w.detached(&["start", &id]);
        assert!(ok, "{err}");
        let (ok, err) = w.detached(&["delete", "--force", &id]);
        assert!(ok, "{err}");
    }
}

/// Fields 5 and 6 (process group, session) of a `/proc/<pid>/stat` line.
fn pgrp_session(stat: &str) -> (String, String) {
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    (
        f.get(2).unwrap_or(&"").to_string(),
        f.get(3).unwrap_or(&"").to_string(),
    )
}

#[test]
fn init_and_exec_lead_their_own_sessions() {
    require_root!();
    let w = World::new("hezi-compat-setsid");
    // The init (pid 1 in its pid namespace) leads session 1 and group 1, without a tty.
    let ((code, out), runc) = both(&w, "cat /proc/1/stat", |_| {});
    assert_eq!(code, 0, "{out}");
    assert_eq!(pgrp_session(&out), ("1".into(), "1".into()), "{out}");
    if let Some((_, r)) = runc {
        assert_eq!(pgrp_session(&r), pgrp_session(&out), "runc: {r}");
    }
    // An exec'd process leads its own session too.
    let id = w.id("setsid");
    let b = w.bundle(&id, &["sleep", "30"], |_| {});
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    let o = w.out(&["exec", &id, "sh", "-c", "echo $$; cat /proc/self/stat"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    let pid = lines.next().unwrap_or_default().to_string();
    let stat = lines.next().unwrap_or_default();
    // `cat` is the shell's child: same session as the shell, which leads it.
    assert_eq!(pgrp_session(stat).1, pid, "{out}");
}

#[test]
fn missing_or_non_executable_program_uses_runc_wording() {
    require_root!();
    let w = World::new("hezi-compat-enoent");
    let cases = [
        (
            "/nonexistent-prog",
            "exec: \"/nonexistent-prog\": stat /nonexistent-prog: no such file or directory",
        ),
        (
            "nonexistent-prog",
            "exec: \"nonexistent-prog\": executable file not found in $PATH",
        ),
        ("/etc/passwd", "exec: \"/etc/passwd\": permission denied"),
    ];
    // Errors come as logrus lines (`msg="..."`, quotes escaped), from runc and hezi alike.
    let said = |err: &str, want: &str| err.contains(&want.replace('"', "\\\""));
    for (prog, want) in cases {
        let id = w.id("enoent");
        let b = w.bundle(&id, &[prog], |_| {});
        let (code, _, err) = w.run(&b, &id);
        assert_ne!(code, 0, "{prog}");
        assert!(said(&err, want), "{prog}: hezi said {err:?}");
        if let Some((rc, _, rerr)) = runc_run(&w, &b) {
            assert_ne!(rc, 0);
            assert!(said(&rerr, want), "{prog}: runc said {rerr:?}");
        }
    }
    // The same through exec.
    let id = w.id("enoent-exec");
    let b = w.bundle(&id, &["sleep", "30"], |_| {});
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    for (prog, want) in cases {
        let o = w.out(&["exec", &id, prog]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{prog}");
        assert!(said(&err, want), "exec {prog}: {err:?}");
    }
}

#[test]
fn exec_env_overrides_process_env_and_personality_applies() {
    require_root!();
    let w = World::new("hezi-compat-exec-env");
    let id = w.id("exec-env");
    let b = w.bundle(&id, &["sleep", "30"], |c| {
        c["process"]["env"] = json!(["PATH=/bin:/usr/bin", "FOO=from-spec", "BAR=kept"]);
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    let o = w.out(&[
        "exec",
        "--env",
        "FOO=from-flag",
        &id,
        "sh",
        "-c",
        "echo $FOO $BAR; env | grep -c '^FOO='; uname -m",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("from-flag kept"), "{out}");
    assert_eq!(lines.next(), Some("1"), "one FOO only: {out}");
    let machine = lines.next().unwrap_or_default();
    assert!(
        machine.starts_with('i') && machine.ends_with("86"),
        "LINUX32 personality in exec: {out}"
    );
}

#[test]
fn memory_policy_is_applied_or_refused_by_name() {
    require_root!();
    let w = World::new("hezi-compat-mempolicy");
    if !Path::new("/sys/devices/system/node/node0").is_dir() {
        eprintln!("skipped: no NUMA node 0 on this kernel");
        return;
    }
    let ((code, out), _) = both(&w, "grep -m1 -o 'bind:0' /proc/self/numa_maps", |c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    });
    assert_eq!((code, out.trim()), (0, "bind:0"));
    // runc's rule: MPOL_BIND needs nodes.
    let (code, _, err) = w.sh("true", |c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND"});
    });
    assert_ne!(code, 0);
    assert!(err.contains("linux.memoryPolicy"), "{err}");
    // A node the machine does not have: the kernel refuses, the error names the setting.
    let (code, _, err) = w.sh("true", |c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "1000"});
    });
    assert_ne!(code, 0);
    assert!(err.contains("linux.memoryPolicy: set_mempolicy"), "{err}");
}

#[test]
fn exec_into_sub_cgroup_and_pidfd_socket() {
    require_root!();
    let pids_root = Path::new("/sys/fs/cgroup/pids");
    let v2_only = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if !pids_root.join("cgroup.procs").exists() && !v2_only {
        eprintln!("skipped: no pids hierarchy");
        return;
    }
    let w = World::new("hezi-compat-exec-cgroup");
    let id = w.id("exec-cg");
    let cg = if v2_only {
        PathBuf::from(format!("/sys/fs/cgroup/hezi/{id}"))
    } else {
        pids_root.join(format!("hezi/{id}"))
    };
    let b = w.bundle(&id, &["sleep", "30"], |_| {});
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    std::fs::create_dir(cg.join("sub")).expect("mkdir sub-cgroup");
    let arg = if v2_only { "sub" } else { "pids:sub" };
    let o = w.out(&["exec", "--cgroup", arg, &id, "cat", "/proc/self/cgroup"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = format!("/hezi/{id}/sub");
    let line = out
        .lines()
        .find(|l| {
            if v2_only {
                l.starts_with("0::")
            } else {
                l.contains(":pids:")
            }
        })
        .unwrap_or_default();
    assert!(line.ends_with(&want), "{out}");
    // A sub-cgroup that does not exist is an error naming it.
    let o = w.out(&["exec", "--cgroup", "nope", &id, "true"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("does not exist"), "{err}");

    // --pidfd-socket: a pidfd of the exec'd process arrives, named "setns" as runc names it.
    let sock = w.tmp.path().join("pidfd.sock");
    let l = UnixListener::bind(&sock).expect("bind");
    let (ok, err) = w.detached(&[
        "exec",
        "-d",
        "--pidfd-socket",
        &sock.display().to_string(),
        &id,
        "sleep",
        "5",
    ]);
    assert!(ok, "{err}");
    let (name, fd) = take_fd(&l).expect("a pidfd on the socket");
    assert_eq!(name, "setns");
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("link");
    assert_eq!(link, PathBuf::from("anon_inode:[pidfd]"));
}

#[test]
fn rootfs_propagation_unbindable() {
    require_root!();
    let w = World::new("hezi-compat-unbindable");
    let ((code, out), runc) = both(
        &w,
        "grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo | grep -c unbindable",
        |c| c["linux"]["rootfsPropagation"] = json!("unbindable"),
    );
    assert_eq!((code, out.trim()), (0, "1"), "{out}");
    // Debian's runc 1.1.5 fails this config (it made `/` unbindable before binding the
    // rootfs); current runc makes the rootfs's mount private first, as hezi does.
    if let Some(r) = runc {
        eprintln!("runc: {r:?}");
    }
}

#[test]
fn joined_mount_and_uts_namespaces() {
    require_root!();
    let w = World::new("hezi-compat-joined");
    let mnt = Holder::new(&["-m", "--propagation", "private"], "mnt");
    let uts = Holder::new(&["-u"], "uts");
    let host_name = nix::unistd::gethostname().expect("hostname");
    let id = w.id("joined");
    let b = w.bundle(
        &id,
        &["sh", "-c", "hostname; test -x /bin/busybox && echo inside"],
        |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.retain(|n| n["type"] != "mount" && n["type"] != "uts");
            ns.push(json!({"type": "mount", "path": mnt.ns_path("mnt")}));
            ns.push(json!({"type": "uts", "path": uts.ns_path("uts")}));
            c["hostname"] = json!("joined-host");
        },
    );
    let (code, out, err) = w.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "joined-host\ninside\n");
    // The hostname went to the joined namespace, not the host's.
    assert_eq!(nix::unistd::gethostname().expect("hostname"), host_name);
    let o = Command::new("nsenter")
        .args(["-u", "-t", &uts.0.id().to_string(), "hostname"])
        .output()
        .expect("nsenter");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "joined-host");
}

#[test]
fn container_without_a_mount_namespace() {
    require_root!();
    let w = World::new("hezi-compat-nomntns");
    let before = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let no_mounts = |c: &mut Value| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
        ns.retain(|n| n["type"] != "mount");
        c["mounts"] = json!([]);
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
        c["root"]["readonly"] = json!(false);
    };
    let (code, out, err) = w.sh("test -x /bin/busybox && echo inside; ls /", no_mounts);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("inside\n"), "{out}");
    // The host's mounts are untouched.
    let after = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert_eq!(before.lines().count(), after.lines().count());
    // Mounts without a mount namespace would land in the host's: refused by name.
    let (code, _, err) = w.sh("true", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
        ns.retain(|n| n["type"] != "mount");
    });
    assert_ne!(code, 0);
    assert!(err.contains("needs a mount namespace"), "{err}");
}

#[test]
fn json_errors_without_log_file_are_written_once() {
    // No root needed: the container does not exist.
    let root = tempfile_root();
    let o = Command::new(env!("CARGO_BIN_EXE_hezi"))
        .arg("--root")
        .arg(&root)
        .args(["--log-format", "json", "state", "nope"])
        .output()
        .expect("spawn hezi");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err:?}");
    let v: Value = serde_json::from_str(lines[0]).expect("a JSON line");
    assert_eq!(v["level"], "error");
    assert_eq!(v["msg"], "container \"nope\" does not exist");
    let _ = std::fs::remove_dir_all(&root);
}

/// A fresh, unique, non-existent state root path.
fn tempfile_root() -> PathBuf {
    std::env::temp_dir().join(unique_id("hezi-compat-root"))
}

#[test]
fn device_file_mode_with_type_bits_and_fifo_numbers() {
    require_root!();
    let w = World::new("hezi-compat-devmode");
    let ((code, out), runc) = both(&w, "stat -c '%A %t:%T' /dev/fuse /dev/myfifo", |c| {
        c["linux"]["devices"] = json!([
            {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 8576,
             "uid": 0, "gid": 0},
            {"type": "p", "path": "/dev/myfifo", "major": 0, "minor": 0, "fileMode": 4516}
        ]);
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "crw------- a:e5\nprw-r--r-- 0:0\n");
    if let Some(r) = runc {
        assert_eq!(r, (code, out), "runc differs");
    }
}

#[test]
fn rnorelatime_leaves_relatime() {
    require_root!();
    let w = World::new("hezi-compat-rnorelatime");
    let ((code, out), runc) = both(
        &w,
        "awk '$5 == \"/mnt\" {print $6}' /proc/self/mountinfo",
        |c| {
            c["mounts"].as_array_mut().expect("mounts").push(json!({
                "destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                "options": ["rnorelatime", "nosuid"]
            }));
        },
    );
    assert_eq!((code, out.trim()), (0, "rw,nosuid,relatime"));
    if let Some(r) = runc {
        assert_eq!(r, (code, out), "runc differs");
    }
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    require_root!();
    let w = World::new("hezi-compat-lo");
    // IFF_UP is bit 0 of the flags; then a TCP round trip over 127.0.0.1.
    let script = "cat /sys/class/net/lo/flags; \
                  (nc -l -p 7777 > /tmp/got &) ; sleep 0.2; echo ping | nc 127.0.0.1 7777; \
                  sleep 0.2; cat /tmp/got";
    let ((code, out), runc) = both(&w, script, |c| {
        c["mounts"].as_array_mut().expect("mounts").push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
        }));
    });
    assert_eq!((code, out.as_str()), (0, "0x9\nping\n"));
    if let Some(r) = runc {
        assert_eq!(r, (code, out), "runc differs");
    }
}
