//! Facts about host processes read from `/proc/<pid>/stat`: start time (to detect pid reuse)
//! and whether a process is a zombie.

use std::fs;

/// The parsed parts of `/proc/<pid>/stat` that the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: the state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
}

/// Parses the text of a `/proc/<pid>/stat` file. The command name (field 2) may contain
/// spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let close = text.rfind(')')?;
    let rest = text.get(close + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3) come fields 4.. ; start time is field 22, i.e. 19 more.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist.
pub fn stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
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
    fn parses_stat_with_odd_comm() {
        let line =
            "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        let s = parse_stat(line).expect("parse");
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_time, 987654);
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
