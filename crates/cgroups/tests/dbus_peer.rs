//! The systemd driver's D-Bus client against a real peer: a private `dbus-daemon` (Debian's
//! reference bus) started by the test on a socket in a temp dir. No root needed; skipped with a
//! message when dbus-daemon is not installed (scripts/deps.sh installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hezi_cgroups::systemd::dbus::{Call, Connection, Value};

const DAEMON: &str = "/usr/bin/dbus-daemon";

/// A bus daemon that is killed when dropped.
struct Bus {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_bus() -> Option<Bus> {
    if !Path::new(DAEMON).exists() {
        eprintln!("skipped: {DAEMON} is not installed");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("bus");
    let conf = dir.path().join("bus.conf");
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .expect("write config");
    let child = Command::new(DAEMON)
        .arg(format!("--config-file={}", conf.display()))
        .arg("--nofork")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dbus-daemon");
    let bus = Bus {
        child,
        socket,
        _dir: dir,
    };
    let t = Instant::now();
    // The socket file appears at bind(2), a moment before listen(2): wait until a connection
    // is accepted, not just for the file.
    while std::os::unix::net::UnixStream::connect(&bus.socket).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "dbus-daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(bus)
}

fn bus_call<'a>(member: &'a str, args: &'a [Value]) -> Call<'a> {
    Call {
        destination: Some("org.freedesktop.DBus"),
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member,
        args,
    }
}

fn connect(bus: &Bus) -> Connection {
    Connection::open(&bus.socket, true, Duration::from_secs(10)).expect("connect and Hello")
}

#[test]
fn calls_and_typed_replies() {
    let Some(bus) = start_bus() else { return };
    let mut c = connect(&bus);
    let id = c.call(&bus_call("GetId", &[])).expect("GetId");
    let id = id.first().and_then(Value::as_str).unwrap_or("");
    assert_eq!(id.len(), 32, "bus id {id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let names = c.call(&bus_call("ListNames", &[])).expect("ListNames");
    let Some(Value::Array { elem, items }) = names.first() else {
        panic!("ListNames returned {names:?}")
    };
    assert_eq!(elem, "s");
    assert!(
        items.contains(&Value::str("org.freedesktop.DBus")),
        "{items:?}"
    );

    // a{sv} from the daemon: our own credentials.
    let me = items
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.starts_with(':'))
        .expect("our unique name")
        .to_string();
    let creds = c
        .call(&bus_call("GetConnectionCredentials", &[Value::str(&me)]))
        .expect("GetConnectionCredentials");
    let Some(Value::Array { items, .. }) = creds.first() else {
        panic!("{creds:?}")
    };
    let get = |key: &str| {
        items.iter().find_map(|e| match e {
            Value::DictEntry(k, v) if k.as_str() == Some(key) => match v.as_ref() {
                Value::Variant(inner) => inner.as_u64(),
                _ => None,
            },
            _ => None,
        })
    };
    assert_eq!(get("ProcessID"), Some(u64::from(std::process::id())));
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        get("UnixUserID"),
        Some(u64::from(unsafe { libc::geteuid() }))
    );
}

#[test]
fn remote_errors_keep_their_name() {
    let Some(bus) = start_bus() else { return };
    let mut c = connect(&bus);
    let err = c.call(&bus_call("NoSuchMethod", &[])).unwrap_err();
    assert_eq!(
        err.remote_name(),
        Some("org.freedesktop.DBus.Error.UnknownMethod"),
        "{err}"
    );
    // Complex arguments the daemon checks: a wrong signature is refused by name too.
    let err = c
        .call(&bus_call("GetConnectionCredentials", &[Value::U32(1)]))
        .unwrap_err();
    assert_eq!(
        err.remote_name(),
        Some("org.freedesktop.DBus.Error.InvalidArgs"),
        "{err}"
    );
    // The connection is still usable afterwards.
    assert!(c.call(&bus_call("GetId", &[])).is_ok());
}

#[test]
fn signals_arrive_after_add_match() {
    let Some(bus) = start_bus() else { return };
    let mut a = connect(&bus);
    a.call(&bus_call(
        "AddMatch",
        &[Value::str(
            "type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged'",
        )],
    ))
    .expect("AddMatch");
    // Another client connecting makes the daemon announce its unique name.
    let _b = connect(&bus);
    let (name, old, new) = a
        .wait_signal("NameOwnerChanged", |m| {
            if m.member.as_deref() != Some("NameOwnerChanged") {
                return None;
            }
            let s = |i: usize| m.body.get(i).and_then(Value::as_str).map(str::to_string);
            Some((s(0)?, s(1)?, s(2)?))
        })
        .expect("signal");
    assert!(name.starts_with(':'), "{name}");
    assert_eq!(old, "");
    assert_eq!(new, name);
}
