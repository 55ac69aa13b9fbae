//! The message format of the `spool-load` tool, shared with the crash test.
//!
//! Every record `spool-load` sends has a unique, self-checking message:
//!
//! ```text
//! spool-load r<run: 16 hex> c<connection> s<sequence>[ <padding a-z>] k<check: 16 hex>
//! ```
//!
//! `check` is [`fnv1a64`] of everything before ` k`, so a message that the
//! tool never sent (garbage, a torn or altered record) fails
//! [`parse_message`]. `(run, connection, sequence)` is unique per record: a
//! run id is chosen per invocation, and each connection numbers its records
//! from 0.

use std::fmt::Write as _;

/// Start of every message `spool-load` sends.
pub const MESSAGE_PREFIX: &str = "spool-load r";

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// Who sent a record: the identity encoded in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageId {
    /// The `spool-load` invocation.
    pub run: u64,
    /// The connection index within the run.
    pub conn: u32,
    /// The record's sequence number on its connection.
    pub seq: u64,
}

/// Appends the message of record `id` to `out`, with `pad` padding letters
/// (0 for none). Only ASCII letters, digits and spaces: the text needs no
/// escaping in JSON, so the bytes sent are the bytes stored.
pub fn write_message(out: &mut String, id: MessageId, pad: usize) {
    let start = out.len();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{MESSAGE_PREFIX}{:016x} c{:04} s{:010}",
        id.run, id.conn, id.seq
    );
    if pad > 0 {
        out.push(' ');
        out.extend((0..pad).map(|i| char::from(b'a' + ((id.seq as usize + i) % 26) as u8)));
    }
    let check = fnv1a64(&out.as_bytes()[start..]);
    let _ = write!(out, " k{check:016x}");
}

/// The sender of `msg` if it is a well-formed `spool-load` message whose
/// check matches; `None` for anything else.
pub fn parse_message(msg: &str) -> Option<MessageId> {
    let (body, check) = msg.rsplit_once(" k")?;
    if check.len() != 16 || !check.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if u64::from_str_radix(check, 16).ok()? != fnv1a64(body.as_bytes()) {
        return None;
    }
    let rest = body.strip_prefix(MESSAGE_PREFIX)?;
    let (run, rest) = rest.split_at_checked(16)?;
    let run = u64::from_str_radix(run, 16).ok()?;
    let rest = rest.strip_prefix(" c")?;
    let (conn, rest) = rest.split_once(" s")?;
    let (seq, pad) = match rest.split_once(' ') {
        Some((seq, pad)) => (seq, pad),
        None => (rest, ""),
    };
    if !pad.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(conn) || !digits(seq) {
        return None;
    }
    Some(MessageId {
        run,
        conn: conn.parse().ok()?,
        seq: seq.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn round_trip_and_rejects() {
        let id = MessageId {
            run: 0xdead_beef,
            conn: 7,
            seq: 123_456,
        };
        for pad in [0, 1, 48] {
            let mut m = String::new();
            write_message(&mut m, id, pad);
            assert_eq!(parse_message(&m), Some(id), "{m}");
            // Any single changed byte fails the check.
            for i in 0..m.len() {
                let mut b = m.clone().into_bytes();
                b[i] ^= 0x01;
                if let Ok(s) = String::from_utf8(b) {
                    assert_eq!(parse_message(&s), None, "{s}");
                }
            }
            assert_eq!(parse_message(&m[..m.len() - 1]), None);
        }
        let mut m = String::new();
        write_message(&mut m, id, 0);
        assert_eq!(m.len(), 64, "{m}");
        assert_eq!(parse_message("hello"), None);
        assert_eq!(parse_message(""), None);
    }
}
