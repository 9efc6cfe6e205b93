//! D-Bus values and their wire encoding (the marshalling rules of the D-Bus specification,
//! little- or big-endian, alignment counted from the start of the message).

use std::fmt;

/// Deepest nesting of containers accepted when decoding (the specification allows 64; systemd
/// never sends more than a few levels).
const MAX_DEPTH: usize = 32;
/// Largest array accepted (the specification's limit).
const MAX_ARRAY: usize = 64 << 20;

/// One D-Bus value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b`
    Bool(bool),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `d`
    Double(f64),
    /// `s`
    Str(String),
    /// `o`
    ObjectPath(String),
    /// `g`
    Signature(String),
    /// `a<elem>`; `elem` is kept so that an empty array still has a type.
    Array {
        /// Signature of one element.
        elem: String,
        /// The elements.
        items: Vec<Value>,
    },
    /// `(...)`
    Struct(Vec<Value>),
    /// `{kv}` (only inside an array).
    DictEntry(Box<Value>, Box<Value>),
    /// `v`
    Variant(Box<Value>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    /// A variant holding `v`.
    pub fn variant(v: Value) -> Self {
        Value::Variant(Box::new(v))
    }

    /// An array of `items`, all of signature `elem`.
    pub fn array(elem: &str, items: Vec<Value>) -> Self {
        Value::Array {
            elem: elem.to_string(),
            items,
        }
    }

    /// The value's type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array { elem, .. } => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// The string inside `s`, `o` or `g` values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside an unsigned integer value.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Byte(v) => Some(u64::from(*v)),
            Value::U32(v) => Some(u64::from(*v)),
            Value::U64(v) => Some(*v),
            _ => None,
        }
    }
}

/// A value that does not follow the wire rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(msg.into()))
}

/// Alignment of the type whose signature starts with `c`.
fn alignment(c: u8) -> usize {
    match c {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1,
    }
}

/// Splits the first complete type off `sig`: `"a(sv)s"` gives `("a(sv)", "s")`.
pub fn split_first(sig: &str) -> Result<(&str, &str), WireError> {
    let b = sig.as_bytes();
    let end = complete_type_end(b, 0, 0)?;
    Ok((&sig[..end], &sig[end..]))
}

fn complete_type_end(b: &[u8], i: usize, depth: usize) -> Result<usize, WireError> {
    if depth > MAX_DEPTH {
        return bad("signature nests too deeply");
    }
    match b.get(i) {
        None => bad("signature ends inside a type"),
        Some(b'a') => complete_type_end(b, i + 1, depth + 1),
        Some(open @ (b'(' | b'{')) => {
            let close = if *open == b'(' { b')' } else { b'}' };
            let mut j = i + 1;
            let mut n = 0;
            while b.get(j) != Some(&close) {
                if b.get(j).is_none() {
                    return bad("unclosed struct or dict entry in signature");
                }
                j = complete_type_end(b, j, depth + 1)?;
                n += 1;
            }
            if n == 0 || (*open == b'{' && n != 2) {
                return bad("empty struct or malformed dict entry in signature");
            }
            Ok(j + 1)
        }
        Some(c) if b"ybnqiuxtdsoghv".contains(c) => Ok(i + 1),
        Some(c) => bad(format!("unknown type code {:?} in signature", *c as char)),
    }
}

/// Writes values in wire format. Offsets count from the start of the buffer, which must be
/// the start of the message or an 8-aligned point in it (the body always is).
#[derive(Debug, Default)]
pub struct Encoder {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Encoder {
    /// Pads with zero bytes to a multiple of `n`.
    pub fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends `v`.
    pub fn put(&mut self, v: &Value) -> Result<(), WireError> {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I32(x) => self.u32(*x as u32),
            Value::U32(x) => self.u32(*x),
            Value::I64(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Double(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Str(s) | Value::ObjectPath(s) => {
                if s.contains('\0') {
                    return bad(format!("string {s:?} contains a NUL byte"));
                }
                let len = u32::try_from(s.len()).or_else(|_| bad("string too long"))?;
                self.u32(len);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Signature(s) => {
                let len = u8::try_from(s.len()).or_else(|_| bad("signature too long"))?;
                self.buf.push(len);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array { elem, items } => {
                let (first, rest) = split_first(elem)?;
                if !rest.is_empty() {
                    return bad(format!("array element signature {elem:?} is not one type"));
                }
                self.u32(0);
                let len_at = self.buf.len() - 4;
                self.align(alignment(first.as_bytes()[0]));
                let start = self.buf.len();
                for it in items {
                    if it.signature() != *elem {
                        return bad(format!("array of {elem} holds a {} value", it.signature()));
                    }
                    self.put(it)?;
                }
                let n = u32::try_from(self.buf.len() - start).or_else(|_| bad("array too long"))?;
                self.buf[len_at..len_at + 4].copy_from_slice(&n.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.align(8);
                for f in fields {
                    self.put(f)?;
                }
            }
            Value::DictEntry(k, val) => {
                self.align(8);
                self.put(k)?;
                self.put(val)?;
            }
            Value::Variant(inner) => {
                self.put(&Value::Signature(inner.signature()))?;
                self.put(inner)?;
            }
        }
        Ok(())
    }
}

/// Reads values in wire format from `buf`, whose first byte is at message offset `base`.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    big_endian: bool,
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf`, which starts at message offset `base`.
    pub fn new(buf: &'a [u8], base: usize, big_endian: bool) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            big_endian,
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn align(&mut self, n: usize) -> Result<(), WireError> {
        let abs = self.base + self.pos;
        let pad = (n - abs % n) % n;
        let end = self.pos + pad;
        match self.buf.get(self.pos..end) {
            Some(p) if p.iter().all(|b| *b == 0) => {
                self.pos = end;
                Ok(())
            }
            Some(_) => bad("non-zero padding"),
            None => bad("message truncated in padding"),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| WireError("overflow".into()))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| WireError("message truncated".into()))?;
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.align(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        if self.big_endian {
            a.reverse();
        }
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.fixed::<4>()?))
    }

    fn string(&mut self, len: usize) -> Result<String, WireError> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return bad("string not NUL-terminated");
        }
        String::from_utf8(bytes.to_vec()).or_else(|_| bad("string is not UTF-8"))
    }

    /// Reads every value of `sig` in order.
    pub fn get_all(&mut self, sig: &str) -> Result<Vec<Value>, WireError> {
        let mut out = Vec::new();
        let mut rest = sig;
        while !rest.is_empty() {
            let (first, r) = split_first(rest)?;
            out.push(self.get(first, 0)?);
            rest = r;
        }
        Ok(out)
    }

    /// Reads one value of the single complete type `sig`.
    pub fn get(&mut self, sig: &str, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return bad("value nests too deeply");
        }
        let b = sig.as_bytes();
        let Some(&code) = b.first() else {
            return bad("empty signature");
        };
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                v => return bad(format!("boolean {v}")),
            },
            b'n' => Value::I32(i32::from(i16::from_le_bytes(self.fixed::<2>()?))),
            b'q' => Value::U32(u32::from(u16::from_le_bytes(self.fixed::<2>()?))),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed::<4>()?)),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed::<8>()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed::<8>()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed::<8>()?)),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.string(len)?;
                if code == b's' {
                    Value::Str(s)
                } else {
                    Value::ObjectPath(s)
                }
            }
            b'g' => {
                let len = usize::from(self.take(1)?[0]);
                Value::Signature(self.string(len)?)
            }
            b'v' => {
                let len = usize::from(self.take(1)?[0]);
                let inner_sig = self.string(len)?;
                let (first, rest) = split_first(&inner_sig)?;
                if !rest.is_empty() {
                    return bad("variant holds more than one type");
                }
                Value::Variant(Box::new(self.get(first, depth + 1)?))
            }
            b'a' => {
                let elem = &sig[1..];
                let len = self.u32()? as usize;
                if len > MAX_ARRAY {
                    return bad(format!("array of {len} bytes"));
                }
                self.align(alignment(elem.as_bytes().first().copied().unwrap_or(b'y')))?;
                let end = self.pos + len;
                if end > self.buf.len() {
                    return bad("array runs past the message");
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.get(elem, depth + 1)?);
                }
                if self.pos != end {
                    return bad("array elements overrun the array length");
                }
                Value::Array {
                    elem: elem.to_string(),
                    items,
                }
            }
            b'(' | b'{' => {
                self.align(8)?;
                let mut fields = Vec::new();
                let mut rest = &sig[1..sig.len() - 1];
                while !rest.is_empty() {
                    let (first, r) = split_first(rest)?;
                    fields.push(self.get(first, depth + 1)?);
                    rest = r;
                }
                if code == b'{' {
                    let mut it = fields.into_iter();
                    match (it.next(), it.next()) {
                        (Some(k), Some(v)) => Value::DictEntry(Box::new(k), Box::new(v)),
                        _ => return bad("dict entry without key and value"),
                    }
                } else {
                    Value::Struct(fields)
                }
            }
            c => return bad(format!("unknown type code {:?}", c as char)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: Value) {
        let mut e = Encoder::default();
        e.put(&v).unwrap();
        let sig = v.signature();
        let mut d = Decoder::new(&e.buf, 0, false);
        assert_eq!(d.get(&sig, 0).unwrap(), v, "{sig}");
        assert_eq!(d.position(), e.buf.len());
    }

    #[test]
    fn values_roundtrip() {
        roundtrip(Value::U32(7));
        roundtrip(Value::str("hezi-c1.scope"));
        roundtrip(Value::array("u", vec![Value::U32(42)]));
        roundtrip(Value::array("(sv)", vec![]));
        roundtrip(Value::array(
            "(sv)",
            vec![
                Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::variant(Value::array("u", vec![Value::U32(1)])),
                ]),
                Value::Struct(vec![
                    Value::str("MemoryMax"),
                    Value::variant(Value::U64(1 << 26)),
                ]),
                Value::Struct(vec![
                    Value::str("Delegate"),
                    Value::variant(Value::Bool(true)),
                ]),
            ],
        ));
        roundtrip(Value::array(
            "{sv}",
            vec![Value::DictEntry(
                Box::new(Value::str("k")),
                Box::new(Value::variant(Value::array("y", vec![Value::Byte(3)]))),
            )],
        ));
    }

    #[test]
    fn known_encoding_of_an_array_of_structs() {
        // a(sv) with one ("A", u32 1): length, pad to 8, "A", variant "u", value.
        let v = Value::array(
            "(sv)",
            vec![Value::Struct(vec![
                Value::str("A"),
                Value::variant(Value::U32(1)),
            ])],
        );
        let mut e = Encoder::default();
        e.put(&v).unwrap();
        assert_eq!(
            e.buf,
            [
                16, 0, 0, 0, 0, 0, 0, 0, // length 16, padding to the struct
                1, 0, 0, 0, b'A', 0, // "A"
                1, b'u', 0, 0, 0, 0, // signature "u", padding to 4
                1, 0, 0, 0 // u32 1
            ]
        );
    }

    #[test]
    fn splits_signatures() {
        assert_eq!(split_first("a(sv)s").unwrap(), ("a(sv)", "s"));
        assert_eq!(split_first("a{sv}").unwrap(), ("a{sv}", ""));
        assert!(split_first("a").is_err());
        assert!(split_first("(s").is_err());
        assert!(split_first("()").is_err());
        assert!(split_first("{s}").is_err());
        assert!(split_first("z").is_err());
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for bytes in [
            &[0xff, 0xff, 0xff, 0xff][..],
            &[5, 0, 0, 0, b'a'][..],
            &[1, 0, 0, 0, b'a', b'b'][..],
            &[][..],
        ] {
            let mut d = Decoder::new(bytes, 0, false);
            assert!(d.get("s", 0).is_err());
            let mut d = Decoder::new(bytes, 0, false);
            assert!(d.get("a(sv)", 0).is_err());
        }
        let mut d = Decoder::new(&[1, b'a', 0], 0, false);
        // A variant claiming an array type without the array.
        assert!(d.get("v", 0).is_err());
        let deep = format!("{}u", "a".repeat(100));
        assert!(split_first(&deep).is_err());
    }

    #[test]
    fn refuses_mistyped_arrays() {
        let mut e = Encoder::default();
        let v = Value::array("u", vec![Value::str("x")]);
        assert!(e.put(&v).is_err());
    }
}
