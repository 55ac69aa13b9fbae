//! Spool's wire protocols on byte buffers, without IO.
//!
//! Nothing here owns a socket or reads a clock: callers pass in the bytes they
//! received and the current time, and get back parsed values or bytes to send.
//! No input, however malformed, makes this crate panic.
//!
//! - [`http`]: an incremental HTTP/1.1 request parser ([`http::RequestParser`])
//!   that enforces Spool's limits and rejects request-smuggling shapes, the
//!   response writers, and the `Host`/`Origin` check that keeps web pages out
//!   ([`http::WebAccess`]), and the client side the alert webhook uses
//!   ([`http::client`]).
//! - [`decode`]: ingest bodies (`text/plain`, JSON, NDJSON) into
//!   [`spool_core::entry::Entry`] values, all-or-nothing, and the JSON form of
//!   a stored record as the API returns it ([`decode::entry_to_json`]).
//! - [`rfc3339`]: RFC 3339 timestamps to and from nanoseconds since the epoch.
//! - [`unix_time`]: Unix time in s, ms, µs or ns, told apart by magnitude.
//! - [`ws`]: WebSocket: the opening handshake, server frames out, client
//!   frames in, with limits and close codes.

#![warn(missing_docs)]

pub mod decode;
pub mod http;
pub mod rfc3339;
pub mod unix_time;
pub mod ws;

pub use decode::{decode_entries, entry_to_json, DecodeError, DecodeLimits};
pub use http::{
    json_error, write_json, write_response, HttpError, Limits, Method, Request, RequestParser,
    Version,
};
pub use rfc3339::{format_rfc3339_nanos, parse_rfc3339, parse_time_param};
pub use unix_time::parse_unix_time;
