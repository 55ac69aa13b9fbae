//! Ingest bodies into entries, and entries into the API's JSON records.
//!
//! [`decode_entries`] turns one request body into [`Entry`] values according
//! to its content type. It is all-or-nothing: the first invalid record fails
//! the whole body with a [`DecodeError`] that says where (line or array index)
//! and what to fix, and no entry is returned. Formats:
//!
//! - `text/plain`, also when no content type is given and for
//!   `application/x-www-form-urlencoded` (what `curl -d` sends unless told
//!   otherwise): each line that is not blank (whitespace only) is one record, the bytes as
//!   sent (a form body is not form-decoded: `a+b%20c` stays `a+b%20c`); see
//!   *Text lines* below.
//! - `application/json`: one object or an array of objects.
//! - `application/x-ndjson` (also `application/ndjson`,
//!   `application/jsonlines`, `application/x-jsonlines`): one object per line.
//!
//! Every error about one record says which: `line N` (1-based, text and
//! NDJSON) or `record N` (0-based index in a JSON array).
//!
//! # Text lines
//!
//! Lines split on `\n` (a trailing `\r` is dropped). A line whose first word
//! (letters only, after leading whitespace) is a level word followed by a
//! space, a tab, `:` or the end of the line (`ERROR disk full`,
//! `warning: slow`), or is such a word in brackets (`[warn] x`), gets that
//! level; others are INFO. The message is the whole line, level word
//! included. Digits-only words are not levels here (`3 retries left` stays
//! INFO), although [`Level::parse`] maps `0`–`7` as syslog severities.
//!
//! # JSON objects
//!
//! `{"message": string (required), "level"?, "service"?, "timestamp"?,
//! "metadata"?}`. `level` is a level word ([`Level::parse`]) or a syslog
//! severity number 0–7; when absent, an OpenTelemetry `severity_number` (1–24)
//! is used; else INFO. `service` is a string of at most 65535 bytes.
//! `timestamp` is RFC 3339 text, or Unix time in s, ms, µs or ns told apart
//! by magnitude ([`crate::unix_time`]) as a JSON number (integer, fraction or
//! exponent form) or a string holding one; absent means the receive time.
//! `metadata` must be an object; it is stored as the producer's JSON text
//! with only insignificant whitespace removed: numbers exactly as written,
//! keys in their order (duplicates included), escapes as sent. Other fields
//! are ignored, but must be valid JSON like the rest ([`json_text`]). `null`
//! counts as absent for every optional field. A field Spool reads that
//! appears twice in one record is an error: the record is ambiguous.
//!
//! [`Level::parse`]: spool_core::entry::Level::parse

mod json;
pub mod json_text;
mod payloads;
mod render;
mod text;

use std::fmt;

use spool_core::entry::{Entry, EntryRef};

pub use payloads::{Iter as PayloadIter, Payloads};
pub use render::{entry_to_json, metadata_is_object, push_json_string, push_record_head};

/// The service of the daemon's own records (alerts): a producer's record
/// naming it is refused, so a record of this service is always the
/// daemon's.
pub const RESERVED_SERVICE: &str = "spool";

/// Bounds on what one ingest body may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest encoded entry ([`Entry::encoded_len`]) accepted. Default 1 MiB.
    pub max_record_bytes: usize,
    /// Most records in one body. Default 100 000.
    pub max_records: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_record_bytes: 1024 * 1024,
            max_records: 100_000,
        }
    }
}

/// Why a body was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// 400 malformed, 413 record or body too large, 415 unsupported type.
    pub status: u16,
    /// What is wrong, for a person; starts with `line N: ` or
    /// `record N: ` when the problem is in one record.
    pub message: String,
    /// 1-based line of the offending record (text and NDJSON).
    pub line: Option<u64>,
    /// 0-based index of the offending record in a JSON array.
    pub index: Option<u64>,
}

impl DecodeError {
    fn body(status: u16, message: impl Into<String>) -> Self {
        DecodeError {
            status,
            message: message.into(),
            line: None,
            index: None,
        }
    }

    fn at_line(line: u64, problem: RecordProblem) -> Self {
        DecodeError {
            status: problem.status,
            message: format!("line {line}: {}", problem.message),
            line: Some(line),
            index: None,
        }
    }

    fn at_index(index: u64, problem: RecordProblem) -> Self {
        DecodeError {
            status: problem.status,
            message: format!("record {index}: {}", problem.message),
            line: None,
            index: Some(index),
        }
    }

    fn no_records() -> Self {
        DecodeError::body(400, "body has no records")
    }

    fn too_many_records(limit: usize) -> Self {
        DecodeError::body(
            413,
            format!("body has more than {limit} records; send smaller batches"),
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// What is wrong with one record, before we know where it sits.
#[derive(Debug)]
struct RecordProblem {
    status: u16,
    message: String,
}

impl RecordProblem {
    fn bad(message: impl Into<String>) -> Self {
        RecordProblem {
            status: 400,
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Ndjson,
}

const ACCEPTED_TYPES: &str =
    "text/plain, application/json or application/x-ndjson (also application/ndjson, application/jsonlines)";

fn format_of(content_type: Option<&str>) -> Result<Format, DecodeError> {
    let Some(value) = content_type else {
        return Ok(Format::Text);
    };
    let media = value.split(';').next().unwrap_or(value).trim();
    let is = |name: &str| media.eq_ignore_ascii_case(name);
    // curl -d sends the form type unless told otherwise; its body is the
    // producer's text, so it is read as text lines, not form-decoded.
    if is("text/plain") || is("application/x-www-form-urlencoded") || media.is_empty() {
        Ok(Format::Text)
    } else if is("application/json") {
        Ok(Format::Json)
    } else if is("application/x-ndjson")
        || is("application/ndjson")
        || is("application/jsonlines")
        || is("application/x-jsonlines")
    {
        Ok(Format::Ndjson)
    } else {
        Err(DecodeError::body(
            415,
            format!("unsupported Content-Type {media:?}; send {ACCEPTED_TYPES}"),
        ))
    }
}

/// Decodes an ingest body into encoded entry payloads appended to `out`,
/// all or nothing: on an error, `out` holds whatever was decoded before it
/// and is to be discarded.
///
/// `content_type` is the `Content-Type` value (parameters are ignored;
/// `None` and `application/x-www-form-urlencoded` mean `text/plain`);
/// `now_ns` is the receive time, used for records that carry no timestamp.
/// A leading UTF-8 byte-order mark is ignored. Strings without escapes and
/// text lines are copied once, from the body into `out`.
pub fn decode_payloads(
    content_type: Option<&str>,
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
    out: &mut Payloads,
) -> Result<(), DecodeError> {
    // Some Windows producers start UTF-8 text with a byte-order mark.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let before = out.len();
    match format_of(content_type)? {
        Format::Text => text::decode_text(body, now_ns, limits, out)?,
        Format::Json => json::decode_json(body, now_ns, limits, out)?,
        Format::Ndjson => json::decode_ndjson(body, now_ns, limits, out)?,
    };
    if out.len() == before {
        return Err(DecodeError::no_records());
    }
    Ok(())
}

/// [`decode_payloads`] into owned entries.
pub fn decode_entries(
    content_type: Option<&str>,
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
) -> Result<Vec<Entry>, DecodeError> {
    let mut out = Payloads::default();
    decode_payloads(content_type, body, now_ns, limits, &mut out)?;
    // Each payload was encoded just above, so each decodes.
    Ok(out
        .iter()
        .filter_map(|p| EntryRef::decode(p).ok())
        .map(|e| e.to_owned_entry())
        .collect())
}

/// The non-blank lines of `body` (blank: empty or whitespace only) with
/// their 1-based numbers, `\r\n` or `\n` terminated.
fn numbered_lines(body: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let text = rest?;
        let (line, after) = match memchr::memchr(b'\n', text) {
            Some(at) => (text.get(..at), text.get(at + 1..)),
            None => (Some(text), None),
        };
        rest = after;
        line
    })
    .zip(1u64..)
    .map(|(line, n)| (n, line.strip_suffix(b"\r").unwrap_or(line)))
    .filter(|(_, line)| !line.trim_ascii().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_split() {
        for body in [
            &b""[..],
            b"\n",
            b"a",
            b"a\n",
            b"a\r\n\nb\r\n  \n0123456789abcdef\nlast",
        ] {
            let want: Vec<(u64, &[u8])> = body
                .split(|&b| b == b'\n')
                .zip(1u64..)
                .map(|(line, n)| (n, line.strip_suffix(b"\r").unwrap_or(line)))
                .filter(|(_, line)| !line.trim_ascii().is_empty())
                .collect();
            assert_eq!(numbered_lines(body).collect::<Vec<_>>(), want);
        }
    }
}
