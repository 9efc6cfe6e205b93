//! Shared helpers for hezi-seccomp's integration tests: the libseccomp oracle
//! and fixture loading.
#![allow(dead_code)]

use hezi_seccomp::action;
use hezi_seccomp::bpf::{self, SeccompData};
use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const AUDIT_X86_64: u32 = 0xc000_003e;
pub const AUDIT_I386: u32 = 0x4000_0003;
pub const AUDIT_AARCH64: u32 = 0xc000_00b7;

pub fn fixture(name: &str) -> LinuxSeccomp {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    hezi_seccomp::parse_profile(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The libseccomp export helper, compiled once per test binary; `None` (with
/// a message) when cc or libseccomp is missing.
pub fn oracle() -> Option<&'static Path> {
    static ORACLE: OnceLock<Option<PathBuf>> = OnceLock::new();
    ORACLE
        .get_or_init(|| {
            let src =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/libseccomp_export.c");
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("hezi-seccomp-oracle-{}", std::process::id()));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("skipped: cannot create {}: {e}", dir.display());
                return None;
            }
            let out = dir.join("libseccomp_export");
            let ok = Command::new("cc")
                .arg("-O1")
                .arg("-o")
                .arg(&out)
                .arg(&src)
                .arg("-lseccomp")
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                Some(out)
            } else {
                eprintln!("skipped: cc or libseccomp-dev not available");
                None
            }
        })
        .as_deref()
}

fn oci_arch_token(a: OciArch) -> Option<u32> {
    match a {
        OciArch::ScmpArchX86_64 | OciArch::ScmpArchNative => Some(0xc000_003e),
        OciArch::ScmpArchX86 => Some(0x4000_0003),
        OciArch::ScmpArchX32 => Some(0x4000_003e),
        OciArch::ScmpArchAarch64 => Some(0xc000_00b7),
        _ => None,
    }
}

/// The oracle's input for `profile`, built the way runc feeds libseccomp
/// (rules repeating the default action are skipped; ERRNO/TRACE default to EPERM).
pub fn oracle_input(profile: &LinuxSeccomp) -> String {
    let default = action::value(profile.default_action(), profile.default_errno_ret());
    let mut s = format!("default {default:#x}\n");
    for a in profile.architectures().iter().flatten() {
        if let Some(t) = oci_arch_token(*a) {
            s += &format!("arch {t:#x}\n");
        }
    }
    for r in profile.syscalls().iter().flatten() {
        let act = action::value(r.action(), r.errno_ret());
        if act == default {
            continue;
        }
        let args = r.args().clone().unwrap_or_default();
        for name in r.names() {
            s += &format!("rule {act:#x} {name} {}", args.len());
            for a in &args {
                s += &format!(
                    " {} {} {:#x} {:#x}",
                    a.index(),
                    a.op() as u32,
                    a.value(),
                    a.value_two().unwrap_or(0)
                );
            }
            s += "\n";
        }
    }
    s
}

/// libseccomp's BPF for `profile`.
pub fn libseccomp_bpf(oracle: &Path, profile: &LinuxSeccomp) -> Vec<libc::sock_filter> {
    let input = oracle_input(profile);
    let mut child = Command::new(oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write oracle input");
    let out = child.wait_with_output().expect("oracle output");
    assert!(
        out.status.success(),
        "oracle failed: {}\ninput:\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Syscall numbers worth probing for an audit arch.
pub fn probe_numbers(audit: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (0..=470).collect();
    v.extend([
        511,
        512,
        0x3fff_ffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
    ]);
    if audit == AUDIT_X86_64 {
        v.extend((0..=600).map(|n| 0x4000_0000 + n));
    }
    v
}

/// Argument vectors that exercise the edges of `profile`'s conditions.
pub fn probe_args(profile: &LinuxSeccomp) -> Vec<[u64; 6]> {
    let mut vals = vec![0u64, 1, u64::MAX, 0xffff_ffff, 0x1_0000_0000];
    for r in profile.syscalls().iter().flatten() {
        for a in r.args().iter().flatten() {
            for base in [a.value(), a.value_two().unwrap_or(0)] {
                for v in [
                    base,
                    base.wrapping_add(1),
                    base.wrapping_sub(1),
                    base ^ (1 << 32),
                    base & 0xffff_ffff,
                    !base,
                    base | a.value(),
                ] {
                    vals.push(v);
                }
            }
        }
    }
    vals.sort_unstable();
    vals.dedup();
    let mut out = vec![[0u64; 6]];
    for (i, v) in vals.iter().enumerate() {
        // Vary every argument, with neighbours offset so combinations appear.
        let mut a = [0u64; 6];
        for (j, slot) in a.iter_mut().enumerate() {
            *slot = vals[(i + j * 3) % vals.len()];
        }
        out.push(a);
        out.push([*v; 6]);
    }
    out
}

pub fn verdict(prog: &[libc::sock_filter], d: &SeccompData) -> u32 {
    bpf::run(prog, d)
        .unwrap_or_else(|e| panic!("program rejected: {e}\n{}", bpf::disassemble(prog)))
}
