//! hezi's BPF vs libseccomp's BPF (exported by a small C helper built at test
//! time), both run in hezi's interpreter, on every syscall number and on the
//! edges of every argument condition.

mod common;

use common::*;
use hezi_seccomp::bpf::SeccompData;
use hezi_seccomp::{action, arch::Arch, compile_with, CompileOptions};
use oci_spec::runtime::LinuxSeccomp;

fn no_enosys() -> CompileOptions {
    CompileOptions {
        native: Arch::X86_64,
        enosys: false,
    }
}

/// Compare on all probe points; returns the number of points checked.
fn compare(profile: &LinuxSeccomp) -> Result<usize, String> {
    let Some(oracle) = oracle() else {
        return Ok(0);
    };
    let ours = compile_with(profile, &no_enosys()).map_err(|e| e.to_string())?;
    let theirs = libseccomp_bpf(oracle, profile);
    if libseccomp_skips_nr_load(&theirs) {
        eprintln!("libseccomp 2.5.4 bug (arch section without `ld [nr]`), case skipped");
        return Ok(0);
    }
    let args = probe_args(profile);
    let mut n = 0;
    for audit in [AUDIT_X86_64, AUDIT_I386, AUDIT_AARCH64] {
        for nr in probe_numbers(audit) {
            for a in &args {
                let d = SeccompData {
                    nr,
                    arch: audit,
                    instruction_pointer: 0,
                    args: *a,
                };
                let (h, l) = (verdict(ours.instructions(), &d), verdict(&theirs, &d));
                if h != l {
                    return Err(format!(
                        "arch {audit:#x} nr {nr:#x} args {a:x?}: hezi {h:#x} libseccomp {l:#x}\ninput:\n{}",
                        oracle_input(profile)
                    ));
                }
                n += 1;
            }
        }
    }
    Ok(n)
}

/// libseccomp 2.5.4 sometimes drops the `ld [nr]` of a merged x86_64+x32
/// section (e.g. an unconditional rule on a syscall x86_64 lacks, like
/// `chown32`, plus a conditional rule): its filter then compares the arch
/// value as if it were the syscall number. Such oracle output is unusable.
fn libseccomp_skips_nr_load(prog: &[libc::sock_filter]) -> bool {
    let follow = |mut t: usize| {
        while let Some(ja) = prog.get(t).filter(|j| j.code == 0x05) {
            t += 1 + ja.k as usize;
        }
        t
    };
    // The arch checks are the jf chain of `jeq` starting after `ld [arch]`.
    let mut i = 1;
    while let Some(ins) = prog.get(i).filter(|x| x.code == 0x15) {
        let t = follow(i + 1 + usize::from(ins.jt));
        if !prog.get(t).is_some_and(|x| x.code == 0x20 && x.k == 0) {
            return true;
        }
        i = follow(i + 1 + usize::from(ins.jf));
    }
    false
}

#[test]
fn docker_default_matches_libseccomp() {
    let n = compare(&fixture("docker-default.json")).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("compared {n} points");
}

#[test]
fn podman_default_matches_libseccomp() {
    let n = compare(&fixture("podman-default.json")).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("compared {n} points");
}

#[test]
fn docker_default_enosys_only_above_the_highest_named_syscall() {
    let Some(oracle) = oracle() else {
        return;
    };
    let p = fixture("docker-default.json");
    let ours = compile_with(
        &p,
        &CompileOptions {
            native: Arch::X86_64,
            enosys: true,
        },
    )
    .expect("compile");
    let theirs = libseccomp_bpf(oracle, &p);
    let names: Vec<&String> = p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names())
        .collect();
    for (arch, audit) in [
        (Arch::X86_64, AUDIT_X86_64),
        (Arch::X86, AUDIT_I386),
        (Arch::X32, AUDIT_X86_64),
    ] {
        let max = names
            .iter()
            .filter_map(|n| hezi_seccomp::syscalls::resolve(arch, n))
            .max()
            .expect("some syscall known");
        let top = if arch == Arch::X86_64 {
            0x3fff_ffff
        } else {
            u32::MAX
        };
        let mut enosys = 0;
        for nr in probe_numbers(audit) {
            let in_space = (arch == Arch::X32) == (audit == AUDIT_X86_64 && nr >= 0x4000_0000);
            if !in_space || nr > top {
                continue;
            }
            let d = SeccompData {
                nr,
                arch: audit,
                ..Default::default()
            };
            let h = verdict(ours.instructions(), &d);
            if nr > max {
                assert_eq!(h, action::ENOSYS, "{arch:?} nr {nr:#x} above max {max:#x}");
                enosys += 1;
            } else {
                assert_eq!(h, verdict(&theirs, &d), "{arch:?} nr {nr:#x}");
            }
        }
        assert!(enosys > 0, "{arch:?}: no probe above {max:#x}");
    }
}

mod random {
    use super::*;
    use oci_spec::runtime::{
        Arch as OciArch, LinuxSeccompAction as Act, LinuxSeccompArg, LinuxSeccompArgBuilder,
        LinuxSeccompOperator as Op, LinuxSyscall,
    };
    use proptest::prelude::*;

    /// A mix of common, x86-only, x86_64-only, multiplexed and
    /// x32-renumbered syscalls, plus one unknown name. (Syscalls newer than
    /// Debian 12's libseccomp 2.5.4, like `set_mempolicy_home_node`, are left
    /// out: hezi knows them, the oracle does not.)
    const NAMES: &[&str] = &[
        "read",
        "write",
        "open",
        "close",
        "getppid",
        "getpid",
        "clone",
        "unshare",
        "socket",
        "ioctl",
        "personality",
        "mmap",
        "mmap2",
        "chown32",
        "arch_prctl",
        "rt_sigaction",
        "execve",
        "ptrace",
        "futex_waitv",
        "recv",
        "shmat",
        "semtimedop",
        "accept4",
        "process_mrelease",
        "io_uring_setup",
        "kill",
        "not_a_syscall",
        "readv",
        "preadv2",
        "statx",
        "clone3",
    ];
    const VALUES: &[u64] = &[
        0,
        1,
        2,
        5,
        40,
        0xff,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0005,
        0x7e02_0000,
        u64::MAX,
    ];

    fn act() -> impl Strategy<Value = (Act, Option<u32>)> {
        prop_oneof![
            Just((Act::ScmpActAllow, None)),
            Just((Act::ScmpActAllow, None)),
            (1u32..40).prop_map(|e| (Act::ScmpActErrno, Some(e))),
            Just((Act::ScmpActErrno, None)),
            Just((Act::ScmpActKillProcess, None)),
            Just((Act::ScmpActKill, None)),
            Just((Act::ScmpActTrap, None)),
            Just((Act::ScmpActLog, None)),
            (0u32..4).prop_map(|e| (Act::ScmpActTrace, Some(e))),
            Just((Act::ScmpActNotify, None)),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::ScmpCmpNe),
            Just(Op::ScmpCmpLt),
            Just(Op::ScmpCmpLe),
            Just(Op::ScmpCmpEq),
            Just(Op::ScmpCmpGe),
            Just(Op::ScmpCmpGt),
            Just(Op::ScmpCmpMaskedEq),
        ]
    }

    fn arg() -> impl Strategy<Value = LinuxSeccompArg> {
        (
            0usize..6,
            op(),
            proptest::sample::select(VALUES),
            proptest::sample::select(VALUES),
        )
            .prop_map(|(index, op, value, value_two)| {
                LinuxSeccompArgBuilder::default()
                    .index(index)
                    .op(op)
                    .value(value)
                    .value_two(value_two)
                    .build()
                    .expect("complete argument")
            })
    }

    /// Rules for one syscall group: either one unconditional rule, or
    /// conditional rules that share one action (libseccomp orders overlapping
    /// conditional rules with different actions by its own internal tree
    /// order, which hezi does not imitate; see the crate docs).
    fn group() -> impl Strategy<Value = Vec<LinuxSyscall>> {
        (
            proptest::sample::subsequence(NAMES, 1..3),
            act(),
            // libseccomp refuses two conditions on one argument in a rule
            // (EINVAL), so the oracle can only judge distinct indices; hezi's
            // AND of same-argument conditions is unit-tested instead.
            proptest::collection::vec(
                // One condition per rule: with several, libseccomp 2.5.4
                // sometimes tests a condition against the previously loaded
                // argument (a missing reload in its BPF), so the oracle is
                // wrong there. Multi-condition rules are unit-tested.
                proptest::collection::vec(arg(), 1..2).prop_map(|mut v| {
                    let mut seen = std::collections::HashSet::new();
                    v.retain(|a| seen.insert(a.index()));
                    v
                }),
                // At most one conditional rule per syscall: with two on one
                // argument libseccomp 2.5.4's BPF also skips a reload (its
                // PFC output is right, its BPF is not). The Docker and podman
                // profiles cover several conditional rules per syscall.
                0..2,
            ),
        )
            .prop_map(|(names, (action, errno), argsets)| {
                let mk = |args: Option<Vec<LinuxSeccompArg>>| {
                    let mut r = LinuxSyscall::default();
                    r.set_names(names.iter().map(|s| s.to_string()).collect());
                    r.set_action(action);
                    r.set_errno_ret(errno);
                    r.set_args(args);
                    r
                };
                if argsets.is_empty() {
                    vec![mk(None)]
                } else {
                    argsets.into_iter().map(|a| mk(Some(a))).collect()
                }
            })
    }

    fn profile() -> impl Strategy<Value = LinuxSeccomp> {
        (
            prop_oneof![
                Just((Act::ScmpActErrno, Some(1u32))),
                Just((Act::ScmpActErrno, None)),
                Just((Act::ScmpActKillProcess, None)),
                Just((Act::ScmpActAllow, None)),
                Just((Act::ScmpActTrap, None)),
                Just((Act::ScmpActLog, None)),
            ],
            proptest::sample::subsequence(
                vec![
                    OciArch::ScmpArchX86,
                    OciArch::ScmpArchX32,
                    OciArch::ScmpArchX86_64,
                    OciArch::ScmpArchAarch64,
                ],
                0..5,
            ),
            proptest::collection::vec(group(), 0..8),
        )
            .prop_map(|((dact, derr), arches, groups)| {
                let mut p = LinuxSeccomp::default();
                p.set_default_action(dact);
                p.set_default_errno_ret(derr);
                p.set_architectures(Some(arches));
                // One group per syscall name, so groups never overlap.
                let mut seen = std::collections::HashSet::new();
                let rules: Vec<LinuxSyscall> = groups
                    .into_iter()
                    .filter(|g| g[0].names().iter().all(|n| seen.insert(n.clone())))
                    .flatten()
                    .collect();
                p.set_syscalls(Some(rules));
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn random_profiles_match_libseccomp(p in profile()) {
            if let Err(e) = compare(&p) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}

#[test]
fn docker_default_with_aarch64_matches_libseccomp() {
    let mut p = fixture("docker-default.json");
    let mut arches = p.architectures().clone().unwrap_or_default();
    arches.push(oci_spec::runtime::Arch::ScmpArchAarch64);
    p.set_architectures(Some(arches));
    let n = compare(&p).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("compared {n} points");
}
