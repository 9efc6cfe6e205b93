//! OCI seccomp profile -> classic BPF.
//!
//! Shape of the generated program:
//!
//! ```text
//! ld [arch]; jeq AUDIT_ARCH_X86_64 -> S64; jeq AUDIT_ARCH_I386 -> S32; ret KILL (bad arch)
//! S64: ld [nr]; binary search over syscall-number intervals -> ret action | argument block
//! ```
//!
//! The syscall-number space of each audit arch is cut into intervals with one
//! outcome each (an action, or a block that checks arguments), and a binary
//! search tree of `jge` compares picks the interval: about log2(intervals)
//! jumps per syscall. For the x86_64 audit arch, numbers with the x32 bit set
//! form the x32 half of the space.

use crate::arch::{Arch, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::bpf::{
    off_arg_hi, off_arg_lo, ALU_AND_K, JEQ_K, JGE_K, JGT_K, LD_W_ABS, OFF_ARCH, OFF_NR,
};
use crate::emit::{Emitter, Label};
use crate::filter::CompiledFilter;
use crate::{action, multiplex, syscalls, SeccompError};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};
use std::collections::{BTreeMap, BTreeSet};

/// `SECCOMP_FILTER_FLAG_TSYNC`.
pub const FLAG_TSYNC: u32 = 1;
/// `SECCOMP_FILTER_FLAG_LOG`.
pub const FLAG_LOG: u32 = 2;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`.
pub const FLAG_SPEC_ALLOW: u32 = 4;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
pub const FLAG_NEW_LISTENER: u32 = 8;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`.
pub const FLAG_TSYNC_ESRCH: u32 = 16;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`.
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// The kernel's limit on program length (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Knobs for [`compile_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileOptions {
    /// The ABI the filter is always built for (libseccomp and runc always keep
    /// the native arch, whatever `architectures` lists).
    pub native: Arch,
    /// Answer ENOSYS for syscall numbers above the highest one the profile
    /// names (per listed arch), as runc's `-ENOSYS` stub does, unless the
    /// default action is ALLOW/LOG/TRACE or `defaultErrnoRet` is already ENOSYS.
    pub enosys: bool,
}

impl CompileOptions {
    /// Options for the running machine (`Err` on a non-x86 build).
    pub fn native() -> Result<Self, SeccompError> {
        let native = Arch::native().ok_or_else(|| SeccompError::UnsupportedArch {
            arch: std::env::consts::ARCH.to_string(),
        })?;
        Ok(CompileOptions {
            native,
            enosys: true,
        })
    }
}

/// One argument comparison, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: usize,
    op: Op,
    value: u64,
    value_two: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CondRule {
    action: u32,
    conds: Vec<Cond>,
}

/// What one syscall number does on one ABI.
#[derive(Debug, Default, Clone)]
struct SyscallPlan {
    unconditional: Option<u32>,
    conditional: Vec<CondRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    Block(Arch, u32),
}

struct Plan {
    default: u32,
    per_arch: BTreeMap<Arch, BTreeMap<u32, SyscallPlan>>,
    enosys_above: BTreeMap<Arch, u32>,
}

/// Compile `profile` for the running machine.
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
    compile_with(profile, &CompileOptions::native()?)
}

/// Compile `profile` with explicit options.
pub fn compile_with(
    profile: &LinuxSeccomp,
    opts: &CompileOptions,
) -> Result<CompiledFilter, SeccompError> {
    let (plan, has_notify) = plan(profile, opts)?;
    let insns = generate(&plan);
    if insns.len() > MAX_INSNS {
        return Err(SeccompError::TooLarge { len: insns.len() });
    }
    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        flags |= match f {
            Flag::SeccompFilterFlagTsync => FLAG_TSYNC,
            Flag::SeccompFilterFlagLog => FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            Flag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    if !has_notify && flags & FLAG_WAIT_KILLABLE_RECV != 0 {
        // The kernel only accepts it with a listener; libseccomp drops it
        // when the filter has no NOTIFY rule, and so do we.
        flags &= !FLAG_WAIT_KILLABLE_RECV;
        tracing::debug!("seccomp: WAIT_KILLABLE_RECV ignored, the profile has no NOTIFY rule");
    }
    if has_notify {
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // TSYNC and NEW_LISTENER are exclusive unless TSYNC failures report ESRCH.
            flags |= FLAG_TSYNC_ESRCH;
        }
    }
    tracing::debug!(
        instructions = insns.len(),
        flags,
        has_notify,
        "seccomp: compiled profile"
    );
    Ok(CompiledFilter::new(insns, flags, has_notify))
}

fn plan(profile: &LinuxSeccomp, opts: &CompileOptions) -> Result<(Plan, bool), SeccompError> {
    if profile.default_action() == Act::ScmpActNotify {
        return Err(SeccompError::NotifyDefaultAction);
    }
    let default = action::value(profile.default_action(), profile.default_errno_ret());
    let mut listed = BTreeSet::new();
    for a in profile.architectures().iter().flatten() {
        match Arch::from_oci(*a, opts.native) {
            Some(arch) => {
                listed.insert(arch);
            }
            None => tracing::warn!(
                arch = %a,
                "seccomp: no syscall table for this architecture; its syscalls get the bad-arch action"
            ),
        }
    }
    let mut arches = listed.clone();
    arches.insert(opts.native);

    let mut per_arch: BTreeMap<Arch, BTreeMap<u32, SyscallPlan>> =
        arches.iter().map(|a| (*a, BTreeMap::new())).collect();
    let mut max_nr: BTreeMap<Arch, u32> = BTreeMap::new();
    let mut has_notify = false;
    for (ri, rule) in profile.syscalls().iter().flatten().enumerate() {
        let act = action::value(rule.action(), rule.errno_ret());
        let mut conds = Vec::new();
        for arg in rule.args().iter().flatten() {
            if arg.index() > 5 {
                return Err(SeccompError::ArgIndex {
                    rule: ri,
                    syscall: rule.names().join(","),
                    index: arg.index(),
                });
            }
            conds.push(Cond {
                index: arg.index(),
                op: arg.op(),
                value: arg.value(),
                value_two: arg.value_two().unwrap_or(0),
            });
        }
        // Rules that repeat the default action change nothing (runc skips them
        // too; libseccomp refuses them).
        let effective = act != default;
        for name in rule.names() {
            let mut known = false;
            for arch in &arches {
                let mut targets = Vec::new();
                if let Some(nr) = syscalls::resolve(*arch, name) {
                    let m = max_nr.entry(*arch).or_insert(nr);
                    *m = (*m).max(nr);
                    targets.push((nr, conds.clone()));
                }
                if *arch == Arch::X86 {
                    if let Some((mux, call)) = multiplex::lookup(name) {
                        let mut c = vec![Cond {
                            index: 0,
                            op: Op::ScmpCmpEq,
                            value: call,
                            value_two: 0,
                        }];
                        c.extend(conds.iter().filter(|c| c.index != 0));
                        targets.push((mux, c));
                    }
                }
                known |= !targets.is_empty();
                if !effective {
                    continue;
                }
                has_notify |= act == action::USER_NOTIF && !targets.is_empty();
                for (nr, conds) in targets {
                    add_rule(
                        per_arch.entry(*arch).or_default().entry(nr).or_default(),
                        act,
                        conds,
                        name,
                        ri,
                    );
                }
            }
            if !known {
                // Debug, as runc logs it: profiles name syscalls of other arches and kernels
                // (podman's names pciconfig_*), and engines show a runtime's stderr to users.
                tracing::debug!(syscall = %name, rule = ri, "seccomp: unknown syscall name, rule skipped");
            }
        }
    }
    let enosys_wanted = opts.enosys
        && !matches!(
            profile.default_action(),
            Act::ScmpActAllow | Act::ScmpActLog | Act::ScmpActTrace
        )
        // runc skips its stub whenever defaultErrnoRet is ENOSYS.
        && profile.default_errno_ret() != Some(libc::ENOSYS as u32);
    let enosys_above = if enosys_wanted {
        max_nr
            .into_iter()
            .filter(|(a, _)| listed.contains(a))
            .collect()
    } else {
        BTreeMap::new()
    };
    Ok((
        Plan {
            default,
            per_arch,
            enosys_above,
        },
        has_notify,
    ))
}

fn add_rule(sp: &mut SyscallPlan, act: u32, conds: Vec<Cond>, name: &str, ri: usize) {
    if !conds.is_empty() {
        sp.conditional.push(CondRule { action: act, conds });
        return;
    }
    match sp.unconditional {
        // libseccomp refuses a second unconditional rule with another action
        // (EEXIST) and keeps the first; so do we.
        Some(prev) if prev != act => tracing::debug!(
            syscall = %name,
            rule = ri,
            "seccomp: syscall already has an unconditional rule with another action; the first rule wins"
        ),
        _ => sp.unconditional = Some(act),
    }
}

/// Interval list `(start, outcome)` covering `[lo, hi)` for `arch`.
fn intervals(plan: &Plan, arch: Arch, lo: u64, hi: u64, out: &mut Vec<(u64, Outcome)>) {
    fn push(start: u64, o: Outcome, out: &mut Vec<(u64, Outcome)>) {
        if out.last().is_some_and(|l| l.0 == start) {
            out.pop();
        }
        if out.last().map(|l| l.1) != Some(o) {
            out.push((start, o));
        }
    }
    let Some(table) = plan.per_arch.get(&arch) else {
        push(lo, Outcome::Ret(action::BAD_ARCH), out);
        return;
    };
    let dflt = Outcome::Ret(plan.default);
    push(lo, dflt, out);
    for (&nr, sp) in table.range(lo as u32..) {
        if u64::from(nr) >= hi {
            break;
        }
        let o = match sp.unconditional {
            Some(a) => Outcome::Ret(a),
            None => Outcome::Block(arch, nr),
        };
        push(u64::from(nr), o, out);
        push(u64::from(nr) + 1, dflt, out);
    }
    if let Some(&max) = plan.enosys_above.get(&arch) {
        let from = u64::from(max) + 1;
        if from < hi {
            push(from.max(lo), Outcome::Ret(action::ENOSYS), out);
        }
    }
    // A trailing default interval starting at `hi` is not ours.
    while out.last().is_some_and(|l| l.0 >= hi) {
        out.pop();
    }
}

fn generate(plan: &Plan) -> Vec<libc::sock_filter> {
    let mut em = Emitter::default();
    let bad = em.ret(action::BAD_ARCH);
    let has = |a: Arch| plan.per_arch.contains_key(&a);
    let mut sections: Vec<(u32, Vec<(u64, Outcome)>)> = Vec::new();
    if has(Arch::X86_64) || has(Arch::X32) {
        let mut iv = Vec::new();
        intervals(plan, Arch::X86_64, 0, u64::from(X32_SYSCALL_BIT), &mut iv);
        if has(Arch::X32) {
            intervals(
                plan,
                Arch::X32,
                u64::from(X32_SYSCALL_BIT),
                1 << 32,
                &mut iv,
            );
        } else {
            // Without x32 the x32 half is a bad arch, except nr -1, which
            // libseccomp lets through to the x86_64 rules (it is what
            // ptrace-skipped syscalls look like).
            intervals(
                plan,
                Arch::X32,
                u64::from(X32_SYSCALL_BIT),
                u64::from(u32::MAX),
                &mut iv,
            );
            intervals(plan, Arch::X86_64, u64::from(u32::MAX), 1 << 32, &mut iv);
        }
        sections.push((AUDIT_ARCH_X86_64, iv));
    }
    for arch in [Arch::X86, Arch::Aarch64] {
        if has(arch) {
            let mut iv = Vec::new();
            intervals(plan, arch, 0, 1 << 32, &mut iv);
            sections.push((arch.audit_arch(), iv));
        }
    }
    let mut entries = Vec::new();
    for (audit, iv) in sections.iter().rev() {
        let root = tree(&mut em, plan, iv);
        em.goto(root);
        entries.push((*audit, em.stmt(LD_W_ABS, OFF_NR)));
    }
    let mut next = bad;
    for (audit, entry) in entries {
        next = em.cond(JEQ_K, audit, entry, next);
    }
    em.goto(next);
    em.stmt(LD_W_ABS, OFF_ARCH);
    em.finish()
}

fn tree(em: &mut Emitter, plan: &Plan, iv: &[(u64, Outcome)]) -> Label {
    if iv.len() == 1 {
        return match iv[0].1 {
            Outcome::Ret(a) => em.ret(a),
            Outcome::Block(arch, nr) => block(em, plan, arch, nr),
        };
    }
    let mid = iv.len() / 2;
    let right = tree(em, plan, &iv[mid..]);
    let left = tree(em, plan, &iv[..mid]);
    em.cond(JGE_K, iv[mid].0 as u32, right, left)
}

/// Argument checks of one syscall: the first rule whose conditions all hold
/// decides; none holding gives the default action.
fn block(em: &mut Emitter, plan: &Plan, arch: Arch, nr: u32) -> Label {
    let rules = plan
        .per_arch
        .get(&arch)
        .and_then(|t| t.get(&nr))
        .map(|sp| sp.conditional.as_slice())
        .unwrap_or_default();
    let mut next = em.ret(plan.default);
    for rule in rules.iter().rev() {
        let mut pass = em.ret(rule.action);
        for c in rule.conds.iter().rev() {
            pass = cond(em, arch.is_32bit(), c, pass, next);
        }
        next = pass;
    }
    next
}

fn cond(em: &mut Emitter, is32: bool, c: &Cond, pass: Label, fail: Label) -> Label {
    let (vhi, vlo) = ((c.value >> 32) as u32, c.value as u32);
    match c.op {
        Op::ScmpCmpEq => eq(em, is32, c.index, vhi, vlo, None, pass, fail),
        Op::ScmpCmpNe => eq(em, is32, c.index, vhi, vlo, None, fail, pass),
        Op::ScmpCmpMaskedEq => {
            let m = (c.value >> 32) as u32;
            // libseccomp (hence runc and crun) compares against
            // `valueTwo & value`, so bits outside the mask never matter.
            let want = c.value_two & c.value;
            let (whi, wlo) = ((want >> 32) as u32, want as u32);
            eq(
                em,
                is32,
                c.index,
                whi,
                wlo,
                Some((m, c.value as u32)),
                pass,
                fail,
            )
        }
        Op::ScmpCmpGt => gt(em, is32, c.index, vhi, vlo, JGT_K, pass, fail),
        Op::ScmpCmpGe => gt(em, is32, c.index, vhi, vlo, JGE_K, pass, fail),
        Op::ScmpCmpLe => gt(em, is32, c.index, vhi, vlo, JGT_K, fail, pass),
        Op::ScmpCmpLt => gt(em, is32, c.index, vhi, vlo, JGE_K, fail, pass),
    }
}

/// `(arg & mask) == v` (mask all-ones when `None`), high half first.
#[allow(clippy::too_many_arguments)]
fn eq(
    em: &mut Emitter,
    is32: bool,
    i: usize,
    vhi: u32,
    vlo: u32,
    mask: Option<(u32, u32)>,
    pass: Label,
    fail: Label,
) -> Label {
    let lo = em.cond(JEQ_K, vlo, pass, fail);
    em.goto(lo);
    if let Some((_, mlo)) = mask {
        em.stmt(ALU_AND_K, mlo);
    }
    let ld_lo = em.stmt(LD_W_ABS, off_arg_lo(i));
    if is32 {
        return ld_lo;
    }
    if let Some((0, _)) = mask {
        // The high half is masked away entirely, and the wanted value was
        // masked too (`vhi` is 0): nothing to check there.
        return ld_lo;
    }
    let hi = em.cond(JEQ_K, vhi, ld_lo, fail);
    em.goto(hi);
    if let Some((mhi, _)) = mask {
        em.stmt(ALU_AND_K, mhi);
    }
    em.stmt(LD_W_ABS, off_arg_hi(i))
}

/// `arg > v` (`lo_code` = JGT) or `arg >= v` (`lo_code` = JGE), as a 64-bit
/// compare of two 32-bit halves.
#[allow(clippy::too_many_arguments)]
fn gt(
    em: &mut Emitter,
    is32: bool,
    i: usize,
    vhi: u32,
    vlo: u32,
    lo_code: u16,
    pass: Label,
    fail: Label,
) -> Label {
    let lo = em.cond(lo_code, vlo, pass, fail);
    em.goto(lo);
    let ld_lo = em.stmt(LD_W_ABS, off_arg_lo(i));
    if is32 {
        return ld_lo;
    }
    let hi_eq = em.cond(JEQ_K, vhi, ld_lo, fail);
    let hi_gt = em.cond(JGT_K, vhi, pass, hi_eq);
    em.goto(hi_gt);
    em.stmt(LD_W_ABS, off_arg_hi(i))
}
