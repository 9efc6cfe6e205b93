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

/// The current UTC time as RFC 3339 with nanoseconds (hezi-runtime's one formatter, as
/// in state.json).
pub fn rfc3339_now() -> String {
    hezi_runtime::now_rfc3339()
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
        let at = |s: u64, n: u32| hezi_runtime::rfc3339(std::time::Duration::new(s, n));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(at(1_795_392_000, 0), "2026-11-23T00:00:00.000000000Z");
        assert!(rfc3339_now().ends_with('Z'));
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
