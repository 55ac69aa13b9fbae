//! A log entry: what a producer sent, as it is stored in a record's payload.
//!
//! This module owns the payload encoding (the record frame around it lives in
//! [`crate::record`]) and the level vocabulary. Decoding never panics and never
//! allocates more than the payload it is given.
//!
//! Payload layout (all integers little-endian, no `usize`):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | payload version, `1` |
//! | 8 | timestamp, nanoseconds since the Unix epoch (`u64`) |
//! | 1 | level ([`Level`] as `u8`, 0 = TRACE … 5 = CRITICAL) |
//! | 2 | service length `S` (`u16`) |
//! | S | service, UTF-8 |
//! | 4 | message length `M` (`u32`) |
//! | M | message, UTF-8 |
//! | 4 | metadata length `D` (`u32`) |
//! | D | metadata, a JSON object as UTF-8 text, or empty for none |
//!
//! The payload ends exactly after the metadata; trailing bytes are an error.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The payload version written by this build.
pub const PAYLOAD_VERSION: u8 = 1;

/// Bytes of fixed-size fields in an encoded entry (everything but the strings).
pub const ENTRY_FIXED_LEN: usize = 1 + 8 + 1 + 2 + 4 + 4;

/// Severity of a log entry, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Finest-grained tracing.
    Trace = 0,
    /// Debugging detail.
    Debug = 1,
    /// Normal operation (the default).
    Info = 2,
    /// Something unexpected that was handled.
    Warn = 3,
    /// An operation failed.
    Error = 4,
    /// The service or a major part of it is failing (also FATAL).
    Critical = 5,
}

impl Level {
    /// All levels, least severe first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Critical,
    ];

    /// The canonical upper-case name (`"WARN"`, `"CRITICAL"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// The level stored as `byte`, or `None` for a byte no level has.
    pub fn from_u8(byte: u8) -> Option<Level> {
        Level::ALL.get(usize::from(byte)).copied()
    }

    /// Normalises a level word, ignoring ASCII case: the canonical names plus
    /// `WARNING`, `ERR`, `FATAL`, `CRIT`, `EMERG`, `ALERT`, `PANIC`, `NOTICE`,
    /// `INFORMATION`, `DBG`, `TRC`, and a decimal syslog severity `0`–`7`.
    /// Returns `None` for anything else.
    pub fn parse(word: &str) -> Option<Level> {
        let mut buf = [0u8; 12];
        let bytes = word.as_bytes();
        if bytes.is_empty() || bytes.len() > buf.len() {
            return None;
        }
        for (dst, src) in buf.iter_mut().zip(bytes) {
            *dst = src.to_ascii_uppercase();
        }
        let level = match &buf[..bytes.len()] {
            b"TRACE" | b"TRC" => Level::Trace,
            b"DEBUG" | b"DBG" => Level::Debug,
            b"INFO" | b"INFORMATION" | b"NOTICE" => Level::Info,
            b"WARN" | b"WARNING" => Level::Warn,
            b"ERROR" | b"ERR" => Level::Error,
            b"CRITICAL" | b"CRIT" | b"FATAL" | b"EMERG" | b"EMERGENCY" | b"ALERT" | b"PANIC" => {
                Level::Critical
            }
            [d @ b'0'..=b'7'] => return Level::from_syslog(d - b'0'),
            _ => return None,
        };
        Some(level)
    }

    /// Maps a syslog severity (RFC 5424: 0 emergency … 7 debug).
    pub fn from_syslog(severity: u8) -> Option<Level> {
        Some(match severity {
            0..=2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            _ => return None,
        })
    }

    /// Maps an OpenTelemetry `SeverityNumber` (1–24: TRACE 1–4, DEBUG 5–8,
    /// INFO 9–12, WARN 13–16, ERROR 17–20, FATAL 21–24).
    pub fn from_otel(severity_number: u8) -> Option<Level> {
        Some(match severity_number {
            1..=4 => Level::Trace,
            5..=8 => Level::Debug,
            9..=12 => Level::Info,
            13..=16 => Level::Warn,
            17..=20 => Level::Error,
            21..=24 => Level::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An owned log entry, ready to be encoded into a record payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Severity.
    pub level: Level,
    /// Emitting service; empty when the producer named none.
    pub service: String,
    /// The log line or message.
    pub message: String,
    /// A JSON object as text, or empty for none. Producers' metadata is
    /// validated as JSON before it gets here; the core stores it verbatim.
    pub metadata: String,
}

/// Why an entry cannot be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// The service name is longer than `u16::MAX` bytes.
    ServiceTooLong,
    /// The message or metadata is longer than `u32::MAX` bytes.
    FieldTooLong,
    /// The payload ends before a field it announces.
    Truncated,
    /// The payload version is not one this build reads.
    UnknownVersion(u8),
    /// The level byte names no level.
    BadLevel(u8),
    /// A text field is not UTF-8.
    NotUtf8,
    /// Bytes follow the last field.
    TrailingBytes,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryError::ServiceTooLong => f.write_str("service name longer than 65535 bytes"),
            EntryError::FieldTooLong => f.write_str("field longer than 4 GiB"),
            EntryError::Truncated => f.write_str("entry payload truncated"),
            EntryError::UnknownVersion(v) => write!(f, "unknown entry payload version {v}"),
            EntryError::BadLevel(b) => write!(f, "unknown level byte {b}"),
            EntryError::NotUtf8 => f.write_str("entry text field is not UTF-8"),
            EntryError::TrailingBytes => f.write_str("bytes after the last entry field"),
        }
    }
}

impl Entry {
    /// The exact payload length [`Entry::encode_into`] will append.
    pub fn encoded_len(&self) -> usize {
        self.as_ref().encoded_len()
    }

    /// Appends the payload encoding to `out`. Fails, leaving `out` unchanged,
    /// only when a field is longer than its length prefix can say.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EntryError> {
        self.as_ref().encode_into(out)
    }

    /// Borrows the fields.
    pub fn as_ref(&self) -> EntryRef<'_> {
        EntryRef {
            timestamp_ns: self.timestamp_ns,
            level: self.level,
            service: &self.service,
            message: &self.message,
            metadata: &self.metadata,
        }
    }

    /// Encodes into a new vector.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

impl EntryRef<'_> {
    /// The exact payload length [`EntryRef::encode_into`] will append.
    pub fn encoded_len(&self) -> usize {
        ENTRY_FIXED_LEN + self.service.len() + self.message.len() + self.metadata.len()
    }

    /// Appends the payload encoding to `out` (what [`EntryRef::decode`]
    /// reads back). Fails, leaving `out` unchanged, only when a field is
    /// longer than its length prefix can say.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EntryError> {
        let service_len =
            u16::try_from(self.service.len()).map_err(|_| EntryError::ServiceTooLong)?;
        let message_len =
            u32::try_from(self.message.len()).map_err(|_| EntryError::FieldTooLong)?;
        let metadata_len =
            u32::try_from(self.metadata.len()).map_err(|_| EntryError::FieldTooLong)?;
        out.reserve(self.encoded_len());
        out.push(PAYLOAD_VERSION);
        out.extend_from_slice(&self.timestamp_ns.to_le_bytes());
        out.push(self.level as u8);
        out.extend_from_slice(&service_len.to_le_bytes());
        out.extend_from_slice(self.service.as_bytes());
        out.extend_from_slice(&message_len.to_le_bytes());
        out.extend_from_slice(self.message.as_bytes());
        out.extend_from_slice(&metadata_len.to_le_bytes());
        out.extend_from_slice(self.metadata.as_bytes());
        Ok(())
    }
}

/// A decoded entry borrowing the payload it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Severity.
    pub level: Level,
    /// Emitting service; empty for none.
    pub service: &'a str,
    /// The message.
    pub message: &'a str,
    /// Metadata JSON text; empty for none.
    pub metadata: &'a str,
}

impl<'a> EntryRef<'a> {
    /// Decodes a payload, checking every length against the bytes present.
    pub fn decode(payload: &'a [u8]) -> Result<EntryRef<'a>, EntryError> {
        let mut cur = Cursor { rest: payload };
        let version = cur.take::<1>()?[0];
        if version != PAYLOAD_VERSION {
            return Err(EntryError::UnknownVersion(version));
        }
        let timestamp_ns = u64::from_le_bytes(cur.take::<8>()?);
        let level_byte = cur.take::<1>()?[0];
        let level = Level::from_u8(level_byte).ok_or(EntryError::BadLevel(level_byte))?;
        let service_len = u16::from_le_bytes(cur.take::<2>()?);
        let service = cur.text(u32::from(service_len))?;
        let message_len = u32::from_le_bytes(cur.take::<4>()?);
        let message = cur.text(message_len)?;
        let metadata_len = u32::from_le_bytes(cur.take::<4>()?);
        let metadata = cur.text(metadata_len)?;
        if !cur.rest.is_empty() {
            return Err(EntryError::TrailingBytes);
        }
        Ok(EntryRef {
            timestamp_ns,
            level,
            service,
            message,
            metadata,
        })
    }

    /// The timestamp, level byte and service bytes at the start of a
    /// payload, read without validating anything else (no UTF-8 check, the
    /// rest unread): a cheap pre-filter before [`EntryRef::decode`], which
    /// remains the only check that the payload is an entry. `None` if the
    /// payload is too short or of another version.
    pub fn peek_fields(payload: &[u8]) -> Option<(u64, u8, &[u8])> {
        if *payload.first()? != PAYLOAD_VERSION {
            return None;
        }
        let ts = u64::from_le_bytes(*payload.get(1..9)?.first_chunk::<8>()?);
        let level = *payload.get(9)?;
        let len = u16::from_le_bytes(*payload.get(10..12)?.first_chunk::<2>()?);
        let service = payload.get(12..12 + usize::from(len))?;
        Some((ts, level, service))
    }

    /// Copies into an owned [`Entry`].
    pub fn to_owned_entry(&self) -> Entry {
        Entry {
            timestamp_ns: self.timestamp_ns,
            level: self.level,
            service: self.service.into(),
            message: self.message.into(),
            metadata: self.metadata.into(),
        }
    }
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(EntryError::Truncated)?;
        self.rest = tail;
        Ok(*head)
    }

    fn text(&mut self, len: u32) -> Result<&'a str, EntryError> {
        let len = usize::try_from(len).map_err(|_| EntryError::Truncated)?;
        if self.rest.len() < len {
            return Err(EntryError::Truncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        core::str::from_utf8(head).map_err(|_| EntryError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            timestamp_ns: 1_700_000_000_123_456_789,
            level: Level::Error,
            service: "payments".into(),
            message: "card declined: ünïcode".into(),
            metadata: r#"{"user":42}"#.into(),
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let e = sample();
        let bytes = e.encode().unwrap();
        assert_eq!(bytes.len(), e.encoded_len());
        let back = EntryRef::decode(&bytes).unwrap();
        assert_eq!(back.to_owned_entry(), e);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = sample().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(EntryRef::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(EntryRef::decode(&longer), Err(EntryError::TrailingBytes));
    }

    #[test]
    fn level_words_normalise() {
        assert_eq!(Level::parse("warning"), Some(Level::Warn));
        assert_eq!(Level::parse("Err"), Some(Level::Error));
        assert_eq!(Level::parse("FATAL"), Some(Level::Critical));
        assert_eq!(Level::parse("3"), Some(Level::Error));
        assert_eq!(Level::parse("8"), None);
        assert_eq!(Level::parse("verbose"), None);
        assert_eq!(Level::parse(""), None);
        assert_eq!(Level::from_otel(17), Some(Level::Error));
        assert_eq!(Level::from_otel(0), None);
        assert!(Level::Warn > Level::Info);
    }
}
