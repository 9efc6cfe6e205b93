//! End-to-end tests of create/start/run/state/kill/delete/list/ps through the real binary on
//! busybox bundles. Root only; plain `cargo test` skips them.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use helpers::{default_memory_cgroup, host_ns, ns_of, with_userns, World};
use hezi_testsupport::{require_root, unique_id};
use serde_json::json;

#[test]
fn namespaces_differ_from_the_host() {
    require_root!();
    let w = World::new("rt-ns");
    let (code, out, err) = w.sh(
        "for n in pid net ipc uts mnt; do echo $n $(readlink /proc/self/ns/$n); done",
        |_| {},
    );
    assert_eq!(code, 0, "stderr: {err}");
    for line in out.lines() {
        let (name, link) = line.split_once(' ').expect("line");
        assert_ne!(link, host_ns(name), "{name} namespace is the host's");
        assert!(link.starts_with(&format!("{name}:[")), "{line}");
    }
    assert_eq!(out.lines().count(), 5, "{out}");
}

#[test]
fn user_groups_env_cwd_hostname_and_rlimits() {
    require_root!();
    let w = World::new("rt-proc");
    let (code, out, err) = w.sh(
        "id; echo FOO=$FOO; pwd; hostname; ulimit -n; ulimit -Hn; umask",
        |c| {
            c["process"]["user"] =
                json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 29], "umask": 63});
            c["process"]["env"]
                .as_array_mut()
                .expect("env")
                .push(json!("FOO=bar"));
            c["process"]["cwd"] = json!("/tmp");
            c["hostname"] = json!("boxy");
            c["process"]["rlimits"] =
                json!([{"type": "RLIMIT_NOFILE", "soft": 4242, "hard": 5000}]);
        },
    );
    assert_eq!(code, 0, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("uid=1000(alice) gid=1000(alice)"),
        "{out}"
    );
    assert!(
        lines[0].contains("10(wheel)") && lines[0].contains("29(audio)"),
        "{out}"
    );
    assert_eq!(
        &lines[1..],
        &["FOO=bar", "/tmp", "boxy", "4242", "5000", "0077"],
        "{out}"
    );
}

#[test]
fn capabilities_match_the_config() {
    require_root!();
    let w = World::new("rt-caps");
    let (code, out, err) = w.sh("grep ^Cap /proc/self/status", |c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
            "effective": ["CAP_KILL", "CAP_CHOWN"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        });
    });
    assert_eq!(code, 0, "stderr: {err}");
    // After exec by root: permitted/effective = bounding-limited (inh|amb) plus root's full set
    // masked by bounding? No: exec as uid 0 gives P' = bounding (root), so read the raw sets.
    let get = |k: &str| {
        out.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(|h| u64::from_str_radix(h, 16).expect("hex"))
            .unwrap_or(u64::MAX)
    };
    let kill = 1u64 << 5;
    let chown = 1u64 << 0;
    let nbs = 1u64 << 10;
    assert_eq!(get("CapBnd:"), kill | chown | nbs, "{out}");
    assert_eq!(get("CapInh:"), kill, "{out}");
    assert_eq!(get("CapAmb:"), kill, "{out}");
    // uid 0 execve: P' = (P_inh & F_inh) | (F_perm & bset) with a root file = bset; the
    // runtime's own permitted set is what the kernel then reports.
    assert_eq!(get("CapPrm:") & !(kill | chown | nbs), 0, "{out}");
}

#[test]
fn exit_codes_and_signals_propagate() {
    require_root!();
    let w = World::new("rt-exit");
    let (code, _, err) = w.sh("exit 7", |_| {});
    assert_eq!(code, 7, "{err}");
    // Killed from outside while `run` waits: 128 + signal.
    let id = w.id("sig");
    let b = w.bundle("sig", &["sleep", "1000"], |_| {});
    let child = w
        .hezi()
        .args(["run", "-b", &b.display().to_string(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn run");
    let t = Instant::now();
    while w.status(&id) != "running" && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(w.out(&["kill", &id, "SIGKILL"]).status.success());
    let o = child.wait_with_output().expect("wait run");
    assert_eq!(
        o.status.code(),
        Some(128 + 9),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // run deletes the container after it exits
    assert!(!w.root().join(&id).exists());
}

#[test]
fn lifecycle_transitions_and_error_texts() {
    require_root!();
    let w = World::new("rt-life");
    let id = w.id("life");
    let b = w.bundle("life", &["sleep", "1000"], |_| {});
    let pidfile = w.tmp.path().join("pid");
    let (ok, err) = w.detached(&[
        "create",
        "-b",
        &b.display().to_string(),
        "--pid-file",
        &pidfile.display().to_string(),
        &id,
    ]);
    assert!(ok, "create: {err}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let st = w.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.display().to_string());
    // a second create with the same id
    let (ok, err) = w.detached(&["create", "-b", &b.display().to_string(), &id]);
    assert!(!ok && err.contains("container with id exists"), "{err}");
    // list shows it
    let o = w.out(&["list", "-q"]);
    assert!(String::from_utf8_lossy(&o.stdout).lines().any(|l| l == id));
    let o = w.out(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("list json");
    assert_eq!(v[0]["status"], "created");
    // start
    let o = w.out(&["start", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(w.status(&id), "running");
    let o = w.out(&["start", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot start an already running container")
    );
    // ps
    let o = w.out(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_slice(&o.stdout).expect("ps json");
    assert_eq!(pids, vec![pid]);
    // delete refuses a running container
    let o = w.out(&["delete", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!(
        "cannot delete container {id} that is not stopped: running"
    )));
    // kill
    let o = w.out(&["kill", &id, "KILL"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = Instant::now();
    while w.status(&id) != "stopped" && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = w.state(&id);
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    let o = w.out(&["kill", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("container not running"));
    let o = w.out(&["start", &id]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot start a container that has stopped")
    );
    // delete
    let o = w.out(&["delete", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!w.root().join(&id).exists());
    assert!(!default_memory_cgroup(&id).exists());
    for cmd in ["state", "start", "kill", "delete", "ps"] {
        let o = w.out(&[cmd, &id]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let err = String::from_utf8_lossy(&o.stderr);
        // The log line escapes the quotes: container \"<id>\" does not exist.
        assert!(
            err.contains("does not exist") && err.contains(&id),
            "{cmd}: {err}"
        );
    }
    assert!(w.out(&["delete", "--force", &id]).status.success());
}

#[test]
fn kill_all_and_created_delete() {
    require_root!();
    let w = World::new("rt-killall");
    let id = w.id("ka");
    let b = w.bundle(
        "ka",
        &["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
        |_| {},
    );
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &id]);
    assert!(ok, "{err}");
    let t = Instant::now();
    let mut pids: Vec<i32> = Vec::new();
    while pids.len() < 3 && t.elapsed() < Duration::from_secs(10) {
        pids =
            serde_json::from_slice(&w.out(&["ps", "-f", "json", &id]).stdout).unwrap_or_default();
    }
    assert_eq!(pids.len(), 3, "{pids:?}");
    let o = w.out(&["kill", "--all", &id, "9"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = Instant::now();
    while w.status(&id) != "stopped" && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(w.status(&id), "stopped");
    assert!(w.out(&["delete", &id]).status.success());
    // a created container is deleted without --force (as runc does)
    let id2 = w.id("ka2");
    let (ok, err) = w.detached(&["create", "-b", &b.display().to_string(), &id2]);
    assert!(ok, "{err}");
    let pid = w.state(&id2)["pid"].as_i64().expect("pid") as i32;
    assert!(w.out(&["delete", &id2]).status.success());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/stat")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z")
        }
    );
}

#[test]
fn failed_create_leaves_nothing_behind() {
    require_root!();
    let w = World::new("rt-fail");
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "nocmd",
            Box::new(|c| c["process"]["args"] = json!(["no-such-command-xyz"])),
            "executable file not found in $PATH",
        ),
        (
            "badcwd",
            Box::new(|c| c["process"]["cwd"] = json!("relative")),
            "process.cwd",
        ),
        (
            "badmount",
            Box::new(|c| {
                c["mounts"]
                    .as_array_mut()
                    .expect("m")
                    .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}))
            }),
            "/x",
        ),
        (
            "badns",
            Box::new(|c| c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}])),
            "linux.namespaces[1]",
        ),
        (
            "badhook",
            Box::new(|c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]})),
            "hooks.createRuntime[0]",
        ),
        (
            "badrdt",
            Box::new(|c| c["linux"]["intelRdt"] = json!({"closID": "x"})),
            "linux.intelRdt",
        ),
    ];
    for (name, edit, needle) in cases {
        let id = w.id(name);
        let b = w.bundle(name, &["true"], |c| edit(c));
        let (ok, err) = w.detached(&["create", "-b", &b.display().to_string(), &id]);
        assert!(!ok, "{name}: create should fail");
        assert!(err.contains(needle), "{name}: {err}");
        assert!(
            !w.root().join(&id).exists(),
            "{name}: state dir left behind"
        );
        assert!(
            !default_memory_cgroup(&id).exists(),
            "{name}: cgroup left behind"
        );
    }
    let o = w.out(&["list", "-q"]);
    assert!(String::from_utf8_lossy(&o.stdout).trim().is_empty());
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    require_root!();
    let w = World::new("rt-hooks");
    let log = w.tmp.path().join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; case \"$s\" in *'\"id\"'*) echo {name} >> {};; *) echo {name}-nostate >> {};; esac", log.display(), log.display())]});
    let id = w.id("hk");
    let b = w.bundle("hk", &["true"], |c| {
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")]
        });
    });
    let (code, _, err) = w.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).expect("log");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
}

#[test]
fn runtime_exe_is_not_reachable_from_the_container_during_setup() {
    // CVE-2019-5736: while a container's init still runs hezi code (created, waiting on the
    // exec fifo), a root process of the same pid namespace without CAP_SYS_PTRACE must not
    // be able to open /proc/1/exe (the host hezi binary).
    require_root!();
    let w = World::new("rt-exe");
    let a = w.id("exea");
    let ba = w.bundle("exea", &["true"], |_| {});
    let (ok, err) = w.detached(&["create", "-b", &ba.display().to_string(), &a]);
    assert!(ok, "{err}");
    let pid = w.state(&a)["pid"].as_i64().expect("pid");
    let (code, out, err) = w.sh(
        "if cat /proc/1/exe > /dev/null 2>&1; then echo OPENED; else echo DENIED; fi; readlink /proc/1/exe || echo NOLINK",
        |c| {
            c["linux"]["namespaces"] = json!([
                {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
                {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ]);
        },
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some("DENIED"), "{out}");
    assert_eq!(lines.get(1).copied(), Some("NOLINK"), "{out}");
}

#[test]
fn start_container_hook_runs_inside_and_a_timeout_fails_create() {
    require_root!();
    let w = World::new("rt-hook2");
    let (code, out, err) = w.sh("cat /dev/shm/hook", |c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/shm/hook"]}]});
    });
    assert_eq!(code, 0, "{err}");
    // the hook got the state JSON on stdin, with status created (the program has not run yet)
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("state json");
    assert_eq!(v["status"], "created", "{out}");
    let id = w.id("timeout");
    let b = w.bundle("timeout", &["true"], |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    });
    let t = Instant::now();
    let (ok, err) = w.detached(&["create", "-b", &b.display().to_string(), &id]);
    assert!(!ok && err.contains("timed out"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(!w.root().join(&id).exists());
    assert!(!default_memory_cgroup(&id).exists());
}

#[test]
fn inherited_fds_do_not_leak_unless_preserved() {
    // CVE-2024-21626 class: an fd the caller leaves open must not reach the container, unless
    // --preserve-fds passes it on purpose.
    require_root!();
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let w = World::new("rt-fds");
    let host_dir = std::fs::File::open("/").expect("open /");
    let raw = host_dir.as_raw_fd();
    for (preserve, expect_seen) in [(0u32, false), (5u32, true)] {
        let id = w.id("fds");
        let b = w.bundle(
            &id,
            &[
                "sh",
                "-c",
                "ls /proc/self/fd/7 >/dev/null 2>&1 && echo SEEN7 || echo NO7",
            ],
            |_| {},
        );
        let mut cmd = w.hezi();
        cmd.args([
            "run",
            "--preserve-fds",
            &preserve.to_string(),
            "-b",
            &b.display().to_string(),
            &id,
        ]);
        // SAFETY: dup2 is async-signal-safe; the new fd 7 is not close-on-exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = cmd
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            out.trim(),
            if expect_seen { "SEEN7" } else { "NO7" },
            "preserve {preserve}"
        );
    }
}

#[test]
fn create_validates_config_and_names_each_problem_by_path() {
    require_root!();
    let w = World::new("rt-validate");
    let id = w.id("bad");
    let b = w.bundle(&id, &["true"], |c| {
        c["mounts"][1]["destination"] = json!("relative/dev");
        c["process"]["rlimits"][0]["type"] = json!("RLIMIT_BOGUS");
    });
    let o = w.out(&["create", "-b", &b.display().to_string(), &id]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mounts[1].destination"), "{err}");
    assert!(err.contains("process.rlimits[0].type"), "{err}");
    assert!(!w.root().join(&id).exists(), "state dir left behind");
    assert!(!default_memory_cgroup(&id).exists(), "cgroup left behind");
}

/// An id-mapped bind mount in a container with its own user namespace (Kubernetes'
/// `hostUsers: false` volumes): the init's namespace cannot id-map a host filesystem, so the
/// parent makes the mount before the clone and the init attaches it. Host files owned by 0
/// and 5 show as 0 and 5 inside (without the mapping: 65534), and what the container's root
/// writes lands on disk as host uid 0.
#[test]
fn idmapped_mount_in_a_user_namespace() {
    require_root!();
    let w = World::new("rt-idmap-userns");
    let src = w.tmp.path().join("vol");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("f0"), "0").expect("write");
    std::fs::write(src.join("f5"), "5").expect("write");
    std::os::unix::fs::chown(src.join("f5"), Some(5), Some(5)).expect("chown");
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // idmap: 0 none, 1 with the mount's own mappings, 2 `idmap` alone (the container's
    // mappings, runc 1.2's rule).
    let edit = |idmap: u8| {
        let maps = maps.clone();
        let src = src.clone();
        move |c: &mut serde_json::Value| {
            with_userns(c, &maps);
            let mut m = json!({"destination": "/mnt", "type": "bind", "source": src,
                               "options": ["rbind", "rw"]});
            if idmap > 0 {
                m["options"] = json!(["rbind", "rw", "idmap"]);
            }
            if idmap == 1 {
                m["uidMappings"] = maps.clone();
                m["gidMappings"] = maps;
            }
            c["mounts"].as_array_mut().expect("mounts").push(m);
        }
    };
    let script = "stat -c %u:%g /mnt/f0 /mnt/f5; echo new > /mnt/new && echo wrote";
    for how in [1, 2] {
        let _ = std::fs::remove_file(src.join("new"));
        let (code, out, err) = w.sh(script, edit(how));
        assert_eq!(code, 0, "case {how}: {err}");
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["0:0", "5:5", "wrote"],
            "case {how}: {err}"
        );
        let md = std::fs::metadata(src.join("new")).expect("the container's file");
        assert_eq!((md.uid(), md.gid()), (0, 0), "case {how}");
    }
    // The same mount without the mapping: the host's ids are not mapped in the container.
    let (_, out, _) = w.sh("stat -c %u:%g /mnt/f0 /mnt/f5", edit(0));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["65534:65534", "65534:65534"]
    );
}

/// Kubernetes' shape for containers of a pod with `hostUsers: false`: join the sandbox's
/// user, network, ipc and uts namespaces by path and create mount and pid namespaces of
/// their own, which must be owned by the joined user namespace (or the container's root
/// could not mount /proc). Checked against runc on the same bundle.
#[test]
fn joined_user_namespace_with_new_mount_and_pid_namespaces() {
    require_root!();
    let w = World::new("rt-join-userns");
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let sandbox = w.id("sandbox");
    let b = w.bundle(&sandbox, &["sleep", "1000"], |c| {
        c["hostname"] = json!("sandbox");
        with_userns(c, &maps);
    });
    let (ok, err) = w.detached(&["run", "-d", "-b", &b.display().to_string(), &sandbox]);
    assert!(ok, "sandbox: {err}");
    let spid = w.state(&sandbox)["pid"].as_i64().expect("sandbox pid");
    let script = "echo $$; hostname; id -u; cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; \
                  readlink /proc/self/ns/user; readlink /proc/self/ns/net; ls /proc | grep -c '^[0-9]'";
    let app = w.bundle("app", &["sh", "-c", script], |c| {
        c["linux"]["namespaces"] = json!([
            {"type": "user", "path": format!("/proc/{spid}/ns/user")},
            {"type": "network", "path": format!("/proc/{spid}/ns/net")},
            {"type": "ipc", "path": format!("/proc/{spid}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{spid}/ns/uts")},
            {"type": "mount"},
            {"type": "pid"},
            {"type": "cgroup"},
        ]);
        c.as_object_mut().expect("config").remove("hostname");
        // The joined namespace's mappings, as containerd writes them (runc requires them).
        c["linux"]["uidMappings"] = maps.clone();
        c["linux"]["gidMappings"] = maps.clone();
    });
    let want = vec![
        "1".to_string(),
        "sandbox".into(),
        "0".into(),
        "0 100000 65536".into(),
        ns_of(spid, "user"),
        ns_of(spid, "net"),
        // Its own pid namespace: sh, ls and grep only.
        "3".into(),
    ];
    let id = w.id("app");
    let (code, out, err) = w.run(&app, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{err}");

    let runc = std::path::Path::new("/usr/sbin/runc");
    if runc.is_file() {
        let o = std::process::Command::new(runc)
            .arg("--root")
            .arg(w.tmp.path().join("runc"))
            .args(["run", "-b", &app.display().to_string(), &unique_id("app")])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("runc");
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            want,
            "runc: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // exec enters the same namespaces (user first): root there, not pid 1.
    let daemon = w.id("app-d");
    let d = w.bundle(&daemon, &["sleep", "1000"], |c| {
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(app.join("config.json")).expect("app config"))
                .expect("json");
        cfg["process"]["args"] = json!(["sleep", "1000"]);
        *c = cfg;
    });
    let (ok, err) = w.detached(&["run", "-d", "-b", &d.display().to_string(), &daemon]);
    assert!(ok, "{err}");
    let o = w.out(&[
        "exec",
        &daemon,
        "sh",
        "-c",
        "id -u; echo $$; readlink /proc/self/ns/user",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .collect::<Vec<_>>(),
        ["0".to_string(), "2".into(), ns_of(spid, "user")],
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for id in [&daemon, &sandbox] {
        let o = w.out(&["delete", "-f", id]);
        assert!(o.status.success(), "delete {id}");
    }
}
