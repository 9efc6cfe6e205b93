//! Normalising archive paths into components that stay inside the rootfs.

use crate::error::ImageError;

/// A path from a layer entry, split into components, guaranteed to have no `..`, no empty
/// and no `.` components and not to be absolute. An empty component list is the rootfs itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPath {
    /// The normalised path joined with `/` (no leading or trailing slash).
    pub joined: Vec<u8>,
    /// Byte offset in `joined` where the last component starts.
    pub last_start: usize,
}

impl EntryPath {
    /// Parses an archive path. Absolute paths and `..` components are escapes.
    pub fn parse(raw: &[u8]) -> Result<EntryPath, ImageError> {
        let shown = || String::from_utf8_lossy(raw).into_owned();
        if raw.first() == Some(&b'/') {
            return Err(ImageError::Escape {
                path: shown(),
                reason: "absolute path",
            });
        }
        if raw.contains(&0) {
            return Err(ImageError::BadEntry {
                path: shown(),
                reason: "NUL byte in path".into(),
            });
        }
        let mut joined = Vec::with_capacity(raw.len());
        let mut last_start = 0;
        for comp in raw.split(|b| *b == b'/') {
            match comp {
                b"" | b"." => continue,
                b".." => {
                    return Err(ImageError::Escape {
                        path: shown(),
                        reason: "`..` component",
                    })
                }
                _ => {
                    if !joined.is_empty() {
                        joined.push(b'/');
                    }
                    last_start = joined.len();
                    joined.extend_from_slice(comp);
                }
            }
        }
        Ok(EntryPath { joined, last_start })
    }

    /// True for the rootfs itself (`.` or `./`).
    pub fn is_root(&self) -> bool {
        self.joined.is_empty()
    }

    /// The parent directory's path (empty for entries directly under the root).
    pub fn parent(&self) -> &[u8] {
        if self.last_start == 0 {
            &[]
        } else {
            &self.joined[..self.last_start - 1]
        }
    }

    /// The last component.
    pub fn name(&self) -> &[u8] {
        &self.joined[self.last_start..]
    }

    /// The path for messages.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.joined).into_owned()
    }

    /// A sibling path in the same directory with another last component.
    pub fn sibling(&self, name: &[u8]) -> EntryPath {
        let mut joined = self.parent().to_vec();
        if !joined.is_empty() {
            joined.push(b'/');
        }
        let last_start = joined.len();
        joined.extend_from_slice(name);
        EntryPath { joined, last_start }
    }
}

/// Calls `f` on every proper ancestor of `path` (joined form), shortest last.
pub(crate) fn ancestors(path: &[u8], mut f: impl FnMut(&[u8]) -> bool) {
    let mut end = path.len();
    while let Some(pos) = path[..end].iter().rposition(|b| *b == b'/') {
        if !f(&path[..pos]) {
            return;
        }
        end = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_dots_and_slashes() {
        let p = EntryPath::parse(b"./a//b/./c/").unwrap();
        assert_eq!(p.joined, b"a/b/c");
        assert_eq!(p.parent(), b"a/b");
        assert_eq!(p.name(), b"c");
        let top = EntryPath::parse(b"./x").unwrap();
        assert_eq!(top.parent(), b"");
        assert_eq!(top.name(), b"x");
        assert!(EntryPath::parse(b"./").unwrap().is_root());
    }

    #[test]
    fn rejects_escapes() {
        assert!(matches!(
            EntryPath::parse(b"/etc/passwd"),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b"../x"),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b"a/../../x"),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b".wh.../.."),
            Err(ImageError::Escape { .. })
        ));
    }

    #[test]
    fn lists_ancestors() {
        let mut seen = Vec::new();
        ancestors(b"a/b/c", |p| {
            seen.push(p.to_vec());
            true
        });
        assert_eq!(seen, vec![b"a/b".to_vec(), b"a".to_vec()]);
    }
}
