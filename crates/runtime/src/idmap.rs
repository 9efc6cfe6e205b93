//! User namespace id maps, written by the parent into `/proc/<pid>/{uid,gid}_map`.

use std::fs;

use oci_spec::runtime::LinuxIdMapping;

use crate::error::{Result, RuntimeError};

/// Formats mappings the way the kernel reads them: `container host size` per line.
pub fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Maps `id` (inside the container) to the host id, if a mapping covers it.
// Only the unit tests map ids this way; the runtime hands whole maps to the kernel.
#[cfg(test)]
pub fn to_host(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size()).then(|| m.host_id() + off)
    })
}

/// The most lines a uid or gid map may have (the kernel's `UID_GID_MAP_MAX_EXTENTS`).
pub const MAX_MAP_LINES: usize = 340;

/// Checks `maps` (the config's `linux.<key>`) against the rules the kernel enforces when the
/// map is written, so a bad map is refused naming the rule instead of with `EINVAL`: at
/// most 340 lines, no empty range, no range past 2^32, and no two ranges overlapping inside
/// the container or on the host.
pub fn check_maps(maps: &[LinuxIdMapping], key: &str) -> Result<()> {
    let bad = |msg: String| RuntimeError::Unsupported {
        setting: format!("linux.{key}"),
        msg,
    };
    if maps.len() > MAX_MAP_LINES {
        return Err(bad(format!(
            "{} mappings; the kernel accepts at most {MAX_MAP_LINES}",
            maps.len()
        )));
    }
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(bad(format!("[{i}] has size 0")));
        }
        if end(m.container_id(), m.size()) > 1 << 32 || end(m.host_id(), m.size()) > 1 << 32 {
            return Err(bad(format!("[{i}] runs past id 4294967295")));
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let overlap =
                |a: u32, b: u32| u64::from(a) < end(b, o.size()) && u64::from(b) < end(a, m.size());
            if overlap(m.container_id(), o.container_id()) {
                return Err(bad(format!(
                    "[{j}] and [{i}] overlap inside the container (ids {}..{} and {}..{}); the kernel refuses overlapping ranges",
                    o.container_id(),
                    end(o.container_id(), o.size()),
                    m.container_id(),
                    end(m.container_id(), m.size())
                )));
            }
            if overlap(m.host_id(), o.host_id()) {
                return Err(bad(format!(
                    "[{j}] and [{i}] overlap on the host (ids {}..{} and {}..{}); the kernel refuses overlapping ranges",
                    o.host_id(),
                    end(o.host_id(), o.size()),
                    m.host_id(),
                    end(m.host_id(), m.size())
                )));
            }
        }
    }
    Ok(())
}

/// Writes the uid and gid maps of the process `pid`. The gid map is written without
/// `setgroups deny` because the runtime runs as root (CAP_SETGID in the parent namespace);
/// an empty list writes nothing.
pub fn write_maps(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    if uids.is_empty() || gids.is_empty() {
        return Err(RuntimeError::Unsupported {
            setting: "linux.uidMappings".into(),
            msg: "a new user namespace needs both linux.uidMappings and linux.gidMappings".into(),
        });
    }
    check_maps(uids, "uidMappings")?;
    check_maps(gids, "gidMappings")?;
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 {
        return write_maps_unprivileged(pid, uids, gids, euid, nix::unistd::getegid().as_raw());
    }
    for (file, maps, key) in [
        ("uid_map", uids, "uidMappings"),
        ("gid_map", gids, "gidMappings"),
    ] {
        let path = format!("/proc/{pid}/{file}");
        fs::write(&path, format_map(maps))
            .map_err(|e| RuntimeError::io(format!("linux.{key}: write {path}"), e))?;
    }
    Ok(())
}

/// True when `maps` is the single line mapping one id to `own`: what an unprivileged user may
/// write itself.
fn only_own(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.size() == 1 && m.host_id() == own)
}

/// The maps written by an ordinary user (rootless): its own ids alone it writes itself
/// (after `setgroups deny`, which the kernel requires for the gid map); anything wider goes
/// through the setuid `newuidmap`/`newgidmap` (Debian's uidmap package), which check
/// `/etc/subuid` and `/etc/subgid`.
fn write_maps_unprivileged(
    pid: i32,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
    euid: u32,
    egid: u32,
) -> Result<()> {
    if only_own(uids, euid) {
        let path = format!("/proc/{pid}/uid_map");
        fs::write(&path, format_map(uids))
            .map_err(|e| RuntimeError::io(format!("linux.uidMappings: write {path}"), e))?;
    } else {
        helper_map("newuidmap", pid, uids, "uidMappings")?;
    }
    if only_own(gids, egid) {
        let path = format!("/proc/{pid}/setgroups");
        fs::write(&path, "deny")
            .map_err(|e| RuntimeError::io(format!("linux.gidMappings: write {path}"), e))?;
        let path = format!("/proc/{pid}/gid_map");
        fs::write(&path, format_map(gids))
            .map_err(|e| RuntimeError::io(format!("linux.gidMappings: write {path}"), e))?;
    } else {
        helper_map("newgidmap", pid, gids, "gidMappings")?;
    }
    Ok(())
}

/// Runs `tool PID container host size ...` (newuidmap / newgidmap).
fn helper_map(tool: &str, pid: i32, maps: &[LinuxIdMapping], key: &str) -> Result<()> {
    let mut cmd = std::process::Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| RuntimeError::Unsupported {
        setting: format!("linux.{key}"),
        msg: format!("mapping more than your own id needs {tool} (Debian's uidmap package): {e}"),
    })?;
    if !out.status.success() {
        return Err(RuntimeError::Unsupported {
            setting: format!("linux.{key}"),
            msg: format!(
                "{tool} refused the mapping (see /etc/subuid and /etc/subgid): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    fn m(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(s)
            .build()
            .expect("map")
    }

    #[test]
    fn formats_lines() {
        assert_eq!(
            format_map(&[m(0, 1000, 1), m(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
    }

    #[test]
    fn maps_ids() {
        let maps = [m(0, 100000, 1000)];
        assert_eq!(to_host(&maps, 0), Some(100000));
        assert_eq!(to_host(&maps, 999), Some(100999));
        assert_eq!(to_host(&maps, 1000), None);
    }

    #[test]
    fn kernel_rules_are_named() {
        let err = |maps: &[LinuxIdMapping]| {
            check_maps(maps, "uidMappings")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(check_maps(&[m(0, 1000, 10), m(10, 2000, 5)], "uidMappings").is_ok());
        assert!(err(&[m(0, 1000, 10), m(5, 2000, 10)]).contains("overlap inside the container"));
        assert!(err(&[m(0, 1000, 10), m(20, 1005, 10)]).contains("overlap on the host"));
        assert!(err(&[m(0, 1000, 0)]).contains("size 0"));
        assert!(err(&[m(0, u32::MAX, 2)]).contains("past id"));
        let many: Vec<_> = (0..341).map(|i| m(i * 2, i * 2, 1)).collect();
        assert!(err(&many).contains("at most 340"));
        assert!(err(&[m(0, 1000, 10), m(5, 2000, 10)]).contains("linux.uidMappings"));
    }

    #[test]
    fn empty_maps_are_refused() {
        assert!(write_maps(1, &[], &[m(0, 0, 1)]).is_err());
    }
}
