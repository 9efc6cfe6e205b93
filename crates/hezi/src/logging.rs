//! Log output in runc's shapes: logrus-style text or one JSON object per line
//! (`{"level":"error","msg":"...","time":"..."}`), to `--log FILE` or stderr.
//!
//! containerd reads the last `level=error` line of the log file and reports its `msg`, so the
//! error that ends a command is always logged here as well as printed on stderr.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::cli::LogFormat;

/// Where log lines go.
enum Sink {
    Stderr,
    File(Mutex<File>),
}

/// A tracing layer that writes runc-shaped log lines.
struct RuncLayer {
    format: LogFormat,
    sink: Sink,
    max: Level,
}

/// Collects an event's message and extra fields.
#[derive(Default)]
struct Collect {
    msg: String,
    fields: Vec<(String, String)>,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

impl<S: Subscriber> Layer<S> for RuncLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max {
            return;
        }
        let mut c = Collect::default();
        event.record(&mut c);
        let line = format_line(self.format, level, &c.msg, &c.fields);
        match &self.sink {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::File(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }
}

/// The lowercase level name logrus uses.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Formats one log line, newline included.
fn format_line(format: LogFormat, level: Level, msg: &str, fields: &[(String, String)]) -> String {
    let time = rfc3339_now();
    match format {
        LogFormat::Json => {
            let mut obj = serde_json::Map::new();
            obj.insert("level".into(), level_name(level).into());
            obj.insert("msg".into(), msg.into());
            obj.insert("time".into(), time.into());
            for (k, v) in fields {
                obj.insert(k.clone(), v.clone().into());
            }
            let mut s = serde_json::Value::Object(obj).to_string();
            s.push('\n');
            s
        }
        LogFormat::Text => {
            let mut s = format!("time=\"{time}\" level={} msg={:?}", level_name(level), msg);
            for (k, v) in fields {
                let _ = write!(s, " {k}={v:?}");
            }
            s.push('\n');
            s
        }
    }
}

/// The current UTC time as RFC 3339 with nanoseconds.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

/// Formats seconds since the epoch (UTC) as RFC 3339.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Installs the global subscriber. Without `--log`, only warnings and errors reach stderr
/// (debug too with `--debug`); with `--log`, everything up to info (debug with `--debug`).
pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> std::io::Result<()> {
    let (sink, max) = match log {
        Some(path) => {
            let f = OpenOptions::new().create(true).append(true).open(path)?;
            (
                Sink::File(Mutex::new(f)),
                if debug { Level::DEBUG } else { Level::INFO },
            )
        }
        None => (Sink::Stderr, if debug { Level::DEBUG } else { Level::WARN }),
    };
    let layer = RuncLayer { format, sink, max };
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}

/// True when log lines go to stderr already (no `--log`), so the final error need not be
/// printed twice.
pub fn logs_to_stderr(log: Option<&Path>) -> bool {
    log.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_392_000, 0), "2026-11-23T00:00:00.000000000Z");
    }

    #[test]
    fn json_line_has_logrus_keys() {
        let line = format_line(
            LogFormat::Json,
            Level::ERROR,
            "container \"x\" does not exist",
            &[],
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn text_line_quotes_message() {
        let line = format_line(
            LogFormat::Text,
            Level::WARN,
            "a \"b\"",
            &[("id".into(), "c1".into())],
        );
        assert!(
            line.contains("level=warning msg=\"a \\\"b\\\"\" id=\"c1\""),
            "{line}"
        );
    }
}
