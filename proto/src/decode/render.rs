//! A stored entry as the API returns it.

use spool_core::entry::EntryRef;

use crate::http::push_decimal;
use crate::rfc3339::format_rfc3339_nanos;

/// Appends the record as the API returns it:
/// `{"id":"<id>","timestamp":"<RFC 3339, ns>","level":"ERROR","service":"…","message":"…","metadata":{…}}`.
///
/// `service` is written as stored (`""` when none); `metadata` is `{}` when
/// empty. Stored metadata is embedded verbatim: it was validated as a JSON
/// object when it was decoded.
pub fn entry_to_json(id: u64, e: &EntryRef<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    push_record_head(id, e, out);
    out.extend_from_slice(b",\"service\":");
    push_json_string(out, e.service);
    out.extend_from_slice(b",\"message\":");
    push_json_string(out, e.message);
    out.extend_from_slice(b",\"metadata\":");
    let metadata = e.metadata.trim();
    out.extend_from_slice(if metadata.is_empty() { "{}" } else { metadata }.as_bytes());
    out.push(b'}');
}

/// Appends the members every record object opens with, without braces:
/// `"id":"<id>","timestamp":"<RFC 3339, ns>","level":"ERROR"`.
pub fn push_record_head(id: u64, e: &EntryRef<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\"id\":\"");
    push_decimal(out, id);
    out.extend_from_slice(b"\",\"timestamp\":\"");
    let mut timestamp = String::with_capacity(30);
    format_rfc3339_nanos(e.timestamp_ns, &mut timestamp);
    out.extend_from_slice(timestamp.as_bytes());
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(e.level.as_str().as_bytes());
    out.push(b'"');
}

/// Whether `metadata` is what the daemon stores for a record: nothing, or
/// a JSON object (the text that [`entry_to_json`] writes as is). A record
/// whose payload decodes as an entry but whose metadata is anything else
/// (a raw library payload) is not a log entry.
pub fn metadata_is_object(metadata: &str) -> bool {
    metadata.is_empty()
        || (metadata.starts_with('{') && super::json_text::validate(metadata.as_bytes()).is_ok())
}

/// Appends `s` as a JSON string literal, quotes included.
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // Serializing a `str` cannot fail and writing to a `Vec` cannot fail, so
    // the error branch is unreachable; it writes a valid empty string anyway.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}
