//! Signal names and numbers as `kill` accepts them: `TERM`, `SIGTERM`, `sigterm`, `15`, and the
//! real-time signals `37`, `RTMIN+3`, `SIGRTMAX-2` (systemd in a container shuts down on
//! `SIGRTMIN+3`).

use nix::sys::signal::Signal;

use crate::error::{Result, RuntimeError};

/// The first real-time signal as runc (and Docker, and glibc's `SIGRTMIN`) count: the kernel's
/// 32 and 33 are reserved by the C library.
pub const SIGRTMIN: i32 = 34;
/// The last real-time signal (the kernel's `_NSIG - 1` on Linux).
pub const SIGRTMAX: i32 = 64;

/// Parses a signal given by name (with or without the `SIG` prefix, any case) or number into
/// its number: 1 to 64, real-time ones included.
pub fn parse_signal(s: &str) -> Result<i32> {
    let bad = || RuntimeError::WrongStatus(format!("invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |rest: &str, base: i32, sign: i32| -> Result<i32> {
        let n = if rest.is_empty() {
            base
        } else {
            let (op, num) = rest.split_at(1);
            let k: i32 = num.parse().map_err(|_| bad())?;
            match op {
                "+" if sign > 0 => base + k,
                "-" if sign < 0 => base - k,
                _ => return Err(bad()),
            }
        };
        if (SIGRTMIN..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        return rt(rest, SIGRTMIN, 1);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        return rt(rest, SIGRTMAX, -1);
    }
    format!("SIG{bare}")
        .parse::<Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("TERM").ok(), Some(libc::SIGTERM));
        assert_eq!(parse_signal("SIGKILL").ok(), Some(libc::SIGKILL));
        assert_eq!(parse_signal("hup").ok(), Some(libc::SIGHUP));
        assert_eq!(parse_signal("9").ok(), Some(libc::SIGKILL));
        assert_eq!(parse_signal("usr1").ok(), Some(libc::SIGUSR1));
    }

    #[test]
    fn parses_real_time_signals() {
        assert_eq!(parse_signal("37").ok(), Some(37));
        assert_eq!(parse_signal("64").ok(), Some(64));
        assert_eq!(parse_signal("SIGRTMIN+3").ok(), Some(37));
        assert_eq!(parse_signal("RTMIN+3").ok(), Some(37));
        assert_eq!(parse_signal("rtmin").ok(), Some(34));
        assert_eq!(parse_signal("SIGRTMAX-2").ok(), Some(62));
        assert_eq!(parse_signal("RTMAX").ok(), Some(64));
        assert!(parse_signal("RTMIN+31").is_err());
        assert!(parse_signal("RTMIN-1").is_err());
        assert!(parse_signal("RTMAX+1").is_err());
    }

    #[test]
    fn rejects_unknown() {
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("999").is_err());
    }
}
