//! A blocking D-Bus connection over a Unix socket: SASL `EXTERNAL` authentication, method
//! calls and waiting for signals. One request at a time, no threads.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::message::{self, Call, Message, MessageType};
use super::value::Value;

/// Why a D-Bus exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbusError {
    /// Connecting, reading or writing the socket failed.
    #[error("D-Bus socket {path}: {op}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// What was attempted.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The peer refused authentication or spoke something else.
    #[error("D-Bus socket {path}: authentication: {reason}")]
    Auth {
        /// The socket.
        path: PathBuf,
        /// What the peer said.
        reason: String,
    },
    /// A message broke the wire rules.
    #[error("D-Bus socket {path}: malformed message: {reason}")]
    Wire {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The peer answered a call with an error.
    #[error("{method}: {name}: {message}")]
    Remote {
        /// `Interface.Member` of the call.
        method: String,
        /// The D-Bus error name (`org.freedesktop.systemd1.NoSuchUnit`, ...).
        name: String,
        /// The error's text.
        message: String,
    },
    /// No answer in time.
    #[error("D-Bus socket {path}: no answer to {what} within {secs} s")]
    Timeout {
        /// The socket.
        path: PathBuf,
        /// What was awaited.
        what: String,
        /// The time limit.
        secs: u64,
    },
}

impl DbusError {
    /// The D-Bus error name of a remote error.
    pub fn remote_name(&self) -> Option<&str> {
        match self {
            DbusError::Remote { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// An authenticated connection.
#[derive(Debug)]
pub struct Connection {
    sock: UnixStream,
    path: PathBuf,
    serial: u32,
    /// Signals that arrived while waiting for a reply.
    queued: VecDeque<Message>,
    timeout: Duration,
}

impl Connection {
    /// Connects to the socket at `path` and authenticates as this process's uid. On a message
    /// bus (`bus`), also registers with `Hello`.
    pub fn open(path: &Path, bus: bool, timeout: Duration) -> Result<Self, DbusError> {
        // SAFETY: geteuid cannot fail and has no preconditions.
        Self::open_as(path, bus, timeout, unsafe { libc::geteuid() })
    }

    /// [`Connection::open`], authenticating as `uid`: the uid the peer sees for this process
    /// (outside its user namespace, when it has one).
    pub fn open_as(path: &Path, bus: bool, timeout: Duration, uid: u32) -> Result<Self, DbusError> {
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |source| DbusError::Io { path, op, source }
        };
        let sock = UnixStream::connect(path).map_err(io("connect"))?;
        sock.set_read_timeout(Some(timeout))
            .map_err(io("set timeout"))?;
        sock.set_write_timeout(Some(timeout))
            .map_err(io("set timeout"))?;
        let mut c = Connection {
            sock,
            path: path.to_path_buf(),
            serial: 0,
            queued: VecDeque::new(),
            timeout,
        };
        c.authenticate(uid)?;
        if bus {
            c.call(&Call {
                destination: Some("org.freedesktop.DBus"),
                path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus",
                member: "Hello",
                args: &[],
            })?;
        }
        Ok(c)
    }

    fn io_err(&self, op: &'static str) -> impl FnOnce(std::io::Error) -> DbusError {
        let path = self.path.clone();
        let secs = self.timeout.as_secs();
        move |source| {
            if matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                DbusError::Timeout {
                    path,
                    what: op.to_string(),
                    secs,
                }
            } else {
                DbusError::Io { path, op, source }
            }
        }
    }

    /// SASL: a NUL byte, `AUTH EXTERNAL <uid in hex>` and `BEGIN` in one write, then expect
    /// `OK`.
    ///
    /// `BEGIN` is pipelined (as sd-bus clients do) rather than sent after `OK`: systemd's
    /// server (seen with the user manager of systemd 252) reads whatever follows `BEGIN` in
    /// the same read as part of the handshake and then waits for more input, so a first
    /// message written right behind a separate `BEGIN` could go unanswered until the
    /// timeout. Sent together with `AUTH`, `BEGIN` is consumed before any message exists.
    fn authenticate(&mut self, uid: u32) -> Result<(), DbusError> {
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n");
        self.sock
            .write_all(hello.as_bytes())
            .map_err(self.io_err("write AUTH"))?;
        // Read the reply line byte by byte: nothing may be read past it.
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 512 {
                return Err(DbusError::Auth {
                    path: self.path.clone(),
                    reason: "reply line too long".into(),
                });
            }
            let n = self
                .sock
                .read(&mut b)
                .map_err(self.io_err("read AUTH reply"))?;
            if n == 0 {
                return Err(DbusError::Auth {
                    path: self.path.clone(),
                    reason: "connection closed".into(),
                });
            }
            line.push(b[0]);
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if !text.starts_with("OK ") {
            return Err(DbusError::Auth {
                path: self.path.clone(),
                reason: format!("peer answered {text:?}"),
            });
        }
        Ok(())
    }

    fn send(&mut self, call: &Call<'_>) -> Result<u32, DbusError> {
        self.serial = self.serial.wrapping_add(1).max(1);
        let bytes = call.encode(self.serial).map_err(|e| DbusError::Wire {
            path: self.path.clone(),
            reason: e.0,
        })?;
        self.sock
            .write_all(&bytes)
            .map_err(self.io_err("write message"))?;
        Ok(self.serial)
    }

    fn receive(&mut self) -> Result<Message, DbusError> {
        let mut head = [0u8; 16];
        self.sock
            .read_exact(&mut head)
            .map_err(self.io_err("read message"))?;
        let wire = |e: super::value::WireError| DbusError::Wire {
            path: self.path.clone(),
            reason: e.0,
        };
        let total = message::total_len(&head).map_err(wire)?;
        let mut bytes = vec![0u8; total];
        bytes[..16].copy_from_slice(&head);
        self.sock
            .read_exact(&mut bytes[16..])
            .map_err(self.io_err("read message"))?;
        message::decode(&bytes).map_err(|e| DbusError::Wire {
            path: self.path.clone(),
            reason: e.0,
        })
    }

    /// Calls a method and returns the reply's body. Signals that arrive meanwhile are kept
    /// for [`Connection::wait_signal`].
    pub fn call(&mut self, call: &Call<'_>) -> Result<Vec<Value>, DbusError> {
        let serial = self.send(call)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            if Instant::now() > deadline {
                return Err(DbusError::Timeout {
                    path: self.path.clone(),
                    what: format!("{}.{}", call.interface, call.member),
                    secs: self.timeout.as_secs(),
                });
            }
            let m = self.receive()?;
            match m.kind {
                MessageType::Signal => self.queued.push_back(m),
                MessageType::MethodReturn if m.reply_serial == Some(serial) => return Ok(m.body),
                MessageType::Error if m.reply_serial == Some(serial) => {
                    return Err(DbusError::Remote {
                        method: format!("{}.{}", call.interface, call.member),
                        name: m.error_name.unwrap_or_default(),
                        message: m
                            .body
                            .first()
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    })
                }
                // Replies to other calls, calls to us: not ours to answer.
                _ => {}
            }
        }
    }

    /// Waits for a signal for which `pick` returns `Some`, looking first at those already
    /// received.
    pub fn wait_signal<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&Message) -> Option<T>,
    ) -> Result<T, DbusError> {
        while let Some(m) = self.queued.pop_front() {
            if let Some(t) = pick(&m) {
                return Ok(t);
            }
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            if Instant::now() > deadline {
                return Err(DbusError::Timeout {
                    path: self.path.clone(),
                    what: what.to_string(),
                    secs: self.timeout.as_secs(),
                });
            }
            let m = self.receive()?;
            if m.kind == MessageType::Signal {
                if let Some(t) = pick(&m) {
                    return Ok(t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A scripted peer: answers AUTH, then replies to each call per `answer`.
    fn peer(
        dir: &Path,
        answer: impl Fn(&Message) -> Vec<Vec<u8>> + Send + 'static,
    ) -> (PathBuf, std::thread::JoinHandle<()>) {
        let path = dir.join("bus");
        let l = UnixListener::bind(&path).unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = Vec::new();
            let mut b = [0u8; 1];
            while !buf.ends_with(b"\r\n") {
                s.read_exact(&mut b).unwrap();
                buf.push(b[0]);
            }
            assert!(buf.starts_with(b"\0AUTH EXTERNAL "), "{buf:?}");
            // BEGIN must already be here, before OK: it came in AUTH's write (see
            // `authenticate`; systemd's server mishandles a message glued to a late BEGIN).
            s.set_nonblocking(true).unwrap();
            let mut begin = [0u8; 7];
            let early = s.read_exact(&mut begin);
            s.set_nonblocking(false).unwrap();
            assert!(early.is_ok(), "BEGIN was not sent with AUTH: {early:?}");
            assert_eq!(&begin, b"BEGIN\r\n");
            s.write_all(b"OK 1234deadbeef\r\n").unwrap();
            loop {
                let mut head = [0u8; 16];
                if s.read_exact(&mut head).is_err() {
                    return;
                }
                let total = message::total_len(&head).unwrap();
                let mut bytes = vec![0u8; total];
                bytes[..16].copy_from_slice(&head);
                s.read_exact(&mut bytes[16..]).unwrap();
                let m = message::decode(&bytes).unwrap();
                for out in answer(&m) {
                    s.write_all(&out).unwrap();
                }
            }
        });
        (path, h)
    }

    /// Encodes a reply, error or signal by hand (little-endian).
    fn reply(kind: u8, reply_to: Option<u32>, fields: Vec<Value>, body: &[Value]) -> Vec<u8> {
        let mut b = super::super::value::Encoder::default();
        let mut sig = String::new();
        for v in body {
            b.put(v).unwrap();
            sig.push_str(&v.signature());
        }
        let f = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::variant(v)]);
        let mut all = fields;
        if let Some(r) = reply_to {
            all.push(f(5, Value::U32(r)));
        }
        if !sig.is_empty() {
            all.push(f(8, Value::Signature(sig)));
        }
        let mut m = super::super::value::Encoder::default();
        m.buf.extend_from_slice(&[b'l', kind, 0, 1]);
        m.buf.extend_from_slice(&(b.buf.len() as u32).to_le_bytes());
        m.buf.extend_from_slice(&77u32.to_le_bytes());
        m.put(&Value::array("(yv)", all)).unwrap();
        m.align(8);
        m.buf.extend_from_slice(&b.buf);
        m.buf
    }

    fn field(code: u8, v: Value) -> Value {
        Value::Struct(vec![Value::Byte(code), Value::variant(v)])
    }

    #[test]
    fn calls_get_replies_errors_and_queued_signals() {
        let dir = tempfile::tempdir().unwrap();
        let (path, h) = peer(dir.path(), |m| match m.member.as_deref() {
            Some("Start") => vec![
                // A signal before the reply, then the reply.
                reply(
                    4,
                    None,
                    vec![
                        field(1, Value::ObjectPath("/o".into())),
                        field(2, Value::str("org.x.Manager")),
                        field(3, Value::str("JobRemoved")),
                    ],
                    &[
                        Value::U32(1),
                        Value::ObjectPath("/job/1".into()),
                        Value::str("u.scope"),
                        Value::str("done"),
                    ],
                ),
                reply(
                    2,
                    Some(m.serial),
                    vec![],
                    &[Value::ObjectPath("/job/1".into())],
                ),
            ],
            _ => vec![reply(
                3,
                Some(m.serial),
                vec![field(4, Value::str("org.x.NoSuchUnit"))],
                &[Value::str("Unit x.scope not loaded.")],
            )],
        });
        let mut c = Connection::open(&path, false, Duration::from_secs(5)).unwrap();
        let call = |member| Call {
            destination: None,
            path: "/o",
            interface: "org.x.Manager",
            member,
            args: &[],
        };
        let body = c.call(&call("Start")).unwrap();
        assert_eq!(body, vec![Value::ObjectPath("/job/1".into())]);
        let result = c
            .wait_signal("JobRemoved", |m| {
                (m.member.as_deref() == Some("JobRemoved"))
                    .then(|| m.body.get(3).and_then(Value::as_str).map(String::from))
                    .flatten()
            })
            .unwrap();
        assert_eq!(result, "done");
        let err = c.call(&call("Stop")).unwrap_err();
        assert_eq!(err.remote_name(), Some("org.x.NoSuchUnit"));
        assert!(
            err.to_string().contains("Unit x.scope not loaded."),
            "{err}"
        );
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn a_silent_peer_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let (path, h) = peer(dir.path(), |_| vec![]);
        let mut c = Connection::open(&path, false, Duration::from_millis(300)).unwrap();
        let err = c
            .call(&Call {
                destination: None,
                path: "/o",
                interface: "org.x.Manager",
                member: "Nothing",
                args: &[],
            })
            .unwrap_err();
        assert!(matches!(err, DbusError::Timeout { .. }), "{err}");
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn no_socket_is_a_clear_error() {
        let err = Connection::open(
            Path::new("/nonexistent/hezi/bus"),
            false,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/hezi/bus: connect"),
            "{err}"
        );
    }
}
