//! `application/json` (an object or an array of objects) and NDJSON bodies.
//!
//! One path for every JSON record: the [`json_text`](super::json_text)
//! scanner walks the body once, splitting an array into its elements and a
//! record into its members, and checks every value, ignored fields included,
//! with the same strictness. Only the values Spool keeps are then decoded:
//! strings through serde_json (so a message is exactly the string sent),
//! numbers from their text, and `metadata` is kept as its own text with the
//! insignificant whitespace removed, every number as written.

use std::borrow::Cow;

use spool_core::entry::{EntryRef, Level};

use super::json_text::{JsonTextError, Kind, Minify, NoSink, Scanner, Token};
use super::{numbered_lines, DecodeError, DecodeLimits, Payloads, RecordProblem};
use crate::rfc3339::parse_rfc3339;
use crate::unix_time::{parse_unix_time, UnixTimeError, ACCEPTED_TIMES};

const LEVEL_WORDS: &str =
    "TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL (or WARNING, ERR, FATAL), or a syslog severity 0-7";

/// Longest received value echoed in an error message, in bytes.
const SHOWN_MAX: usize = 80;

pub(super) fn decode_json(
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
    out: &mut Payloads,
) -> Result<(), DecodeError> {
    let invalid = |e: JsonTextError| {
        DecodeError::body(
            400,
            format!("body is not valid JSON at byte {}: {}", e.offset, e.message),
        )
    };
    let mut s = Scanner::new(body);
    let mut scratch = Vec::new();
    s.skip_ws();
    let before = out.len();
    match s.peek() {
        None => return Err(DecodeError::no_records()),
        Some(b'{') => {
            record(&mut s, &mut scratch, now_ns, limits, out).map_err(|p| match p {
                Problem::Json(e) => invalid(e),
                Problem::Record(p) => DecodeError::body(p.status, p.message),
            })?;
        }
        Some(b'[') => {
            s.open().map_err(invalid)?;
            s.skip_ws();
            if !s.eat(b']') {
                loop {
                    let count = out.len() - before;
                    if count >= limits.max_records {
                        return Err(DecodeError::too_many_records(limits.max_records));
                    }
                    element(&mut s, &mut scratch, now_ns, limits, "of the body", out)
                        .map_err(|p| DecodeError::at_index(count as u64, p))?;
                    s.skip_ws();
                    if s.eat(b',') {
                        s.skip_ws();
                    } else if s.eat(b']') {
                        break;
                    } else {
                        return Err(invalid(JsonTextError {
                            offset: s.pos(),
                            message: "expected ',' or ']' after a record",
                        }));
                    }
                }
            }
            s.close();
        }
        Some(_) => {
            let token = s.value(&mut NoSink).map_err(invalid)?;
            s.skip_ws();
            s.finish().map_err(invalid)?;
            return Err(DecodeError::body(
                400,
                format!(
                    "body must be a JSON object or an array of objects, not {}",
                    token.kind.described()
                ),
            ));
        }
    };
    s.skip_ws();
    if s.peek().is_some() {
        return Err(DecodeError::body(
            400,
            format!(
                "body is not valid JSON at byte {}: bytes follow the first value; send one object or one array of objects (one object per line is application/x-ndjson)",
                s.pos()
            ),
        ));
    }
    Ok(())
}

pub(super) fn decode_ndjson(
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
    out: &mut Payloads,
) -> Result<(), DecodeError> {
    let before = out.len();
    let mut scratch = Vec::new();
    for (n, line) in numbered_lines(body) {
        if out.len() - before >= limits.max_records {
            return Err(DecodeError::too_many_records(limits.max_records));
        }
        let mut s = Scanner::new(line);
        s.skip_ws();
        // A record followed by more text on its line fails the whole body,
        // so adding it before the check below changes nothing.
        element(&mut s, &mut scratch, now_ns, limits, "of the line", out)
            .and_then(|()| {
                s.skip_ws();
                s.finish().map_err(|e| not_json(e, "of the line"))
            })
            .map_err(|p| DecodeError::at_line(n, p))?;
    }
    Ok(())
}

fn not_json(e: JsonTextError, within: &str) -> RecordProblem {
    RecordProblem::bad(format!(
        "not valid JSON at byte {} {within}: {}",
        e.offset, e.message
    ))
}

/// One array element or NDJSON line: a record object, or an error that
/// says what the (valid) value is instead.
fn element(
    s: &mut Scanner<'_>,
    scratch: &mut Vec<u8>,
    now_ns: u64,
    limits: &DecodeLimits,
    within: &str,
    out: &mut Payloads,
) -> Result<(), RecordProblem> {
    if s.peek() == Some(b'{') {
        return record(s, scratch, now_ns, limits, out).map_err(|p| p.within(within));
    }
    let token = s.value(&mut NoSink).map_err(|e| not_json(e, within))?;
    Err(RecordProblem::bad(format!(
        "a record must be a JSON object, not {}",
        token.kind.described()
    )))
}

/// The record members Spool reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Message,
    Level,
    SeverityNumber,
    Service,
    Timestamp,
    Metadata,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Message,
        Field::Level,
        Field::SeverityNumber,
        Field::Service,
        Field::Timestamp,
        Field::Metadata,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Message => "message",
            Field::Level => "level",
            Field::SeverityNumber => "severity_number",
            Field::Service => "service",
            Field::Timestamp => "timestamp",
            Field::Metadata => "metadata",
        }
    }

    fn of(name: &[u8]) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name().as_bytes() == name)
    }
}

/// A record's problem before its position is known: JSON errors carry the
/// byte offset, which needs the "of the body" / "of the line" it counts in.
enum Problem {
    Json(JsonTextError),
    Record(RecordProblem),
}

impl From<JsonTextError> for Problem {
    fn from(e: JsonTextError) -> Self {
        Problem::Json(e)
    }
}

impl From<RecordProblem> for Problem {
    fn from(p: RecordProblem) -> Self {
        Problem::Record(p)
    }
}

impl Problem {
    fn within(self, within: &str) -> RecordProblem {
        match self {
            Problem::Json(e) => not_json(e, within),
            Problem::Record(p) => p,
        }
    }
}

/// The record object at the cursor (which is `{`), scanned and checked as a
/// whole before any field is interpreted.
fn record(
    s: &mut Scanner<'_>,
    scratch: &mut Vec<u8>,
    now_ns: u64,
    limits: &DecodeLimits,
    out: &mut Payloads,
) -> Result<(), Problem> {
    let text = s.text();
    let mut found: [Option<Token>; Field::ALL.len()] = [None; Field::ALL.len()];
    s.open()?;
    s.skip_ws();
    if !s.eat(b'}') {
        loop {
            let key = s.key()?;
            let field = match key.kind {
                Kind::String { escaped: false } => Field::of(key.string_body(text)),
                _ => decode_string(text, key)
                    .ok()
                    .and_then(|k| Field::of(k.as_bytes())),
            };
            let value = match field {
                Some(Field::Metadata) if s.peek() == Some(b'{') => {
                    scratch.clear();
                    let start = s.pos();
                    s.value(&mut Minify::new(scratch, start))?
                }
                _ => s.value(&mut NoSink)?,
            };
            if let Some(field) = field {
                let slot = &mut found[field as usize];
                if slot.is_some() {
                    return Err(RecordProblem::bad(format!(
                        "\"{}\" appears more than once in the record; send each field once",
                        field.name()
                    ))
                    .into());
                }
                *slot = Some(value);
            }
            s.skip_ws();
            if s.eat(b',') {
                s.skip_ws();
            } else if s.eat(b'}') {
                break;
            } else {
                return Err(JsonTextError {
                    offset: s.pos(),
                    message: "expected ',' or '}' after an object member",
                }
                .into());
            }
        }
    }
    s.close();

    // `null` is the same as absent for every field.
    let get = |f: Field| found[f as usize].filter(|t| t.kind != Kind::Null);
    let message = match get(Field::Message) {
        None => {
            return Err(RecordProblem::bad(
                "\"message\" is missing; every record needs a \"message\" string",
            )
            .into())
        }
        Some(t) => string_field(text, t, Field::Message)?,
    };
    let level = level_of(text, get(Field::Level), get(Field::SeverityNumber))?;
    let service = match get(Field::Service) {
        None => Cow::Borrowed(""),
        Some(t) => {
            let service = string_field(text, t, Field::Service)?;
            if service.len() > usize::from(u16::MAX) {
                return Err(RecordProblem::bad(
                    "\"service\" is longer than 65535 bytes; send a shorter service name",
                )
                .into());
            }
            if service == super::RESERVED_SERVICE {
                return Err(RecordProblem::bad(
                    "\"service\": \"spool\" is reserved for the daemon's own records (its alerts); name your service otherwise",
                )
                .into());
            }
            service
        }
    };
    let timestamp_ns = match get(Field::Timestamp) {
        None => now_ns,
        Some(t) => timestamp_of(text, t)?,
    };
    let metadata = match get(Field::Metadata) {
        None => "",
        Some(t) if t.kind == Kind::Object => {
            // The minified copy of checked JSON text is UTF-8; the check
            // cannot fail, and an empty string would be "no metadata".
            std::str::from_utf8(scratch).unwrap_or_default()
        }
        Some(t) => {
            return Err(RecordProblem::bad(format!(
                "\"metadata\" must be a JSON object, not {}",
                t.kind.described()
            ))
            .into())
        }
    };
    let entry = EntryRef {
        timestamp_ns,
        level,
        service: &service,
        message: &message,
        metadata,
    };
    Ok(out.push_entry(&entry, limits)?)
}

/// A checked string token's value, borrowed from the body when it has no
/// escapes.
fn decode_string(text: &[u8], t: Token) -> Result<Cow<'_, str>, RecordProblem> {
    let decoded = match t.kind {
        Kind::String { escaped: false } => std::str::from_utf8(t.string_body(text))
            .map(Cow::Borrowed)
            .map_err(|_| ()),
        _ => serde_json::from_slice::<String>(t.text(text))
            .map(Cow::Owned)
            .map_err(|_| ()),
    };
    // The scanner checked the string as serde_json would; this is only
    // reached if the two ever disagree.
    decoded.map_err(|()| RecordProblem::bad("a string could not be decoded; send valid JSON"))
}

fn string_field(text: &[u8], t: Token, field: Field) -> Result<Cow<'_, str>, RecordProblem> {
    match t.kind {
        Kind::String { .. } => decode_string(text, t),
        other => Err(RecordProblem::bad(format!(
            "\"{}\" must be a string, not {}",
            field.name(),
            other.described()
        ))),
    }
}

/// The value as received, for an error message: its JSON text, cut short.
fn shown(text: &[u8], t: Token) -> String {
    let raw = String::from_utf8_lossy(t.text(text));
    match raw.char_indices().nth(SHOWN_MAX) {
        Some((cut, _)) => format!("{}...", &raw[..cut]),
        None => raw.into_owned(),
    }
}

/// A non-negative integer written as plain digits (no sign, fraction or
/// exponent), if it fits in a `u8`.
fn small_integer(digits: &[u8]) -> Option<u8> {
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits
        .iter()
        .try_fold(0u16, |n, d| Some(n * 10 + u16::from(d - b'0')))
        .and_then(|n| u8::try_from(n).ok())
}

fn level_of(
    text: &[u8],
    level: Option<Token>,
    severity_number: Option<Token>,
) -> Result<Level, RecordProblem> {
    match level {
        Some(t) => match t.kind {
            Kind::String { .. } => {
                let word = decode_string(text, t)?;
                Level::parse(word.trim()).ok_or_else(|| {
                    RecordProblem::bad(format!(
                        "unknown level {}; use {LEVEL_WORDS}",
                        shown(text, t)
                    ))
                })
            }
            Kind::Number => small_integer(t.text(text))
                .and_then(Level::from_syslog)
                .ok_or_else(|| {
                    RecordProblem::bad(format!(
                        "unknown level {}; a numeric level is a syslog severity 0-7",
                        shown(text, t)
                    ))
                }),
            other => Err(RecordProblem::bad(format!(
                "\"level\" must be a string or a number, not {}",
                other.described()
            ))),
        },
        None => match severity_number {
            None => Ok(Level::Info),
            Some(t) => small_integer(t.text(text))
                .filter(|_| t.kind == Kind::Number)
                .and_then(Level::from_otel)
                .ok_or_else(|| {
                    RecordProblem::bad(format!(
                        "unknown severity_number {}; use an OpenTelemetry severity 1-24",
                        shown(text, t)
                    ))
                }),
        },
    }
}

/// Why an RFC 3339-looking string was refused: its year before 1970 or
/// from 2554 on (outside the `u64` nanosecond range), else malformed.
fn rfc3339_out_of_range(s: &str) -> UnixTimeError {
    let year = s
        .get(..4)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|y| y.parse::<u32>().ok());
    match (year, s.as_bytes().get(4)) {
        (Some(y), Some(b'-')) if y < 1970 => UnixTimeError::Negative,
        (Some(y), Some(b'-')) if y >= 2554 => UnixTimeError::TooLate,
        _ => UnixTimeError::NotANumber,
    }
}

fn timestamp_of(text: &[u8], t: Token) -> Result<u64, RecordProblem> {
    let parsed = match t.kind {
        Kind::Number => std::str::from_utf8(t.text(text))
            .map_err(|_| UnixTimeError::NotANumber)
            .and_then(parse_unix_time),
        Kind::String { .. } => {
            let s = decode_string(text, t)?;
            let s = s.trim();
            match parse_unix_time(s) {
                Err(UnixTimeError::NotANumber) => {
                    parse_rfc3339(s).ok_or_else(|| rfc3339_out_of_range(s))
                }
                other => other,
            }
        }
        other => {
            return Err(RecordProblem::bad(format!(
                "\"timestamp\" must be a string or a number, not {}; {ACCEPTED_TIMES}",
                other.described()
            )))
        }
    };
    parsed.map_err(|e| {
        let why = match e {
            UnixTimeError::NotANumber => "is not RFC 3339 or a Unix time".to_owned(),
            other => format!("is {other}"),
        };
        RecordProblem::bad(format!(
            "\"timestamp\" {} {why}; {ACCEPTED_TIMES}",
            shown(text, t)
        ))
    })
}
