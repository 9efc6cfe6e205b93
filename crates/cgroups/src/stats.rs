//! Usage statistics, serialized with the field names of runc's `events --stats` JSON
//! (runc's `types.Stats`), so tools that read runc's output read hezi's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// All statistics of one cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: Cpu,
    /// Memory usage and limits.
    pub memory: Memory,
    /// Process counts.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
    /// Huge pages per page size (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// cpuset settings (runc's `cpuset` section). On v1 absent when the controller is not
    /// mounted; on v2 always present (lists from the `.effective` files, flags 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<CpuSet>,
}

/// The cpuset controller's settings, with runc's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuSet {
    /// CPUs the cgroup may use (`cpuset.cpus`, expanded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// `cpuset.cpu_exclusive`.
    pub cpu_exclusive: u64,
    /// Memory nodes the cgroup may use (`cpuset.mems`, expanded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// `cpuset.mem_hardwall`.
    pub mem_hardwall: u64,
    /// `cpuset.mem_exclusive`.
    pub mem_exclusive: u64,
    /// `cpuset.memory_migrate`.
    pub memory_migrate: u64,
    /// `cpuset.memory_spread_page`.
    pub memory_spread_page: u64,
    /// `cpuset.memory_spread_slab`.
    pub memory_spread_slab: u64,
    /// `cpuset.memory_pressure`.
    pub memory_pressure: u64,
    /// `cpuset.sched_load_balance`.
    pub sched_load_balance: u64,
    /// `cpuset.sched_relax_domain_level` (-1 = system default; 0 on v2, which has no such
    /// file, as runc reports it there).
    pub sched_relax_domain_level: i64,
}

/// Expands a cpuset list (`0-2,5`) into its members; `None` for malformed text.
pub fn parse_cpuset_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total CPU time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per-CPU total time (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per-CPU kernel time (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per-CPU user time (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Kernel-mode time.
    #[serde(default)]
    pub kernel: u64,
    /// User-mode time.
    #[serde(default)]
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    /// Enforcement periods elapsed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(default, rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total time throttled, nanoseconds.
    #[serde(default, rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Page cache bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory usage.
    pub usage: MemoryEntry,
    /// Memory + swap (v1) or swap (v2) usage.
    pub swap: MemoryEntry,
    /// Kernel memory (v1 kmem).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 kmem.tcp).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// One memory counter with its limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Limit in bytes (`u64::MAX` when unlimited, as runc reports).
    #[serde(default)]
    pub limit: u64,
    /// Current usage in bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage in bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    #[serde(default)]
    pub failcnt: u64,
}

/// Process counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    /// Processes now.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// The limit (0 when unlimited, as runc reports).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One block I/O counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Block I/O statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blkio {
    /// Bytes transferred.
    #[serde(
        default,
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// I/O operations.
    #[serde(
        default,
        rename = "ioServicedRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// Queued operations (v1 CFQ/BFQ).
    #[serde(
        default,
        rename = "ioQueueRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_queued_recursive: Vec<BlkioEntry>,
    /// Service time (v1 CFQ/BFQ).
    #[serde(
        default,
        rename = "ioServiceTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    /// Wait time (v1 CFQ/BFQ).
    #[serde(
        default,
        rename = "ioWaitTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    /// Merged operations (v1 CFQ/BFQ).
    #[serde(
        default,
        rename = "ioMergedRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_merged_recursive: Vec<BlkioEntry>,
    /// Time (v1 CFQ/BFQ).
    #[serde(
        default,
        rename = "ioTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_time_recursive: Vec<BlkioEntry>,
    /// Sectors (v1 CFQ/BFQ).
    #[serde(
        default,
        rename = "sectorsRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sectors_recursive: Vec<BlkioEntry>,
}

/// Huge page usage of one page size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hugetlb {
    /// Bytes in use.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak bytes (v1 only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocation failures.
    #[serde(default)]
    pub failcnt: u64,
}

/// One line of `events` output: `{"type":"stats"|"oom","id":..,"data":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The container id.
    pub id: String,
    /// The stats (absent for `oom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// Parses a blkio v1 recursive file (`8:0 Read 4096` lines, `Total N` ignored).
pub fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dev, op, value) = match f.as_slice() {
            [dev, op, value] => (*dev, (*op).to_string(), *value),
            [dev, value] if dev.contains(':') => (*dev, String::new(), *value),
            _ => continue,
        };
        let Some((ma, mi)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor), Ok(value)) = (ma.parse(), mi.parse(), value.parse()) else {
            continue;
        };
        out.push(BlkioEntry {
            major,
            minor,
            op,
            value,
        });
    }
    out
}

/// Parses v2 `io.stat` (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`) into runc's
/// (bytes, ios) entry lists.
pub fn parse_io_stat_v2(text: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse::<u64>(), mi.parse::<u64>()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "dbytes" => (&mut bytes, "Discard"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                "dios" => (&mut ios, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    (bytes, ios)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpuset_lists_parse_like_the_kernel_prints_them() {
        assert_eq!(parse_cpuset_list("0-2,5\n"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpuset_list("3"), Some(vec![3]));
        assert_eq!(parse_cpuset_list(""), Some(vec![]));
        assert_eq!(parse_cpuset_list("2-1"), None);
        assert_eq!(parse_cpuset_list("a"), None);
    }

    use super::*;

    #[test]
    fn event_json_uses_runc_field_names() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5;
        s.cpu.throttling.throttled_periods = 2;
        s.memory.kernel_tcp.limit = 7;
        s.blkio.io_service_bytes_recursive.push(BlkioEntry {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 10,
        });
        let ev = Event {
            kind: "stats".into(),
            id: "c1".into(),
            data: Some(s),
        };
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], "c1");
        assert_eq!(v["data"]["cpu"]["usage"]["total"], 5);
        assert_eq!(v["data"]["cpu"]["throttling"]["throttledPeriods"], 2);
        assert_eq!(v["data"]["memory"]["kernelTCP"]["limit"], 7);
        assert_eq!(
            v["data"]["blkio"]["ioServiceBytesRecursive"][0]["op"],
            "Read"
        );
        assert!(v["data"]["hugetlb"].is_object());
        assert!(v["data"]["pids"].is_object());
        let oom = Event {
            kind: "oom".into(),
            id: "c1".into(),
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&oom).unwrap(),
            r#"{"type":"oom","id":"c1"}"#
        );
    }

    #[test]
    fn parses_blkio_files() {
        let v1 = parse_blkio_v1("8:0 Read 4096\n8:0 Write 0\n8:16 Total 12\nTotal 4108\n");
        assert_eq!(v1.len(), 3);
        assert_eq!(
            (v1[0].major, v1[0].minor, v1[0].op.as_str(), v1[0].value),
            (8, 0, "Read", 4096)
        );
        let (b, i) =
            parse_io_stat_v2("259:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].op, "Write");
        assert_eq!(b[1].value, 200);
        assert_eq!(i[0].value, 1);
    }
}
