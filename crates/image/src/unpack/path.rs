//! Normalising archive paths into components that stay inside the rootfs.

use crate::error::ImageError;

/// A path from a layer entry, split into components, guaranteed to have no `..`, no empty
/// and no `.` components and no leading `/`. An empty component list is the rootfs itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPath {
    /// The normalised path joined with `/` (no leading or trailing slash).
    pub joined: Vec<u8>,
    /// Byte offset in `joined` where the last component starts.
    pub last_start: usize,
}

impl EntryPath {
    /// Parses an archive path. `.` and empty components are dropped and `a/../b` is
    /// normalised lexically to `b` (as umoci's `CleanPath` does). An absolute name is taken
    /// inside the rootfs (`/etc/x` is `etc/x`, `/` is the rootfs itself: umoci writes a `/`
    /// entry first in every layer, containerd strips the slash too); a `..` that would climb
    /// above the rootfs is an escape.
    ///
    /// umoci clamps climbing names (`../x` becomes `x`) instead of failing; we keep the error
    /// on purpose: no honest layer producer writes them, so they mark a hostile or broken tar.
    pub fn parse(raw: &[u8]) -> Result<EntryPath, ImageError> {
        let shown = || String::from_utf8_lossy(raw).into_owned();
        if raw.contains(&0) {
            return Err(ImageError::BadEntry {
                path: shown(),
                reason: "NUL byte in path".into(),
            });
        }
        let mut joined = Vec::with_capacity(raw.len());
        // Start offsets of the components in `joined`.
        let mut starts: Vec<usize> = Vec::new();
        for comp in raw.split(|b| *b == b'/') {
            match comp {
                b"" | b"." => continue,
                b".." => {
                    let Some(start) = starts.pop() else {
                        return Err(ImageError::Escape {
                            path: shown(),
                            reason: "`..` climbs above the rootfs",
                        });
                    };
                    joined.truncate(start.saturating_sub(1));
                }
                _ => {
                    if !joined.is_empty() {
                        joined.push(b'/');
                    }
                    starts.push(joined.len());
                    joined.extend_from_slice(comp);
                }
            }
        }
        let last_start = starts.last().copied().unwrap_or(0);
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
    fn absolute_names_are_taken_inside_the_root() {
        for root in [&b"/"[..], b"//", b"/.", b"/./"] {
            assert!(EntryPath::parse(root).unwrap().is_root(), "{root:?}");
        }
        let p = EntryPath::parse(b"/etc/x").unwrap();
        assert_eq!(p.joined, b"etc/x");
        assert_eq!(p.parent(), b"etc");
        assert_eq!(p.name(), b"x");
        let q = EntryPath::parse(b"//usr//bin/").unwrap();
        assert_eq!(q.joined, b"usr/bin");
        assert!(matches!(
            EntryPath::parse(b"/../etc/passwd"),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b"/a/../../x"),
            Err(ImageError::Escape { .. })
        ));
    }

    #[test]
    fn dot_dot_inside_the_root_is_normalised() {
        let p = EntryPath::parse(b"a/b/../c").unwrap();
        assert_eq!(p.joined, b"a/c");
        assert_eq!(p.name(), b"c");
        assert_eq!(p.parent(), b"a");
        let q = EntryPath::parse(b"a/../b").unwrap();
        assert_eq!(q.joined, b"b");
        assert_eq!(q.parent(), b"");
        assert!(EntryPath::parse(b"a/..").unwrap().is_root());
        let r = EntryPath::parse(b"x/y/z/../..").unwrap();
        assert_eq!(r.joined, b"x");
        assert_eq!(r.name(), b"x");
    }

    #[test]
    fn rejects_escapes() {
        assert!(matches!(
            EntryPath::parse(b"../x"),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b"a/../../x"),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b"a/b/../../.."),
            Err(ImageError::Escape { .. })
        ));
        assert!(matches!(
            EntryPath::parse(b".wh.../../.."),
            Err(ImageError::Escape { .. })
        ));
        // Stays inside: it names the root itself (which only a directory entry may be).
        assert!(EntryPath::parse(b".wh.../..").unwrap().is_root());
    }
}
