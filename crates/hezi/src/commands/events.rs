//! `hezi events`: the container's cgroup statistics as runc prints them
//! (`{"type":"stats","id":..,"data":{..}}`), once with `--stats` or every `--interval`, plus an
//! `{"type":"oom","id":..}` line whenever the OOM killer fires in the container. The stream
//! ends when the container stops.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hezi_cgroups::stats::Event;
use hezi_cgroups::CgroupManager;
use hezi_runtime::{Container, Status};

use crate::cli::{EventsArgs, GlobalOpts};

/// How often the OOM counter is checked between stats samples.
const OOM_POLL: Duration = Duration::from_millis(100);

/// Runs `hezi events`.
pub fn run(g: &GlobalOpts, a: &EventsArgs) -> anyhow::Result<u8> {
    let interval =
        parse_duration(&a.interval).with_context(|| format!("--interval {:?}", a.interval))?;
    if interval.is_zero() {
        anyhow::bail!("--interval must be greater than 0");
    }
    let c = Container::load(&g.root, &a.id)?;
    if c.status() == Status::Stopped {
        anyhow::bail!("container {} is not running", a.id);
    }
    let cg = c.cgroup()?;
    let mut out = std::io::stdout().lock();
    if a.stats {
        writeln!(out, "{}", stats_line(cg.as_ref(), &a.id)?)?;
        return Ok(0);
    }
    // Without a readable OOM count (no memory controller) there are no OOM events to
    // report; the stats lines still come.
    let mut ooms = cg.oom_kill_count().unwrap_or(0);
    let mut next = Instant::now();
    loop {
        if c.status() == Status::Stopped {
            return Ok(0);
        }
        if let Ok(n) = cg.oom_kill_count() {
            if n > ooms {
                let ev = Event {
                    kind: "oom".into(),
                    id: a.id.clone(),
                    data: None,
                };
                writeln!(out, "{}", serde_json::to_string(&ev)?)?;
                ooms = n;
            }
        }
        if Instant::now() >= next {
            match stats_line(cg.as_ref(), &a.id) {
                Ok(l) => writeln!(out, "{l}")?,
                // The container may have stopped between the check and the read.
                Err(e) if c.status() == Status::Stopped => {
                    tracing::debug!("events: {e:#}");
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            out.flush()?;
            next += interval;
        }
        std::thread::sleep(OOM_POLL.min(interval));
    }
}

fn stats_line(cg: &dyn CgroupManager, id: &str) -> anyhow::Result<String> {
    let stats = cg
        .stats()
        .with_context(|| format!("stats of container {id}"))?;
    let ev = Event {
        kind: "stats".into(),
        id: id.to_string(),
        data: Some(stats),
    };
    Ok(serde_json::to_string(&ev)?)
}

/// Parses a Go-style duration: `5s`, `500ms`, `1m30s`, `1.5s`, `100us`, `2h`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        anyhow::bail!("empty duration");
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let num: f64 = rest[..n]
            .parse()
            .map_err(|_| anyhow::anyhow!("not a duration (expected e.g. 5s, 500ms)"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            "" => anyhow::bail!("missing unit (h, m, s, ms, us, ns)"),
            other => anyhow::bail!("unknown unit {other:?}"),
        };
        total += num * secs;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
