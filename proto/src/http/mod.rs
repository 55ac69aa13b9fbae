//! HTTP/1.1 on byte buffers: request parsing and response writing.
//!
//! [`RequestParser`] turns the bytes a connection received into [`Request`]s,
//! one at a time, remembering its progress between calls so a request that
//! arrives in many small reads is scanned once, not once per read. It enforces
//! [`Limits`] as early as it can (header bytes before the head is complete, a
//! too-large `Content-Length` before any body byte arrives) and rejects the
//! framing shapes that enable request smuggling (RFC 9112 §6). Every
//! [`HttpError`] means: write the error answer ([`HttpError::write_to`]) and
//! close the connection.
//!
//! [`write_response`], [`write_head`], [`write_json`] and [`write_continue`]
//! append complete responses to a caller-owned buffer.
//!
//! [`client`] is the other side, for the alert webhook: a checked
//! `http://` URL ([`client::parse_http_url`]), a `POST` request writer and a
//! reader that finds the status code of the answer.
//!
//! [`origin`] decides, from `Host` and `Origin`, whether a request may be
//! from a web page that has no business with the daemon (DNS rebinding,
//! cross-site posts): [`WebAccess::check`].

pub mod client;
pub mod origin;
mod parser;
mod response;

use std::fmt;

pub use origin::{Refusal, Scheme, WebAccess};
pub use parser::RequestParser;
pub(crate) use response::push_decimal;
pub use response::{
    json_error, reason_phrase, write_continue, write_head, write_json, write_response,
};

/// Bounds on what one request may make the parser hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of request line plus header fields (and, separately, of chunked
    /// trailers). Default 16 KiB. Over it: 431 (414 when the request line alone
    /// does not fit).
    pub max_header_bytes: usize,
    /// Bytes of (decoded) body. Default 8 MiB. Over it: 413.
    pub max_body: u64,
    /// Number of header fields. Default 64. Over it: 431.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_body: 8 * 1024 * 1024,
            max_headers: 64,
        }
    }
}

/// A request method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `HEAD`
    Head,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// Any other method token, as sent (methods are case-sensitive).
    Other(String),
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "HEAD" => Method::Head,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method token (`"GET"`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Head => "HEAD",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: no chunked bodies, connections close unless asked otherwise.
    Http10,
    /// HTTP/1.1: persistent connections by default.
    Http11,
}

/// A complete request: head and de-framed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path of the request target, as sent (not percent-decoded), without
    /// the query. An absolute-form target (`http://host/p`) is reduced to its
    /// path; the asterisk-form of `OPTIONS *` is `"*"`.
    pub path: String,
    /// The raw query, without the `?`; empty when there is none.
    pub query: String,
    /// The protocol version.
    pub version: Version,
    /// Header fields in arrival order; names lower-cased, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, with chunked framing removed.
    pub body: Vec<u8>,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
}

impl Request {
    /// The value of the first header field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(&self.headers, name)
    }

    /// The media type of `Content-Type`, parameters and surrounding whitespace
    /// stripped, case kept (`Application/JSON; charset=utf-8` gives
    /// `"Application/JSON"`). Media types are case-insensitive: compare with
    /// `eq_ignore_ascii_case` ([`crate::decode_entries`] does).
    pub fn content_type(&self) -> Option<&str> {
        let value = std::str::from_utf8(self.header("content-type")?).ok()?;
        let media_type = value.split(';').next().unwrap_or(value).trim();
        (!media_type.is_empty()).then_some(media_type)
    }

    /// Every query parameter in order, key and value percent-decoded with
    /// `+` as a space (a key without `=` has an empty value).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query_pairs_raw()
            .into_iter()
            .map(|(k, v)| (k, form_decode(v)))
            .collect()
    }

    /// Every query parameter with its key decoded and its value as sent
    /// (not percent-decoded): for a value that is a list, split on the
    /// literal separator first, so `%2C` can stand for a comma inside an
    /// element ([`decode_component`] each element then).
    pub fn query_pairs_raw(&self) -> Vec<(String, &str)> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(k), v)
            })
            .collect()
    }

    /// The raw bytes of every query parameter's value, percent-decoded with
    /// `+` as a space but not checked as UTF-8 (a search needle is bytes),
    /// beside its key decoded as [`Request::query_pairs`] does.
    pub fn query_pairs_bytes(&self) -> Vec<(String, Vec<u8>)> {
        self.query_pairs_raw()
            .into_iter()
            .map(|(k, v)| (k, form_decode_bytes(v)))
            .collect()
    }

    /// The first query parameter named `key`, percent-decoded with `+` as a
    /// space (keys are decoded the same way before comparing). Invalid
    /// percent escapes are kept literally; invalid UTF-8 becomes U+FFFD.
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.query_pairs_raw()
            .into_iter()
            .find_map(|(k, v)| (k == key).then(|| form_decode(v)))
    }
}

pub(crate) fn find_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a
/// space, `%XX` a byte); `None` when the bytes are not UTF-8.
pub fn decode_component(s: &str) -> Option<String> {
    String::from_utf8(form_decode_bytes(s)).ok()
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> String {
    let out = form_decode_bytes(s);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`form_decode`] without the UTF-8 check.
fn form_decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|&c| hex_value(c));
                let lo = bytes.get(i + 2).and_then(|&c| hex_value(c));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A request to reject. Every variant means: answer with [`HttpError::status`]
/// and [`HttpError::message`], then close the connection (the framing of
/// anything after it cannot be trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// 400: malformed request or ambiguous framing; the text is a sentence
    /// saying what is wrong and what to send instead.
    BadRequest(&'static str),
    /// 413: the body is larger than the limit (in bytes).
    BodyTooLarge {
        /// The configured maximum body size.
        limit: u64,
    },
    /// 414: the request line alone exceeds the header limit.
    UriTooLong {
        /// The configured header byte limit.
        limit: usize,
    },
    /// 431: request line and headers (or chunked trailers) exceed the limit.
    HeaderTooLarge {
        /// The configured header byte limit.
        limit: usize,
    },
    /// 431: more header fields than the limit.
    TooManyHeaders {
        /// The configured maximum number of header fields.
        limit: usize,
    },
    /// 501: a transfer coding other than `chunked` (we decode only `chunked`).
    UnsupportedTransferCoding,
}

impl HttpError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::UriTooLong { .. } => 414,
            HttpError::HeaderTooLarge { .. } | HttpError::TooManyHeaders { .. } => 431,
            HttpError::UnsupportedTransferCoding => 501,
        }
    }

    /// What is wrong, as a sentence a person can act on.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Appends the complete error answer (JSON body, `Connection: close`).
    pub fn write_to(&self, out: &mut Vec<u8>, version: Version) {
        let status = self.status();
        let body = json_error(status, &self.message());
        write_json(out, version, status, &body, false, &[]);
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::BadRequest(reason) => f.write_str(reason),
            HttpError::BodyTooLarge { limit } => {
                write!(f, "request body is larger than the limit of {limit} bytes; send smaller batches")
            }
            HttpError::UriTooLong { limit } => write!(
                f,
                "request line is longer than the limit of {limit} bytes; shorten the URL"
            ),
            HttpError::HeaderTooLarge { limit } => write!(
                f,
                "request headers are larger than the limit of {limit} bytes; send fewer or shorter headers"
            ),
            HttpError::TooManyHeaders { limit } => write!(
                f,
                "request has more than {limit} header fields; send fewer headers"
            ),
            HttpError::UnsupportedTransferCoding => f.write_str(
                "only the chunked transfer coding is supported; send Transfer-Encoding: chunked alone, or Content-Length",
            ),
        }
    }
}

impl std::error::Error for HttpError {}
