//! `application/json` (an object or an array of objects) and NDJSON bodies.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};
use spool_core::entry::{Entry, Level};

use super::{check_size, numbered_lines, DecodeError, DecodeLimits, RecordProblem};
use crate::rfc3339::parse_time_param;

const LEVEL_WORDS: &str =
    "TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL (or WARNING, ERR, FATAL), or a syslog severity 0-7";

pub(super) fn decode_json(
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
) -> Result<Vec<Entry>, DecodeError> {
    if body.trim_ascii().is_empty() {
        return Err(DecodeError::no_records());
    }
    if let Some(entries) = fast_array(body, now_ns, limits) {
        return entries;
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::body(400, format!("body is not valid JSON: {e}")))?;
    match value {
        Value::Object(object) => {
            let entry = entry_from_object(object, now_ns, limits)
                .map_err(|p| DecodeError::body(p.status, p.message))?;
            Ok(vec![entry])
        }
        Value::Array(items) => {
            if items.len() > limits.max_records {
                return Err(DecodeError::too_many_records(limits.max_records));
            }
            items
                .into_iter()
                .zip(0u64..)
                .map(|(item, index)| {
                    entry_from_value(item, now_ns, limits)
                        .map_err(|p| DecodeError::at_index(index, p))
                })
                .collect()
        }
        other => Err(DecodeError::body(
            400,
            format!(
                "body must be a JSON object or an array of objects, not {}",
                kind(&other)
            ),
        )),
    }
}

pub(super) fn decode_ndjson(
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
) -> Result<Vec<Entry>, DecodeError> {
    let mut entries = Vec::new();
    for (n, line) in numbered_lines(body) {
        if entries.len() >= limits.max_records {
            return Err(DecodeError::too_many_records(limits.max_records));
        }
        let entry = match fast_entry(line, now_ns, limits) {
            Some(result) => result,
            None => serde_json::from_slice::<Value>(line)
                .map_err(|e| RecordProblem::bad(format!("not valid JSON: {e}")))
                .and_then(|value| entry_from_value(value, now_ns, limits)),
        }
        .map_err(|p| DecodeError::at_line(n, p))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The common record shape, borrowed from the body: no map per record.
/// Anything it cannot take as is (a numeric level, `severity_number`,
/// metadata that is not an object, a wrong type, a duplicate key, any other
/// field) falls back to the general path, which also words every error.
/// Other fields must fall back: serde skips an ignored field without
/// validating its strings, so invalid UTF-8 or a lone surrogate there would
/// be accepted here and refused by the general path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastRecord<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(borrow, default)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    service: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    severity_number: Option<serde::de::IgnoredAny>,
}

/// `None`: not the common shape; use the general path.
fn fast_entry(
    json: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
) -> Option<Result<Entry, RecordProblem>> {
    let r: FastRecord<'_> = serde_json::from_slice(json).ok()?;
    if r.severity_number.is_some()
        || r.service
            .as_ref()
            .is_some_and(|s| s.len() > usize::from(u16::MAX))
    {
        return None;
    }
    let level = match &r.level {
        None => Level::Info,
        Some(word) => Level::parse(word.trim())?,
    };
    let timestamp_ns = match &r.timestamp {
        None | Some(Value::Null) => now_ns,
        Some(value) => timestamp_of(value).ok()?,
    };
    let metadata = match r.metadata {
        None => String::new(),
        Some(map) => Value::Object(map).to_string(),
    };
    Some(check_size(
        Entry {
            timestamp_ns,
            level,
            service: r.service.map(Cow::into_owned).unwrap_or_default(),
            message: r.message.into_owned(),
            metadata,
        },
        limits,
    ))
}

/// A JSON array of common-shape records, or `None` to use the general path.
fn fast_array(
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
) -> Option<Result<Vec<Entry>, DecodeError>> {
    if body.trim_ascii_start().first() != Some(&b'[') {
        return None;
    }
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body).ok()?;
    if items.len() > limits.max_records {
        return Some(Err(DecodeError::too_many_records(limits.max_records)));
    }
    let mut entries = Vec::with_capacity(items.len());
    for (item, index) in items.into_iter().zip(0u64..) {
        match fast_entry(item.get().as_bytes(), now_ns, limits)? {
            Ok(e) => entries.push(e),
            Err(p) => return Some(Err(DecodeError::at_index(index, p))),
        }
    }
    Some(Ok(entries))
}

fn entry_from_value(
    value: Value,
    now_ns: u64,
    limits: &DecodeLimits,
) -> Result<Entry, RecordProblem> {
    match value {
        Value::Object(object) => entry_from_object(object, now_ns, limits),
        other => Err(RecordProblem::bad(format!(
            "a record must be a JSON object, not {}",
            kind(&other)
        ))),
    }
}

fn entry_from_object(
    mut object: Map<String, Value>,
    now_ns: u64,
    limits: &DecodeLimits,
) -> Result<Entry, RecordProblem> {
    let message = match object.remove("message") {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => {
            return Err(RecordProblem::bad(
                "\"message\" is missing; every record needs a \"message\" string",
            ))
        }
        Some(other) => {
            return Err(RecordProblem::bad(format!(
                "\"message\" must be a string, not {}",
                kind(&other)
            )))
        }
    };
    let level = level_of(&object)?;
    let service = match object.remove("service") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.len() > usize::from(u16::MAX) => {
            return Err(RecordProblem::bad("\"service\" is longer than 65535 bytes"))
        }
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(RecordProblem::bad(format!(
                "\"service\" must be a string, not {}",
                kind(&other)
            )))
        }
    };
    let timestamp_ns = match object.get("timestamp") {
        None | Some(Value::Null) => now_ns,
        Some(value) => timestamp_of(value)?,
    };
    let metadata = match object.remove("metadata") {
        None | Some(Value::Null) => String::new(),
        Some(value @ Value::Object(_)) => value.to_string(),
        Some(other) => {
            return Err(RecordProblem::bad(format!(
                "\"metadata\" must be a JSON object, not {}",
                kind(&other)
            )))
        }
    };
    check_size(
        Entry {
            timestamp_ns,
            level,
            service,
            message,
            metadata,
        },
        limits,
    )
}

fn level_of(object: &Map<String, Value>) -> Result<Level, RecordProblem> {
    match object.get("level") {
        Some(Value::String(word)) => Level::parse(word.trim()).ok_or_else(|| {
            RecordProblem::bad(format!("unknown level {word:?}; use {LEVEL_WORDS}"))
        }),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .and_then(Level::from_syslog)
            .ok_or_else(|| {
                RecordProblem::bad(format!(
                    "unknown level {n}; a numeric level is a syslog severity 0-7"
                ))
            }),
        Some(Value::Null) | None => match object.get("severity_number") {
            None | Some(Value::Null) => Ok(Level::Info),
            Some(value) => value
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .and_then(Level::from_otel)
                .ok_or_else(|| {
                    RecordProblem::bad(format!(
                        "unknown severity_number {value}; use an OpenTelemetry severity 1-24"
                    ))
                }),
        },
        Some(other) => Err(RecordProblem::bad(format!(
            "\"level\" must be a string or a number, not {}",
            kind(other)
        ))),
    }
}

fn timestamp_of(value: &Value) -> Result<u64, RecordProblem> {
    let parsed = match value {
        Value::String(s) => parse_time_param(s.trim()),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(ms), _) => ms.checked_mul(1_000_000),
            (None, Some(ms)) if ms.is_finite() && ms >= 0.0 && ms < u64::MAX as f64 => {
                // Whole and fractional milliseconds apart, so the fraction is
                // not lost to f64 precision at today's magnitudes.
                let whole = ms.trunc();
                let frac_ns = ((ms - whole) * 1e6).round() as u64;
                (whole as u64)
                    .checked_mul(1_000_000)
                    .and_then(|ns| ns.checked_add(frac_ns))
            }
            _ => None,
        },
        other => {
            return Err(RecordProblem::bad(format!(
                "\"timestamp\" must be an RFC 3339 string or Unix milliseconds, not {}",
                kind(other)
            )))
        }
    };
    parsed.ok_or_else(|| {
        RecordProblem::bad(format!(
            "\"timestamp\" {value} is not a time from 1970 on; send RFC 3339 (2024-01-02T03:04:05.123Z) or Unix milliseconds"
        ))
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
