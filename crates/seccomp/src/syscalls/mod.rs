//! Syscall name tables (generated from the kernel UAPI headers).

mod aarch64;
mod x32;
mod x86;
mod x86_64;

use crate::arch::Arch;

/// The `(name, number)` table of `arch`, sorted by name. x32 numbers include
/// the x32 bit (`0x40000000`).
pub fn table(arch: Arch) -> &'static [(&'static str, u32)] {
    match arch {
        Arch::X86_64 => x86_64::TABLE,
        Arch::X86 => x86::TABLE,
        Arch::X32 => x32::TABLE,
        Arch::Aarch64 => aarch64::TABLE,
    }
}

/// Resolve a syscall name on `arch`; `None` when the arch has no such syscall.
pub fn resolve(arch: Arch, name: &str) -> Option<u32> {
    let t = table(arch);
    t.binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| t[i].1)
}

/// The name of syscall `nr` on `arch`, if known.
pub fn name_of(arch: Arch, nr: u32) -> Option<&'static str> {
    table(arch)
        .iter()
        .find(|(_, n)| *n == nr)
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_numbers() {
        assert_eq!(resolve(Arch::X86_64, "read"), Some(0));
        assert_eq!(resolve(Arch::X86_64, "getppid"), Some(110));
        assert_eq!(resolve(Arch::X86, "getppid"), Some(64));
        assert_eq!(resolve(Arch::X86, "socketcall"), Some(102));
        assert_eq!(resolve(Arch::X32, "read"), Some(0x4000_0000));
        assert_eq!(resolve(Arch::X86_64, "socketcall"), None);
        assert_eq!(resolve(Arch::X86_64, "no_such_call"), None);
        assert_eq!(name_of(Arch::X86_64, 272), Some("unshare"));
        assert_eq!(resolve(Arch::Aarch64, "getppid"), Some(173));
        assert_eq!(resolve(Arch::Aarch64, "openat"), Some(56));
        assert_eq!(resolve(Arch::Aarch64, "fcntl"), Some(25));
        assert_eq!(resolve(Arch::Aarch64, "open"), None);
        assert_eq!(resolve(Arch::Aarch64, "arch_specific_syscall"), None);
    }

    #[test]
    fn tables_are_sorted() {
        for arch in [Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64] {
            assert!(table(arch).windows(2).all(|w| w[0].0 < w[1].0), "{arch:?}");
        }
    }
}
