//! `linux.resources` as systemd unit properties (what runc also tells systemd, so that a
//! `systemctl daemon-reload` re-applies the container's limits instead of resetting them).
//!
//! Only the settings systemd has a property for are mapped; the cgroupfs writes that follow
//! (the v1/v2 backend's `apply`) set everything, these included.

use crate::devices::{self, DevType, Rule, ACC_MKNOD, ACC_READ, ACC_WRITE};
use crate::{convert, CgroupError, Hierarchy, LinuxResources};

use super::dbus::Value;

/// How the container's device rules are enforced under systemd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePlan {
    /// No device rules in the config: leave systemd's policy alone.
    Untouched,
    /// systemd enforces them (`DevicePolicy=strict` with these `DeviceAllow` entries); on v2
    /// hezi then attaches no program of its own (one filter, systemd's).
    Systemd(Vec<(String, String)>),
    /// systemd cannot express them (a deny after an allow, a major without a name in
    /// /proc/devices): `DevicePolicy=auto`, and hezi's own filter enforces them.
    Hezi,
}

/// One `(name, value)` unit property.
pub type Property = (String, Value);

fn prop(name: &str, v: Value) -> Property {
    (name.to_string(), v)
}

/// systemd's "infinity".
const INFINITY: u64 = u64::MAX;

/// The unit properties for `r` on `hierarchy`, and how devices are handled.
pub fn for_resources(
    r: &LinuxResources,
    hierarchy: Hierarchy,
    proc_devices: &str,
) -> Result<(Vec<Property>, DevicePlan), CgroupError> {
    let v2 = hierarchy == Hierarchy::Unified;
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        let given = m.limit().filter(|l| *l != 0);
        if let Some(limit) = given {
            let v = if limit < 0 { INFINITY } else { limit as u64 };
            out.push(prop(
                if v2 { "MemoryMax" } else { "MemoryLimit" },
                Value::U64(v),
            ));
        }
        if v2 {
            if let Some(low) = m.reservation().filter(|l| *l > 0) {
                out.push(prop("MemoryLow", Value::U64(low as u64)));
            }
            let swap = convert::memory_swap_to_v2(m.swap(), given).map_err(|reason| {
                CgroupError::Invalid {
                    setting: "memory.swap".into(),
                    value: format!("{:?}", m.swap()),
                    reason,
                }
            })?;
            if let Some(s) = swap {
                let v = if s == "max" {
                    INFINITY
                } else {
                    s.parse().unwrap_or(INFINITY)
                };
                out.push(prop("MemorySwapMax", Value::U64(v)));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            if v2 {
                let w = convert::cpu_shares_to_weight(shares);
                out.push(prop("CPUWeight", Value::U64(w)));
            } else {
                out.push(prop("CPUShares", Value::U64(shares)));
            }
        }
        if c.quota().is_some() || c.period().is_some() {
            let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
            let per_sec = match c.quota() {
                Some(q) if q > 0 => quota_per_sec(q as u64, period),
                _ => INFINITY,
            };
            out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
            if c.period().is_some() {
                out.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
            }
        }
        if v2 {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop("AllowedCPUs", bitmask("cpu.cpus", cpus)?));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop("AllowedMemoryNodes", bitmask("cpu.mems", mems)?));
            }
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit() as u64
        } else {
            INFINITY
        };
        out.push(prop("TasksMax", Value::U64(v)));
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w > 0)
    {
        if v2 {
            let w = convert::blkio_weight_to_io_weight(u64::from(w));
            out.push(prop("IOWeight", Value::U64(w)));
        } else {
            out.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    let plan = match r.devices() {
        None => DevicePlan::Untouched,
        Some(d) => device_plan(&devices::normalize(d)?, proc_devices),
    };
    match &plan {
        DevicePlan::Untouched => {}
        DevicePlan::Systemd(allow) => {
            out.push(prop("DevicePolicy", Value::str("strict")));
            let items = allow
                .iter()
                .map(|(p, a)| Value::Struct(vec![Value::str(p), Value::str(a)]))
                .collect();
            out.push(prop("DeviceAllow", Value::array("(ss)", items)));
        }
        DevicePlan::Hezi => {
            out.push(prop("DevicePolicy", Value::str("auto")));
            out.push(prop("DeviceAllow", Value::array("(ss)", vec![])));
        }
    }
    Ok((out, plan))
}

/// CFS quota per second of CPU time, rounded up to systemd's 10 ms (1 %) granularity so that
/// the quota systemd writes is never below the configured one.
fn quota_per_sec(quota: u64, period: u64) -> u64 {
    let us = quota.saturating_mul(1_000_000) / period.max(1);
    us.div_ceil(10_000).saturating_mul(10_000)
}

/// A cpuset list (`0-3,5`) as systemd's byte-array bitmask (bit `n % 8` of byte `n / 8`).
pub fn bitmask(setting: &str, list: &str) -> Result<Value, CgroupError> {
    let invalid = |reason: &str| CgroupError::Invalid {
        setting: setting.into(),
        value: list.into(),
        reason: reason.into(),
    };
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) else {
            return Err(invalid("not a list of numbers and ranges"));
        };
        if a > b || b >= 8192 {
            return Err(invalid("range out of order or above 8191"));
        }
        for n in a..=b {
            if bytes.len() <= n / 8 {
                bytes.resize(n / 8 + 1, 0);
            }
            bytes[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(Value::array(
        "y",
        bytes.into_iter().map(Value::Byte).collect(),
    ))
}

/// Decides who enforces `rules` (in order, last match wins, default deny).
pub fn device_plan(rules: &[Rule], proc_devices: &str) -> DevicePlan {
    // Everything before the last deny-everything is overridden by it.
    let start = rules
        .iter()
        .rposition(|r| !r.allow && r.is_everything())
        .map_or(0, |i| i + 1);
    let tail = &rules[start..];
    if tail.iter().any(|r| !r.allow) {
        // A partial deny after some allow: not a plain allow list.
        return DevicePlan::Hezi;
    }
    if tail.iter().any(Rule::is_everything) {
        // Allow everything: systemd's "auto" with no list does the same, hezi writes nothing
        // more restrictive.
        return DevicePlan::Hezi;
    }
    let mut allow = Vec::new();
    for r in tail {
        let access = access_str(r.access);
        if access.is_empty() {
            continue;
        }
        let kinds: &[&str] = match r.typ {
            DevType::Char => &["char"],
            DevType::Block => &["block"],
            DevType::All => &["char", "block"],
        };
        for kind in kinds {
            let spec = match (r.major, r.minor) {
                (Some(ma), Some(mi)) => format!("/dev/{kind}/{ma}:{mi}"),
                (None, None) => format!("{kind}-*"),
                (Some(ma), None) => match major_name(proc_devices, kind, ma) {
                    Some(name) => format!("{kind}-{name}"),
                    None => return DevicePlan::Hezi,
                },
                (None, Some(_)) => return DevicePlan::Hezi,
            };
            allow.push((spec, access.clone()));
        }
    }
    DevicePlan::Systemd(allow)
}

fn access_str(a: u32) -> String {
    let mut s = String::new();
    for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
        if a & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The name /proc/devices gives major `major` in the `kind` ("char"/"block") section, when it
/// is one plain name that no other major shares (systemd's `char-NAME` allows every major so
/// named).
fn major_name(proc_devices: &str, kind: &str, major: u32) -> Option<String> {
    let header = if kind == "char" {
        "Character devices:"
    } else {
        "Block devices:"
    };
    let mut in_section = false;
    let mut names: Vec<(u32, &str)> = Vec::new();
    for line in proc_devices.lines() {
        let line = line.trim();
        if line.ends_with(':') {
            in_section = line == header;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((num, name)) = line.split_once(char::is_whitespace) {
            if let Ok(n) = num.parse::<u32>() {
                names.push((n, name.trim()));
            }
        }
    }
    let mine: Vec<&str> = names
        .iter()
        .filter(|(n, _)| *n == major)
        .map(|(_, s)| *s)
        .collect();
    let [name] = mine.as_slice() else {
        return None;
    };
    let shared = names.iter().any(|(n, s)| s == name && *n != major);
    (!name.contains('/') && !name.is_empty() && !shared).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroup;

    const PROC_DEVICES: &str = "Character devices:\n  1 mem\n  4 /dev/vc/0\n  4 tty\n  5 /dev/tty\n  5 /dev/console\n136 pts\n180 usb\n189 usb_device\n\nBlock devices:\n  8 sd\n259 blkext\n";

    fn rules(json: &str) -> Vec<Rule> {
        let r: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
        devices::normalize(&r).unwrap()
    }

    #[test]
    fn runc_default_rules_become_an_allow_list() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","access":"m"},
                {"allow":true,"type":"c","major":136,"access":"rwm"},
                {"allow":true,"type":"a","major":8,"minor":0,"access":"r"}]"#,
        );
        let DevicePlan::Systemd(list) = device_plan(&r, PROC_DEVICES) else {
            panic!("expected an allow list")
        };
        let want: Vec<(String, String)> = [
            ("/dev/char/1:3", "rwm"),
            ("char-*", "m"),
            ("char-pts", "rwm"),
            ("/dev/char/8:0", "r"),
            ("/dev/block/8:0", "r"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(list, want);
    }

    #[test]
    fn what_systemd_cannot_say_stays_with_hezi() {
        // A deny after an allow.
        let r = rules(
            r#"[{"allow":true,"type":"c","major":1,"access":"rwm"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]"#,
        );
        assert_eq!(device_plan(&r, PROC_DEVICES), DevicePlan::Hezi);
        // A major whose name has a slash, or is shared (usb vs usb_device is fine).
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":5,"access":"rwm"}]"#,
        );
        assert_eq!(device_plan(&r, PROC_DEVICES), DevicePlan::Hezi);
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":4,"access":"rwm"}]"#,
        );
        assert_eq!(device_plan(&r, PROC_DEVICES), DevicePlan::Hezi);
        // Allow everything.
        let r = rules(r#"[{"allow":true,"access":"rwm"}]"#);
        assert_eq!(device_plan(&r, PROC_DEVICES), DevicePlan::Hezi);
        // An unknown major.
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"b","major":77,"access":"r"}]"#,
        );
        assert_eq!(device_plan(&r, PROC_DEVICES), DevicePlan::Hezi);
    }

    #[test]
    fn bitmasks_and_quota() {
        assert_eq!(
            bitmask("cpu.cpus", "0-2,9").unwrap(),
            Value::array("y", vec![Value::Byte(0b111), Value::Byte(0b10)])
        );
        assert!(bitmask("cpu.cpus", "3-1").is_err());
        assert!(bitmask("cpu.cpus", "x").is_err());
        assert_eq!(quota_per_sec(50_000, 100_000), 500_000);
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
    }

    #[test]
    fn properties_per_hierarchy() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":67108864,"swap":134217728},"cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0"},"pids":{"limit":32},"blockIO":{"weight":500}}"#,
        )
        .unwrap();
        let (v2, plan) = for_resources(&r, Hierarchy::Unified, PROC_DEVICES).unwrap();
        assert_eq!(plan, DevicePlan::Untouched);
        let get =
            |ps: &[Property], k: &str| ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get(&v2, "MemoryMax"), Some(Value::U64(67108864)));
        assert_eq!(get(&v2, "MemorySwapMax"), Some(Value::U64(67108864)));
        assert_eq!(get(&v2, "CPUWeight"), Some(Value::U64(39)));
        assert_eq!(get(&v2, "CPUQuotaPerSecUSec"), Some(Value::U64(500_000)));
        assert_eq!(get(&v2, "TasksMax"), Some(Value::U64(32)));
        assert_eq!(get(&v2, "IOWeight"), Some(Value::U64(4950)));
        assert!(get(&v2, "AllowedCPUs").is_some());
        let (v1, _) = for_resources(&r, Hierarchy::Hybrid, PROC_DEVICES).unwrap();
        assert_eq!(get(&v1, "MemoryLimit"), Some(Value::U64(67108864)));
        assert_eq!(get(&v1, "CPUShares"), Some(Value::U64(1024)));
        assert_eq!(get(&v1, "BlockIOWeight"), Some(Value::U64(500)));
        assert!(get(&v1, "MemoryMax").is_none() && get(&v1, "AllowedCPUs").is_none());
    }
}
