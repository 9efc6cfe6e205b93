//! Progress reporting: the store's callback, fed by ingests (imports), by blob reads for
//! unpacking, and by exports.

use std::io::{self, Read};

use super::{Progress, Store};

/// A reader that reports every byte it reads to a progress callback.
pub struct Reported<R> {
    inner: R,
    progress: Option<Progress>,
}

impl<R: Read> Read for Reported<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let (Some(p), true) = (&self.progress, n > 0) {
            p(n as u64);
        }
        Ok(n)
    }
}

impl Store {
    /// Wraps `reader` so the bytes read from it are reported to the progress callback set
    /// with [`Store::set_progress`] (a plain pass-through when none is set).
    pub fn reported<R: Read>(&self, reader: R) -> Reported<R> {
        Reported {
            inner: reader,
            progress: self.progress.clone(),
        }
    }

    /// Reports `n` bytes handled outside a reader (say a blob copied by the kernel).
    pub(crate) fn report(&self, n: u64) {
        if let Some(p) = &self.progress {
            p(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn reads_are_reported() {
        let t = tempfile::tempdir().unwrap();
        let mut store = Store::open(t.path()).unwrap();
        let mut out = Vec::new();
        // No callback: a pass-through.
        store.reported(&b"abc"[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        store.set_progress(Some(Arc::new(move |n| {
            s.fetch_add(n, Ordering::Relaxed);
        })));
        let data = vec![7u8; 100_000];
        let mut r = store.reported(data.as_slice());
        let mut sink = Vec::new();
        r.read_to_end(&mut sink).unwrap();
        assert_eq!(sink.len(), 100_000);
        assert_eq!(seen.load(Ordering::Relaxed), 100_000);
        store.report(5);
        assert_eq!(seen.load(Ordering::Relaxed), 100_005);
    }
}
