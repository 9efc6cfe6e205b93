//! A bound on tar metadata entries. The tar crate reads a GNU long name or long link
//! (`L`, `K`) and a PAX header (`x`, `g`) whole into memory before it yields the entry
//! they describe, however large the header says it is; a hostile layer could ask for
//! gigabytes. [`Guard`] follows the tar framing as the bytes go by and fails as soon as
//! a header announces such an entry larger than [`MAX_META`], before its body is read.
//!
//! The framing follows the tar crate's: 512-byte headers, data rounded up to 512 bytes, a
//! PAX `size` record overriding the next entry's size, an all-zero block ending the
//! archive. A GNU sparse entry with extension blocks, or a header whose size cannot be
//! parsed, ends the guarding (the tar crate handles those itself); the guard never
//! rejects what it cannot frame.

use std::io::{self, Read};

/// The largest GNU long name, long link or PAX header accepted (1 MiB).
pub const MAX_META: u64 = 1 << 20;

const BLOCK: u64 = 512;

enum State {
    /// Collecting a header block.
    Header { buf: Vec<u8> },
    /// Skipping `left` bytes of entry data (padding included).
    Skip { left: u64 },
    /// Collecting a PAX body of `size` bytes, then skipping `pad`.
    Pax { buf: Vec<u8>, size: u64, pad: u64 },
    /// No longer following the framing.
    Off,
}

/// A reader over a tar stream that fails on oversized metadata entries.
pub(crate) struct Guard<R> {
    inner: R,
    state: State,
    /// A PAX `size` for the next non-extension entry.
    pax_size: Option<u64>,
}

impl<R: Read> Guard<R> {
    /// Wraps a tar stream.
    pub fn new(inner: R) -> Guard<R> {
        Guard {
            inner,
            state: State::Header {
                buf: Vec::with_capacity(BLOCK as usize),
            },
            pax_size: None,
        }
    }

    fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match &mut self.state {
                State::Off => return Ok(()),
                State::Skip { left } => {
                    let k = (*left).min(data.len() as u64);
                    *left -= k;
                    data = &data[k as usize..];
                    if *left == 0 {
                        self.state = State::Header {
                            buf: Vec::with_capacity(BLOCK as usize),
                        };
                    }
                }
                State::Pax { buf, size, pad } => {
                    let want = (*size as usize).saturating_sub(buf.len());
                    let k = want.min(data.len());
                    buf.extend_from_slice(&data[..k]);
                    data = &data[k..];
                    if buf.len() as u64 == *size {
                        self.pax_size = pax_size_record(buf);
                        let pad = *pad;
                        self.state = if pad == 0 {
                            State::Header {
                                buf: Vec::with_capacity(BLOCK as usize),
                            }
                        } else {
                            State::Skip { left: pad }
                        };
                    }
                }
                State::Header { buf } => {
                    let k = (BLOCK as usize - buf.len()).min(data.len());
                    buf.extend_from_slice(&data[..k]);
                    data = &data[k..];
                    if buf.len() == BLOCK as usize {
                        let header = std::mem::take(buf);
                        self.header(&header)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn header(&mut self, h: &[u8]) -> io::Result<()> {
        if h.iter().all(|b| *b == 0) {
            self.state = State::Off;
            return Ok(());
        }
        let Some(mut size) = parse_size(&h[124..136]) else {
            self.state = State::Off;
            return Ok(());
        };
        let ty = h[156];
        let padded = |n: u64| n.div_ceil(BLOCK).saturating_mul(BLOCK);
        // The tar crate treats L, K and x as extensions only in ustar or GNU headers.
        let recognized = &h[257..262] == b"ustar";
        match ty {
            b'L' | b'K' | b'x' | b'g' if recognized || ty == b'g' => {
                if size > MAX_META {
                    let what = match ty {
                        b'L' => "GNU long name",
                        b'K' => "GNU long link name",
                        _ => "PAX header",
                    };
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{what} of {size} bytes is larger than the {MAX_META}-byte limit"),
                    ));
                }
                if ty == b'g' {
                    // The tar crate hands a pending PAX header to the `g` entry itself.
                    self.pax_size = None;
                }
                if ty == b'x' {
                    self.state = State::Pax {
                        buf: Vec::with_capacity(size as usize),
                        size,
                        pad: padded(size) - size,
                    };
                    if size == 0 {
                        self.pax_size = None;
                        self.state = State::Header {
                            buf: Vec::with_capacity(BLOCK as usize),
                        };
                    }
                    return Ok(());
                }
            }
            // Unrecognised L, K or x: an ordinary entry to the tar crate, which gives it the
            // pending PAX header without applying its size.
            b'L' | b'K' | b'x' => self.pax_size = None,
            _ => {
                if let Some(p) = self.pax_size.take() {
                    size = p;
                }
                // GNU sparse with extension blocks: framing we do not follow.
                if ty == b'S' && h[482] != 0 {
                    self.state = State::Off;
                    return Ok(());
                }
            }
        }
        self.state = if size == 0 {
            State::Header {
                buf: Vec::with_capacity(BLOCK as usize),
            }
        } else {
            State::Skip { left: padded(size) }
        };
        Ok(())
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.feed(&buf[..n])?;
        Ok(n)
    }
}

/// A tar numeric field: octal (spaces and NULs around) or GNU base-256.
fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return None;
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// The `size` record of a PAX body, if any (the last one wins, as in the tar crate).
fn pax_size_record(body: &[u8]) -> Option<u64> {
    let mut found = None;
    let mut rest = body;
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return found;
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(v) = rec.strip_prefix(b"size=") {
            found = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
        }
        rest = &rest[len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(data: &[u8], chunk: usize) -> io::Result<()> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let k = self.0.len().min(self.1).min(buf.len());
                buf[..k].copy_from_slice(&self.0[..k]);
                self.0 = &self.0[k..];
                Ok(k)
            }
        }
        io::copy(&mut Guard::new(Chunked(data, chunk)), &mut io::sink()).map(drop)
    }

    fn archive(long: usize, pax: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let name = "d/".repeat(long / 2) + "f";
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &name, &b"abc"[..]).unwrap();
        let v = vec![b'v'; pax];
        b.append_pax_extensions([("SCHILY.xattr.user.x", &v[..]), ("size", b"5")])
            .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "g", &b"12345"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn passes_valid_archives_in_any_chunking() {
        let a = archive(3000, 5000);
        for chunk in [1, 7, 512, 513, 1 << 20] {
            drain(&a, chunk).unwrap();
        }
        // The guard follows the framing: every entry is seen by the tar crate too.
        let mut ar = tar::Archive::new(Guard::new(&a[..]));
        assert_eq!(ar.entries().unwrap().count(), 2);
    }

    #[test]
    fn refuses_oversized_metadata_headers() {
        for (long, pax) in [(MAX_META as usize + 10, 10), (10, MAX_META as usize + 10)] {
            let a = archive(long, pax);
            let e = drain(&a, 4096).unwrap_err();
            assert!(e.to_string().contains("limit"), "{e}");
        }
        // Framing follows a PAX size that overrides the header's: the oversized long
        // name after an entry whose data only the PAX record accounts for is found.
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("size", &b"600"[..])]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, &[7u8; 600][..]).unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::GNULongName);
        l.set_size(MAX_META + 1);
        l.set_cksum();
        let mut a = b.into_inner().unwrap();
        // Without the end-of-archive blocks.
        a.truncate(a.len() - 1024);
        a.extend_from_slice(l.as_bytes());
        a.extend(std::iter::repeat_n(b'a', 4096));
        let e = drain(&a, 100).unwrap_err();
        assert!(e.to_string().contains("GNU long name"), "{e}");
        assert_eq!(parse_size(b"00000001000\0"), Some(512));
        assert_eq!(
            parse_size(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0]),
            Some(1 << 30)
        );
    }
}
