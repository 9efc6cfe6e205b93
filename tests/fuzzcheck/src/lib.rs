//! The properties hezi's fuzz targets check, one function per target. Each takes the fuzzer's
//! bytes and panics when a property fails; errors on bad input are fine, panics, hangs,
//! unbounded memory and writes outside a scratch directory are not.
//!
//! `fuzz/` (a cargo-fuzz crate, built on stable Rust by `scripts/fuzz.sh`) calls these from
//! libFuzzer; `tests/regressions.rs` replays every input kept under `fuzz/corpus/<target>/`
//! and `fuzz/regressions/<target>/` through the same functions in plain `cargo test`.

use std::path::Path;

use hezi_seccomp::arch::{Arch, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use hezi_seccomp::{action, bpf, syscalls, CompileOptions};

/// A target's property: takes the fuzzer's bytes, panics when the property fails.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name (the directory names under `fuzz/corpus/`).
pub const TARGETS: &[(&str, Check)] = &[
    ("config", config),
    ("seccomp", seccomp),
    ("layer", layer),
    ("image_documents", image_documents),
    ("dbus", dbus),
    ("proc_parsers", proc_parsers),
];

/// config.json: parse and validate as `hezi create` and `hezi validate` do.
pub fn config(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Err(errors) = hezi_spec::validate::validate_config(&value) {
        // Every reported problem names where it is.
        assert!(!errors.to_string().is_empty());
    }
}

/// A seccomp profile: compile it, then run the program in the BPF interpreter for probes of
/// every arch. The program must stay within the kernel's size limit, never leave itself or use
/// an instruction seccomp forbids, and agree with the profile where the answer is plain: a
/// syscall no rule names gets the default action (or ENOSYS above the newest named one), and
/// every verdict is one the profile can produce.
pub fn seccomp(data: &[u8]) {
    let Ok(profile) = hezi_seccomp::parse_profile(data) else {
        return;
    };
    let opts = CompileOptions {
        native: Arch::X86_64,
        enosys: true,
    };
    let Ok(filter) = hezi_seccomp::compile_with(&profile, &opts) else {
        return;
    };
    let prog = filter.instructions();
    assert!(
        !prog.is_empty() && prog.len() <= hezi_seccomp::MAX_INSNS,
        "{} instructions",
        prog.len()
    );
    let default = action::value(profile.default_action(), profile.default_errno_ret());
    let mut allowed = vec![
        default,
        action::ENOSYS,
        action::BAD_ARCH,
        action::KILL_PROCESS,
    ];
    let mut named = Vec::new();
    for rule in profile.syscalls().iter().flatten() {
        allowed.push(action::value(rule.action(), rule.errno_ret()));
        for name in rule.names() {
            if let Some(nr) = syscalls::resolve(Arch::X86_64, name) {
                named.push(nr);
            }
        }
    }
    let newest = named.iter().copied().max();
    // Argument values from the input itself, so the fuzzer can steer conditions.
    let mut args = [0u64; 6];
    for (i, chunk) in data.chunks(8).take(6).enumerate() {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        args[i] = u64::from_le_bytes(b);
    }
    let arches = [
        AUDIT_ARCH_X86_64,
        AUDIT_ARCH_I386,
        AUDIT_ARCH_AARCH64,
        0xdead_beef,
    ];
    for arch in arches {
        for nr in (0..470u32).chain([0x4000_0000, 0x4000_0001, u32::MAX]) {
            let d = bpf::SeccompData {
                nr,
                arch,
                instruction_pointer: 0,
                args,
            };
            let verdict = match bpf::run(prog, &d) {
                Ok(v) => v,
                Err(e) => panic!("program fails for nr {nr} arch {arch:#x}: {e}"),
            };
            assert!(
                allowed.contains(&verdict),
                "nr {nr} arch {arch:#x}: verdict {verdict:#x} is none the profile has"
            );
            let plain = arch == AUDIT_ARCH_X86_64
                && nr < 0x4000_0000
                && !named.contains(&nr)
                && newest.is_some_and(|n| nr <= n)
                && profile.architectures().is_none()
                && profile.flags().is_none();
            if plain {
                assert_eq!(
                    verdict, default,
                    "nr {nr} is named by no rule and below the newest named syscall"
                );
            }
        }
    }
}

/// Whether `dir` holds exactly the entries `names` (sorted comparison).
pub fn holds_only(dir: &Path, names: &[&str]) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut found: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    found == want
}

/// A layer blob (tar, gzip or zstd, detected from the bytes): unpack it into a scratch rootfs.
/// Nothing may appear outside the rootfs, whatever the entries say.
pub fn layer(data: &[u8]) {
    let Ok(scratch) = tempfile::tempdir() else {
        return;
    };
    let outer = scratch.path().join("outer");
    let rootfs = outer.join("rootfs");
    if std::fs::create_dir_all(&rootfs).is_err() {
        return;
    }
    let expect = hezi_image::unpack::Expect::default();
    let opts = hezi_image::unpack::UnpackOptions::default();
    if let Ok(mut u) = hezi_image::unpack::Unpacker::new(&rootfs, opts) {
        let _ = u.layer(data, &expect);
    }
    assert!(
        holds_only(scratch.path(), &["outer"]) && holds_only(&outer, &["rootfs"]),
        "the layer wrote outside its rootfs"
    );
}

/// Manifest, index, image config and platform strings, as the store and unpack parse them.
pub fn image_documents(data: &[u8]) {
    let _ = hezi_image::document::parse::<hezi_image::Manifest>(data, "manifest");
    let _ = hezi_image::document::parse::<hezi_image::Index>(data, "index");
    let _ = hezi_image::document::parse::<hezi_image::ImageConfig>(data, "config");
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = hezi_image::Platform::parse(s) {
            assert!(!p.os.is_empty() && !p.architecture.is_empty());
        }
    }
}

/// One D-Bus message off the wire (the systemd driver's decoder).
pub fn dbus(data: &[u8]) {
    let _ = hezi_cgroups::systemd::dbus::message::decode(data);
}

/// The /proc and cgroup file parsers: mountinfo, /proc/<pid>/cgroup, flat-keyed files, cpuset
/// lists, blkio and io.stat.
pub fn proc_parsers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = hezi_cgroups::hierarchy::Mounts::from_mountinfo(text, Path::new("/sys/fs/cgroup"));
    let _ = hezi_cgroups::hierarchy::OwnCgroups::parse(text);
    let _ = hezi_cgroups::hierarchy::unescape_mountinfo(text);
    let _ = hezi_cgroups::fsutil::parse_flat_keyed(text);
    let _ = hezi_cgroups::stats::parse_cpuset_list(text);
    let _ = hezi_cgroups::stats::parse_blkio_v1(text);
    let _ = hezi_cgroups::stats::parse_io_stat_v2(text);
}
