//! Checks of the `linux` object of `config.json`.

use std::collections::HashSet;

use serde_json::Value;

use super::walk::{field, index, Walker};
use crate::names;

/// The namespace types listed in `linux.namespaces` (with or without a path).
pub(super) fn namespace_types(doc: &Value) -> HashSet<String> {
    doc.pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|ns| ns.get("type").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the `linux` object.
pub(super) fn check(w: &mut Walker, v: &Value, namespaces: &HashSet<String>) {
    let Some(linux) = w.object(v, "linux") else {
        return;
    };
    if let Some(n) = linux.get("namespaces") {
        check_namespaces(w, n);
    }
    let new_user_ns = linux
        .get("namespaces")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().any(|ns| {
                ns.get("type").and_then(Value::as_str) == Some("user") && ns.get("path").is_none()
            })
        });
    for k in ["uidMappings", "gidMappings"] {
        let path = field("linux", k);
        match linux.get(k) {
            Some(m) => {
                let n = check_id_mappings(w, m, &path);
                if n > 0 && !namespaces.contains("user") {
                    w.report(path, "mappings need a user namespace in linux.namespaces");
                }
            }
            None if new_user_ns => {
                w.report(path, "is required when a new user namespace is created");
            }
            None => {}
        }
    }
    if let Some(d) = linux.get("devices") {
        check_devices(w, d);
    }
    if let Some(r) = linux.get("resources") {
        check_resources(w, r);
    }
    if let Some(c) = linux.get("cgroupsPath") {
        if let Some(s) = w.string(c, "linux.cgroupsPath") {
            check_cgroups_path(w, s);
        }
    }
    if let Some(s) = linux.get("sysctl") {
        check_sysctl(w, s, namespaces);
    }
    if let Some(s) = linux.get("seccomp") {
        check_seccomp(w, s);
    }
    if let Some(p) = linux.get("rootfsPropagation") {
        w.one_of(
            p,
            "linux.rootfsPropagation",
            &[
                "shared",
                "slave",
                "private",
                "unbindable",
                "rshared",
                "rslave",
                "rprivate",
                "runbindable",
            ],
            "mount propagation",
        );
    }
    for k in ["maskedPaths", "readonlyPaths"] {
        if let Some(list) = linux.get(k) {
            let path = field("linux", k);
            if let Some(items) = w.array(list, &path) {
                for (i, item) in items.iter().enumerate() {
                    w.absolute(item, &index(&path, i));
                }
            }
        }
    }
    if let Some(l) = linux.get("mountLabel") {
        w.string(l, "linux.mountLabel");
    }
    if let Some(p) = linux.get("personality") {
        if let Some(o) = w.object(p, "linux.personality") {
            match o.get("domain") {
                None => w.report("linux.personality.domain", "is required"),
                Some(d) => {
                    w.one_of(
                        d,
                        "linux.personality.domain",
                        &["LINUX", "LINUX32"],
                        "personality domain",
                    );
                }
            }
        }
    }
    if let Some(t) = linux.get("timeOffsets") {
        if let Some(o) = w.object(t, "linux.timeOffsets") {
            if !namespaces.contains("time") {
                w.report(
                    "linux.timeOffsets",
                    "needs a time namespace in linux.namespaces",
                );
            }
            for (clock, off) in o {
                let path = field("linux.timeOffsets", clock);
                if !["boottime", "monotonic"].contains(&clock.as_str()) {
                    w.report(
                        path.clone(),
                        "is not a clock with offsets (boottime, monotonic)",
                    );
                }
                if let Some(oo) = w.object(off, &path) {
                    if let Some(s) = oo.get("secs") {
                        w.int(s, &field(&path, "secs"), i64::MIN.into(), i64::MAX.into());
                    }
                    if let Some(n) = oo.get("nanosecs") {
                        w.int(n, &field(&path, "nanosecs"), 0, 999_999_999);
                    }
                }
            }
        }
    }
}

fn check_namespaces(w: &mut Walker, v: &Value) {
    let Some(items) = w.array(v, "linux.namespaces") else {
        return;
    };
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("linux.namespaces", i);
        let Some(ns) = w.object(item, &path) else {
            continue;
        };
        match ns.get("type") {
            None => w.report(field(&path, "type"), "is required"),
            Some(t) => {
                if let Some(typ) = w.one_of(
                    t,
                    &field(&path, "type"),
                    names::NAMESPACES,
                    "namespace type",
                ) {
                    if !seen.insert(typ.clone()) {
                        w.report(
                            field(&path, "type"),
                            format!("{typ} namespace is listed more than once"),
                        );
                    }
                }
            }
        }
        if let Some(p) = ns.get("path") {
            w.absolute(p, &field(&path, "path"));
        }
    }
}

/// Checks an array of id mappings; returns how many there are.
pub(super) fn check_id_mappings(w: &mut Walker, v: &Value, path: &str) -> usize {
    let Some(items) = w.array(v, path) else {
        return 0;
    };
    for (i, item) in items.iter().enumerate() {
        let mp = index(path, i);
        let Some(m) = w.object(item, &mp) else {
            continue;
        };
        for k in ["containerID", "hostID", "size"] {
            match m.get(k) {
                None => w.report(field(&mp, k), "is required"),
                Some(n) => {
                    w.int(n, &field(&mp, k), 0, u32::MAX.into());
                }
            }
        }
    }
    items.len()
}

fn check_devices(w: &mut Walker, v: &Value) {
    let Some(items) = w.array(v, "linux.devices") else {
        return;
    };
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("linux.devices", i);
        let Some(d) = w.object(item, &path) else {
            continue;
        };
        let typ = match d.get("type") {
            None => {
                w.report(field(&path, "type"), "is required");
                None
            }
            Some(t) => w.one_of(
                t,
                &field(&path, "type"),
                &["c", "b", "u", "p"],
                "device type (c, b, u or p)",
            ),
        };
        match d.get("path") {
            None => w.report(field(&path, "path"), "is required"),
            Some(p) => {
                w.absolute(p, &field(&path, "path"));
                if let Some(s) = p.as_str() {
                    if !seen.insert(s.to_string()) {
                        w.report(
                            field(&path, "path"),
                            format!("{s} is listed more than once"),
                        );
                    }
                }
            }
        }
        for k in ["major", "minor"] {
            let kp = field(&path, k);
            match (d.get(k), typ.as_deref()) {
                (None, Some("c" | "b" | "u")) => {
                    w.report(kp, "is required for character and block devices")
                }
                // Optional for a FIFO and meaningless there: ignored, as runc does.
                (Some(n), Some("p")) => {
                    w.int(n, &kp, 0, i64::MAX.into());
                }
                (Some(n), _) => {
                    w.int(n, &kp, 0, i64::MAX.into());
                }
                (None, _) => {}
            }
        }
        if let Some(m) = d.get("fileMode") {
            // Engines send the whole st_mode (podman --privileged: 8576 = S_IFCHR | 0600);
            // runc takes the permission bits and ignores the type bits, and so does hezi
            // (the node's type comes from `type`).
            w.int(m, &field(&path, "fileMode"), 0, u32::MAX.into());
        }
        for k in ["uid", "gid"] {
            if let Some(n) = d.get(k) {
                w.int(n, &field(&path, k), 0, u32::MAX.into());
            }
        }
    }
}

fn check_resources(w: &mut Walker, v: &Value) {
    let Some(r) = w.object(v, "linux.resources") else {
        return;
    };
    if let Some(devs) = r.get("devices") {
        if let Some(items) = w.array(devs, "linux.resources.devices") {
            for (i, item) in items.iter().enumerate() {
                let path = index("linux.resources.devices", i);
                let Some(d) = w.object(item, &path) else {
                    continue;
                };
                match d.get("allow") {
                    None => w.report(field(&path, "allow"), "is required"),
                    Some(a) => {
                        w.boolean(a, &field(&path, "allow"));
                    }
                }
                if let Some(t) = d.get("type") {
                    w.one_of(
                        t,
                        &field(&path, "type"),
                        &["a", "c", "b"],
                        "device rule type (a, c or b)",
                    );
                }
                for k in ["major", "minor"] {
                    if let Some(n) = d.get(k) {
                        w.int(n, &field(&path, k), -1, i64::MAX.into());
                    }
                }
                if let Some(a) = d.get("access") {
                    if let Some(s) = w.string(a, &field(&path, "access")) {
                        if !s.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                            w.report(
                                field(&path, "access"),
                                format!("{s:?} may only contain r, w and m"),
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some(m) = r.get("memory") {
        if let Some(o) = w.object(m, "linux.resources.memory") {
            for k in ["limit", "reservation", "swap", "kernel", "kernelTCP"] {
                if let Some(n) = o.get(k) {
                    w.int(n, &field("linux.resources.memory", k), -1, i64::MAX.into());
                }
            }
            if let Some(n) = o.get("swappiness") {
                w.int(n, "linux.resources.memory.swappiness", 0, 100);
            }
        }
    }
    if let Some(c) = r.get("cpu") {
        if let Some(o) = w.object(c, "linux.resources.cpu") {
            for k in ["shares", "period", "realtimePeriod", "burst"] {
                if let Some(n) = o.get(k) {
                    w.int(n, &field("linux.resources.cpu", k), 0, u64::MAX.into());
                }
            }
            for k in ["quota", "realtimeRuntime"] {
                if let Some(n) = o.get(k) {
                    w.int(n, &field("linux.resources.cpu", k), -1, i64::MAX.into());
                }
            }
            for k in ["cpus", "mems"] {
                if let Some(s) = o.get(k) {
                    if let Some(list) = w.string(s, &field("linux.resources.cpu", k)) {
                        if !is_cpu_list(list) {
                            w.report(
                                field("linux.resources.cpu", k),
                                format!("{list:?} is not a list like 0-3,5"),
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some(p) = r.get("pids") {
        if let Some(o) = w.object(p, "linux.resources.pids") {
            if let Some(n) = o.get("limit") {
                w.int(n, "linux.resources.pids.limit", -1, i64::MAX.into());
            }
        }
    }
    if let Some(b) = r.get("blockIO") {
        if let Some(o) = w.object(b, "linux.resources.blockIO") {
            // 0 means unset, as runc reads it: Docker sends `"weight": 0` for every container.
            for k in ["weight", "leafWeight"] {
                if let Some(n) = o.get(k).filter(|n| n.as_u64() != Some(0)) {
                    w.int(n, &field("linux.resources.blockIO", k), 10, 1000);
                }
            }
        }
    }
    if let Some(h) = r.get("hugepageLimits") {
        if let Some(items) = w.array(h, "linux.resources.hugepageLimits") {
            for (i, item) in items.iter().enumerate() {
                let path = index("linux.resources.hugepageLimits", i);
                let Some(o) = w.object(item, &path) else {
                    continue;
                };
                match o.get("pageSize") {
                    None => w.report(field(&path, "pageSize"), "is required"),
                    Some(s) => {
                        if let Some(size) = w.string(s, &field(&path, "pageSize")) {
                            let digits = size.trim_end_matches(['K', 'M', 'G', 'T', 'P', 'B']);
                            if digits.is_empty()
                                || !digits.bytes().all(|b| b.is_ascii_digit())
                                || !size.ends_with('B')
                            {
                                w.report(
                                    field(&path, "pageSize"),
                                    format!("{size:?} is not a page size like 2MB"),
                                );
                            }
                        }
                    }
                }
                match o.get("limit") {
                    None => w.report(field(&path, "limit"), "is required"),
                    Some(n) => {
                        w.int(n, &field(&path, "limit"), 0, u64::MAX.into());
                    }
                }
            }
        }
    }
    if let Some(u) = r.get("unified") {
        if let Some(o) = w.object(u, "linux.resources.unified") {
            for (k, val) in o {
                w.string(val, &field("linux.resources.unified", k));
            }
        }
    }
}

/// True for a cpuset list such as `0-3,5,7-8`.
fn is_cpu_list(s: &str) -> bool {
    s.is_empty()
        || s.split(',').all(|part| {
            let num = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            match part.split_once('-') {
                Some((a, b)) => num(a) && num(b),
                None => num(part),
            }
        })
}

fn check_cgroups_path(w: &mut Walker, s: &str) {
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            w.report(
                "linux.cgroupsPath",
                format!("{s:?}: the systemd form is slice:prefix:name (three parts)"),
            );
        } else if !parts[0].is_empty() && !parts[0].ends_with(".slice") {
            w.report(
                "linux.cgroupsPath",
                format!("{s:?}: {:?} is not a systemd slice (*.slice)", parts[0]),
            );
        }
    } else if s.split('/').any(|c| c == "..") {
        w.report("linux.cgroupsPath", format!("{s:?} must not contain .."));
    }
}

/// The namespace a sysctl belongs to, if it is namespaced.
fn sysctl_namespace(name: &str) -> Option<&'static str> {
    let n = name.replace('/', ".");
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if n.starts_with("net.") {
        Some("network")
    } else if n.starts_with("fs.mqueue.") || IPC.contains(&n.as_str()) {
        Some("ipc")
    } else if n == "kernel.hostname" || n == "kernel.domainname" {
        Some("uts")
    } else {
        None
    }
}

fn check_sysctl(w: &mut Walker, v: &Value, namespaces: &HashSet<String>) {
    let Some(map) = w.object(v, "linux.sysctl") else {
        return;
    };
    for (name, val) in map {
        let path = field("linux.sysctl", name);
        w.string(val, &path);
        let well_formed = !name.is_empty()
            && !name.starts_with(['.', '/'])
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
            && !name.split(['.', '/']).any(|c| c.is_empty() || c == "..");
        if !well_formed {
            w.report(
                path,
                format!("{name:?} is not a sysctl name like net.ipv4.ip_forward"),
            );
            continue;
        }
        match sysctl_namespace(name) {
            Some(ns) if !namespaces.contains(ns) => {
                w.report(path, format!("needs a {ns} namespace in linux.namespaces"));
            }
            Some(_) => {}
            None => w.report(path, "is not namespaced: setting it would change the host"),
        }
    }
}

fn check_seccomp(w: &mut Walker, v: &Value) {
    let base = "linux.seccomp";
    let Some(s) = w.object(v, base) else { return };
    match s.get("defaultAction") {
        None => w.report("linux.seccomp.defaultAction", "is required"),
        Some(a) => {
            w.one_of(
                a,
                "linux.seccomp.defaultAction",
                names::SECCOMP_ACTIONS,
                "seccomp action",
            );
        }
    }
    if let Some(n) = s.get("defaultErrnoRet") {
        w.int(n, "linux.seccomp.defaultErrnoRet", 0, u32::MAX.into());
    }
    if let Some(a) = s.get("architectures") {
        if let Some(items) = w.array(a, "linux.seccomp.architectures") {
            for (i, item) in items.iter().enumerate() {
                w.one_of(
                    item,
                    &index("linux.seccomp.architectures", i),
                    names::SECCOMP_ARCHS,
                    "seccomp architecture",
                );
            }
        }
    }
    if let Some(f) = s.get("flags") {
        if let Some(items) = w.array(f, "linux.seccomp.flags") {
            for (i, item) in items.iter().enumerate() {
                w.one_of(
                    item,
                    &index("linux.seccomp.flags", i),
                    names::SECCOMP_FLAGS,
                    "seccomp filter flag",
                );
            }
        }
    }
    if let Some(p) = s.get("listenerPath") {
        w.absolute(p, "linux.seccomp.listenerPath");
    }
    if let Some(m) = s.get("listenerMetadata") {
        w.string(m, "linux.seccomp.listenerMetadata");
    }
    let Some(syscalls) = s.get("syscalls") else {
        return;
    };
    let Some(items) = w.array(syscalls, "linux.seccomp.syscalls") else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = index("linux.seccomp.syscalls", i);
        let Some(sc) = w.object(item, &path) else {
            continue;
        };
        match sc.get("names") {
            None => w.report(field(&path, "names"), "is required and must not be empty"),
            Some(n) => {
                let np = field(&path, "names");
                let list = w.strings(n, &np);
                if list.is_empty() && n.is_array() {
                    w.report(np, "must not be empty");
                }
                for (p, name) in list {
                    if name.is_empty() {
                        w.report(p, "syscall name must not be empty");
                    }
                }
            }
        }
        let action = match sc.get("action") {
            None => {
                w.report(field(&path, "action"), "is required");
                None
            }
            Some(a) => w.one_of(
                a,
                &field(&path, "action"),
                names::SECCOMP_ACTIONS,
                "seccomp action",
            ),
        };
        if let Some(e) = sc.get("errnoRet") {
            w.int(e, &field(&path, "errnoRet"), 0, u32::MAX.into());
            if let Some(a) = &action {
                if a != "SCMP_ACT_ERRNO" && a != "SCMP_ACT_TRACE" {
                    w.report(
                        field(&path, "errnoRet"),
                        format!("only applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {a}"),
                    );
                }
            }
        }
        if let Some(args) = sc.get("args") {
            let ap = field(&path, "args");
            let Some(list) = w.array(args, &ap) else {
                continue;
            };
            for (j, arg) in list.iter().enumerate() {
                let p = index(&ap, j);
                let Some(o) = w.object(arg, &p) else { continue };
                match o.get("index") {
                    None => w.report(field(&p, "index"), "is required"),
                    Some(n) => {
                        w.int(n, &field(&p, "index"), 0, 5);
                    }
                }
                match o.get("value") {
                    None => w.report(field(&p, "value"), "is required"),
                    Some(n) => {
                        w.int(n, &field(&p, "value"), 0, u64::MAX.into());
                    }
                }
                if let Some(n) = o.get("valueTwo") {
                    w.int(n, &field(&p, "valueTwo"), 0, u64::MAX.into());
                }
                match o.get("op") {
                    None => w.report(field(&p, "op"), "is required"),
                    Some(op) => {
                        w.one_of(
                            op,
                            &field(&p, "op"),
                            names::SECCOMP_OPERATORS,
                            "seccomp operator",
                        );
                    }
                }
            }
        }
    }
}
