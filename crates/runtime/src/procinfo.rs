//! Facts about host processes read from `/proc/<pid>/stat`: start time (to detect pid reuse)
//! and whether a process is a zombie.

/// The parsed parts of `/proc/<pid>/stat` that the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: the state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat` (through the `procfs` crate); `None` when the process does not
/// exist (or its stat cannot be read, which for a pid we recorded means it is gone).
pub fn stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    let st = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    Some(ProcStat {
        state: st.state,
        start_time: st.starttime,
    })
}

/// True when `pid` exists, is not a zombie (or dead) and, if `start_time` is given, started at
/// that time (so a reused pid is not mistaken for the container's init).
pub fn is_alive(pid: i32, start_time: Option<u64>) -> bool {
    // A record written before its init existed has pid 0: never "alive" (and never a
    // target for kill(2), where 0 would mean our own process group).
    if pid <= 0 {
        return false;
    }
    match stat(pid) {
        Some(s) => {
            !matches!(s.state, 'Z' | 'X' | 'x') && start_time.is_none_or(|t| t == s.start_time)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id() as i32;
        // Not reaped yet: wait until the kernel shows it as a zombie.
        for _ in 0..200 {
            if stat(pid).is_some_and(|s| s.state == 'Z') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(stat(pid).map(|s| s.state), Some('Z'));
        assert!(!is_alive(pid, None));
        child.wait().expect("reap");
    }

    #[test]
    fn own_process_is_alive_and_start_time_matches() {
        let me = std::process::id() as i32;
        let s = stat(me).expect("own stat");
        assert!(is_alive(me, Some(s.start_time)));
        assert!(!is_alive(me, Some(s.start_time + 1)));
    }

    #[test]
    fn missing_pid_is_dead() {
        assert!(!is_alive(0, None));
        assert!(!is_alive(i32::MAX, None));
    }
}
