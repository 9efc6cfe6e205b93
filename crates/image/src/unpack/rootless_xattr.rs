//! The `user.rootlesscontainers` xattr: where an unprivileged unpack cannot give a file the
//! owner its layer names, the owner is recorded beside it, in the format of
//! rootlesscontainers.io that `umoci unpack --rootless` writes (and `umoci repack` and
//! PRoot-style tools read): a protobuf `Resource { uint32 uid = 1; uint32 gid = 2; }`, where
//! an id of 0 is written as `NOOP_ID` ("the unprivileged owner stands for root") and an
//! entry owned by 0:0 gets no xattr at all.

/// The xattr's name.
pub const NAME: &[u8] = b"user.rootlesscontainers";

/// The id meaning "unchanged": the unpacking user, which is root inside the container.
pub const NOOP_ID: u32 = u32::MAX;

/// The xattr value for an entry owned by `uid`:`gid`, or `None` for 0:0.
pub fn encode(uid: u32, gid: u32) -> Option<Vec<u8>> {
    if uid == 0 && gid == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(12);
    for (tag, id) in [(0x08u8, uid), (0x10u8, gid)] {
        out.push(tag);
        let mut v = if id == 0 { NOOP_ID } else { id };
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes are umoci 0.4.7's, read with `getfattr -e hex` after
    /// `umoci unpack --rootless` of a layer with these owners.
    #[test]
    fn same_bytes_as_umoci() {
        assert_eq!(encode(0, 0), None);
        assert_eq!(
            encode(1000, 1001),
            Some(vec![0x08, 0xe8, 0x07, 0x10, 0xe9, 0x07])
        );
        assert_eq!(
            encode(0, 5),
            Some(vec![0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x05])
        );
    }
}
