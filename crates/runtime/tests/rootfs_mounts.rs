//! Root-only tests of the rootfs module on a real busybox rootfs.
//!
//! Each case runs in a fresh process of this test binary (selected with an environment
//! variable), which unshares a mount namespace, runs plan → prepare → pivot → finish and then
//! checks the container's view from inside. The parent checks the host afterwards.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use hezi_runtime::rootfs::{self, RootfsError, RootfsOptions, RootfsPlan};
use hezi_testsupport::{bundle_config, busybox_bundle, require_root, unique_id, write_config};
use serde_json::json;

const CASE_ENV: &str = "HEZI_ROOTFS_TEST_CASE";
const DIR_ENV: &str = "HEZI_ROOTFS_TEST_DIR";

/// Removes the test's bundle directory even when the test fails.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn bundle(prefix: &str) -> DirGuard {
    let dir = std::env::temp_dir().join(unique_id(prefix));
    busybox_bundle(&dir, &["true"]).unwrap();
    DirGuard(dir)
}

/// Runs `case` in a child process of this test binary; returns (success, output).
fn run_case(case: &str, dir: &Path) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "child_dispatch",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CASE_ENV, case)
        .env(DIR_ENV, dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn expect_ok(case: &str, dir: &Path) -> String {
    let (ok, out) = run_case(case, dir);
    assert!(ok, "case {case} failed:\n{out}");
    assert!(
        out.contains(&format!("CASE {case} OK")),
        "case {case} did not finish:\n{out}"
    );
    out
}

/// The entry point of the child processes; does nothing in a normal test run.
#[test]
fn child_dispatch() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    // A pty opened before the new mount namespace exists (its mount is a foreign one).
    let early_pty = (case == "console_foreign").then(|| nix::pty::openpty(None, None).unwrap());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
    // Nothing we do from here on may propagate to the host.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .unwrap();
    match case.as_str() {
        "full" => case_full(&dir, false),
        "full_no_pivot" => case_full(&dir, true),
        "console" => case_console(&dir, None),
        "console_foreign" => case_console(&dir, early_pty),
        "expect_error" => case_expect_error(&dir),
        "masked_link" => case_masked_link(&dir),
        "list_dev" => case_list_dev(&dir),
        "mountinfo" => case_mountinfo(&dir),
        "idmap" => case_idmap(&dir),
        "root_shared" => case_root_propagation(&dir, "shared:"),
        "root_private" => case_root_propagation(&dir, ""),
        "plain" => run_all(&load_plan(&dir, opts()).unwrap()).unwrap(),
        other => panic!("unknown case {other}"),
    }
    println!("CASE {case} OK");
}

fn opts() -> RootfsOptions {
    RootfsOptions {
        new_mount_ns: true,
        ..Default::default()
    }
}

fn load_plan(dir: &Path, o: RootfsOptions) -> Result<RootfsPlan, RootfsError> {
    let spec = oci_spec::runtime::Spec::load(dir.join("config.json")).unwrap();
    RootfsPlan::new(&spec, dir, o)
}

fn run_all(plan: &RootfsPlan) -> Result<(), RootfsError> {
    rootfs::prepare(plan)?;
    rootfs::pivot(plan)?;
    rootfs::finish(plan)
}

fn mountinfo_line(dest: &str) -> String {
    let mi = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    mi.lines()
        .rfind(|l| l.split(' ').nth(4) == Some(dest))
        .unwrap_or_else(|| panic!("no mount at {dest} in\n{mi}"))
        .to_string()
}

fn errno_of_write(path: &str) -> Option<i32> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .err()
        .and_then(|e| e.raw_os_error())
}

fn case_full(dir: &Path, no_pivot: bool) {
    // A submount inside the rbind source, made in our private mount namespace.
    let sub = dir.join("tree/sub");
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    fs::write(sub.join("inner"), "inner").unwrap();

    let has_kcore = Path::new("/proc/kcore").exists();
    let plan = load_plan(dir, RootfsOptions { no_pivot, ..opts() }).unwrap();
    run_all(&plan).unwrap();

    // /proc is procfs.
    let st = nix::sys::statfs::statfs("/proc").unwrap();
    assert_eq!(st.filesystem_type(), nix::sys::statfs::PROC_SUPER_MAGIC);

    // /dev holds exactly the default nodes, links and mount points.
    let mut names: Vec<String> = fs::read_dir("/dev")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ];
    if has_kcore {
        expected.push("core");
        expected.sort_unstable();
    }
    assert_eq!(names, expected);
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let md = fs::symlink_metadata(format!("/dev/{name}")).unwrap();
        assert!(md.file_type().is_char_device(), "/dev/{name}");
        let rdev = md.rdev();
        assert_eq!(
            (libc::major(rdev), libc::minor(rdev)),
            (major, minor),
            "/dev/{name}"
        );
        assert_eq!(md.permissions().mode() & 0o777, 0o666, "/dev/{name} mode");
    }
    assert_eq!(fs::read_link("/dev/ptmx").unwrap(), Path::new("pts/ptmx"));
    assert_eq!(
        fs::read_link("/dev/fd").unwrap(),
        Path::new("/proc/self/fd")
    );
    if has_kcore {
        assert_eq!(
            fs::read_link("/dev/core").unwrap(),
            Path::new("/proc/kcore")
        );
    }
    assert_eq!(
        nix::sys::statfs::statfs("/dev/pts")
            .unwrap()
            .filesystem_type(),
        nix::sys::statfs::DEVPTS_SUPER_MAGIC
    );

    // Masked: files read as /dev/null, directories are empty and read-only.
    let keys = fs::metadata("/proc/keys").unwrap();
    assert!(keys.file_type().is_char_device());
    assert_eq!((libc::major(keys.rdev()), libc::minor(keys.rdev())), (1, 3));
    assert_eq!(fs::read_dir("/sys/firmware").unwrap().count(), 0);
    let mut buf = Vec::new();
    fs::File::open("/etc/secret")
        .unwrap()
        .read_to_end(&mut buf)
        .unwrap();
    assert!(buf.is_empty(), "masked file readable: {buf:?}");
    assert_eq!(fs::read_dir("/etc/secretdir").unwrap().count(), 0);
    assert_eq!(errno_of_write("/etc/secretdir/x"), Some(libc::EROFS));
    // One shared superblock serves every masked directory.
    let dev_of = |p: &str| mountinfo_line(p).split(' ').nth(2).unwrap().to_string();
    assert_eq!(dev_of("/etc/secretdir"), dev_of("/etc/otherdir"));
    assert_eq!(dev_of("/etc/secretdir"), dev_of("/sys/firmware"));
    if Path::new("/proc/acpi").exists() {
        assert_eq!(fs::read_dir("/proc/acpi").unwrap().count(), 0);
    }

    // Read-only paths and the read-only root.
    assert_eq!(
        errno_of_write("/proc/sys/kernel/domainname"),
        Some(libc::EROFS)
    );
    assert_eq!(errno_of_write("/newfile"), Some(libc::EROFS));
    assert_eq!(errno_of_write("/var/x"), Some(libc::EROFS));

    // The file bind mount with its flags.
    let line = mountinfo_line("/mnt/ro-file");
    let mount_opts = line.split(' ').nth(5).unwrap();
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(mount_opts.split(',').any(|o| o == f), "{f} missing: {line}");
    }
    assert_eq!(fs::read_to_string("/mnt/ro-file").unwrap(), "hostfile");
    // rbind + rro: the submount came along and is read-only too.
    assert_eq!(fs::read_to_string("/mnt/tree/sub/inner").unwrap(), "inner");
    assert!(mountinfo_line("/mnt/tree/sub")
        .split(' ')
        .nth(5)
        .unwrap()
        .starts_with("ro"));
    assert_eq!(errno_of_write("/mnt/tree/sub/new"), Some(libc::EROFS));
    // tmpfs with size and mode.
    let vfs = nix::sys::statvfs::statvfs("/mnt/tmp").unwrap();
    assert_eq!(vfs.blocks() * vfs.fragment_size(), 1024 * 1024);
    assert_eq!(
        fs::metadata("/mnt/tmp").unwrap().permissions().mode() & 0o7777,
        0o710
    );
    fs::write("/mnt/tmp/ok", "w").unwrap();
    // tmpcopyup: the tmpfs starts with the directory's contents and is writable.
    assert_eq!(fs::read_to_string("/opt/cu/sub/file").unwrap(), "copied");
    assert_eq!(
        fs::read_link("/opt/cu/link").unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        nix::sys::statfs::statfs("/opt/cu")
            .unwrap()
            .filesystem_type(),
        nix::sys::statfs::TMPFS_MAGIC
    );
    fs::write("/opt/cu/new", "w").unwrap();
    // /sys read-only, with cgroups below.
    assert!(mountinfo_line("/sys")
        .split(' ')
        .nth(5)
        .unwrap()
        .starts_with("ro"));
    let cg = fs::read_dir("/sys/fs/cgroup").unwrap().count();
    assert!(cg > 0, "empty /sys/fs/cgroup");
    // The host is gone.
    assert!(!Path::new(&dir.join("config.json")).exists());
}

fn case_console(dir: &Path, early_pty: Option<nix::pty::OpenptyResult>) {
    let plan = load_plan(
        dir,
        RootfsOptions {
            terminal: true,
            ..opts()
        },
    )
    .unwrap();
    rootfs::prepare(&plan).unwrap();
    let pty = early_pty.unwrap_or_else(|| nix::pty::openpty(None, None).unwrap());
    let slave_rdev = fs::File::from(pty.slave.try_clone().unwrap())
        .metadata()
        .unwrap()
        .rdev();
    use std::os::fd::AsFd;
    rootfs::mount_console(&plan, pty.slave.as_fd()).unwrap();
    rootfs::pivot(&plan).unwrap();
    rootfs::finish(&plan).unwrap();
    let md = fs::metadata("/dev/console").unwrap();
    assert!(md.file_type().is_char_device());
    assert_eq!(md.rdev(), slave_rdev);
}

/// Runs plan → prepare → pivot → finish and prints the error, which the parent inspects.
fn case_expect_error(dir: &Path) {
    let result = load_plan(dir, opts()).and_then(|plan| run_all(&plan));
    match result {
        Ok(()) => panic!("expected an error"),
        Err(e) => println!("ROOTFS ERROR: {e}"),
    }
}

/// Adds extra mounts/paths to the fixture's config.
fn customize(dir: &Path, mounts: serde_json::Value, masked: &[&str], readonly: &[&str]) {
    let mut cfg = bundle_config(&["true"]);
    if let Some(m) = cfg["mounts"].as_array_mut() {
        m.extend(mounts.as_array().unwrap().iter().cloned());
    }
    if let Some(m) = cfg["linux"]["maskedPaths"].as_array_mut() {
        m.extend(masked.iter().map(|s| json!(s)));
    }
    if let Some(m) = cfg["linux"]["readonlyPaths"].as_array_mut() {
        m.extend(readonly.iter().map(|s| json!(s)));
    }
    write_config(dir, &cfg).unwrap();
}

fn full_bundle() -> DirGuard {
    let g = bundle("hezi-rootfs-full");
    let dir = &g.0;
    let rootfs = dir.join("rootfs");
    fs::write(dir.join("hostfile"), "hostfile").unwrap();
    fs::create_dir_all(dir.join("tree/sub")).unwrap();
    fs::write(rootfs.join("etc/secret"), "top secret").unwrap();
    fs::create_dir_all(rootfs.join("etc/secretdir")).unwrap();
    fs::write(rootfs.join("etc/secretdir/file"), "x").unwrap();
    fs::create_dir_all(rootfs.join("etc/otherdir")).unwrap();
    fs::create_dir_all(rootfs.join("opt/cu/sub")).unwrap();
    fs::write(rootfs.join("opt/cu/sub/file"), "copied").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", rootfs.join("opt/cu/link")).unwrap();
    customize(
        dir,
        json!([
            {"destination": "/mnt/ro-file", "type": "bind", "source": dir.join("hostfile"),
             "options": ["bind", "ro", "nosuid", "nodev", "noexec"]},
            {"destination": "/mnt/tree", "type": "bind", "source": dir.join("tree"),
             "options": ["rbind", "rro"]},
            {"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["size=1m", "mode=0710", "nosuid"]},
            {"destination": "/opt/cu", "type": "tmpfs", "source": "tmpfs",
             "options": ["tmpcopyup", "mode=755"]}
        ]),
        &["/etc/secret", "/etc/secretdir", "/etc/otherdir"],
        &["/var"],
    );
    g
}

#[test]
fn full_rootfs_pivot() {
    require_root!();
    let g = full_bundle();
    expect_ok("full", &g.0);
}

#[test]
fn full_rootfs_no_pivot() {
    require_root!();
    let g = full_bundle();
    expect_ok("full_no_pivot", &g.0);
}

#[test]
fn console_is_bound_over_dev_console() {
    require_root!();
    let g = bundle("hezi-rootfs-console");
    expect_ok("console", &g.0);
}

#[test]
fn console_opened_before_the_mount_namespace_is_bound_too() {
    require_root!();
    let g = bundle("hezi-rootfs-console-foreign");
    expect_ok("console_foreign", &g.0);
}

/// Runs the expect_error case and returns the error text.
fn expect_error(dir: &Path) -> String {
    let (ok, out) = run_case("expect_error", dir);
    assert!(ok, "child failed:\n{out}");
    out.lines()
        .find_map(|l| l.split_once("ROOTFS ERROR: ").map(|(_, e)| e))
        .unwrap_or_else(|| panic!("no error line in:\n{out}"))
        .to_string()
}

/// A host directory that the test removes afterwards.
fn host_target(prefix: &str) -> DirGuard {
    DirGuard(std::env::temp_dir().join(unique_id(prefix)))
}

/// `path` (absolute, on the host) as seen inside `rootfs`.
fn inside(rootfs: &Path, path: &Path) -> PathBuf {
    rootfs.join(path.strip_prefix("/").unwrap())
}

/// Drops the `/dev` tmpfs from the fixture config, so the rootfs's own `/dev` is used.
fn without_dev_tmpfs(dir: &Path, devices: serde_json::Value) {
    let mut cfg = bundle_config(&["true"]);
    if let Some(m) = cfg["mounts"].as_array_mut() {
        m.retain(|m| m["destination"] != "/dev");
    }
    cfg["linux"]["devices"] = devices;
    write_config(dir, &cfg).unwrap();
}

#[test]
fn symlinked_mount_destination_stays_inside_the_rootfs() {
    require_root!();
    let g = bundle("hezi-rootfs-evil-dest");
    let host = host_target("hezi-host-target");
    fs::create_dir_all(&host.0).unwrap();
    // rootfs/mnt/evil -> <host dir>: a runtime that followed the link on the host would
    // create <host dir>/inner there (and mount over it).
    std::os::unix::fs::symlink(&host.0, g.0.join("rootfs/mnt/evil")).unwrap();
    customize(
        &g.0,
        json!([{"destination": "/mnt/evil/inner", "type": "tmpfs", "source": "tmpfs"}]),
        &[],
        &[],
    );
    expect_ok("plain", &g.0);
    assert_eq!(
        fs::read_dir(&host.0).unwrap().count(),
        0,
        "the host dir was written"
    );
    let in_root = inside(&g.0.join("rootfs"), &host.0).join("inner");
    assert!(
        in_root.is_dir(),
        "{} not created inside the rootfs",
        in_root.display()
    );
}

#[test]
fn dev_as_a_symlink_is_refused() {
    require_root!();
    let g = bundle("hezi-rootfs-dev-link");
    let host = host_target("hezi-host-dev");
    fs::create_dir_all(&host.0).unwrap();
    let dev = g.0.join("rootfs/dev");
    fs::remove_dir(&dev).unwrap();
    std::os::unix::fs::symlink(&host.0, &dev).unwrap();
    let err = expect_error(&g.0);
    assert!(err.contains("/dev") && err.contains("symlink"), "{err}");
    assert_eq!(
        fs::read_dir(&host.0).unwrap().count(),
        0,
        "nodes created on the host"
    );
}

#[test]
fn proc_as_a_symlink_is_refused() {
    require_root!();
    let g = bundle("hezi-rootfs-proc-link");
    let host = host_target("hezi-host-proc");
    fs::create_dir_all(&host.0).unwrap();
    let proc_dir = g.0.join("rootfs/proc");
    fs::remove_dir(&proc_dir).unwrap();
    std::os::unix::fs::symlink(&host.0, &proc_dir).unwrap();
    let err = expect_error(&g.0);
    assert!(
        err.contains("mounts[0] /proc") && err.contains("symlink"),
        "{err}"
    );
}

#[test]
fn proc_as_a_file_is_refused() {
    require_root!();
    let g = bundle("hezi-rootfs-proc-file");
    let proc_dir = g.0.join("rootfs/proc");
    fs::remove_dir(&proc_dir).unwrap();
    fs::write(&proc_dir, "").unwrap();
    let err = expect_error(&g.0);
    assert!(err.contains("mounts[0] /proc"), "{err}");
}

#[test]
fn dev_null_swapped_for_a_symlink_is_refused_when_masking() {
    // CVE-2025-31133: the /dev/null used to mask files must be the real 1:3 device.
    require_root!();
    let g = bundle("hezi-rootfs-null-link");
    without_dev_tmpfs(&g.0, json!([]));
    std::os::unix::fs::symlink("/etc/hostname", g.0.join("rootfs/dev/null")).unwrap();
    let err = expect_error(&g.0);
    assert!(err.contains("/dev/null"), "{err}");
}

#[test]
fn dev_null_swapped_for_a_regular_file_is_refused_when_masking() {
    require_root!();
    let g = bundle("hezi-rootfs-null-file");
    without_dev_tmpfs(&g.0, json!([]));
    fs::write(g.0.join("rootfs/dev/null"), "not a device").unwrap();
    let err = expect_error(&g.0);
    assert!(err.contains("/dev/null") && err.contains("1:3"), "{err}");
}

#[test]
fn device_path_through_a_symlink_stays_inside_the_rootfs() {
    require_root!();
    let g = bundle("hezi-rootfs-dev-evil");
    let host = host_target("hezi-host-devdir");
    fs::create_dir_all(&host.0).unwrap();
    let link_target = host.0.clone();
    std::os::unix::fs::symlink(&link_target, g.0.join("rootfs/dev/evil")).unwrap();
    without_dev_tmpfs(
        &g.0,
        json!([{"path": "/dev/evil/null2", "type": "c", "major": 1, "minor": 3}]),
    );
    expect_ok("plain", &g.0);
    let on_host = fs::read_dir(&host.0).unwrap().count();
    assert_eq!(on_host, 0, "a node was created on the host");
    let node = inside(&g.0.join("rootfs"), &link_target).join("null2");
    let md = fs::symlink_metadata(&node).unwrap();
    assert!(md.file_type().is_char_device(), "{}", node.display());
}

#[test]
fn masked_path_symlink_resolves_inside_the_rootfs() {
    require_root!();
    let g = bundle("hezi-rootfs-mask-link");
    let rootfs = g.0.join("rootfs");
    // /etc/secretlink -> /etc/hostname (absolute): masks the rootfs's /etc/hostname.
    std::os::unix::fs::symlink("/etc/hostname", rootfs.join("etc/secretlink")).unwrap();
    customize(&g.0, json!([]), &["/etc/secretlink"], &[]);
    let (ok, out) = run_case("masked_link", &g.0);
    assert!(ok && out.contains("CASE masked_link OK"), "{out}");
}

fn case_masked_link(dir: &Path) {
    run_all(&load_plan(dir, opts()).unwrap()).unwrap();
    assert_eq!(fs::read_to_string("/etc/hostname").unwrap(), "");
    assert!(fs::read_to_string("/etc/passwd").unwrap().contains("alice"));
}

/// Runs `args` in a runc container on the bundle `dir`; `None` when runc is not installed.
fn runc_output(dir: &Path, args: &[&str]) -> Option<String> {
    if !Path::new("/usr/sbin/runc").exists() && !Path::new("/usr/bin/runc").exists() {
        return None;
    }
    let mut cfg = bundle_config(args);
    cfg["root"]["readonly"] = json!(true);
    write_config(dir, &cfg).unwrap();
    let state = dir.join("runc-state");
    let id = unique_id("hezi-rootfs-cmp");
    let out = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["run", "-b"])
        .arg(dir)
        .arg(&id)
        .output()
        .unwrap();
    let _ = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["delete", "-f", &id])
        .output();
    assert!(
        out.status.success(),
        "runc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines our child printed with `prefix` (the first may share a line with libtest's).
fn tagged<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.split_once(prefix).map(|(_, rest)| rest))
        .collect()
}

/// Compares the container's /dev with what runc builds from the same bundle.
#[test]
fn dev_matches_runc() {
    require_root!();
    let g = bundle("hezi-rootfs-runc");
    let Some(theirs) = runc_output(&g.0, &["ls", "-1", "/dev"]) else {
        println!("skipped: runc not installed");
        return;
    };
    let (ok, ours) = run_case("list_dev", &g.0);
    assert!(ok, "{ours}");
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(tagged(&ours, "DEV "), theirs);
}

/// Mount point -> (mount-level ro?, fstype) from a mountinfo text.
fn mount_table(lines: &[&str]) -> std::collections::BTreeMap<String, (bool, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?;
            let ro = f.get(5)?.split(',').any(|o| o == "ro");
            Some((f.get(4)?.to_string(), (ro, fstype.to_string())))
        })
        .collect()
}

/// Compares every mount point, its type and its read-only flag with runc's, for the same
/// bundle. Known, deliberate differences: hezi also shows the hybrid host's cgroup2
/// `unified` hierarchy, and makes the `/sys/fs/cgroup` tmpfs itself read-only.
#[test]
fn mounts_match_runc() {
    require_root!();
    let g = bundle("hezi-rootfs-runc-mi");
    let Some(theirs) = runc_output(&g.0, &["cat", "/proc/self/mountinfo"]) else {
        println!("skipped: runc not installed");
        return;
    };
    let (ok, ours) = run_case("mountinfo", &g.0);
    assert!(ok, "{ours}");
    let mut ours = mount_table(&tagged(&ours, "MI "));
    let theirs = mount_table(&theirs.lines().collect::<Vec<_>>());
    ours.remove("/sys/fs/cgroup/unified");
    if let (Some(o), Some(t)) = (ours.get_mut("/sys/fs/cgroup"), theirs.get("/sys/fs/cgroup")) {
        o.0 = t.0;
    }
    assert_eq!(ours, theirs);
}

fn case_mountinfo(dir: &Path) {
    run_all(&load_plan(dir, opts()).unwrap()).unwrap();
    for l in fs::read_to_string("/proc/thread-self/mountinfo")
        .unwrap()
        .lines()
    {
        println!("MI {l}");
    }
}

fn case_list_dev(dir: &Path) {
    run_all(&load_plan(dir, opts()).unwrap()).unwrap();
    let mut names: Vec<String> = fs::read_dir("/dev")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        println!("DEV {n}");
    }
}

fn case_root_propagation(dir: &Path, want: &str) {
    run_all(&load_plan(dir, opts()).unwrap()).unwrap();
    let line = mountinfo_line("/");
    // Optional fields sit between the mount options and " - ".
    let optional = line
        .split(" - ")
        .next()
        .unwrap()
        .split(' ')
        .skip(6)
        .collect::<Vec<_>>();
    if want.is_empty() {
        assert!(optional.is_empty(), "/ is not private: {line}");
    } else {
        assert!(
            optional.iter().any(|f| f.starts_with(want)),
            "/ lacks {want}: {line}"
        );
    }
}

#[test]
fn rootfs_propagation_shared_and_private() {
    require_root!();
    for (value, case) in [("rshared", "root_shared"), ("rprivate", "root_private")] {
        let g = bundle("hezi-rootfs-prop");
        let mut cfg = bundle_config(&["true"]);
        cfg["linux"]["rootfsPropagation"] = json!(value);
        write_config(&g.0, &cfg).unwrap();
        expect_ok(case, &g.0);
    }
}

#[test]
fn idmapped_bind_mount_shows_mapped_owners() {
    require_root!();
    let g = bundle("hezi-rootfs-idmap");
    let src = g.0.join("idsrc");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("owned-by-root"), "x").unwrap();
    customize(
        &g.0,
        json!([{"destination": "/mnt/idmapped", "type": "bind", "source": src,
                "options": ["bind", "idmap"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 1}]}]),
        &[],
        &[],
    );
    expect_ok("idmap", &g.0);
    // The host view is unchanged.
    let md = fs::metadata(src.join("owned-by-root")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
}

fn case_idmap(dir: &Path) {
    run_all(&load_plan(dir, opts()).unwrap()).unwrap();
    // On disk 0:0; through the mapping 0 -> 1000 (uid) and 0 -> 2000 (gid).
    let md = fs::metadata("/mnt/idmapped/owned-by-root").unwrap();
    assert_eq!((md.uid(), md.gid()), (1000, 2000));
    assert!(mountinfo_line("/mnt/idmapped").contains("idmapped"));
}
