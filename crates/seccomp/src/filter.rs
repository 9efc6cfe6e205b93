//! The compiled program and its serialized form.

use crate::SeccompError;
use libc::sock_filter;

const MAGIC: &[u8; 8] = b"HZSECBPF";
const VERSION: u32 = 1;

/// A compiled seccomp program, ready for [`crate::install`].
#[derive(Clone)]
pub struct CompiledFilter {
    insns: Vec<sock_filter>,
    flags: u32,
    has_notify: bool,
}

impl std::fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("len", &self.insns.len())
            .field("flags", &self.flags)
            .field("has_notify", &self.has_notify)
            .finish()
    }
}

impl PartialEq for CompiledFilter {
    fn eq(&self, other: &Self) -> bool {
        self.flags == other.flags
            && self.has_notify == other.has_notify
            && self.to_bytes() == other.to_bytes()
    }
}

impl CompiledFilter {
    pub(crate) fn new(insns: Vec<sock_filter>, flags: u32, has_notify: bool) -> Self {
        CompiledFilter {
            insns,
            flags,
            has_notify,
        }
    }

    /// Wrap a BPF program built elsewhere (checked only for length; the
    /// kernel verifies the rest at install time). `NEW_LISTENER` in `flags`
    /// marks it as a notify filter.
    pub fn from_raw(insns: Vec<sock_filter>, flags: u32) -> Result<Self, SeccompError> {
        if insns.is_empty() {
            return Err(SeccompError::Decode {
                reason: "empty program",
            });
        }
        if insns.len() > crate::compile::MAX_INSNS {
            return Err(SeccompError::TooLarge { len: insns.len() });
        }
        let has_notify = flags & crate::compile::FLAG_NEW_LISTENER != 0;
        Ok(CompiledFilter {
            insns,
            flags,
            has_notify,
        })
    }

    /// The BPF program.
    pub fn instructions(&self) -> &[sock_filter] {
        &self.insns
    }

    /// `SECCOMP_FILTER_FLAG_*` bits passed to seccomp(2) (includes
    /// `NEW_LISTENER` when the profile has NOTIFY rules).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// True when some rule uses `SCMP_ACT_NOTIFY` (install returns a listener fd).
    pub fn has_notify(&self) -> bool {
        self.has_notify
    }

    /// Serialize: magic, version, flags, notify byte, count, then each
    /// instruction as code(u16) jt(u8) jf(u8) k(u32), all little endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21 + 8 * self.insns.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.push(u8::from(self.has_notify));
        out.extend_from_slice(&(self.insns.len() as u32).to_le_bytes());
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// Parse [`CompiledFilter::to_bytes`] output, checking every field.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SeccompError> {
        let bad = |reason| SeccompError::Decode { reason };
        let u32_at = |o: usize| -> Result<u32, SeccompError> {
            b.get(o..o + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or(bad("truncated header"))
        };
        if b.get(..8) != Some(&MAGIC[..]) {
            return Err(bad("bad magic"));
        }
        if u32_at(8)? != VERSION {
            return Err(bad("unknown version"));
        }
        let flags = u32_at(12)?;
        let has_notify = match b.get(16) {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(bad("bad notify byte")),
        };
        let n = u32_at(17)? as usize;
        let body = &b[21..];
        if n == 0 || n > crate::compile::MAX_INSNS || body.len() != n * 8 {
            return Err(bad("instruction count does not match length"));
        }
        let insns = body
            .chunks_exact(8)
            .map(|c| sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(CompiledFilter {
            insns,
            flags,
            has_notify,
        })
    }
}
