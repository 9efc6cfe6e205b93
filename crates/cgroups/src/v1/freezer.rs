//! v1 freezer: write `freezer.state` and poll until the kernel reports the state. A freeze can
//! stall in FREEZING (a task in an uninterruptible sleep); like runc, hezi thaws and retries,
//! and gives up with an error (leaving the cgroup thawed) after a bounded time.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{fsutil, CgroupError, FreezerState};

const FILE: &str = "freezer.state";

/// Reads the state.
pub fn get(dir: &Path) -> Result<FreezerState, CgroupError> {
    let s = fsutil::read(dir, FILE)?;
    match s.trim() {
        "FROZEN" => Ok(FreezerState::Frozen),
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        other => Err(CgroupError::Parse {
            path: dir.join(FILE),
            reason: format!("unknown freezer state {other:?}"),
        }),
    }
}

/// Sets the state and waits for it.
pub fn set(dir: &Path, want: FreezerState) -> Result<(), CgroupError> {
    match want {
        FreezerState::Thawed => {
            fsutil::write(dir, FILE, "THAWED")?;
            wait(dir, FreezerState::Thawed, Duration::from_secs(2))
        }
        FreezerState::Frozen => {
            let start = Instant::now();
            for attempt in 0..50u32 {
                fsutil::write(dir, FILE, "FROZEN")?;
                if wait(dir, FreezerState::Frozen, Duration::from_millis(100)).is_ok() {
                    return Ok(());
                }
                tracing::debug!(dir = %dir.display(), attempt, "freeze stalled; thaw and retry");
                fsutil::write(dir, FILE, "THAWED")?;
                std::thread::sleep(Duration::from_millis(1 + u64::from(attempt)));
            }
            fsutil::write(dir, FILE, "THAWED")?;
            Err(CgroupError::Timeout {
                path: dir.to_path_buf(),
                what: "not FROZEN (left THAWED)".into(),
                waited_ms: start.elapsed().as_millis() as u64,
            })
        }
        FreezerState::Freezing => Err(CgroupError::Invalid {
            setting: "freezer".into(),
            value: "FREEZING".into(),
            reason: "FREEZING is a transient state, not one that can be requested".into(),
        }),
    }
}

fn wait(dir: &Path, want: FreezerState, limit: Duration) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        if get(dir)? == want {
            return Ok(());
        }
        if start.elapsed() >= limit {
            return Err(CgroupError::Timeout {
                path: dir.to_path_buf(),
                what: format!("freezer not {want:?}"),
                waited_ms: limit.as_millis() as u64,
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_tree_round_trip() {
        // A plain file echoes what is written, so FROZEN is "reached" at once.
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(FILE), "THAWED\n").unwrap();
        set(t.path(), FreezerState::Frozen).unwrap();
        assert_eq!(get(t.path()).unwrap(), FreezerState::Frozen);
        set(t.path(), FreezerState::Thawed).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.path().join(FILE)).unwrap(),
            "THAWED"
        );
        assert!(set(t.path(), FreezerState::Freezing).is_err());
        std::fs::write(t.path().join(FILE), "BOGUS").unwrap();
        assert!(get(t.path()).unwrap_err().to_string().contains("BOGUS"));
    }
}
