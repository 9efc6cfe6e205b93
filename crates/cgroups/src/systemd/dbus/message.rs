//! D-Bus messages: the fixed header, the header fields and the body.

use super::value::{Decoder, Encoder, Value, WireError};

/// Largest message accepted (the specification's limit).
pub const MAX_MESSAGE: usize = 128 << 20;

/// The four message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// A call that expects a reply.
    MethodCall,
    /// A successful reply.
    MethodReturn,
    /// An error reply.
    Error,
    /// A broadcast.
    Signal,
}

impl MessageType {
    fn code(self) -> u8 {
        match self {
            MessageType::MethodCall => 1,
            MessageType::MethodReturn => 2,
            MessageType::Error => 3,
            MessageType::Signal => 4,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => MessageType::MethodCall,
            2 => MessageType::MethodReturn,
            3 => MessageType::Error,
            4 => MessageType::Signal,
            _ => return None,
        })
    }
}

const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SENDER: u8 = 7;
const FIELD_SIGNATURE: u8 = 8;

/// One message, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What kind of message.
    pub kind: MessageType,
    /// Sender-chosen serial number.
    pub serial: u32,
    /// Object path (calls and signals).
    pub path: Option<String>,
    /// Interface (calls and signals).
    pub interface: Option<String>,
    /// Method or signal name.
    pub member: Option<String>,
    /// Error name (errors).
    pub error_name: Option<String>,
    /// The call this answers (replies and errors).
    pub reply_serial: Option<u32>,
    /// Sender's unique name (on a bus).
    pub sender: Option<String>,
    /// The body's values.
    pub body: Vec<Value>,
}

/// A method call to encode.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Bus name of the peer (`None` on a peer-to-peer connection).
    pub destination: Option<&'a str>,
    /// Object path.
    pub path: &'a str,
    /// Interface.
    pub interface: &'a str,
    /// Method.
    pub member: &'a str,
    /// Arguments.
    pub args: &'a [Value],
}

impl Call<'_> {
    /// The wire bytes of this call with serial `serial`.
    pub fn encode(&self, serial: u32) -> Result<Vec<u8>, WireError> {
        let mut body = Encoder::default();
        let mut sig = String::new();
        for a in self.args {
            body.put(a)?;
            sig.push_str(&a.signature());
        }
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::variant(v)]);
        let mut fields = vec![
            field(FIELD_PATH, Value::ObjectPath(self.path.into())),
            field(FIELD_INTERFACE, Value::str(self.interface)),
            field(FIELD_MEMBER, Value::str(self.member)),
        ];
        if let Some(d) = self.destination {
            fields.push(field(FIELD_DESTINATION, Value::str(d)));
        }
        if !sig.is_empty() {
            fields.push(field(FIELD_SIGNATURE, Value::Signature(sig)));
        }
        let body_len =
            u32::try_from(body.buf.len()).map_err(|_| WireError("body too long".into()))?;
        let mut m = Encoder::default();
        m.buf
            .extend_from_slice(&[b'l', MessageType::MethodCall.code(), 0, 1]);
        m.buf.extend_from_slice(&body_len.to_le_bytes());
        m.buf.extend_from_slice(&serial.to_le_bytes());
        m.put(&Value::array("(yv)", fields))?;
        m.align(8);
        m.buf.extend_from_slice(&body.buf);
        Ok(m.buf)
    }
}

/// How many bytes the whole message takes, from its first 16 bytes.
pub fn total_len(head: &[u8; 16]) -> Result<usize, WireError> {
    let big = match head[0] {
        b'l' => false,
        b'B' => true,
        e => return Err(WireError(format!("unknown endianness byte {e:#x}"))),
    };
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&head[at..at + 4]);
        if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let body = word(4) as usize;
    let fields = word(12) as usize;
    let header = (16 + fields).div_ceil(8) * 8;
    let total = header
        .checked_add(body)
        .filter(|t| *t <= MAX_MESSAGE)
        .ok_or_else(|| WireError(format!("message of {header}+{body} bytes is too large")))?;
    Ok(total)
}

/// Decodes one whole message (as sized by [`total_len`]).
pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
    let big = bytes.first() == Some(&b'B');
    let kind = bytes
        .get(1)
        .and_then(|c| MessageType::from_code(*c))
        .ok_or_else(|| WireError("unknown message type".into()))?;
    let mut d = Decoder::new(bytes, 0, big);
    let fixed = d.get_all("yyyyuu")?;
    let serial = fixed.get(5).and_then(Value::as_u64).unwrap_or(0) as u32;
    let body_len = fixed.get(4).and_then(Value::as_u64).unwrap_or(0) as usize;
    let Value::Array { items, .. } = d.get("a(yv)", 0)? else {
        return Err(WireError("header fields are not an array".into()));
    };
    let mut m = Message {
        kind,
        serial,
        path: None,
        interface: None,
        member: None,
        error_name: None,
        reply_serial: None,
        sender: None,
        body: Vec::new(),
    };
    let mut signature = String::new();
    for f in items {
        let Value::Struct(kv) = f else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (kv.first(), kv.get(1)) else {
            continue;
        };
        let s = v.as_str().map(str::to_string);
        match *code {
            FIELD_PATH => m.path = s,
            FIELD_INTERFACE => m.interface = s,
            FIELD_MEMBER => m.member = s,
            FIELD_ERROR_NAME => m.error_name = s,
            FIELD_REPLY_SERIAL => m.reply_serial = v.as_u64().map(|x| x as u32),
            FIELD_SENDER => m.sender = s,
            FIELD_SIGNATURE => signature = s.unwrap_or_default(),
            _ => {}
        }
    }
    let body_start = d.position().div_ceil(8) * 8;
    let body = bytes
        .get(body_start..body_start + body_len)
        .ok_or_else(|| WireError("message body truncated".into()))?;
    m.body = Decoder::new(body, body_start, big).get_all(&signature)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_decodes_back() {
        let args = [
            Value::str("hezi-c1.scope"),
            Value::str("replace"),
            Value::array(
                "(sv)",
                vec![Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::variant(Value::array("u", vec![Value::U32(4242)])),
                ])],
            ),
            Value::array("(sa(sv))", vec![]),
        ];
        let call = Call {
            destination: Some("org.freedesktop.systemd1"),
            path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager",
            member: "StartTransientUnit",
            args: &args,
        };
        let bytes = call.encode(9).unwrap();
        let mut head = [0u8; 16];
        head.copy_from_slice(&bytes[..16]);
        assert_eq!(total_len(&head).unwrap(), bytes.len());
        let m = decode(&bytes).unwrap();
        assert_eq!(m.kind, MessageType::MethodCall);
        assert_eq!(m.serial, 9);
        assert_eq!(m.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(m.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(m.body, args);
    }

    #[test]
    fn refuses_garbage_headers() {
        let mut head = [0u8; 16];
        head[0] = b'X';
        assert!(total_len(&head).is_err());
        head[0] = b'l';
        head[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(total_len(&head).is_err());
        assert!(decode(&[b'l', 9, 0, 1]).is_err());
        assert!(decode(&[b'l', 2, 0, 1, 0, 0]).is_err());
    }
}
