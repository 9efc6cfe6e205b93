//! i386 multiplexed syscalls: `socketcall(2)` and `ipc(2)`.
//!
//! On i386 the socket and SysV IPC calls can also be reached through one
//! multiplexer syscall whose first argument selects the call. Like
//! libseccomp, a rule on such a call also becomes a rule on the multiplexer
//! with `arg0 == <call number>` (replacing any condition on argument 0, and
//! keeping the other conditions at their indexes).

/// `__NR_socketcall` on i386.
pub const SOCKETCALL: u32 = 102;
/// `__NR_ipc` on i386.
pub const IPC: u32 = 117;

const SOCKET_CALLS: &[(&str, u64)] = &[
    ("socket", 1),
    ("bind", 2),
    ("connect", 3),
    ("listen", 4),
    ("accept", 5),
    ("getsockname", 6),
    ("getpeername", 7),
    ("socketpair", 8),
    ("send", 9),
    ("recv", 10),
    ("sendto", 11),
    ("recvfrom", 12),
    ("shutdown", 13),
    ("setsockopt", 14),
    ("getsockopt", 15),
    ("sendmsg", 16),
    ("recvmsg", 17),
    ("accept4", 18),
    ("recvmmsg", 19),
    ("sendmmsg", 20),
];

const IPC_CALLS: &[(&str, u64)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// `(multiplexer syscall, call number)` for a multiplexed i386 call name.
pub fn lookup(name: &str) -> Option<(u32, u64)> {
    let find = |t: &[(&str, u64)]| t.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
    find(SOCKET_CALLS)
        .map(|c| (SOCKETCALL, c))
        .or_else(|| find(IPC_CALLS).map(|c| (IPC, c)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lookup_finds_both_multiplexers() {
        assert_eq!(super::lookup("recv"), Some((super::SOCKETCALL, 10)));
        assert_eq!(super::lookup("shmat"), Some((super::IPC, 21)));
        assert_eq!(super::lookup("read"), None);
    }
}
