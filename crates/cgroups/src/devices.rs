//! Device rules (`linux.resources.devices`) turned into what each hierarchy enforces:
//! `devices.allow` / `devices.deny` lines on v1, and a `BPF_PROG_TYPE_CGROUP_DEVICE` program on
//! v2. Rules are applied in order with the last matching rule winning; anything no rule allows
//! is denied (runc's default).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::CgroupError;

/// Device type a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevType {
    /// Block and character devices.
    All,
    /// Block devices.
    Block,
    /// Character devices (`c` and `u`).
    Char,
}

/// One normalized rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// Device type.
    pub typ: DevType,
    /// Major number, `None` = any.
    pub major: Option<u32>,
    /// Minor number, `None` = any.
    pub minor: Option<u32>,
    /// Access bits: [`ACC_MKNOD`] | [`ACC_READ`] | [`ACC_WRITE`].
    pub access: u32,
}

/// mknod access bit (as in `BPF_DEVCG_ACC_MKNOD`).
pub const ACC_MKNOD: u32 = 1;
/// read access bit.
pub const ACC_READ: u32 = 2;
/// write access bit.
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;
/// `BPF_DEVCG_DEV_BLOCK`.
pub const DEV_BLOCK: u32 = 1;
/// `BPF_DEVCG_DEV_CHAR`.
pub const DEV_CHAR: u32 = 2;

impl Rule {
    /// True for `a *:* rwm`.
    pub fn is_everything(&self) -> bool {
        self.typ == DevType::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }

    fn access_str(&self) -> String {
        let mut s = String::new();
        if self.access & ACC_READ != 0 {
            s.push('r');
        }
        if self.access & ACC_WRITE != 0 {
            s.push('w');
        }
        if self.access & ACC_MKNOD != 0 {
            s.push('m');
        }
        s
    }
}

/// Normalizes the OCI rules. FIFO (`p`) rules: an allow is a no-op (the device cgroup never
/// restricts FIFOs); a deny cannot be enforced and is refused.
pub fn normalize(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>, CgroupError> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let setting = || format!("devices[{i}]");
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DevType::All,
            LinuxDeviceType::B => DevType::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DevType::Char,
            LinuxDeviceType::P => {
                if r.allow() {
                    continue;
                }
                return Err(CgroupError::Unsupported {
                    setting: setting(),
                    reason: "the device cgroup cannot deny FIFOs (type p)".into(),
                });
            }
        };
        let num = |v: Option<i64>, what: &str| -> Result<Option<u32>, CgroupError> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| CgroupError::Invalid {
                        setting: format!("{}.{what}", setting()),
                        value: n.to_string(),
                        reason: "not a device number".into(),
                    }),
            }
        };
        let mut access = 0;
        let acc = r.access().as_deref().unwrap_or("rwm");
        for c in acc.chars() {
            access |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => {
                    return Err(CgroupError::Invalid {
                        setting: format!("{}.access", setting()),
                        value: acc.into(),
                        reason: "access is a combination of r, w and m".into(),
                    })
                }
            };
        }
        if access == 0 {
            access = ACC_ALL;
        }
        out.push(Rule {
            allow: r.allow(),
            typ,
            major: num(r.major(), "major")?,
            minor: num(r.minor(), "minor")?,
            access,
        });
    }
    Ok(out)
}

/// A v1 write: which file and which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Write {
    /// `devices.allow` or `devices.deny`.
    pub file: &'static str,
    /// The line, e.g. `c 1:3 rwm` or `a`.
    pub line: String,
}

/// The v1 writes for `rules`: first `a` to `devices.deny` (deny everything), then each rule in
/// order. An `a *:* rwm` rule becomes a bare `a`; a type-`a` rule with numbers or partial access
/// becomes a `b` and a `c` line (the v1 kernel reads any `a` line as "everything").
pub fn v1_writes(rules: &[Rule]) -> Vec<V1Write> {
    let mut out = vec![V1Write {
        file: "devices.deny",
        line: "a".into(),
    }];
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        if r.is_everything() {
            out.push(V1Write {
                file,
                line: "a".into(),
            });
            continue;
        }
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let types: &[char] = match r.typ {
            DevType::All => &['b', 'c'],
            DevType::Block => &['b'],
            DevType::Char => &['c'],
        };
        for t in types {
            out.push(V1Write {
                file,
                line: format!("{t} {}:{} {}", num(r.major), num(r.minor), r.access_str()),
            });
        }
    }
    out
}

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Offset (jumps, memory).
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

/// Opcodes used by the device filter.
pub mod op {
    /// `r_dst = *(u32 *)(r_src + off)`.
    pub const LDXW: u8 = 0x61;
    /// `w_dst &= imm`.
    pub const AND32_K: u8 = 0x54;
    /// `w_dst >>= imm`.
    pub const RSH32_K: u8 = 0x74;
    /// `w_dst = w_src`.
    pub const MOV32_X: u8 = 0xbc;
    /// `w_dst = imm`.
    pub const MOV32_K: u8 = 0xb4;
    /// `if r_dst != imm goto +off`.
    pub const JNE_K: u8 = 0x55;
    /// `if r_dst != r_src goto +off`.
    pub const JNE_X: u8 = 0x5d;
    /// `if r_dst == imm goto +off`.
    pub const JEQ_K: u8 = 0x15;
    /// `return r0`.
    pub const EXIT: u8 = 0x95;
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Self {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The 8-byte kernel encoding (little-endian host).
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// Builds the device filter: the prologue loads type (r2), access (r3), major (r4) and minor
/// (r5) from `struct bpf_cgroup_dev_ctx`; then one block per rule, last rule first, each
/// returning its verdict on a match; finally deny. An allow rule matches when the requested
/// access is a subset of the rule's; a deny rule matches when they share any bit.
pub fn ebpf_program(rules: &[Rule]) -> Vec<Insn> {
    use op::*;
    let mut p = vec![
        Insn::new(LDXW, 2, 1, 0, 0),
        Insn::new(AND32_K, 2, 0, 0, 0xffff),
        Insn::new(LDXW, 3, 1, 0, 0),
        Insn::new(RSH32_K, 3, 0, 0, 16),
        Insn::new(LDXW, 4, 1, 4, 0),
        Insn::new(LDXW, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        // Each check jumps to the end of this block on mismatch; offsets are patched below.
        let mut block: Vec<Insn> = Vec::new();
        let mut jumps: Vec<usize> = Vec::new();
        match r.typ {
            DevType::All => {}
            DevType::Block | DevType::Char => {
                let t = if r.typ == DevType::Block {
                    DEV_BLOCK
                } else {
                    DEV_CHAR
                };
                jumps.push(block.len());
                block.push(Insn::new(JNE_K, 2, 0, 0, t as i32));
            }
        }
        if r.access != ACC_ALL || !r.allow {
            block.push(Insn::new(MOV32_X, 1, 3, 0, 0));
            block.push(Insn::new(AND32_K, 1, 0, 0, r.access as i32));
            jumps.push(block.len());
            if r.allow {
                block.push(Insn::new(JNE_X, 1, 3, 0, 0));
            } else {
                block.push(Insn::new(JEQ_K, 1, 0, 0, 0));
            }
        }
        if let Some(m) = r.major {
            jumps.push(block.len());
            block.push(Insn::new(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            jumps.push(block.len());
            block.push(Insn::new(JNE_K, 5, 0, 0, m as i32));
        }
        block.push(Insn::new(MOV32_K, 0, 0, 0, i32::from(r.allow)));
        block.push(Insn::new(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for j in jumps {
            block[j].off = (len - j - 1) as i16;
        }
        p.extend(block);
    }
    p.push(Insn::new(MOV32_K, 0, 0, 0, 0));
    p.push(Insn::new(EXIT, 0, 0, 0, 0));
    p
}

/// Runs a device-filter program (only the opcodes [`ebpf_program`] emits) on one access, as
/// the kernel would: returns the verdict (1 allow, 0 deny). For tests and `--debug` checks.
pub fn interpret(
    prog: &[Insn],
    dev_type: u32,
    access: u32,
    major: u32,
    minor: u32,
) -> Result<u32, String> {
    let ctx = [(access << 16) | dev_type, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..4096 {
        let i = prog
            .get(pc)
            .ok_or_else(|| format!("pc {pc} out of program"))?;
        let (d, s) = (i.dst as usize, i.src as usize);
        if d > 10 || s > 10 {
            return Err(format!("bad register at {pc}"));
        }
        let mut next = pc + 1;
        let jump = |cond: bool| {
            if cond {
                pc as i64 + 1 + i64::from(i.off)
            } else {
                pc as i64 + 1
            }
        };
        match i.code {
            op::LDXW => {
                if s != 1 || i.off % 4 != 0 || !(0..12).contains(&i.off) {
                    return Err(format!("bad ctx load at {pc}"));
                }
                r[d] = u64::from(ctx[(i.off / 4) as usize]);
            }
            op::AND32_K => r[d] = u64::from(r[d] as u32 & i.imm as u32),
            op::RSH32_K => r[d] = u64::from((r[d] as u32) >> (i.imm as u32)),
            op::MOV32_X => r[d] = u64::from(r[s] as u32),
            op::MOV32_K => r[d] = u64::from(i.imm as u32),
            op::JNE_K => next = jump(r[d] != i.imm as i64 as u64) as usize,
            op::JEQ_K => next = jump(r[d] == i.imm as i64 as u64) as usize,
            op::JNE_X => next = jump(r[d] != r[s]) as usize,
            op::EXIT => return Ok(r[0] as u32),
            c => return Err(format!("unknown opcode {c:#x} at {pc}")),
        }
        pc = next;
    }
    Err("no exit".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(
        allow: bool,
        t: LinuxDeviceType,
        maj: Option<i64>,
        min: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(t)
            .access(acc);
        if let Some(m) = maj {
            b = b.major(m);
        }
        if let Some(m) = min {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    fn typical() -> Vec<Rule> {
        normalize(&[
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"), // /dev/null
            rule(true, LinuxDeviceType::C, Some(1), Some(5), "r"),   // /dev/zero read only
            rule(true, LinuxDeviceType::C, Some(136), None, "rwm"),  // pts
            rule(true, LinuxDeviceType::P, None, None, "rwm"),       // FIFO allow: no-op
            rule(false, LinuxDeviceType::C, Some(136), Some(7), "w"), // but not writes to pts/7
        ])
        .unwrap()
    }

    #[test]
    fn v1_lines_deny_all_then_rules() {
        let w = v1_writes(&typical());
        let lines: Vec<String> = w.iter().map(|w| format!("{} {}", w.file, w.line)).collect();
        assert_eq!(
            lines,
            vec![
                "devices.deny a",
                "devices.deny a",
                "devices.allow c 1:3 rwm",
                "devices.allow c 1:5 r",
                "devices.allow c 136:* rwm",
                "devices.deny c 136:7 w",
            ]
        );
        let n = normalize(&[rule(true, LinuxDeviceType::A, Some(1), None, "r")]).unwrap();
        let l: Vec<String> = v1_writes(&n).into_iter().map(|w| w.line).collect();
        assert_eq!(l, vec!["a", "b 1:* r", "c 1:* r"]);
    }

    #[test]
    fn fifo_deny_and_bad_access_are_refused() {
        let e = normalize(&[rule(false, LinuxDeviceType::P, None, None, "rwm")]).unwrap_err();
        assert!(e.to_string().contains("devices[0]"), "{e}");
        let e = normalize(&[rule(true, LinuxDeviceType::C, None, None, "rx")]).unwrap_err();
        assert!(e.to_string().contains("devices[0].access"), "{e}");
    }

    #[test]
    fn ebpf_program_enforces_rules() {
        let p = ebpf_program(&typical());
        let run = |t, a, ma, mi| interpret(&p, t, a, ma, mi).unwrap();
        assert_eq!(run(DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "null rw");
        assert_eq!(run(DEV_CHAR, ACC_READ, 1, 5), 1, "zero r");
        assert_eq!(run(DEV_CHAR, ACC_WRITE, 1, 5), 0, "zero w");
        assert_eq!(run(DEV_CHAR, ACC_READ | ACC_WRITE, 1, 5), 0, "zero rw");
        assert_eq!(run(DEV_BLOCK, ACC_READ, 1, 3), 0, "block 1:3");
        assert_eq!(run(DEV_CHAR, ACC_READ, 136, 2), 1, "pts/2");
        assert_eq!(run(DEV_CHAR, ACC_READ, 136, 7), 1, "pts/7 read");
        assert_eq!(run(DEV_CHAR, ACC_READ | ACC_WRITE, 136, 7), 0, "pts/7 rw");
        assert_eq!(run(DEV_CHAR, ACC_READ, 10, 200), 0, "tun");
    }

    #[test]
    fn ebpf_allow_all_and_empty() {
        let all = normalize(&[rule(true, LinuxDeviceType::A, None, None, "rwm")]).unwrap();
        let p = ebpf_program(&all);
        assert_eq!(interpret(&p, DEV_BLOCK, ACC_MKNOD, 8, 0).unwrap(), 1);
        let p = ebpf_program(&[]);
        assert_eq!(interpret(&p, DEV_CHAR, ACC_READ, 1, 3).unwrap(), 0);
        assert_eq!(p.len(), 8);
        // Encoding: ldxw r2, [r1+0] is 61 12 00 00 00 00 00 00.
        assert_eq!(p[0].encode(), [0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    }
}
