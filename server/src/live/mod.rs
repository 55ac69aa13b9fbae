//! The live path: WebSocket followers of the log.
//!
//! Followers read the segment files, as any reader does, never the ingest
//! buffers, and only what `fdatasync` has covered:
//!
//! - [`follower`]: the daemon's one follower at the head of the log. It
//!   tails the data directory (inotify, registered with the event loop,
//!   plus the durable id's advance, which arrives after the write's
//!   inotify event) and keeps the newest records, each already framed as
//!   a WebSocket text message, in a [`window::Window`] bounded in bytes
//!   (`--live-window`). One read of the log serves every follower near the
//!   head. It reads only while some subscriber waits for more, so
//!   followers that stopped reading cost a producer nothing.
//! - [`subscription`]: one subscriber's cursor and filter. A subscriber
//!   copies from the window into its socket buffer while that buffer has
//!   room (`--max-unsent`); it never holds a queue that grows with the log.
//! - [`catch_up`]: a subscriber whose cursor is older than the window (it
//!   started from `oldest`, an id or a time, or stopped reading while the
//!   others went on) reads the log itself, a bounded chunk per job on a
//!   reader thread, until it reaches the window.
//!
//! Messages are text frames of one JSON object each: a record as `/logs`
//! writes it; an alert, `{"type":"alert",...}` (every subscriber gets
//! every alert, whatever its filter); or `{"type":"gap","from":"F","to":"T"}`
//! for ids retention deleted (or that were declared lost) before the
//! subscriber read them.

pub mod catch_up;
pub mod follower;
pub mod subscription;
pub mod window;

use spool_core::entry::EntryRef;
use spool_core::record::Lsn;
use spool_proto::decode::{entry_to_json, metadata_is_object};
use spool_proto::ws::write_text;

/// Appends the text frame for record `id`, or nothing (`false`) when the
/// payload is not a log entry (a raw payload appended through the
/// library): followers are sent log entries only, as `/logs` returns.
/// An alert record is sent as the alert object
/// (`{"type":"alert",...}`, see `alerts::record`).
pub fn record_frame(id: Lsn, payload: &[u8], json: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    let Ok(entry) = EntryRef::decode(payload) else {
        return false;
    };
    if !metadata_is_object(entry.metadata) {
        return false;
    }
    json.clear();
    if !crate::alerts::record::alert_json(id, &entry, json) {
        entry_to_json(id.0, &entry, json);
    }
    write_text(out, json);
    true
}

/// Appends the text frame saying ids `from..=to` cannot be sent.
pub fn gap_frame(from: Lsn, to: Lsn, out: &mut Vec<u8>) {
    let text = format!("{{\"type\":\"gap\",\"from\":\"{from}\",\"to\":\"{to}\"}}");
    write_text(out, text.as_bytes());
}
