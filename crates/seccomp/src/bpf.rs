//! Classic BPF as seccomp uses it: instruction constructors, a reference
//! interpreter (the kernel's semantics for the seccomp subset) and a
//! disassembler for debugging.

use libc::sock_filter;

/// `BPF_LD | BPF_W | BPF_ABS`: load a 32-bit word of `seccomp_data`.
pub const LD_W_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
pub const ALU_AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA`.
pub const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub const JEQ_K: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K`.
pub const JGT_K: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K`.
pub const JGE_K: u16 = 0x35;
/// `BPF_JMP | BPF_JSET | BPF_K`.
pub const JSET_K: u16 = 0x45;
/// `BPF_RET | BPF_K`.
pub const RET_K: u16 = 0x06;

/// Offset of `nr` in `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
/// Offset of `arch` in `struct seccomp_data`.
pub const OFF_ARCH: u32 = 4;
/// Offset of the low half of argument `i` (little endian).
pub fn off_arg_lo(i: usize) -> u32 {
    16 + 8 * i as u32
}
/// Offset of the high half of argument `i` (little endian).
pub fn off_arg_hi(i: usize) -> u32 {
    off_arg_lo(i) + 4
}

/// A non-jump instruction.
pub fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A conditional jump instruction.
pub fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The input of a seccomp filter (`struct seccomp_data`), in host form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeccompData {
    /// Syscall number.
    pub nr: u32,
    /// `AUDIT_ARCH_*` value.
    pub arch: u32,
    /// Instruction pointer.
    pub instruction_pointer: u64,
    /// Syscall arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32) -> Option<u32> {
        match off {
            0 => Some(self.nr),
            4 => Some(self.arch),
            8 => Some(self.instruction_pointer as u32),
            12 => Some((self.instruction_pointer >> 32) as u32),
            16..=60 if off.is_multiple_of(4) => {
                let a = self.args[((off - 16) / 8) as usize];
                Some(if off.is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                })
            }
            _ => None,
        }
    }
}

/// Why [`run`] could not produce a verdict (the kernel would reject the program).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The program counter left the program.
    #[error("jump out of program at instruction {0}")]
    OutOfBounds(usize),
    /// An instruction the seccomp BPF subset does not allow.
    #[error("unsupported instruction {code:#x} at {pc}")]
    Unsupported {
        /// Instruction index.
        pc: usize,
        /// Opcode.
        code: u16,
    },
}

/// Run a seccomp program on `data` and return its verdict (the `ret` value).
/// Supports the instructions hezi and libseccomp emit: word loads from
/// `seccomp_data`, `BPF_ALU` with constants, all `BPF_JMP` forms with
/// constants, `ret k` and `ret a`, and the `tax`/`txa`/scratch-memory moves.
pub fn run(prog: &[sock_filter], data: &SeccompData) -> Result<u32, RunError> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    loop {
        let ins = prog.get(pc).ok_or(RunError::OutOfBounds(pc))?;
        let bad = RunError::Unsupported { pc, code: ins.code };
        let k = ins.k;
        pc += 1;
        match ins.code {
            0x20 => a = data.word(k).ok_or(bad)?,
            0x00 => a = k,                                    // ld #k
            0x01 => x = k,                                    // ldx #k
            0x60 => a = *mem.get(k as usize).ok_or(bad)?,     // ld M[k]
            0x61 => x = *mem.get(k as usize).ok_or(bad)?,     // ldx M[k]
            0x02 => *mem.get_mut(k as usize).ok_or(bad)? = a, // st
            0x03 => *mem.get_mut(k as usize).ok_or(bad)? = x, // stx
            0x07 => x = a,                                    // tax
            0x87 => a = x,                                    // txa
            0x06 => return Ok(k),
            0x16 => return Ok(a),
            0x05 => pc = pc.checked_add(k as usize).ok_or(bad)?,
            code if code & 0x07 == 0x04 => {
                // BPF_ALU
                let src = if code & 0x08 != 0 { x } else { k };
                a = match code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 if src != 0 => a / src,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 if src != 0 => a % src,
                    0xa0 => a ^ src,
                    _ => return Err(bad),
                };
            }
            code if code & 0x07 == 0x05 => {
                let src = if code & 0x08 != 0 { x } else { k };
                let taken = match code & 0xf0 {
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    _ => return Err(bad),
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            _ => return Err(bad),
        }
    }
}

/// One line per instruction, in a `bpf_dbg`-like syntax.
pub fn disassemble(prog: &[sock_filter]) -> String {
    let mut out = String::new();
    for (i, ins) in prog.iter().enumerate() {
        let t = i + 1 + usize::from(ins.jt);
        let f = i + 1 + usize::from(ins.jf);
        let line = match ins.code {
            LD_W_ABS => format!("ld [{}]", ins.k),
            ALU_AND_K => format!("and #{:#x}", ins.k),
            JA => format!("ja {}", i + 1 + ins.k as usize),
            JEQ_K => format!("jeq #{:#x} jt {t} jf {f}", ins.k),
            JGT_K => format!("jgt #{:#x} jt {t} jf {f}", ins.k),
            JGE_K => format!("jge #{:#x} jt {t} jf {f}", ins.k),
            JSET_K => format!("jset #{:#x} jt {t} jf {f}", ins.k),
            RET_K => format!("ret #{:#x}", ins.k),
            c => format!("op {c:#x} k {:#x} jt {} jf {}", ins.k, ins.jt, ins.jf),
        };
        out.push_str(&format!("{i:4}: {line}\n"));
    }
    out
}

/// Like [`run`], also returning how many instructions executed (a measure
/// of the per-syscall cost of a filter).
pub fn run_counted(prog: &[sock_filter], data: &SeccompData) -> Result<(u32, usize), RunError> {
    // Re-run with a step budget to count: the program is loop-free (jumps
    // only go forward), so the count is the path length.
    let mut steps = 0;
    let mut pc = 0usize;
    let mut a = 0u32;
    loop {
        let ins = prog.get(pc).ok_or(RunError::OutOfBounds(pc))?;
        steps += 1;
        pc += 1;
        match ins.code {
            LD_W_ABS => {
                a = data.word(ins.k).ok_or(RunError::Unsupported {
                    pc: pc - 1,
                    code: ins.code,
                })?
            }
            ALU_AND_K => a &= ins.k,
            JA => pc += ins.k as usize,
            RET_K => return Ok((ins.k, steps)),
            JEQ_K | JGT_K | JGE_K | JSET_K => {
                let taken = match ins.code {
                    JEQ_K => a == ins.k,
                    JGT_K => a > ins.k,
                    JGE_K => a >= ins.k,
                    _ => a & ins.k != 0,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            // Anything else: fall back to the full interpreter for the verdict.
            _ => return run(prog, data).map(|v| (v, steps)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_follows_jumps_and_masks() {
        let prog = [
            stmt(LD_W_ABS, OFF_NR),
            jump(JEQ_K, 7, 0, 3),
            stmt(LD_W_ABS, off_arg_hi(1)),
            stmt(ALU_AND_K, 0xf0),
            jump(JEQ_K, 0x30, 1, 0),
            stmt(RET_K, 1),
            stmt(RET_K, 2),
        ];
        let mut d = SeccompData {
            nr: 7,
            ..Default::default()
        };
        d.args[1] = 0x35_0000_0000;
        assert_eq!(run(&prog, &d), Ok(2));
        d.args[1] = 0x45_0000_0000;
        assert_eq!(run(&prog, &d), Ok(1));
        d.nr = 8;
        assert_eq!(run(&prog, &d), Ok(1));
        assert_eq!(
            run(&[stmt(JA, 3), stmt(RET_K, 0)], &d),
            Err(RunError::OutOfBounds(4))
        );
    }

    #[test]
    fn interpreter_rejects_bad_loads() {
        let prog = [stmt(LD_W_ABS, 64), stmt(RET_K, 0)];
        assert!(matches!(
            run(&prog, &SeccompData::default()),
            Err(RunError::Unsupported { pc: 0, .. })
        ));
    }
}
