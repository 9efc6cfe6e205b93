//! hezi run by an ordinary user (rootless): a user made by the test runs `spec --rootless`
//! bundles, exec, kill and delete with state under `$XDG_RUNTIME_DIR/hezi`; without a
//! delegated cgroup (this hybrid host) limits are refused and `pause`/`update` say why; a
//! multi-id mapping goes through `newuidmap`/`newgidmap`, a mapping outside `/etc/subuid` is
//! refused clearly; an image from the store runs. Compared with runc where runc supports the
//! case. Needs root to make the user (`useradd`) and `runuser`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hezi_testsupport::{busybox_oci_layout, busybox_rootfs, require_root, unique_id};

/// The test's unprivileged user (created once, kept: users are cheap and shared by runs).
const USER: &str = "hezi-rootless";
const RUNC: &str = "/usr/sbin/runc";

fn uid_of(user: &str) -> Option<u32> {
    let o = Command::new("id").args(["-u", user]).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

/// Makes the user (and its /etc/subuid, /etc/subgid ranges) if missing; its uid.
fn ensure_user() -> u32 {
    if uid_of(USER).is_none() {
        let st = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/bin/sh", USER])
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {USER}");
    }
    for f in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
            let mut text = text;
            text.push_str(&format!("{USER}:400000:65536\n"));
            std::fs::write(f, text).expect("write subid file");
        }
    }
    uid_of(USER).expect("uid of the test user")
}

/// `chown -R uid:uid path`.
fn chown_to(path: &Path, uid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(path)
        .status()
        .expect("chown");
    assert!(st.success(), "chown -R {uid} {}", path.display());
}

/// A scratch dir owned by the test user: `rootfs/` (busybox), `xdg/` (its
/// XDG_RUNTIME_DIR, 0700, unless the user's real one is used); removed on drop with whatever
/// containers the user left.
struct Home {
    dir: PathBuf,
    uid: u32,
    /// The user's XDG_RUNTIME_DIR: `dir/xdg`, or `/run/user/<uid>` (see `with_user_runtime_dir`).
    xdg: PathBuf,
}

impl Home {
    /// A home whose XDG_RUNTIME_DIR is the user's own, `/run/user/<uid>`, where its systemd
    /// manager listens (state goes to a fresh `hezi-<unique>` dir there via `--root`).
    fn with_user_runtime_dir() -> Home {
        let mut h = Home::new();
        h.xdg = PathBuf::from(format!("/run/user/{}", h.uid));
        h
    }

    fn new() -> Home {
        let uid = ensure_user();
        let dir = std::env::temp_dir().join(unique_id("hezi-rootless"));
        std::fs::create_dir_all(dir.join("xdg")).expect("mkdir");
        busybox_rootfs(&dir.join("rootfs")).expect("rootfs");
        std::fs::copy(env!("CARGO_BIN_EXE_hezi"), dir.join("hezi")).expect("copy hezi");
        chown_to(&dir, uid);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(dir.join("xdg"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        Home {
            xdg: dir.join("xdg"),
            dir,
            uid,
        }
    }

    /// `sh -c SCRIPT` as the test user in the scratch dir, `hezi` being its copy of the
    /// binary: (exit code, stdout, stderr).
    fn sh(&self, script: &str) -> (i32, String, String) {
        let o: Output = Command::new("runuser")
            .args(["-u", USER, "--", "env", "-i"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.xdg.display()))
            .arg("PATH=/usr/sbin:/usr/bin:/sbin:/bin")
            .arg(format!("HOME={}", self.dir.display()))
            .args(["sh", "-c"])
            .arg(format!("cd {} && {script}", self.dir.display()))
            .stdin(Stdio::null())
            .output()
            .expect("runuser");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// A bundle dir `name` (config from `hezi spec --rootless` run as the user, edited by
    /// `edit`) sharing the rootfs.
    fn bundle(&self, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
        let b = self.dir.join(name);
        let (code, _, err) = self.sh(&format!(
            "mkdir {name} && ln -s ../rootfs {name}/rootfs && cd {name} && ../hezi spec --rootless"
        ));
        assert_eq!(code, 0, "spec --rootless: {err}");
        let path = b.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read config")).expect("json");
        cfg["process"]["terminal"] = false.into();
        edit(&mut cfg);
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).expect("ser")).expect("write");
        b
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.sh("for c in $(./hezi list -q 2>/dev/null); do ./hezi delete -f $c; done");
        // Rootless podman leaves a pause process holding its user namespace.
        let pause = self.xdg.join("libpod/tmp/pause.pid");
        if let Some(pid) = std::fs::read_to_string(pause)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn args(cfg: &mut serde_json::Value, a: &[&str]) {
    cfg["process"]["args"] = serde_json::json!(a);
}

#[test]
fn an_ordinary_user_runs_execs_and_deletes_containers() {
    require_root!();
    let h = Home::new();
    h.bundle("b", |c| {
        args(c, &["sh", "-c", "id -u; cat /proc/self/uid_map"])
    });
    let (code, out, err) = h.sh("./hezi run -b b r1");
    assert_eq!(code, 0, "rootless run: {err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}");
    let map: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", &h.uid.to_string(), "1"], "{out}");
    // State under $XDG_RUNTIME_DIR/hezi, mode 0700, owned by the user; nothing left.
    let root = h.dir.join("xdg/hezi");
    let mode = std::fs::metadata(&root).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o700));
    assert_eq!(std::fs::read_dir(&root).map(|d| d.count()).ok(), Some(0));

    // Detached, exec with its exit code, ps (the init only), kill, delete.
    h.bundle("d", |c| args(c, &["sleep", "1000"]));
    let script = "./hezi run -d -b d r2 </dev/null >/dev/null 2>&1 && ./hezi exec r2 sh -c 'id -u; exit 3'; echo exec=$?; \
                  ./hezi ps r2 >/dev/null && echo ps=ok; ./hezi kill r2 KILL && echo kill=ok; sleep 0.3; \
                  ./hezi delete r2 && echo delete=ok; ./hezi list -q | wc -l";
    let (_, out, err) = h.sh(script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["0", "exec=3", "ps=ok", "kill=ok", "delete=ok", "0"],
        "stderr: {err}"
    );
}

#[test]
fn without_a_delegated_cgroup_limits_and_freezing_are_refused_clearly() {
    require_root!();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        eprintln!(
            "note: a cgroup v2 host; this case is about hosts without delegation (v1/hybrid)"
        );
        return;
    }
    let h = Home::new();
    h.bundle("lim", |c| {
        args(c, &["true"]);
        c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 67108864}});
    });
    let (code, _, err) = h.sh("./hezi run -b lim l1");
    assert_ne!(code, 0);
    assert!(
        err.contains("linux.resources.memory") && err.contains("no cgroup is delegated"),
        "{err}"
    );
    h.bundle("p", |c| args(c, &["sleep", "1000"]));
    let (_, _, err) = h.sh("./hezi run -d -b p p1 </dev/null >/dev/null 2>&1; ./hezi pause p1; ./hezi update --pids-limit 10 p1; ./hezi delete -f p1");
    assert!(err.contains("cannot pause"), "{err}");
    assert!(err.contains("linux.resources.pids"), "{err}");
    // runc refuses the same limits for a rootless user on this host.
    if Path::new(RUNC).is_file() {
        let (code, _, _) = h.sh(&format!("{RUNC} --root xdg/runc run -b lim l2"));
        assert_ne!(
            code, 0,
            "runc ran a rootless container with limits and no cgroup"
        );
    }
}

#[test]
fn id_ranges_go_through_newuidmap_and_a_range_outside_subuid_is_refused() {
    require_root!();
    if Command::new("newuidmap").arg("--help").output().is_err() {
        eprintln!("skipped: newuidmap (Debian's uidmap package) is not installed");
        return;
    }
    let h = Home::new();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let start: u32 = subuid
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{USER}:")))
        .and_then(|r| r.split(':').next())
        .and_then(|s| s.parse().ok())
        .expect("subuid range of the test user");
    let range = serde_json::json!([{"containerID": 0, "hostID": start, "size": 1000}]);
    h.bundle("m", |c| {
        args(c, &["cat", "/proc/self/uid_map"]);
        c["linux"]["uidMappings"] = range.clone();
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": start, "size": 1000}]);
    });
    let (code, out, err) = h.sh("./hezi run -b m m1");
    assert_eq!(code, 0, "{err}");
    let got: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(got, ["0", &start.to_string(), "1000"], "{out}");
    h.bundle("x", |c| {
        args(c, &["true"]);
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1, "size": 10}]);
    });
    let (code, _, err) = h.sh("./hezi run -b x x1");
    assert_ne!(code, 0);
    assert!(
        err.contains("newuidmap") && err.contains("/etc/subuid"),
        "{err}"
    );
}

#[test]
fn an_image_from_the_store_runs_rootless() {
    require_root!();
    let h = Home::new();
    busybox_oci_layout(&h.dir.join("layout"), "busybox:latest").expect("layout");
    chown_to(&h.dir.join("layout"), h.uid);
    let (code, out, err) = h.sh(
        "./hezi --store store image import layout >/dev/null && ./hezi --store store run --image busybox:latest i1 -- sh -c 'id -u; echo w > /f && cat /f' && ls store/bundles | wc -l",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["0", "w", "0"],
        "stderr: {err}"
    );
}

/// Busybox loaded into the test user's podman storage with `podman` (the command with its
/// global flags): the image id, or `None` (with a note) when podman is not installed.
fn podman_image(h: &Home, podman: &str) -> Option<String> {
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("skipped: podman is not installed");
        return None;
    }
    busybox_oci_layout(&h.dir.join("layout"), "busybox:latest").expect("layout");
    chown_to(&h.dir.join("layout"), h.uid);
    let (code, out, err) = h.sh(&format!("{podman} pull -q oci:$HOME/layout:busybox:latest"));
    assert_eq!(code, 0, "podman pull: {err}");
    Some(out.trim().to_string())
}

/// Rootless podman (run as the test user: its own user namespace, cgroupfs, vfs storage,
/// `--network none`) with hezi and with runc on the same cases: run, exit code, exec,
/// stop, rm.
#[test]
fn rootless_podman_runs_hezi_as_it_runs_runc() {
    require_root!();
    let h = Home::new();
    let podman = "podman --root $HOME/storage --runroot $XDG_RUNTIME_DIR/podman --storage-driver vfs --cgroup-manager cgroupfs --events-backend file";
    let Some(image) = podman_image(&h, podman) else {
        return;
    };
    let hezi = h.dir.join("hezi").display().to_string();
    let mut results = Vec::new();
    for rt in [hezi.as_str(), RUNC] {
        if rt == RUNC && !Path::new(RUNC).is_file() {
            continue;
        }
        let p = format!("{podman} --runtime {rt}");
        let script = format!(
            "{p} run --rm --network none {image} sh -c 'id -u; exit 7'; echo exit=$?; \
             {p} run -d --name c1 --network none {image} sleep 100 >/dev/null; echo run=$?; \
             {p} exec c1 sh -c 'echo in-exec; exit 4'; echo exec=$?; \
             {p} stop -t 1 c1 >/dev/null 2>&1; echo stop=$?; {p} rm c1 >/dev/null; echo rm=$?"
        );
        let (_, out, err) = h.sh(&script);
        results.push((rt.to_string(), out, err));
    }
    let want = [
        "0", "exit=7", "run=0", "in-exec", "exec=4", "stop=0", "rm=0",
    ];
    for (rt, out, err) in &results {
        assert_eq!(out.lines().collect::<Vec<_>>(), want, "{rt}: stderr: {err}");
    }
}

/// A layer owning files by other ids (the kind an unprivileged user cannot chown to), a
/// setuid file, a symlink and a device node.
fn foreign_owner_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, uid: u64, gid: u64, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        if kind == tar::EntryType::Symlink {
            h.set_link_name("rootf").expect("link name");
        }
        if kind == tar::EntryType::Char {
            h.set_device_major(1).expect("major");
            h.set_device_minor(3).expect("minor");
        }
        h.set_cksum();
        b.append_data(&mut h, path, data).expect("append");
    };
    add("d", tar::EntryType::Directory, 0o755, 1000, 1001, b"");
    add("d/f", tar::EntryType::Regular, 0o644, 1000, 1001, b"hi\n");
    add("rootf", tar::EntryType::Regular, 0o644, 0, 0, b"x\n");
    add("suid", tar::EntryType::Regular, 0o4755, 0, 5, b"s\n");
    add("l", tar::EntryType::Symlink, 0o777, 1000, 1000, b"");
    add("null2", tar::EntryType::Char, 0o666, 0, 0, b"");
    b.into_inner().expect("tar")
}

fn rootless_xattr(path: &Path) -> Option<String> {
    let o = Command::new("getfattr")
        .args([
            "--absolute-names",
            "-n",
            "user.rootlesscontainers",
            "-e",
            "hex",
        ])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.split_once('=').map(|(_, v)| v.to_string()))
}

/// As an ordinary user, `image unpack` records the owners it cannot set in the
/// `user.rootlesscontainers` xattr exactly as `umoci unpack --rootless` does, keeps the
/// setuid bit, and skips the device node with a note.
#[test]
fn rootless_unpack_records_owners_as_umoci_does() {
    require_root!();
    if Command::new("getfattr").arg("--version").output().is_err() {
        eprintln!("skipped: getfattr (Debian's attr) missing");
        return;
    }
    let h = Home::new();
    let tar = foreign_owner_layer();
    let diff = hezi_testsupport::sha256_digest(&tar);
    let gz = hezi_testsupport::gzip(&tar).expect("gzip");
    hezi_testsupport::layout_from_layers(&h.dir.join("layout"), "owners", &[(gz, diff)], &["sh"])
        .expect("layout");
    chown_to(&h.dir.join("layout"), h.uid);
    let (code, _, err) = h.sh(
        "./hezi --store store image import layout >/dev/null && ./hezi --store store image unpack --rootfs-only owners hr",
    );
    assert_eq!(code, 0, "unpack as an ordinary user: {err}");
    let hr = h.dir.join("hr");
    assert!(err.contains("null2"), "the skipped device is named: {err}");
    assert!(!hr.join("null2").exists(), "no device node made");
    let expected = [
        ("d", Some("0x08e80710e907")),
        ("d/f", Some("0x08e80710e907")),
        ("rootf", None),
        ("suid", Some("0x08ffffffff0f1005")),
    ];
    for (p, want) in expected {
        assert_eq!(rootless_xattr(&hr.join(p)).as_deref(), want, "{p}");
    }
    let mode = std::fs::metadata(hr.join("suid"))
        .expect("suid")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o4755, "setuid bit kept");
    assert!(std::fs::symlink_metadata(hr.join("l"))
        .expect("symlink")
        .file_type()
        .is_symlink());
    // The same bytes as umoci's own rootless unpack, where umoci is installed.
    if Command::new("umoci").arg("--version").output().is_ok() {
        let (code, _, err) = h.sh("umoci unpack --rootless --image layout:owners ub");
        assert_eq!(code, 0, "umoci: {err}");
        for (p, _) in expected {
            assert_eq!(
                rootless_xattr(&hr.join(p)),
                rootless_xattr(&h.dir.join("ub/rootfs").join(p)),
                "{p}: hezi and umoci differ"
            );
        }
    }
}

/// Why the user's systemd manager cannot be used here, or `None` when it can: systemd as
/// init, cgroup v2, and `user@<uid>.service` running (its private socket exists). The VM
/// suite (tests/vm/systemd-suite.sh) starts that manager before running this.
fn user_manager_missing(uid: u32) -> Option<String> {
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return Some("not a cgroup v2 host (a user's systemd cannot delegate v1)".into());
    }
    user_manager_down(uid)
}

/// Why the user's systemd manager is not running here (any cgroup layout), or `None`.
fn user_manager_down(uid: u32) -> Option<String> {
    if !Path::new("/run/systemd/system").is_dir() {
        return Some("systemd is not the init system here".into());
    }
    let private = format!("/run/user/{uid}/systemd/private");
    (!Path::new(&private).exists())
        .then(|| format!("user@{uid}.service is not running ({private} is missing)"))
}

/// `--systemd-cgroup` as an ordinary user: the container goes into a transient scope of the
/// user's own systemd (`user@UID.service`, `user.slice` by default, as runc), its pids limit
/// holds a fork loop, `update` changes the unit and the file, pause/resume and `ps` work on
/// the scope, `delete` removes unit and cgroup; the same over the session bus
/// (`DBUS_SESSION_BUS_ADDRESS`); runc 1.1 does the same with the same bundle.
#[test]
fn rootless_systemd_cgroup_uses_the_users_own_manager() {
    require_root!();
    let uid = ensure_user();
    if let Some(why) = user_manager_missing(uid) {
        eprintln!("skipped: {why}; tests/vm/systemd-suite.sh runs this in the VM");
        return;
    }
    let h = Home::with_user_runtime_dir();
    let id = unique_id("sd");
    // busybox sh exits when a fork fails: the loop runs in a subshell of its own.
    let fork_loop = "(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; \
                     read cur </sys/fs/cgroup/pids.current; read max </sys/fs/cgroup/pids.max; \
                     read ev n </sys/fs/cgroup/pids.events; echo current=$cur max=$max $ev=$n";
    h.bundle("fork", |c| {
        args(c, &["sh", "-c", fork_loop]);
        c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 20}});
        // runc wants the real path, not the bundle's symlink.
        c["root"]["path"] = h.dir.join("rootfs").display().to_string().into();
    });
    for (label, env) in [
        ("private socket", ""),
        (
            "session bus",
            "DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus ",
        ),
    ] {
        let (code, out, err) = h.sh(&format!("{env}./hezi --systemd-cgroup run -b fork {id}f"));
        assert_eq!(code, 0, "{label}: {err}");
        let line = out.trim();
        let cur: u32 = line
            .strip_prefix("current=")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u32::MAX);
        assert!(cur <= 20, "{label}: the limit did not hold: {line}");
        assert!(line.contains("max=20 max="), "{label}: {line}");
        let hits: u32 = line
            .rsplit('=')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            hits > 0,
            "{label}: the fork loop never hit the limit: {line}"
        );
    }

    // A detached container: where it lives, what systemd and the files say, update, pause.
    h.bundle("d", |c| {
        args(c, &["sleep", "1000"]);
        c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 20}});
    });
    let (code, _, err) = h.sh(&format!(
        "./hezi --systemd-cgroup run -d -b d {id} </dev/null >/dev/null 2>d.err || {{ cat d.err >&2; exit 1; }}"
    ));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = h.sh(&format!("./hezi state {id}"));
    let state: serde_json::Value = serde_json::from_str(&out).expect("state json");
    let pid = state["pid"].as_i64().expect("pid");
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let want =
        format!("0::/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/hezi-{id}.scope");
    assert_eq!(cgroup.trim(), want);
    let dir = PathBuf::from(format!("/sys/fs/cgroup{}", &want[3..]));
    let unit = format!("hezi-{id}.scope");
    let show = |prop: &str| {
        h.sh(&format!("systemctl --user show -p {prop} --value {unit}"))
            .1
    };
    assert_eq!(show("TasksMax").trim(), "20");
    assert_eq!(show("Delegate").trim(), "yes");
    let script = format!(
        "./hezi --systemd-cgroup update --pids-limit 30 {id} && echo update=ok; \
         ./hezi --systemd-cgroup pause {id} && echo pause=$(./hezi state {id} | grep -o '\"status\": *\"[a-z]*\"' | tr -d ' \"'); \
         ./hezi --systemd-cgroup resume {id} && echo resume=ok; ./hezi ps {id} | tail -n +2 | wc -l"
    );
    let (_, out, err) = h.sh(&script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["update=ok", "pause=status:paused", "resume=ok", "1"],
        "stderr: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pids.max"))
            .ok()
            .as_deref(),
        Some("30\n")
    );
    assert_eq!(show("TasksMax").trim(), "30");
    let (code, _, err) = h.sh(&format!("./hezi --systemd-cgroup delete -f {id}"));
    assert_eq!(code, 0, "delete: {err}");
    assert!(!dir.exists(), "{} is left", dir.display());
    let (_, left, _) = h.sh("systemctl --user list-units --all --plain --no-legend 'hezi-*.scope'");
    assert_eq!(left.trim(), "", "units left");

    // runc 1.1 with the same bundle asks the same manager (over the session bus).
    if Path::new(RUNC).is_file() {
        let (code, out, err) = h.sh(&format!(
            "{RUNC} --root $HOME/runc --systemd-cgroup run -b fork {id}r"
        ));
        assert_eq!(code, 0, "runc: {err}");
        assert!(out.contains("max=20 max="), "runc: {out}");
    }
}

/// An ordinary user cannot id-map the host's filesystems anywhere: an id-mapped mount is
/// refused by name, and nothing is left.
#[test]
fn rootless_idmapped_mount_is_refused_clearly() {
    require_root!();
    let h = Home::new();
    h.bundle("idm", |c| {
        args(c, &["true"]);
        c["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(serde_json::json!({
            "destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 0, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 0, "size": 1}]}));
    });
    let (code, out, err) = h.sh("./hezi run -b idm i1; echo rc=$?; ./hezi list -q | wc -l");
    assert_eq!(code, 0);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["rc=1", "0"],
        "{err}"
    );
    assert!(
        err.contains("mounts[") && err.contains("id-mapped mounts need hezi to run as real root"),
        "{err}"
    );
}

/// Rootless podman with `--cgroup-manager systemd` (its default on cgroup v2 hosts with a
/// user session): podman runs hezi as root of its user namespace with `--systemd-cgroup`
/// and cgroupsPath `user.slice:libpod:<id>`; hezi authenticates to the user's manager with
/// the uid outside that namespace and the container lands in a `libpod-<id>.scope` of
/// `user@UID.service` with its pids limit; exec and `rm -f` work and the scope goes. The
/// same with runc.
#[test]
fn rootless_podman_with_systemd_cgroups_uses_the_users_manager() {
    require_root!();
    let uid = ensure_user();
    if let Some(why) = user_manager_missing(uid) {
        eprintln!("skipped: {why}; tests/vm/systemd-suite.sh runs this in the VM");
        return;
    }
    let h = Home::with_user_runtime_dir();
    let runroot = unique_id("podman");
    let podman = format!(
        "DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus podman --root $HOME/storage \
         --runroot $XDG_RUNTIME_DIR/{runroot} --storage-driver vfs --cgroup-manager systemd \
         --events-backend file"
    );
    let Some(image) = podman_image(&h, &podman) else {
        return;
    };
    let hezi = h.dir.join("hezi").display().to_string();
    for rt in [hezi.as_str(), RUNC] {
        if rt == RUNC && !Path::new(RUNC).is_file() {
            continue;
        }
        let p = format!("{podman} --runtime {rt}");
        let (_, out, err) = h.sh(&format!(
            "{p} run -d --name c1 --network none --pids-limit 20 {image} sleep 100 >/dev/null; echo run=$?; \
             {p} inspect --format '{{{{.State.Pid}}}} {{{{.Id}}}}' c1"
        ));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"run=0"), "{rt}: {out} stderr: {err}");
        let (pid, cid) = lines
            .get(1)
            .and_then(|l| l.split_once(' '))
            .unwrap_or_else(|| panic!("{rt}: no inspect line: {out} stderr: {err}"));
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let want = format!(
            "0::/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/libpod-{cid}.scope"
        );
        // runc may place the container one level deeper (a "container" sub-cgroup).
        assert!(
            cgroup.trim().starts_with(&want),
            "{rt}: {cgroup} (want {want})"
        );
        let scope = PathBuf::from(format!("/sys/fs/cgroup{}", &want[3..]));
        assert_eq!(
            std::fs::read_to_string(scope.join("pids.max"))
                .ok()
                .as_deref(),
            Some("20\n"),
            "{rt}"
        );
        let (_, out, err) = h.sh(&format!(
            "{p} exec c1 sh -c 'echo in-exec; exit 4'; echo exec=$?; \
             {p} rm -f -t 0 c1 >/dev/null; echo rm=$?"
        ));
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["in-exec", "exec=4", "rm=0"],
            "{rt}: stderr: {err}"
        );
        assert!(!scope.exists(), "{rt}: {} is left", scope.display());
    }
}

/// On a v1 or hybrid host a user's systemd cannot delegate controllers: rootless
/// `--systemd-cgroup` is refused naming the reason, before anything exists (runc refuses
/// too).
#[test]
fn rootless_systemd_cgroup_on_a_v1_host_is_refused_clearly() {
    require_root!();
    let uid = ensure_user();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        eprintln!("note: a cgroup v2 host; this case is about v1 and hybrid hosts");
        return;
    }
    if let Some(why) = user_manager_down(uid) {
        eprintln!("skipped: {why}; tests/vm/systemd-suite.sh runs this in the VM");
        return;
    }
    let h = Home::with_user_runtime_dir();
    h.bundle("v1", |c| args(c, &["true"]));
    let (code, out, err) =
        h.sh("./hezi --systemd-cgroup run -b v1 v1c; echo rc=$?; ./hezi list -q | wc -l");
    assert_eq!(code, 0);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["rc=1", "0"],
        "{err}"
    );
    assert!(err.contains("needs cgroup v2"), "{err}");
}
