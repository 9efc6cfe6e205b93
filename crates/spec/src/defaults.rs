//! Default configs in the shape `runc spec` (runc 1.1) writes, with hezi's spec version
//! and hostname.
//!
//! Like runc 1.1, the default joins no cgroup namespace (runc 1.2 added one); the
//! namespaces are pid, network, ipc, uts and mount.

use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxCapabilities, LinuxDeviceCgroup, LinuxIdMapping,
    LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, LinuxResources, Mount,
    PosixRlimitBuilder, PosixRlimitType, Process, Root, Spec, User,
};

use crate::SPEC_VERSION;

/// The hostname written by [`default_spec`].
pub const DEFAULT_HOSTNAME: &str = "hezi";

/// The `PATH` given to the default process.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths masked by default (runc's list).
pub const DEFAULT_MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

/// Paths made read-only by default (runc's list).
pub const DEFAULT_READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(destination.into());
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(source.into()));
    m.set_options(if options.is_empty() {
        None
    } else {
        Some(strings(options))
    });
    m
}

fn namespace(typ: LinuxNamespaceType) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ);
    ns.set_path(None);
    ns
}

fn id_mapping(host_id: u32) -> LinuxIdMapping {
    // oci-spec offers no setters here; its builder defaults every field and has no
    // validation, so `build` cannot fail.
    LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(host_id)
        .size(1u32)
        .build()
        .expect("LinuxIdMappingBuilder has defaults for every field and no validation")
}

fn default_process() -> Process {
    let caps: Capabilities = [
        Capability::AuditWrite,
        Capability::Kill,
        Capability::NetBindService,
    ]
    .into_iter()
    .collect();
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(caps.clone()));
    c.set_effective(Some(caps.clone()));
    c.set_permitted(Some(caps.clone()));
    c.set_ambient(Some(caps));
    c.set_inheritable(None);

    // As for id mappings: no setters, and a builder that cannot fail.
    let rlimit = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .hard(1024u64)
        .soft(1024u64)
        .build()
        .expect("PosixRlimitBuilder has defaults for every field and no validation");

    let mut user = User::default();
    user.set_uid(0);
    user.set_gid(0);

    let mut p = Process::default();
    p.set_terminal(Some(true));
    p.set_console_size(None);
    p.set_user(user);
    p.set_args(Some(vec!["sh".to_string()]));
    p.set_env(Some(vec![
        DEFAULT_PATH_ENV.to_string(),
        "TERM=xterm".to_string(),
    ]));
    p.set_cwd("/".into());
    p.set_capabilities(Some(c));
    p.set_rlimits(Some(vec![rlimit]));
    p.set_no_new_privileges(Some(true));
    p.set_apparmor_profile(None);
    p.set_selinux_label(None);
    p.set_scheduler(None);
    p.set_io_priority(None);
    p.set_oom_score_adj(None);
    p.set_command_line(None);
    p.set_exec_cpu_affinity(None);
    p
}

fn default_mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ]
}

fn default_linux() -> Linux {
    let mut deny_all = LinuxDeviceCgroup::default();
    deny_all.set_allow(false);
    deny_all.set_typ(None);
    deny_all.set_major(None);
    deny_all.set_minor(None);
    deny_all.set_access(Some("rwm".to_string()));
    let mut resources = LinuxResources::default();
    resources.set_devices(Some(vec![deny_all]));

    let mut linux = Linux::default();
    linux.set_resources(Some(resources));
    linux.set_namespaces(Some(
        [
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Mount,
        ]
        .into_iter()
        .map(namespace)
        .collect(),
    ));
    linux.set_masked_paths(Some(strings(DEFAULT_MASKED_PATHS)));
    linux.set_readonly_paths(Some(strings(DEFAULT_READONLY_PATHS)));
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    linux.set_sysctl(None);
    linux.set_cgroups_path(None);
    linux.set_devices(None);
    linux.set_seccomp(None);
    linux.set_rootfs_propagation(None);
    linux.set_mount_label(None);
    linux
}

/// The config `runc spec` writes: `sh` with a terminal, a read-only `rootfs`, the
/// standard mounts, masked and read-only paths, three capabilities, `RLIMIT_NOFILE`
/// 1024, a deny-all device cgroup and new pid, network, ipc, uts and mount namespaces.
pub fn default_spec() -> Spec {
    let mut root = Root::default();
    root.set_path("rootfs".into());
    root.set_readonly(Some(true));

    let mut spec = Spec::default();
    spec.set_version(SPEC_VERSION.to_string());
    spec.set_process(Some(default_process()));
    spec.set_root(Some(root));
    spec.set_hostname(Some(DEFAULT_HOSTNAME.to_string()));
    spec.set_domainname(None);
    spec.set_mounts(Some(default_mounts()));
    spec.set_annotations(None);
    spec.set_linux(Some(default_linux()));
    spec.set_hooks(None);
    spec
}

/// The config `runc spec --rootless` writes for a user with host ids `uid`/`gid`: as
/// [`default_spec`] but with a user namespace mapping container root to `uid`/`gid`, no
/// network namespace, `/sys` bind-mounted from the host (a new sysfs needs a network
/// namespace the user owns), no `gid=5` on devpts, and no cgroup resources.
pub fn rootless_spec(uid: u32, gid: u32) -> Spec {
    let mut spec = default_spec();
    if let Some(mounts) = spec.mounts_mut() {
        for m in mounts.iter_mut() {
            let dest = m.destination().to_string_lossy().into_owned();
            if dest == "/sys" {
                *m = mount(
                    "/sys",
                    "none",
                    "/sys",
                    &["rbind", "nosuid", "noexec", "nodev", "ro"],
                );
            } else if let Some(opts) = m.options_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    if let Some(linux) = spec.linux_mut() {
        linux.set_resources(None);
        linux.set_uid_mappings(Some(vec![id_mapping(uid)]));
        linux.set_gid_mappings(Some(vec![id_mapping(gid)]));
        if let Some(nss) = linux.namespaces_mut() {
            nss.retain(|ns| ns.typ() != LinuxNamespaceType::Network);
            nss.push(namespace(LinuxNamespaceType::User));
        }
    }
    spec
}

/// `spec` as `config.json` text: tab-indented like runc's, with the capability lists
/// sorted (oci-spec keeps them in a hash set, whose order would change between runs).
pub fn config_json(spec: &Spec) -> Result<String, serde_json::Error> {
    use serde::Serialize;

    let mut value = serde_json::to_value(spec)?;
    if let Some(sets) = value
        .pointer_mut("/process/capabilities")
        .and_then(serde_json::Value::as_object_mut)
    {
        for list in sets.values_mut() {
            if let Some(items) = list.as_array_mut() {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    value.serialize(&mut ser)?;
    out.push(b'\n');
    // serde_json writes only valid UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_has_runc_shape() {
        let s = default_spec();
        assert_eq!(s.version(), SPEC_VERSION);
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(s.mounts().as_ref().unwrap().len(), 7);
        let nss: Vec<_> = s
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect();
        assert_eq!(nss.len(), 5);
        assert!(!nss.contains(&LinuxNamespaceType::Cgroup));
    }

    #[test]
    fn config_json_is_stable_and_round_trips() {
        let a = config_json(&default_spec()).unwrap();
        let b = config_json(&default_spec()).unwrap();
        assert_eq!(a, b);
        assert!(a.contains("\t\"ociVersion\": \"1.2.1\""), "{a}");
        let back: Spec = serde_json::from_str(&a).unwrap();
        assert_eq!(back, default_spec());
    }

    #[test]
    fn rootless_maps_ids_and_drops_network() {
        let s = rootless_spec(1000, 1001);
        let l = s.linux().as_ref().unwrap();
        assert_eq!(l.uid_mappings().as_ref().unwrap()[0].host_id(), 1000);
        assert_eq!(l.gid_mappings().as_ref().unwrap()[0].host_id(), 1001);
        let nss: Vec<_> = l
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect();
        assert!(nss.contains(&LinuxNamespaceType::User));
        assert!(!nss.contains(&LinuxNamespaceType::Network));
        assert!(l.resources().is_none());
        let sys = s
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.destination().to_str() == Some("/sys"))
            .unwrap();
        assert_eq!(sys.typ().as_deref(), Some("none"));
    }
}
