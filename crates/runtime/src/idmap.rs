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
pub fn to_host(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size()).then(|| m.host_id() + off)
    })
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
    fn empty_maps_are_refused() {
        assert!(write_maps(1, &[], &[m(0, 0, 1)]).is_err());
    }
}
