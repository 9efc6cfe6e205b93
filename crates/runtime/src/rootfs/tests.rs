//! Unit tests of the plan and of the executor's operation sequence (no root needed).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::exec::{
    finish_with, mount_console_with, pivot_with, premake_idmapped_with, prepare_with,
};
use super::mounter::{FileKind, Stat};
use super::options::FsParam;
use super::plan::{DeviceMethod, MountKind, RootfsOptions, RootfsPlan};
use super::recorder::{Recorder, H};
use super::RootfsError;

/// A `runc spec`-shaped config with extra mounts/devices/paths merged in.
fn spec(extra_mounts: serde_json::Value, linux_extra: serde_json::Value) -> Spec {
    let mut mounts = serde_json::json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]}
    ]);
    if let (Some(a), Some(b)) = (mounts.as_array_mut(), extra_mounts.as_array()) {
        a.extend(b.iter().cloned());
    }
    let mut linux = serde_json::json!({
        "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/scsi", "/proc/timer_list"],
        "readonlyPaths": ["/proc/sys", "/proc/bus"],
        "namespaces": [{"type": "mount"}, {"type": "pid"}]
    });
    if let (Some(l), Some(e)) = (linux.as_object_mut(), linux_extra.as_object()) {
        for (k, v) in e {
            l.insert(k.clone(), v.clone());
        }
    }
    let v = serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
        "mounts": mounts,
        "linux": linux
    });
    serde_json::from_value(v).unwrap()
}

fn opts() -> RootfsOptions {
    RootfsOptions {
        new_mount_ns: true,
        ..Default::default()
    }
}

fn plan_for(spec: &Spec, o: RootfsOptions) -> RootfsPlan {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    let mut plan = RootfsPlan::new(spec, dir.path(), o).unwrap();
    plan.rootfs = PathBuf::from("/R");
    plan
}

#[test]
fn plan_from_a_runc_style_config() {
    let p = plan_for(&spec(serde_json::json!([]), serde_json::json!({})), opts());
    assert!(p.setup_dev && p.readonly_root);
    let names: Vec<_> = p
        .devices
        .iter()
        .map(|d| d.path.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
            "/dev/tty"
        ]
    );
    assert!(p.devices.iter().all(|d| d.method == DeviceMethod::Mknod));
    let has_core = p
        .dev_symlinks
        .iter()
        .any(|(n, t)| n == "core" && t == Path::new("/proc/kcore"));
    assert_eq!(has_core, Path::new("/proc/kcore").exists());
    assert!(p
        .dev_symlinks
        .iter()
        .any(|(n, t)| n == "fd" && t == Path::new("/proc/self/fd")));
    let dev = &p.mounts[1];
    assert_eq!(dev.destination, Path::new("/dev"));
    assert_eq!(
        dev.options.params,
        vec![
            FsParam::Value("mode".into(), "755".into()),
            FsParam::Value("size".into(), "65536k".into())
        ]
    );
    assert!(p.mounts[0].needs_real_dir() && p.mounts[3].needs_real_dir());
    assert!(!dev.needs_real_dir());
    // Printable for --debug.
    assert!(serde_json::to_string(&p)
        .unwrap()
        .contains("\"/proc/kcore\""));
}

#[test]
fn config_devices_override_defaults_and_user_ns_binds() {
    let s = spec(
        serde_json::json!([]),
        serde_json::json!({"devices": [
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 5},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}
        ]}),
    );
    let p = plan_for(
        &s,
        RootfsOptions {
            in_user_ns: true,
            ..opts()
        },
    );
    assert_eq!(p.devices.len(), 7);
    let null = &p.devices[0];
    assert_eq!((null.mode & 0o7777, null.uid), (0o600, Some(5)));
    assert!(p.devices.iter().all(|d| d.method == DeviceMethod::BindHost));
}

#[test]
fn plan_errors_name_the_mount() {
    let s = spec(
        serde_json::json!([{"destination": "/x", "source": "/y"}]),
        serde_json::json!({}),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    let err = RootfsPlan::new(&s, dir.path(), opts()).unwrap_err();
    assert!(err.to_string().contains("mounts[4] /x"), "{err}");
    let s = spec(
        serde_json::json!([{"destination": "/x", "type": "tmpfs", "options": ["idmap"]}]),
        serde_json::json!({}),
    );
    let err = RootfsPlan::new(&s, dir.path(), opts()).unwrap_err();
    assert!(
        err.to_string().contains("mounts[4] /x") && err.to_string().contains("idmap"),
        "{err}"
    );
    // A missing rootfs is named.
    let empty = tempfile::tempdir().unwrap();
    let err = RootfsPlan::new(&s, empty.path(), opts()).unwrap_err();
    assert!(err.to_string().contains("root.path"), "{err}");
}

#[test]
fn prepare_runs_the_expected_sequence() {
    let s = spec(
        serde_json::json!([{"destination": "/data", "type": "bind", "source": "/srv/data",
                           "options": ["rbind", "rro", "nosuid", "rslave"]}]),
        serde_json::json!({}),
    );
    let p = plan_for(&s, opts());
    let mut r = Recorder::default();
    r.missing.insert("/R/data".into());
    prepare_with(&mut r, &p).unwrap();
    let log = r.log.join("\n");
    let expected_prefix = [
        "root_propagation Slave rec=true",
        "clone_host /R rec=true",
        "open_host /R",
        "attach tree:/R -> /R",
        "open_host /R",
        "umask 0",
        "new_fs proc src=proc [] attrs=0x0",
        "attach fs:proc -> /R/proc",
        "new_fs tmpfs src=tmpfs [mode=755,size=65536k] attrs=0x22",
        "attach fs:tmpfs -> /R/dev",
    ];
    assert_eq!(&r.log[..expected_prefix.len()], &expected_prefix, "{log}");
    // The bind: cloned recursively, missing dir destination created, recursive ro, then
    // the per-mount attrs, attached, then the propagation.
    let i = r
        .log
        .iter()
        .position(|l| l == "clone_host /srv/data rec=true")
        .expect(&log);
    assert_eq!(r.log[i + 1], "create Dir /R/data");
    assert!(
        r.log[i + 2].contains("set_attr tree:/srv/data set=0x1 clr=0x0 prop=None rec=true"),
        "{log}"
    );
    assert!(
        r.log[i + 3].contains("set=0x2 clr=0x0 prop=None rec=false"),
        "{log}"
    );
    assert_eq!(r.log[i + 4], "attach tree:/srv/data -> /R/data");
    assert!(r.log[i + 5].contains("prop=Some(Slave) rec=true"), "{log}");
    // Devices through the /dev fd, then ptmx and the symlinks; umask restored last.
    assert!(
        r.log.contains(&"mknod /R/dev/null 20666 1:3".to_string()),
        "{log}"
    );
    assert!(r
        .log
        .contains(&"symlink /R/dev/ptmx -> pts/ptmx replace=true".to_string()));
    assert!(r
        .log
        .contains(&"symlink /R/dev/stderr -> /proc/self/fd/2 replace=false".to_string()));
    assert_eq!(r.log.last().map(String::as_str), Some("umask 22"));
    assert_eq!(r.ops("mknod").len(), 6);
}

#[test]
fn bind_of_a_file_creates_a_file_target() {
    let s = spec(
        serde_json::json!([{"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts", "options": ["bind", "ro"]}]),
        serde_json::json!({}),
    );
    let p = plan_for(&s, opts());
    let mut r = Recorder::default();
    r.missing.insert("/R/etc/hosts".into());
    r.stats.insert(
        "tree:/etc/hosts".into(),
        Stat {
            kind: FileKind::Other,
            major: 0,
            minor: 0,
        },
    );
    prepare_with(&mut r, &p).unwrap();
    assert!(r
        .log
        .contains(&"clone_host /etc/hosts rec=false".to_string()));
    assert!(
        r.log.contains(&"create File /R/etc/hosts".to_string()),
        "{:?}",
        r.log
    );
}

#[test]
fn proc_sys_and_dev_symlinks_are_refused() {
    for (label, expect) in [
        ("/R/proc", "mounts[0] /proc"),
        ("/R/sys", "mounts[3] /sys"),
        ("/R/dev", "/dev"),
    ] {
        let mut s = spec(serde_json::json!([]), serde_json::json!({}));
        if label == "/R/dev" {
            // /dev not mounted: the rootfs's own /dev is used and must not be a symlink.
            let mut m = s.mounts().clone().unwrap();
            m.remove(1);
            s.set_mounts(Some(m));
        }
        let p = plan_for(&s, opts());
        let mut r = Recorder::default();
        r.symlinks.insert(label.to_string());
        let err = prepare_with(&mut r, &p).unwrap_err();
        assert!(matches!(err, RootfsError::UnsafePath { .. }), "{err}");
        assert!(
            err.to_string().contains(expect) && err.to_string().contains("symlink"),
            "{err}"
        );
        assert_eq!(
            r.log.last().map(String::as_str),
            Some("umask 22"),
            "umask restored on error"
        );
    }
}

#[test]
fn user_ns_devices_are_bind_mounted_from_the_host() {
    let p = plan_for(
        &spec(serde_json::json!([]), serde_json::json!({})),
        RootfsOptions {
            in_user_ns: true,
            ..opts()
        },
    );
    let mut r = Recorder::default();
    r.missing.insert("/R/dev/null".into());
    prepare_with(&mut r, &p).unwrap();
    assert!(r.ops("mknod").is_empty());
    let i = r
        .log
        .iter()
        .position(|l| l == "clone_host /dev/null rec=false")
        .unwrap();
    assert_eq!(r.log[i + 1], "create File /R/dev/null");
    assert_eq!(r.log[i + 2], "attach tree:/dev/null -> /R/dev/null");
}

#[test]
fn finish_masks_with_one_shared_tmpfs_and_a_verified_dev_null() {
    let p = plan_for(&spec(serde_json::json!([]), serde_json::json!({})), opts());
    let mut r = Recorder::default();
    let file = Stat {
        kind: FileKind::Other,
        major: 0,
        minor: 0,
    };
    r.stats.insert("/proc/kcore".into(), file);
    r.stats.insert("/proc/timer_list".into(), file);
    r.stats.insert(
        "/dev/null".into(),
        Stat {
            kind: FileKind::Char,
            major: 1,
            minor: 3,
        },
    );
    r.missing.insert("/proc/bus".into());
    finish_with(&mut r, &p).unwrap();
    let log = r.log.join("\n");
    // readonly: /proc/sys only (/proc/bus is missing and skipped).
    assert_eq!(r.ops("clone_fd /proc/sys rec=true").len(), 1, "{log}");
    assert_eq!(r.ops("clone_fd /proc/bus").len(), 0, "{log}");
    // One tmpfs for /proc/acpi; /proc/scsi gets a clone of it.
    assert_eq!(r.ops("new_fs tmpfs").len(), 1, "{log}");
    assert!(
        r.log.contains(&"attach fs:tmpfs -> /proc/acpi".to_string()),
        "{log}"
    );
    assert!(
        r.log.contains(&"clone_fd fs:tmpfs rec=false".to_string()),
        "{log}"
    );
    assert!(
        r.log
            .contains(&"attach tree:fs:tmpfs -> /proc/scsi".to_string()),
        "{log}"
    );
    // Files: /dev/null cloned twice (kcore, timer_list).
    assert_eq!(r.ops("clone_fd /dev/null").len(), 2, "{log}");
    // Read-only root last.
    assert_eq!(
        r.log.last().unwrap(),
        "set_attr / set=0x1 clr=0x0 prop=None rec=false"
    );
}

#[test]
fn a_fake_dev_null_is_refused() {
    let p = plan_for(&spec(serde_json::json!([]), serde_json::json!({})), opts());
    let mut r = Recorder::default();
    r.stats.insert(
        "/proc/kcore".into(),
        Stat {
            kind: FileKind::Other,
            major: 0,
            minor: 0,
        },
    );
    // /dev/null is a regular file (or anything but 1:3).
    r.stats.insert(
        "/dev/null".into(),
        Stat {
            kind: FileKind::Other,
            major: 0,
            minor: 0,
        },
    );
    let err = finish_with(&mut r, &p).unwrap_err();
    assert!(
        err.to_string().contains("/dev/null") && err.to_string().contains("1:3"),
        "{err}"
    );
    // And a symlinked /dev/null is refused too.
    let mut r = Recorder::default();
    r.stats.insert(
        "/proc/kcore".into(),
        Stat {
            kind: FileKind::Other,
            major: 0,
            minor: 0,
        },
    );
    r.symlinks.insert("/dev/null".into());
    let err = finish_with(&mut r, &p).unwrap_err();
    assert!(matches!(err, RootfsError::UnsafePath { .. }), "{err}");
}

#[test]
fn pivot_or_move() {
    let mut p = plan_for(&spec(serde_json::json!([]), serde_json::json!({})), opts());
    let mut r = Recorder::default();
    pivot_with(&mut r, &p).unwrap();
    assert_eq!(r.log, ["open_host /R", "pivot_root /R"]);
    p.opts.no_pivot = true;
    let mut r = Recorder::default();
    pivot_with(&mut r, &p).unwrap();
    assert_eq!(r.log, ["open_host /R", "move_root /R"]);
}

#[test]
fn console_symlink_is_refused() {
    let p = plan_for(&spec(serde_json::json!([]), serde_json::json!({})), opts());
    let slave = H("pty".into());
    let mut r = Recorder::default();
    r.stats.insert(
        "pty".into(),
        Stat {
            kind: FileKind::Char,
            major: 136,
            minor: 0,
        },
    );
    r.symlinks.insert("/R/dev/console".into());
    let err = mount_console_with(&mut r, &p, &slave).unwrap_err();
    assert!(err.to_string().contains("/dev/console"), "{err}");
    let mut r = Recorder::default();
    r.stats.insert(
        "pty".into(),
        Stat {
            kind: FileKind::Char,
            major: 136,
            minor: 0,
        },
    );
    r.missing.insert("/R/dev/console".into());
    mount_console_with(&mut r, &p, &slave).unwrap();
    assert_eq!(r.log.last().unwrap(), "attach tree:pty -> /R/dev/console");
}

#[test]
fn cgroup_mount_follows_the_layout() {
    let s = spec(
        serde_json::json!([{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                           "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}]),
        serde_json::json!({}),
    );
    let mut p = plan_for(
        &s,
        RootfsOptions {
            new_cgroup_ns: true,
            ..opts()
        },
    );
    p.mounts[4].kind = MountKind::Cgroup(super::cgroup::layout_from_mountinfo(
        "33 27 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:15 - cgroup cgroup rw,cpu,cpuacct\n",
    ));
    let mut r = Recorder::default();
    prepare_with(&mut r, &p).unwrap();
    let log = r.log.join("\n");
    assert!(
        log.contains("new_fs tmpfs src=tmpfs [mode=755] attrs=0xe"),
        "{log}"
    );
    assert!(log.contains("create Dir fs:tmpfs/cpu,cpuacct"), "{log}");
    assert!(
        log.contains("new_fs cgroup src=cgroup [cpu,cpuacct] attrs=0xf"),
        "{log}"
    );
    assert!(log.contains("set_attr fs:tmpfs set=0x1"), "{log}");
    // Without a cgroup namespace: bind of our own cgroup.
    p.opts.new_cgroup_ns = false;
    let mut r = Recorder {
        cgroup_text: "3:cpuacct,cpu:/hezi/c1\n".into(),
        ..Default::default()
    };
    prepare_with(&mut r, &p).unwrap();
    let log = r.log.join("\n");
    assert!(
        log.contains("clone_host /sys/fs/cgroup/cpu,cpuacct/hezi/c1 rec=false"),
        "{log}"
    );
}

#[test]
fn shared_rootfs_propagation_makes_the_parent_private_first() {
    let s = spec(
        serde_json::json!([]),
        serde_json::json!({"rootfsPropagation": "rshared"}),
    );
    let p = plan_for(&s, opts());
    let mut r = Recorder::default();
    prepare_with(&mut r, &p).unwrap();
    assert_eq!(
        &r.log[..3],
        [
            "root_propagation Shared rec=true",
            "private_parent /R",
            "clone_host /R rec=true"
        ]
    );
    let mut r = Recorder::default();
    finish_with(&mut r, &p).unwrap();
    assert!(
        r.log
            .last()
            .unwrap()
            .contains("set_attr / set=0x0 clr=0x0 prop=Some(Shared) rec=true"),
        "{:?}",
        r.log
    );
}

#[test]
fn mounts_over_proc_are_restricted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    for (dest, typ, ok) in [
        ("/proc/sys", "tmpfs", false),
        ("/proc/self/attr/current", "bind", false),
        ("/proc/../proc/sys/kernel", "tmpfs", false),
        ("/proc/cpuinfo", "bind", true),
        ("/proc/meminfo", "bind", true),
    ] {
        let m = serde_json::json!([{"destination": dest, "type": typ, "source": "/etc/hostname",
                                    "options": if typ == "bind" { vec!["bind"] } else { vec![] }}]);
        let r = RootfsPlan::new(&spec(m, serde_json::json!({})), dir.path(), opts());
        assert_eq!(r.is_ok(), ok, "{dest}: {r:?}");
        if let Err(e) = r {
            assert!(e.to_string().contains("mounts[4]"), "{e}");
        }
    }
    // /proc itself takes only a procfs.
    let mut s = spec(serde_json::json!([]), serde_json::json!({}));
    let mut m = s.mounts().clone().unwrap();
    m[0] = serde_json::from_value(
        serde_json::json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
    )
    .unwrap();
    s.set_mounts(Some(m));
    let err = RootfsPlan::new(&s, dir.path(), opts()).unwrap_err();
    assert!(err.to_string().contains("mounts[0] /proc"), "{err}");
}

#[test]
fn tmpcopyup_copies_before_attaching_and_then_makes_read_only() {
    let s = spec(
        serde_json::json!([{"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                           "options": ["tmpcopyup", "ro"]}]),
        serde_json::json!({}),
    );
    let p = plan_for(&s, opts());
    let mut r = Recorder::default();
    prepare_with(&mut r, &p).unwrap();
    let i = r
        .log
        .iter()
        .position(|l| l == "copy_tree /R/etc -> fs:tmpfs")
        .expect("copy_tree");
    assert!(
        r.log[i - 1].starts_with("new_fs tmpfs src=tmpfs [] attrs=0x0"),
        "{:?}",
        r.log
    );
    assert!(
        r.log[i + 1].starts_with("set_attr fs:tmpfs set=0x1"),
        "{:?}",
        r.log
    );
    assert_eq!(r.log[i + 2], "attach fs:tmpfs -> /R/etc");
    // Only for tmpfs.
    let s = spec(
        serde_json::json!([{"destination": "/x", "type": "proc", "options": ["tmpcopyup"]}]),
        serde_json::json!({}),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    let err = RootfsPlan::new(&s, dir.path(), opts()).unwrap_err();
    assert!(err.to_string().contains("mounts[4] /x"), "{err}");
}

#[test]
fn console_from_another_mount_namespace_is_bound_by_path() {
    let p = plan_for(&spec(serde_json::json!([]), serde_json::json!({})), opts());
    let slave = H("/dev/pts/7".into());
    let mut r = Recorder::default();
    let chr = Stat {
        kind: FileKind::Char,
        major: 136,
        minor: 7,
    };
    r.stats.insert("/dev/pts/7".into(), chr);
    r.stats.insert("tree:/dev/pts/7".into(), chr);
    r.foreign.insert("/dev/pts/7".into());
    mount_console_with(&mut r, &p, &slave).unwrap();
    let n = r.log.len();
    assert_eq!(
        &r.log[n - 2..],
        [
            "clone_host /dev/pts/7 rec=false",
            "attach tree:/dev/pts/7 -> /R/dev/console"
        ]
    );
}

#[test]
fn enosys_errors_say_what_the_kernel_lacks() {
    let e = RootfsError::sys(
        "mounts[0] /proc: create proc filesystem",
        std::io::Error::from_raw_os_error(libc::ENOSYS),
    );
    let text = e.to_string();
    assert!(
        text.contains("mounts[0] /proc") && text.contains("Linux 5.12"),
        "{text}"
    );
}

fn idmap_mount(options: &[&str], maps: bool) -> serde_json::Value {
    let mut m = serde_json::json!({"destination": "/data", "type": "bind", "source": "/srv",
                                   "options": options});
    if maps {
        m["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
        m["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 2000, "size": 10}]);
    }
    serde_json::json!([m])
}

#[test]
fn idmapped_bind_gets_a_user_namespace_before_attaching() {
    let p = plan_for(
        &spec(
            idmap_mount(&["rbind", "ridmap"], true),
            serde_json::json!({}),
        ),
        opts(),
    );
    let mut r = Recorder::default();
    prepare_with(&mut r, &p).unwrap();
    let i = r
        .log
        .iter()
        .position(|l| l == "clone_host /srv rec=true")
        .expect("clone");
    assert_eq!(r.log[i + 1], "new_userns uid[0 1000 10] gid[0 2000 10]");
    assert_eq!(r.log[i + 2], "set_idmap tree:/srv userns rec=true");
    assert_eq!(r.log[i + 3], "attach tree:/srv -> /R/data");
}

#[test]
fn idmap_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    let plan = |m, o| RootfsPlan::new(&spec(m, serde_json::json!({})), dir.path(), o);
    // No mappings: would need the container's user namespace.
    let err = plan(idmap_mount(&["bind", "idmap"], false), opts()).unwrap_err();
    assert!(
        matches!(err, RootfsError::Unsupported(_)) && err.to_string().contains("mounts[4]"),
        "{err}"
    );
    // A rootless runtime (user namespace, no privilege anywhere) cannot id-map host
    // filesystems at all.
    let in_userns = RootfsOptions {
        in_user_ns: true,
        ..opts()
    };
    let err = plan(idmap_mount(&["bind", "idmap"], true), in_userns).unwrap_err();
    assert!(
        matches!(err, RootfsError::Unsupported(_)) && err.to_string().contains("real root"),
        "{err}"
    );
    // Mappings imply idmap.
    let p = plan(idmap_mount(&["bind"], true), opts()).unwrap();
    assert_eq!(p.mounts[4].idmap.as_ref().map(|i| i.recursive), Some(false));
    // Only bind mounts.
    let m = serde_json::json!([{"destination": "/t", "type": "tmpfs", "options": ["idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}]);
    let err = plan(m, opts()).unwrap_err();
    assert!(err.to_string().contains("bind"), "{err}");
}

#[test]
fn idmapped_bind_in_a_user_namespace_is_made_by_the_parent_and_attached_by_the_init() {
    let o = RootfsOptions {
        in_user_ns: true,
        privileged: true,
        ..opts()
    };
    let p = plan_for(
        &spec(
            idmap_mount(&["rbind", "ro", "idmap"], true),
            serde_json::json!({}),
        ),
        o,
    );
    let step = &p.mounts[4];
    assert_eq!(step.idmap.as_ref().map(|i| i.premade), Some(true));

    // The parent: clone, id-map, attributes; nothing attached.
    let mut parent = Recorder::default();
    let made = premake_idmapped_with(&mut parent, &p).unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].0, 4);
    assert_eq!(parent.log[0], "clone_host /srv rec=true");
    assert_eq!(parent.log[1], "new_userns uid[0 1000 10] gid[0 2000 10]");
    assert_eq!(parent.log[2], "set_idmap tree:/srv userns rec=false");
    assert!(
        parent.log[3].starts_with("set_attr tree:/srv"),
        "{:?}",
        parent.log
    );
    assert!(!parent.log.iter().any(|l| l.starts_with("attach")));

    // The init: takes it and attaches it, never cloning or id-mapping the host itself.
    let mut init = Recorder::default();
    init.premade.insert(4, made[0].1 .0.clone());
    prepare_with(&mut init, &p).unwrap();
    let i = init
        .log
        .iter()
        .position(|l| l == "take_premade 4")
        .expect("taken");
    assert_eq!(init.log[i + 1], "attach tree:/srv -> /R/data");
    assert!(!init
        .log
        .iter()
        .any(|l| l.contains("clone_host /srv") || l.starts_with("set_idmap")));

    // Without it (the parent did not run) the init refuses instead of trying.
    let err = prepare_with(&mut Recorder::default(), &p).unwrap_err();
    assert!(err.to_string().contains("not prepared"), "{err}");
}
