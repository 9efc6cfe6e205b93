//! Architectures hezi-seccomp has syscall tables for, and their audit values.

use oci_spec::runtime::Arch as OciArch;

/// `AUDIT_ARCH_X86_64` (`seccomp_data.arch` for x86_64 and x32 tasks).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386` (`seccomp_data.arch` for i386 tasks).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// Bit set in the syscall number of x32 system calls.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A syscall ABI with a name table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// x86_64 (`SCMP_ARCH_X86_64`).
    X86_64,
    /// i386 (`SCMP_ARCH_X86`).
    X86,
    /// x32 (`SCMP_ARCH_X32`): x86_64 audit arch, syscall numbers with bit 30 set.
    X32,
    /// AArch64 (`SCMP_ARCH_AARCH64`), the generic syscall table.
    Aarch64,
}

impl Arch {
    /// The value the kernel puts in `seccomp_data.arch` for this ABI.
    pub fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => AUDIT_ARCH_X86_64,
            Arch::X86 => AUDIT_ARCH_I386,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// True when syscall arguments are compared as 32-bit values (low halves
    /// only). libseccomp treats x32 this way too, and we match it.
    pub fn is_32bit(self) -> bool {
        matches!(self, Arch::X86 | Arch::X32)
    }

    /// The runtime-spec name (`SCMP_ARCH_...`).
    pub fn spec_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
        }
    }

    /// The native ABI of the running build, if supported.
    pub fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "x86") {
            Some(Arch::X86)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// Map a runtime-spec architecture; `Ok(None)` for real architectures we
    /// have no table for (the filter's bad-arch action covers them).
    pub fn from_oci(arch: OciArch, native: Arch) -> Option<Arch> {
        match arch {
            OciArch::ScmpArchNative => Some(native),
            OciArch::ScmpArchX86_64 => Some(Arch::X86_64),
            OciArch::ScmpArchX86 => Some(Arch::X86),
            OciArch::ScmpArchX32 => Some(Arch::X32),
            OciArch::ScmpArchAarch64 => Some(Arch::Aarch64),
            _ => None,
        }
    }
}
