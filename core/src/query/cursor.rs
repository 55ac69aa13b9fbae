//! The paging cursor: "continue with ids strictly below X", as a short
//! URL-safe string.
//!
//! Clients treat the string as opaque. The form is `c1_<id>_<check>`: the
//! version, the id in lower-case hex without leading zeros, and two hex
//! digits of a checksum over the id, so a cursor cut short or mistyped is
//! rejected instead of paging from the wrong place. Every cursor has exactly
//! one spelling.

use alloc::string::String;
use core::fmt;

use crate::record::Lsn;

/// The cursor version this build writes and reads.
const VERSION: &str = "c1";

/// Where the next page starts: below a record id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    below: Lsn,
}

/// Why a string is not a cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorError {
    /// Not of the form `c<version>_<hex id>_<hex check>`.
    Malformed,
    /// A cursor from a different version of Spool.
    UnsupportedVersion,
    /// The checksum does not match the id: cut short or mistyped.
    BadCheck,
    /// The id is 0, below every record.
    Zero,
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CursorError::Malformed => {
                "not a cursor: pass the next_cursor value of a previous answer unchanged"
            }
            CursorError::UnsupportedVersion => {
                "cursor from another version of spool: start again without a cursor"
            }
            CursorError::BadCheck => {
                "cursor damaged (checksum mismatch): pass next_cursor unchanged"
            }
            CursorError::Zero => "cursor names no record",
        })
    }
}

impl Cursor {
    /// The cursor for the page after one whose oldest record was `id`:
    /// records with ids strictly below it. `Lsn(0)` cannot be paged below
    /// and is taken as `Lsn(1)` (nothing left).
    pub fn below(id: Lsn) -> Cursor {
        Cursor {
            below: Lsn(id.0.max(1)),
        }
    }

    /// The id every record of the next page is below.
    pub fn id(&self) -> Lsn {
        self.below
    }

    /// The string form.
    pub fn encode(&self) -> String {
        use fmt::Write;
        let mut s = String::with_capacity(24);
        // Writing to a String cannot fail.
        let _ = write!(s, "{self}");
        s
    }

    /// Parses the string form, accepting only what [`Cursor::encode`] writes.
    pub fn decode(s: &str) -> Result<Cursor, CursorError> {
        let mut parts = s.split('_');
        let (Some(version), Some(id), Some(check), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError::Malformed);
        };
        if version != VERSION {
            let looks_versioned = version.len() > 1
                && version.starts_with('c')
                && version[1..].bytes().all(|b| b.is_ascii_digit());
            return Err(if looks_versioned {
                CursorError::UnsupportedVersion
            } else {
                CursorError::Malformed
            });
        }
        let id = canonical_hex(id, 16).ok_or(CursorError::Malformed)?;
        let check = canonical_hex(check, 2)
            .filter(|_| check.len() == 2)
            .ok_or(CursorError::Malformed)?;
        if check != u64::from(check_byte(id)) {
            return Err(CursorError::BadCheck);
        }
        if id == 0 {
            return Err(CursorError::Zero);
        }
        Ok(Cursor { below: Lsn(id) })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.below.0;
        write!(f, "{VERSION}_{id:x}_{:02x}", check_byte(id))
    }
}

fn check_byte(id: u64) -> u8 {
    crc32fast::hash(&id.to_le_bytes()) as u8
}

/// Lower-case hex of at most `max` digits with no leading zero (except a
/// lone `0`, or the fixed-width check).
fn canonical_hex(s: &str, max: usize) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && (max == 2 || s == "0" || !s.starts_with('0'));
    if !ok {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_one_spelling() {
        for id in [1, 2, 15, 16, 255, 1 << 20, u64::MAX] {
            let c = Cursor::below(Lsn(id));
            let s = c.encode();
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            assert!(s.len() <= 3 + 16 + 3);
            assert_eq!(Cursor::decode(&s), Ok(c), "{s}");
        }
        assert_eq!(Cursor::below(Lsn(0)).id(), Lsn(1));
    }

    #[test]
    fn garbage_is_rejected() {
        let good = Cursor::below(Lsn(0x1f4)).encode();
        let check = &good[good.len() - 2..];
        for bad in [
            "",
            "c1",
            "c1_",
            "c1__00",
            "c1_1f4",
            "c1_1f4_",
            "c1_1F4_00",
            "x1_1f4_00",
            "c1_01f4_00",
            "c1_1f4_0",
            "c1_1f4_000",
            "c1_1f4_00_",
            "c1_11111111111111111_00",
            "c1_-1_00",
            "c1_+1f4_00",
        ] {
            let with_check = bad.replace("_00", &alloc::format!("_{check}"));
            assert!(Cursor::decode(bad).is_err(), "{bad}");
            assert!(Cursor::decode(&with_check).is_err(), "{with_check}");
        }
        assert_eq!(
            Cursor::decode("c2_1f4_00"),
            Err(CursorError::UnsupportedVersion)
        );
        // Cut short or mistyped.
        let short = alloc::format!("c1_1f_{check}");
        assert_eq!(Cursor::decode(&short), Err(CursorError::BadCheck));
        let zero = alloc::format!("c1_0_{:02x}", check_byte(0));
        assert_eq!(Cursor::decode(&zero), Err(CursorError::Zero));
    }
}
