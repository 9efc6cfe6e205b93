//! Backward code emission with automatic long-jump trampolines.
//!
//! The program is built from its end towards its start, so every jump target
//! already exists when a jump is emitted. Classic BPF conditional jumps only
//! reach 255 instructions ahead; a farther target gets a `ja` trampoline
//! placed right after the jump.

use crate::bpf::{self, JA, RET_K};
use libc::sock_filter;
use std::collections::HashMap;

/// A position in the program, counted from its end (0 = last instruction).
pub type Label = usize;

/// How far a shared `ret` may be before a fresh one is emitted instead.
const REUSE_RET_WITHIN: usize = 240;

/// Builds a program backwards.
#[derive(Default)]
pub struct Emitter {
    rev: Vec<sock_filter>,
    rets: HashMap<u32, Label>,
}

impl Emitter {
    fn push(&mut self, ins: sock_filter) -> Label {
        self.rev.push(ins);
        self.rev.len() - 1
    }

    /// Jump distance from a new instruction to `target`.
    fn dist(&self, target: Label) -> usize {
        self.rev.len() - target - 1
    }

    /// A statement that falls through to [`Emitter::head`].
    pub fn stmt(&mut self, code: u16, k: u32) -> Label {
        self.push(bpf::stmt(code, k))
    }

    /// `ret k`, shared with an earlier identical `ret` when one is close enough.
    pub fn ret(&mut self, k: u32) -> Label {
        if let Some(&l) = self.rets.get(&k) {
            if self.dist(l) <= REUSE_RET_WITHIN {
                return l;
            }
        }
        let l = self.push(bpf::stmt(RET_K, k));
        self.rets.insert(k, l);
        l
    }

    /// An unconditional jump to `target` (or nothing when it would be a no-op).
    pub fn goto(&mut self, target: Label) -> Label {
        if self.rev.len() == target + 1 {
            return target;
        }
        let d = self.dist(target) as u32;
        self.push(bpf::stmt(JA, d))
    }

    /// A conditional jump `code k` to `jt` / `jf`, with trampolines as needed.
    pub fn cond(&mut self, code: u16, k: u32, jt: Label, jf: Label) -> Label {
        if jt == jf {
            return self.goto(jt);
        }
        // Trampolines end up right after the jump. Each one pushes the other
        // target one step farther, so re-check until both fit.
        let (mut jt, mut jf) = (jt, jf);
        loop {
            if self.dist(jf) > 255 {
                jf = self.force_ja(jf);
            } else if self.dist(jt) > 255 {
                jt = self.force_ja(jt);
            } else {
                break;
            }
        }
        let (t, f) = (self.dist(jt) as u8, self.dist(jf) as u8);
        self.push(bpf::jump(code, k, t, f))
    }

    fn force_ja(&mut self, target: Label) -> Label {
        let d = self.dist(target) as u32;
        self.push(bpf::stmt(JA, d))
    }

    /// The finished program (it starts at the last emitted instruction).
    pub fn finish(mut self) -> Vec<sock_filter> {
        self.rev.reverse();
        self.rev
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::{run, SeccompData, JEQ_K, LD_W_ABS, OFF_NR};

    /// Both targets of one jump beyond 255 instructions: two trampolines.
    #[test]
    fn far_targets_get_trampolines() {
        let mut em = Emitter::default();
        let far_true = em.ret(1);
        // 300 instructions of padding that nothing jumps to.
        for k in 0..300 {
            em.stmt(RET_K, 1000 + k);
        }
        let far_false = em.ret(2);
        for k in 0..300 {
            em.stmt(RET_K, 2000 + k);
        }
        let j = em.cond(JEQ_K, 7, far_true, far_false);
        em.goto(j);
        em.stmt(LD_W_ABS, OFF_NR);
        let prog = em.finish();
        assert_eq!(prog.iter().filter(|i| i.code == JA).count(), 2);
        let d = |nr| SeccompData {
            nr,
            ..Default::default()
        };
        assert_eq!(run(&prog, &d(7)), Ok(1));
        assert_eq!(run(&prog, &d(8)), Ok(2));
    }

    /// A near `jt` stays direct while a far `jf` gets a trampoline, and the
    /// trampoline does not push `jt` out of range.
    #[test]
    fn one_far_target_keeps_the_other_direct() {
        let mut em = Emitter::default();
        let far = em.ret(2);
        for k in 0..255 {
            em.stmt(RET_K, 1000 + k);
        }
        let near = em.stmt(RET_K, 1);
        let j = em.cond(JEQ_K, 7, near, far);
        em.goto(j);
        em.stmt(LD_W_ABS, OFF_NR);
        let prog = em.finish();
        assert_eq!(prog.iter().filter(|i| i.code == JA).count(), 1);
        let d = |nr| SeccompData {
            nr,
            ..Default::default()
        };
        assert_eq!(run(&prog, &d(7)), Ok(1));
        assert_eq!(run(&prog, &d(9)), Ok(2));
    }
}
