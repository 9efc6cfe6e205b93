//! `hezi update`: change the resource limits of a running container, from a LinuxResources
//! JSON (`--resources FILE`, `-` for stdin) and/or runc's individual flags (flags win).
//! Only the settings given are written; the rest stay as they are.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use hezi_runtime::{Container, Status};
use hezi_spec::oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources,
};

use crate::cli::{GlobalOpts, UpdateArgs};

/// Runs `hezi update`.
pub fn run(g: &GlobalOpts, a: &UpdateArgs) -> anyhow::Result<u8> {
    let c = Container::load(&g.root, &a.id)?;
    let _lock = c.lock()?;
    if matches!(c.status(), Status::Stopped) {
        anyhow::bail!("cannot update container {}: container not running", a.id);
    }
    let r = resources(a)?;
    let cg = c.cgroup()?;
    cg.apply(&r)
        .with_context(|| format!("update container {}", a.id))?;
    Ok(0)
}

/// The resources to write: the JSON document (if any) with the flags laid over it.
pub fn resources(a: &UpdateArgs) -> anyhow::Result<LinuxResources> {
    let mut r = match a.resources.as_deref() {
        None => LinuxResources::default(),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read resources from stdin")?;
            hezi_cgroups::resources_from_json(&s, Path::new("<stdin>"))?
        }
        Some(f) => {
            let s =
                std::fs::read_to_string(f).with_context(|| format!("read resources file {f}"))?;
            hezi_cgroups::resources_from_json(&s, Path::new(f))?
        }
    };
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        // runc's update takes only the resource limits and ignores `devices`; containerd's CRI
        // sends the container's whole resources (devices included) on every
        // UpdateContainerResources (in-place resize, the static CPU manager).
        tracing::debug!("update: linux.resources.devices ignored, as runc does");
        r.set_devices(None);
    }
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        anyhow::bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by hezi");
    }
    if a.kernel_memory.is_some() || a.kernel_memory_tcp.is_some() {
        tracing::warn!("--kernel-memory and --kernel-memory-tcp are ignored (kernel memory limits are deprecated), as runc does");
    }

    let mut mem: LinuxMemory = r.memory().unwrap_or_default();
    let mut mem_set = r.memory().is_some();
    let flag_bytes = |v: &Option<String>, name: &str| -> anyhow::Result<Option<i64>> {
        v.as_deref()
            .map(|s| parse_bytes(s).with_context(|| format!("--{name} {s:?}")))
            .transpose()
    };
    if let Some(v) = flag_bytes(&a.memory, "memory")? {
        mem.set_limit(Some(v));
        mem_set = true;
    }
    if let Some(v) = flag_bytes(&a.memory_reservation, "memory-reservation")? {
        mem.set_reservation(Some(v));
        mem_set = true;
    }
    if let Some(v) = flag_bytes(&a.memory_swap, "memory-swap")? {
        mem.set_swap(Some(v));
        mem_set = true;
    }
    if mem_set {
        r.set_memory(Some(mem));
    }

    let mut cpu: LinuxCpu = r.cpu().clone().unwrap_or_default();
    let before = cpu.clone();
    if let Some(v) = a.cpu_period {
        cpu.set_period(Some(v));
    }
    if let Some(v) = a.cpu_quota {
        cpu.set_quota(Some(v));
    }
    if let Some(v) = a.cpu_burst {
        cpu.set_burst(Some(v));
    }
    if let Some(v) = a.cpu_rt_period {
        cpu.set_realtime_period(Some(v));
    }
    if let Some(v) = a.cpu_rt_runtime {
        cpu.set_realtime_runtime(Some(v));
    }
    if let Some(v) = a.cpu_share {
        cpu.set_shares(Some(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        cpu.set_cpus(Some(v.clone()));
    }
    if let Some(v) = &a.cpuset_mems {
        cpu.set_mems(Some(v.clone()));
    }
    if let Some(v) = a.cpu_idle {
        cpu.set_idle(Some(v));
    }
    if r.cpu().is_some() || cpu != before {
        r.set_cpu(Some(cpu));
    }
    if let Some(v) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(v);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b: LinuxBlockIo = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// Parses a byte size as runc's flags take it: `-1`, `1024`, `512k`, `64m`, `1g`, `2GiB`...
pub fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("not a size (expected e.g. 512m, 1g, 1048576)"))?;
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "p" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => anyhow::bail!("unknown unit {unit:?} (use k, m, g, t, p)"),
    };
    let v = num * mult;
    if !(0.0..9.2e18).contains(&v) {
        anyhow::bail!("size out of range");
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn parse(args: &[&str]) -> UpdateArgs {
        let mut v = vec!["hezi", "update"];
        v.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(v).unwrap().command {
            Some(crate::cli::Command::Update(u)) => u,
            other => panic!("not update: {other:?}"),
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("512k").unwrap(), 512 * 1024);
        assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert!(parse_bytes("12q").is_err());
        assert!(parse_bytes("abc").is_err());
    }

    #[test]
    fn flags_become_resources() {
        let a = parse(&[
            "c1",
            "--memory",
            "64m",
            "--memory-swap=-1",
            "--pids-limit",
            "10",
            "--cpu-quota",
            "5000",
            "--cpu-share",
            "512",
            "--blkio-weight",
            "300",
            "--cpuset-cpus",
            "0",
        ]);
        let r = resources(&a).unwrap();
        let m = r.memory().as_ref().unwrap();
        assert_eq!(m.limit(), Some(64 << 20));
        assert_eq!(m.swap(), Some(-1));
        assert_eq!(r.pids().unwrap().limit(), 10);
        let c = r.cpu().as_ref().unwrap();
        assert_eq!(c.quota(), Some(5000));
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.cpus().as_deref(), Some("0"));
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(300));
    }

    #[test]
    fn nothing_given_changes_nothing() {
        let r = resources(&parse(&["c1"])).unwrap();
        assert!(r.memory().is_none() && r.cpu().is_none() && r.pids().is_none());
    }

    #[test]
    fn flags_override_the_json_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("r.json");
        std::fs::write(
            &f,
            r#"{"memory": {"limit": 1000, "reservation": 500}, "pids": {"limit": 3}}"#,
        )
        .unwrap();
        let a = parse(&["c1", "-r", f.to_str().unwrap(), "--memory", "2000"]);
        let r = resources(&a).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(2000));
        assert_eq!(r.memory().as_ref().unwrap().reservation(), Some(500));
        assert_eq!(r.pids().unwrap().limit(), 3);
        // What containerd's CRI sends: the whole resources, devices included; the devices
        // are ignored (runc), the limits kept.
        std::fs::write(
            &f,
            r#"{"devices": [{"allow": false, "access": "rwm"}], "cpu": {"shares": 512}}"#,
        )
        .unwrap();
        let r = resources(&parse(&["c1", "-r", f.to_str().unwrap()])).unwrap();
        assert!(r.devices().is_none());
        assert_eq!(r.cpu().as_ref().and_then(|c| c.shares()), Some(512));
        let e = resources(&parse(&["c1", "--l3-cache-schema", "L3:0=f"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("RDT"), "{e}");
    }
}
