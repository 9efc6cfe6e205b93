//! Unit tests of the compiler's semantics, run in the BPF interpreter.

use crate::arch::{Arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use crate::bpf::{run, run_counted, SeccompData};
use crate::{action, compile_with, CompileOptions, SeccompError};
use oci_spec::runtime::LinuxSeccomp;

fn p(json: &str) -> LinuxSeccomp {
    crate::parse_profile(json.as_bytes()).expect("test profile parses")
}

fn opts() -> CompileOptions {
    CompileOptions {
        native: Arch::X86_64,
        enosys: true,
    }
}

fn verdict(profile: &LinuxSeccomp, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let f = compile_with(profile, &opts()).expect("compile");
    let d = SeccompData {
        nr,
        arch,
        instruction_pointer: 0,
        args,
    };
    run(f.instructions(), &d).expect("program runs")
}

const GETPPID: u32 = 110;

#[test]
fn conditions_on_one_argument_are_anded() {
    let prof = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO",
        "args":[{"index":1,"value":3,"op":"SCMP_CMP_GE"},{"index":1,"value":9,"op":"SCMP_CMP_LE"}]}]}"#,
    );
    let v = |a1| verdict(&prof, AUDIT_ARCH_X86_64, GETPPID, [0, a1, 0, 0, 0, 0]);
    assert_eq!(v(2), action::ALLOW);
    assert_eq!(v(3), action::ERRNO | 1);
    assert_eq!(v(9), action::ERRNO | 1);
    assert_eq!(v(10), action::ALLOW);
    assert_eq!(
        v(3 | 1 << 32),
        action::ALLOW,
        "64-bit value above the range"
    );
}

#[test]
fn first_matching_conditional_rule_wins_and_unconditional_beats_conditional() {
    let prof = p(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":5,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":6,"args":[{"index":0,"value":0,"op":"SCMP_CMP_GT"}]},
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":7,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getpid"],"action":"SCMP_ACT_TRAP"}]}"#);
    let v = |nr, a0| verdict(&prof, AUDIT_ARCH_X86_64, nr, [a0, 0, 0, 0, 0, 0]);
    assert_eq!(v(GETPPID, 1), action::ERRNO | 5);
    assert_eq!(v(GETPPID, 2), action::ERRNO | 6);
    assert_eq!(v(GETPPID, 0), action::ALLOW);
    assert_eq!(v(39, 1), action::TRAP);
    assert_eq!(v(39, 0), action::TRAP);
}

#[test]
fn every_operator_compares_64_bit_values() {
    type Case<'a> = (&'a str, u64, u64, &'a [(u64, bool)]);
    let cases: &[Case] = &[
        (
            "SCMP_CMP_EQ",
            1 << 32 | 5,
            0,
            &[(1 << 32 | 5, true), (5, false), (1 << 33 | 5, false)],
        ),
        (
            "SCMP_CMP_NE",
            1 << 32 | 5,
            0,
            &[(1 << 32 | 5, false), (5, true)],
        ),
        (
            "SCMP_CMP_LT",
            1 << 32,
            0,
            &[(u32::MAX as u64, true), (1 << 32, false), (u64::MAX, false)],
        ),
        (
            "SCMP_CMP_LE",
            1 << 32,
            0,
            &[(1 << 32, true), (1 << 32 | 1, false), (0, true)],
        ),
        (
            "SCMP_CMP_GT",
            1 << 32,
            0,
            &[
                (1 << 32, false),
                (1 << 32 | 1, true),
                (2 << 32, true),
                (u32::MAX as u64, false),
            ],
        ),
        (
            "SCMP_CMP_GE",
            1 << 32 | 7,
            0,
            &[(1 << 32 | 7, true), (1 << 32 | 6, false), (2 << 32, true)],
        ),
        // runc's operand order: (arg & value) == valueTwo.
        (
            "SCMP_CMP_MASKED_EQ",
            0xf0 | 1 << 40,
            0x30 | 1 << 40,
            &[
                (0x35 | 1 << 40, true),
                (0x35, false),
                (0x45 | 1 << 40, false),
            ],
        ),
    ];
    for (op, value, value_two, probes) in cases {
        let prof = p(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS",
            "args":[{{"index":5,"value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
        ));
        for (arg, hit) in *probes {
            let want = if *hit {
                action::KILL_PROCESS
            } else {
                action::ALLOW
            };
            let got = verdict(&prof, AUDIT_ARCH_X86_64, GETPPID, [0, 0, 0, 0, 0, *arg]);
            assert_eq!(got, want, "{op} {value:#x} on {arg:#x}");
        }
    }
}

#[test]
fn rules_repeating_the_default_action_are_dropped() {
    // runc drops the unconditional ERRNO(1) rule, so the conditional ALLOW counts.
    let prof = p(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
        {"names":["getppid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(
        verdict(&prof, AUDIT_ARCH_X86_64, GETPPID, [0; 6]),
        action::ALLOW
    );
    assert_eq!(
        verdict(&prof, AUDIT_ARCH_X86_64, GETPPID, [1, 0, 0, 0, 0, 0]),
        action::ERRNO | 1
    );
}

#[test]
fn architectures_and_x32() {
    let only64 = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    // x32 numbers and i386 are a bad arch; nr -1 goes to the x86_64 rules.
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_X86_64, 0x4000_0000, [0; 6]),
        action::BAD_ARCH
    );
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_I386, 3, [0; 6]),
        action::BAD_ARCH
    );
    assert_eq!(verdict(&only64, 0xc000_00b7, 63, [0; 6]), action::BAD_ARCH);
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_X86_64, u32::MAX, [0; 6]),
        action::ALLOW
    );
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_X86_64, 0, [0; 6]),
        action::ERRNO | 1
    );
    let all = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        verdict(&all, AUDIT_ARCH_X86_64, 0x4000_0000, [0; 6]),
        action::ERRNO | 1
    );
    assert_eq!(
        verdict(&all, AUDIT_ARCH_X86_64, 0x4000_0001, [0; 6]),
        action::ALLOW
    );
    assert_eq!(verdict(&all, AUDIT_ARCH_I386, 3, [0; 6]), action::ERRNO | 1);
    let arm = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_AARCH64"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        verdict(&arm, crate::arch::AUDIT_ARCH_AARCH64, 173, [0; 6]),
        action::ERRNO | 1
    );
    assert_eq!(
        verdict(&arm, crate::arch::AUDIT_ARCH_AARCH64, 110, [0; 6]),
        action::ALLOW
    );
    assert_eq!(
        verdict(&arm, AUDIT_ARCH_X86_64, GETPPID, [0; 6]),
        action::ERRNO | 1
    );
    // i386 socket rules also cover socketcall(SYS_SOCKET, ...).
    let sock = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
        "syscalls":[{"names":["socket"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        verdict(&sock, AUDIT_ARCH_I386, 102, [1, 0, 0, 0, 0, 0]),
        action::ERRNO | 1
    );
    assert_eq!(
        verdict(&sock, AUDIT_ARCH_I386, 102, [2, 0, 0, 0, 0, 0]),
        action::ALLOW
    );
    assert_eq!(
        verdict(&sock, AUDIT_ARCH_I386, 359, [0; 6]),
        action::ERRNO | 1
    );
}

#[test]
fn enosys_above_the_newest_named_syscall() {
    let prof = p(
        r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getppid","read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(
        verdict(&prof, AUDIT_ARCH_X86_64, GETPPID, [0; 6]),
        action::ALLOW
    );
    assert_eq!(
        verdict(&prof, AUDIT_ARCH_X86_64, 100, [0; 6]),
        action::KILL_PROCESS
    );
    assert_eq!(
        verdict(&prof, AUDIT_ARCH_X86_64, 111, [0; 6]),
        action::ENOSYS
    );
    assert_eq!(
        verdict(&prof, AUDIT_ARCH_X86_64, 0x3fff_ffff, [0; 6]),
        action::ENOSYS
    );
    // Not when the default already allows, nor when it is ENOSYS already.
    let allow = p(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_TRAP"}]}"#,
    );
    assert_eq!(
        verdict(&allow, AUDIT_ARCH_X86_64, 200, [0; 6]),
        action::ALLOW
    );
    // Not without listed architectures (runc's stub only covers listed ones).
    let unlisted = p(
        r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(
        verdict(&unlisted, AUDIT_ARCH_X86_64, 200, [0; 6]),
        action::KILL_PROCESS
    );
}

#[test]
fn long_jumps_and_log_depth_with_hundreds_of_rules() {
    // Every x86_64 syscall gets its own errno and an argument check, so
    // returns are far apart and trampolines are needed.
    let names: Vec<(&str, u32)> = crate::syscalls::table(Arch::X86_64).to_vec();
    let rules: Vec<String> = names
        .iter()
        .map(|(n, nr)| {
            format!(
                r#"{{"names":["{n}"],"action":"SCMP_ACT_ERRNO","errnoRet":{},"args":[{{"index":{},"value":{},"op":"SCMP_CMP_NE"}}]}}"#,
                nr + 1,
                nr % 6,
                nr + 1
            )
        })
        .collect();
    let prof = p(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{}]}}"#,
        rules.join(",")
    ));
    let f = compile_with(&prof, &opts()).expect("compile");
    assert!(
        f.instructions().len() > 256,
        "program long enough to need long jumps"
    );
    assert!(
        f.instructions().iter().any(|i| i.code == crate::bpf::JA),
        "trampolines present"
    );
    let mut worst = 0;
    for (_, nr) in &names {
        let mut args = [0u64; 6];
        let d = |args| SeccompData {
            nr: *nr,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0,
            args,
        };
        assert_eq!(
            run(f.instructions(), &d(args)).expect("runs"),
            action::ERRNO | (nr + 1),
            "nr {nr}"
        );
        args[(*nr % 6) as usize] = u64::from(*nr + 1);
        let (v, steps) = run_counted(f.instructions(), &d(args)).expect("runs");
        assert_eq!(v, action::ALLOW, "nr {nr} with matching arg");
        worst = worst.max(steps);
    }
    // ~log2(2 * 362) compares plus the arch check and the argument check.
    assert!(worst <= 24, "worst path {worst} instructions");
}

#[test]
fn docker_profile_costs_logarithmic_steps() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/docker-default.json"
    );
    let prof = crate::parse_profile(&std::fs::read(path).expect("fixture")).expect("parse");
    let f = compile_with(&prof, &opts()).expect("compile");
    let worst = (0..460)
        .map(|nr| {
            let d = SeccompData {
                nr,
                arch: AUDIT_ARCH_X86_64,
                ..Default::default()
            };
            run_counted(f.instructions(), &d).expect("runs").1
        })
        .max()
        .unwrap_or(0);
    assert!(worst <= 20, "worst path {worst} instructions");
}

#[test]
fn errors_name_the_problem() {
    let e = compile_with(&p(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#), &opts()).unwrap_err();
    assert!(matches!(e, SeccompError::NotifyDefaultAction), "{e}");
    let e = compile_with(
        &p(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#),
        &opts(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("syscalls[0] (read): argument index 6"),
        "{e}"
    );
    for bad in [
        r#"{"defaultAction":"SCMP_ACT_SOMETIMES"}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FAST"]}"#,
    ] {
        let e = crate::parse_profile(bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("unknown variant"), "{bad}: {e}");
    }
}

#[test]
fn flags_and_notify() {
    let f = compile_with(
        &p(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#),
        &opts(),
    )
    .expect("compile");
    assert!(f.has_notify());
    assert_eq!(
        f.flags(),
        crate::FLAG_TSYNC
            | crate::FLAG_LOG
            | crate::FLAG_SPEC_ALLOW
            | crate::FLAG_WAIT_KILLABLE_RECV
            | crate::FLAG_NEW_LISTENER
            | crate::FLAG_TSYNC_ESRCH
    );
    assert_eq!(
        verdict(
            &p(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#
            ),
            AUDIT_ARCH_X86_64,
            GETPPID,
            [0; 6]
        ),
        action::USER_NOTIF
    );
    let plain =
        compile_with(&p(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#), &opts()).expect("compile");
    assert!(!plain.has_notify());
    assert_eq!(plain.flags(), 0);
}

#[test]
fn serialized_filters_round_trip_and_reject_corruption() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/docker-default.json"
    );
    let prof = crate::parse_profile(&std::fs::read(path).expect("fixture")).expect("parse");
    let f = compile_with(&prof, &opts()).expect("compile");
    let bytes = f.to_bytes();
    assert_eq!(
        crate::CompiledFilter::from_bytes(&bytes).expect("decode"),
        f
    );
    assert!(crate::CompiledFilter::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    assert!(crate::CompiledFilter::from_bytes(b"garbage").is_err());
    let mut bad = bytes.clone();
    bad[0] ^= 1;
    assert!(crate::CompiledFilter::from_bytes(&bad).is_err());
}
