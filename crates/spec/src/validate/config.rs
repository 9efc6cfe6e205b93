//! Checks of the platform-neutral parts of `config.json`: ociVersion, root, process,
//! hostname, mounts, hooks and annotations. The `linux` object is checked in
//! [`super::linux`].

use std::collections::HashSet;

use serde_json::Value;

use super::linux;
use super::walk::{field, index, Walker};
use crate::names;

/// Checks the whole document.
pub(super) fn check(w: &mut Walker, doc: &Value) {
    let Some(top) = w.object(doc, "") else { return };

    match top.get("ociVersion") {
        None => w.report("ociVersion", "is required"),
        Some(v) => {
            if let Some(s) = w.string(v, "ociVersion") {
                check_version(w, s);
            }
        }
    }

    match top.get("root") {
        None => w.report("root", "is required on Linux"),
        Some(v) => check_root(w, v),
    }

    if let Some(v) = top.get("process") {
        check_process(w, v);
    }

    let namespaces = linux::namespace_types(doc);
    for key in ["hostname", "domainname"] {
        if let Some(v) = top.get(key) {
            if let Some(s) = w.string(v, key) {
                if !s.is_empty() && !namespaces.contains("uts") {
                    w.report(
                        key,
                        "setting it requires a uts namespace in linux.namespaces",
                    );
                }
            }
        }
    }

    if let Some(v) = top.get("mounts") {
        check_mounts(w, v);
    }
    if let Some(v) = top.get("hooks") {
        check_hooks(w, v);
    }
    if let Some(v) = top.get("annotations") {
        check_annotations(w, v);
    }
    if let Some(v) = top.get("linux") {
        linux::check(w, v, &namespaces);
    }
}

/// True if `s` is a semantic version (`MAJOR.MINOR.PATCH[-pre][+build]`).
pub(crate) fn is_semver(s: &str) -> bool {
    let (core, _build) = s.split_once('+').unwrap_or((s, ""));
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    let ident_ok =
        |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| p.split('.').all(ident_ok))
        && s.split_once('+')
            .is_none_or(|(_, b)| b.split('.').all(ident_ok))
}

fn check_version(w: &mut Walker, s: &str) {
    if !is_semver(s) {
        w.report(
            "ociVersion",
            format!("{s:?} is not a semantic version (MAJOR.MINOR.PATCH)"),
        );
    } else if !s.starts_with("1.") {
        w.report(
            "ociVersion",
            format!("{s:?} is not supported: hezi implements runtime-spec 1.x"),
        );
    }
}

fn check_root(w: &mut Walker, v: &Value) {
    let Some(root) = w.object(v, "root") else {
        return;
    };
    match root.get("path") {
        None => w.report("root.path", "is required"),
        Some(p) => {
            if let Some(s) = w.string(p, "root.path") {
                if s.is_empty() {
                    w.report("root.path", "must not be empty");
                }
            }
        }
    }
    if let Some(r) = root.get("readonly") {
        w.boolean(r, "root.readonly");
    }
}

fn check_process(w: &mut Walker, v: &Value) {
    let Some(p) = w.object(v, "process") else {
        return;
    };
    let terminal = p
        .get("terminal")
        .and_then(|t| w.boolean(t, "process.terminal"));
    if let Some(cs) = p.get("consoleSize") {
        if let Some(o) = w.object(cs, "process.consoleSize") {
            for k in ["height", "width"] {
                match o.get(k) {
                    Some(n) => {
                        w.int(n, &format!("process.consoleSize.{k}"), 0, u32::MAX.into());
                    }
                    None => w.report(format!("process.consoleSize.{k}"), "is required"),
                }
            }
        }
        if terminal != Some(true) {
            w.report(
                "process.consoleSize",
                "is only allowed when process.terminal is true",
            );
        }
    }
    match p.get("user") {
        None => w.report("process.user", "is required on Linux"),
        Some(u) => check_user(w, u),
    }
    match p.get("args") {
        None => w.report("process.args", "is required and must not be empty"),
        Some(a) => {
            let args = w.strings(a, "process.args");
            if args.is_empty() && a.is_array() {
                w.report("process.args", "must not be empty");
            }
            if let Some((path, first)) = args.first() {
                if first.is_empty() {
                    w.report(path.clone(), "the program to run must not be empty");
                }
            }
        }
    }
    if let Some(e) = p.get("env") {
        for (path, s) in w.strings(e, "process.env") {
            match s.split_once('=') {
                Some((k, _)) if !k.is_empty() => {}
                _ => w.report(path, format!("{s:?} must have the form KEY=value")),
            }
        }
    }
    match p.get("cwd") {
        None => w.report("process.cwd", "is required"),
        Some(c) => w.absolute(c, "process.cwd"),
    }
    if let Some(c) = p.get("capabilities") {
        if let Some(sets) = w.object(c, "process.capabilities") {
            for (set, list) in sets {
                let path = field("process.capabilities", set);
                if ![
                    "bounding",
                    "effective",
                    "inheritable",
                    "permitted",
                    "ambient",
                ]
                .contains(&set.as_str())
                {
                    w.report(path, "is not a capability set (bounding, effective, inheritable, permitted, ambient)");
                    continue;
                }
                for (p, name) in w.strings(list, &path) {
                    if !names::CAPABILITIES.contains(&name) {
                        w.report(
                            p,
                            format!("{name:?} is not a valid capability name (CAP_*)"),
                        );
                    }
                }
            }
        }
    }
    if let Some(r) = p.get("rlimits") {
        check_rlimits(w, r);
    }
    for key in ["noNewPrivileges"] {
        if let Some(b) = p.get(key) {
            w.boolean(b, &field("process", key));
        }
    }
    for key in ["apparmorProfile", "selinuxLabel"] {
        if let Some(s) = p.get(key) {
            w.string(s, &field("process", key));
        }
    }
    if let Some(o) = p.get("oomScoreAdj") {
        w.int(o, "process.oomScoreAdj", -1000, 1000);
    }
    if let Some(io) = p.get("ioPriority") {
        if let Some(o) = w.object(io, "process.ioPriority") {
            match o.get("class") {
                None => w.report("process.ioPriority.class", "is required"),
                Some(c) => {
                    w.one_of(
                        c,
                        "process.ioPriority.class",
                        &["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"],
                        "I/O priority class",
                    );
                }
            }
            if let Some(n) = o.get("priority") {
                w.int(n, "process.ioPriority.priority", 0, 7);
            }
        }
    }
    if let Some(s) = p.get("scheduler") {
        if let Some(o) = w.object(s, "process.scheduler") {
            match o.get("policy") {
                None => w.report("process.scheduler.policy", "is required"),
                Some(pol) => {
                    w.one_of(
                        pol,
                        "process.scheduler.policy",
                        &[
                            "SCHED_OTHER",
                            "SCHED_FIFO",
                            "SCHED_RR",
                            "SCHED_BATCH",
                            "SCHED_ISO",
                            "SCHED_IDLE",
                            "SCHED_DEADLINE",
                        ],
                        "scheduler policy",
                    );
                }
            }
            if let Some(n) = o.get("nice") {
                w.int(n, "process.scheduler.nice", -20, 19);
            }
        }
    }
}

fn check_user(w: &mut Walker, v: &Value) {
    let Some(u) = w.object(v, "process.user") else {
        return;
    };
    for k in ["uid", "gid"] {
        let path = field("process.user", k);
        match u.get(k) {
            None => w.report(path, "is required on Linux"),
            Some(n) => {
                w.int(n, &path, 0, u32::MAX.into());
            }
        }
    }
    if let Some(m) = u.get("umask") {
        w.int(m, "process.user.umask", 0, 0o777);
    }
    if let Some(g) = u.get("additionalGids") {
        if let Some(items) = w.array(g, "process.user.additionalGids") {
            for (i, n) in items.iter().enumerate() {
                w.int(
                    n,
                    &index("process.user.additionalGids", i),
                    0,
                    u32::MAX.into(),
                );
            }
        }
    }
}

fn check_rlimits(w: &mut Walker, v: &Value) {
    let Some(items) = w.array(v, "process.rlimits") else {
        return;
    };
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("process.rlimits", i);
        let Some(o) = w.object(item, &path) else {
            continue;
        };
        match o.get("type") {
            None => w.report(field(&path, "type"), "is required"),
            Some(t) => {
                if let Some(name) = w.one_of(
                    t,
                    &field(&path, "type"),
                    names::RLIMITS,
                    "rlimit type (RLIMIT_*)",
                ) {
                    if !seen.insert(name.clone()) {
                        w.report(
                            field(&path, "type"),
                            format!("{name} is set more than once"),
                        );
                    }
                }
            }
        }
        let mut limit = |k: &str| match o.get(k) {
            None => {
                w.report(field(&path, k), "is required");
                None
            }
            Some(n) => w.int(n, &field(&path, k), 0, u64::MAX.into()),
        };
        let (soft, hard) = (limit("soft"), limit("hard"));
        if let (Some(s), Some(h)) = (soft, hard) {
            if s > h {
                w.report(
                    field(&path, "soft"),
                    format!("soft limit {s} is above the hard limit {h}"),
                );
            }
        }
    }
}

fn check_mounts(w: &mut Walker, v: &Value) {
    let Some(items) = w.array(v, "mounts") else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = index("mounts", i);
        let Some(m) = w.object(item, &path) else {
            continue;
        };
        match m.get("destination") {
            None => w.report(field(&path, "destination"), "is required"),
            Some(d) => w.absolute(d, &field(&path, "destination")),
        }
        for k in ["type", "source"] {
            if let Some(s) = m.get(k) {
                w.string(s, &field(&path, k));
            }
        }
        if let Some(o) = m.get("options") {
            w.strings(o, &field(&path, "options"));
        }
        for k in ["uidMappings", "gidMappings"] {
            if let Some(maps) = m.get(k) {
                linux::check_id_mappings(w, maps, &field(&path, k));
            }
        }
    }
}

fn check_hooks(w: &mut Walker, v: &Value) {
    let Some(hooks) = w.object(v, "hooks") else {
        return;
    };
    for (kind, list) in hooks {
        let path = field("hooks", kind);
        if !names::HOOKS.contains(&kind.as_str()) {
            w.report(
                path,
                format!("{kind:?} is not a hook kind ({})", names::HOOKS.join(", ")),
            );
            continue;
        }
        let Some(items) = w.array(list, &path) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let hp = index(&path, i);
            let Some(h) = w.object(item, &hp) else {
                continue;
            };
            match h.get("path") {
                None => w.report(field(&hp, "path"), "is required"),
                Some(p) => w.absolute(p, &field(&hp, "path")),
            }
            for k in ["args", "env"] {
                if let Some(a) = h.get(k) {
                    w.strings(a, &field(&hp, k));
                }
            }
            if let Some(t) = h.get("timeout") {
                w.int(t, &field(&hp, "timeout"), 1, i64::MAX.into());
            }
        }
    }
}

fn check_annotations(w: &mut Walker, v: &Value) {
    let Some(map) = w.object(v, "annotations") else {
        return;
    };
    for (k, val) in map {
        let path = field("annotations", k);
        if k.is_empty() {
            w.report("annotations", "keys must not be empty");
        }
        w.string(val, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn semver() {
        for ok in [
            "1.0.0",
            "1.2.1",
            "1.0.2-dev",
            "1.0.0-rc.1+build.5",
            "10.20.30",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "", "1", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0+", "v1.0.0", "1.a.0",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
