//! The optional bound on a layer's expanded size ([`super::UnpackOptions::max_layer_size`]):
//! a reader over the uncompressed tar stream that fails once more bytes than the limit have
//! gone by, and records that it did so the caller can name the cause whatever error the tar
//! reader wraps it in.

use std::cell::Cell;
use std::io::{self, Read};

/// Counts the bytes of an uncompressed layer and fails past `limit`.
pub(crate) struct Limited<'a, R> {
    inner: R,
    left: Option<u64>,
    hit: &'a Cell<bool>,
}

impl<'a, R: Read> Limited<'a, R> {
    /// Wraps `inner`; `None` means no limit. `hit` is set when the limit is crossed.
    pub fn new(inner: R, limit: Option<u64>, hit: &'a Cell<bool>) -> Limited<'a, R> {
        Limited {
            inner,
            left: limit,
            hit,
        }
    }
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(left) = &mut self.left {
            match left.checked_sub(n as u64) {
                Some(rest) => *left = rest,
                None => {
                    self.hit.set(true);
                    return Err(io::Error::other("layer larger than --max-layer-size"));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_past_the_limit_and_says_so() {
        let hit = Cell::new(false);
        let mut r = Limited::new(&[7u8; 100][..], Some(60), &hit);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(hit.get());

        let hit = Cell::new(false);
        let mut r = Limited::new(&[7u8; 100][..], Some(100), &hit);
        out.clear();
        assert_eq!(r.read_to_end(&mut out).unwrap(), 100);
        assert!(!hit.get());

        let mut r = Limited::new(&[7u8; 100][..], None, &hit);
        out.clear();
        assert_eq!(r.read_to_end(&mut out).unwrap(), 100);
    }
}
