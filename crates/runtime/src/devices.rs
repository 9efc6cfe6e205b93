//! The device cgroup policy the runtime adds to `linux.resources.devices` (as runc's
//! specconv does): after the config's own rules come allow rules for the default devices
//! (`/dev/null`, `zero`, `full`, `random`, `urandom`, `tty`, `/dev/pts/*`, `ptmx`, tun) and for
//! every `linux.devices` entry, plus `mknod` of any node (creating is harmless; access is
//! what the rules guard). The last matching rule wins, so a config's deny-all stays in force
//! for everything else.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// runc's default allowed devices.
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
    ]
}

/// `resources` with the default rules and one allow rule per `linux.devices` entry appended.
/// Nothing is added when the config has no device rules at all (no device policy asked).
pub fn with_default_devices(resources: &LinuxResources, devices: &[LinuxDevice]) -> LinuxResources {
    let mut r = resources.clone();
    let Some(mut rules) = r.devices().clone() else {
        return r;
    };
    rules.extend(default_rules());
    for d in devices {
        rules.push(rule(d.typ(), Some(d.major()), Some(d.minor()), "rwm"));
    }
    r.set_devices(Some(rules));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_config_rules() {
        let mut deny = LinuxDeviceCgroup::default();
        deny.set_allow(false);
        deny.set_access(Some("rwm".into()));
        let mut res = LinuxResources::default();
        res.set_devices(Some(vec![deny.clone()]));
        let mut fuse = LinuxDevice::default();
        fuse.set_typ(LinuxDeviceType::C);
        fuse.set_major(10);
        fuse.set_minor(229);
        let out = with_default_devices(&res, &[fuse]);
        let rules = out.devices().clone().expect("rules");
        assert_eq!(rules[0], deny);
        assert!(rules
            .iter()
            .any(|r| r.major() == Some(1) && r.minor() == Some(3) && r.allow()));
        let last = rules.last().expect("last");
        assert_eq!((last.major(), last.minor()), (Some(10), Some(229)));
    }

    #[test]
    fn no_rules_no_policy() {
        let res = LinuxResources::default();
        assert!(with_default_devices(&res, &[]).devices().is_none());
    }
}
