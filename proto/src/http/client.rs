//! The client side of HTTP/1.1 on byte buffers, for the alert webhook: one
//! `POST` per connection, and the status code of the answer.
//!
//! [`parse_http_url`] checks a webhook URL once, when the daemon starts, so
//! a typo is reported before the first alert. [`write_post`] appends a
//! complete request (always `Connection: close`) to a caller-owned buffer.
//! [`ResponseReader`] is fed what the socket returned and reports the final
//! status code as soon as the status line and header block are complete;
//! interim `1xx` responses are skipped, the head is bounded, and the body is
//! never looked at (the caller closes the connection once it has the status).
//! Nothing here opens a socket, resolves a name or reads a clock.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::parser::find_head_end;
use super::response::push_decimal;

/// A checked `http://` URL: where to connect and what to ask for.
///
/// Guarantees: the host is a DNS name (ASCII letters, digits, `-`, `.`,
/// `_`), an IPv4 address or an IPv6 address; the port is not 0; the path
/// starts with `/` and contains only visible ASCII (no space, control
/// character or `#`), so it can go on a request line as is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    host: Host,
    port: u16,
    path: String,
}

/// The host part of an [`HttpUrl`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, as written (names are case-insensitive); the caller
    /// resolves it.
    Name(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets in the URL and in `Host:`).
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    /// The host as it appears in a URL or `Host:` header (IPv6 in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::V4(ip) => write!(f, "{ip}"),
            Host::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

impl HttpUrl {
    /// The host to connect to.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The TCP port (80 when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query (`"/"` when the URL has none).
    pub fn path_and_query(&self) -> &str {
        &self.path
    }

    /// The address to connect to when the host is an IP address; `None`
    /// for a DNS name, which the caller must resolve.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip = match self.host {
            Host::Name(_) => return None,
            Host::V4(ip) => IpAddr::V4(ip),
            Host::V6(ip) => IpAddr::V6(ip),
        };
        Some(SocketAddr::new(ip, self.port))
    }

    /// The value of the `Host:` header: the host, and `:port` unless the
    /// port is 80 (RFC 9110 §7.2).
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for HttpUrl {
    /// The URL in normal form: `http://host[:port]/path?query` (the port
    /// only when it is not 80).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.path)
    }
}

/// Why a webhook URL is refused. Messages never repeat credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL is empty.
    Empty,
    /// A space, control character or non-ASCII byte at this byte offset.
    BadCharacter {
        /// Byte offset of the first offending byte.
        at: usize,
    },
    /// No `scheme://` at the start.
    MissingScheme,
    /// `https://`: this side has no TLS.
    TlsUnsupported,
    /// A scheme other than `http`, lower-cased.
    UnsupportedScheme(String),
    /// `user[:password]@` before the host.
    Userinfo,
    /// Nothing between `http://` and the port or path.
    EmptyHost,
    /// The host is neither a DNS name nor an IP address; the text says why.
    BadHost(&'static str),
    /// The port is not a number from 1 to 65535; the text as written.
    BadPort(String),
    /// A `#fragment`, which is never sent to a server.
    Fragment,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Empty => f.write_str("the URL is empty; give one like http://host:port/path"),
            UrlError::BadCharacter { at } => write!(
                f,
                "the URL has a space, control character or non-ASCII character at byte {at}; percent-encode it (and write international host names in punycode)"
            ),
            UrlError::MissingScheme => {
                f.write_str("the URL has no scheme; write it as http://host:port/path")
            }
            UrlError::TlsUnsupported => f.write_str(
                "https:// is not supported: spool sends webhooks without TLS; use an http:// URL, for example a TLS-terminating proxy on this host that forwards to the https endpoint",
            ),
            UrlError::UnsupportedScheme(scheme) => write!(
                f,
                "the URL scheme {scheme:?} is not supported; only http:// is"
            ),
            UrlError::Userinfo => f.write_str(
                "the URL has a user name or password before the host, which is not supported; put a token in the path or query instead",
            ),
            UrlError::EmptyHost => {
                f.write_str("the URL has no host; write it as http://host:port/path")
            }
            UrlError::BadHost(why) => write!(f, "the URL host is not valid: {why}"),
            UrlError::BadPort(port) => write!(
                f,
                "the URL port {port:?} is not valid; give a number from 1 to 65535, or leave it out for 80"
            ),
            UrlError::Fragment => f.write_str(
                "the URL has a #fragment, which is never sent to the server; remove it",
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// Parses `http://host[:port][/path][?query]`.
///
/// The host is a DNS name, a dotted IPv4 address or a bracketed IPv6
/// address (no zone). The port defaults to 80, the path to `/`; a URL with
/// only a query (`http://h?x=1`) gets the path `/`. Refused, with a
/// [`UrlError`] saying what to write instead: any scheme other than `http`
/// (`https` with [`UrlError::TlsUnsupported`]), credentials before the
/// host, an empty host, a port outside 1..=65535, a fragment, and spaces,
/// control characters or non-ASCII bytes anywhere (percent-encode them).
/// Surrounding whitespace is not trimmed: the caller trims config values.
pub fn parse_http_url(s: &str) -> Result<HttpUrl, UrlError> {
    if s.is_empty() {
        return Err(UrlError::Empty);
    }
    if let Some(at) = s.bytes().position(|b| b <= b' ' || b >= 0x7f) {
        return Err(UrlError::BadCharacter { at });
    }
    let (scheme, rest) = s.split_once("://").ok_or(UrlError::MissingScheme)?;
    let scheme_ok = scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    if scheme.is_empty() || !scheme_ok {
        return Err(UrlError::MissingScheme);
    }
    if scheme.eq_ignore_ascii_case("https") {
        return Err(UrlError::TlsUnsupported);
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(UrlError::UnsupportedScheme(scheme.to_ascii_lowercase()));
    }
    if rest.contains('#') {
        return Err(UrlError::Fragment);
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None => 80,
        Some(p) => parse_port(p)?,
    };
    let path = if target.is_empty() {
        "/".to_owned()
    } else if target.starts_with('?') {
        format!("/{target}")
    } else {
        target.to_owned()
    };
    Ok(HttpUrl { host, port, path })
}

/// Splits `host[:port]` (`[v6][:port]` for IPv6) and checks the host.
fn split_host_port(authority: &str) -> Result<(Host, Option<&str>), UrlError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or(UrlError::BadHost(
            "an IPv6 address in brackets has no closing ']'",
        ))?;
        let ip: Ipv6Addr = inside.parse().map_err(|_| {
            UrlError::BadHost(
                "the text in brackets is not an IPv6 address (zones are not supported)",
            )
        })?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::BadHost(
                "only ':port' may follow an IPv6 address in brackets",
            ))?),
        };
        return Ok((Host::V6(ip), port));
    }
    if authority.bytes().filter(|&b| b == b':').count() > 1 {
        return Err(UrlError::BadHost(
            "an IPv6 address goes in brackets, as in http://[::1]:8080/",
        ));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    Ok((check_host(host)?, port))
}

fn check_host(host: &str) -> Result<Host, UrlError> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::V4(ip));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > 253 {
        return Err(UrlError::BadHost("a host name is at most 253 characters"));
    }
    let mut last_label = "";
    for label in name.split('.') {
        if label.is_empty() {
            return Err(UrlError::BadHost("a host name has an empty label (\"..\")"));
        }
        if label.len() > 63 {
            return Err(UrlError::BadHost(
                "a host name label is at most 63 characters",
            ));
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if !label.bytes().all(allowed) {
            return Err(UrlError::BadHost(
                "a host name has only letters, digits, '-', '_' and '.' (or use an IP address; IPv6 in brackets)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(UrlError::BadHost(
                "a host name label neither starts nor ends with '-'",
            ));
        }
        last_label = label;
    }
    // A name ending in a numeric label would be read as an IPv4 address by
    // other tools (`1.2.3`, `999.0.0.1`): refuse rather than guess.
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::BadHost(
            "it looks like an IPv4 address but is not one; write four numbers from 0 to 255",
        ));
    }
    Ok(Host::Name(host.to_owned()))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    let bad = || UrlError::BadPort(text.to_owned());
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(port) => Ok(port),
    }
}

/// Appends a complete `POST` request for `url` carrying `body`.
///
/// The head is, in this order: the request line with the URL's path and
/// query, `Host:` (with the port unless it is 80; IPv6 in brackets),
/// `User-Agent: spool/<version>`, `Content-Type: <content_type>`,
/// `Content-Length`, `Connection: close`; then the empty line and `body`.
/// Control characters (CR and LF included) are dropped from `content_type`
/// so caller data cannot add header lines.
pub fn write_post(out: &mut Vec<u8>, url: &HttpUrl, content_type: &str, body: &[u8]) {
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(url.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(url.host_header().as_bytes());
    out.extend_from_slice(b"\r\nUser-Agent: spool/");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend(content_type.bytes().filter(|&b| b >= b' ' && b != 0x7f));
    out.extend_from_slice(b"\r\nContent-Length: ");
    push_decimal(out, body.len() as u64);
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(body);
}

/// The default bound on response head bytes for [`ResponseReader::new`].
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;

/// Header fields httparse may hold from one response head; more is an error.
const MAX_RESPONSE_HEADERS: usize = 128;

/// Reads the status code of the answer to one request from the bytes the
/// connection delivers, in pieces of any size.
///
/// Feed every read to [`ResponseReader::push`] until it returns a status;
/// when the connection ends first, [`ResponseReader::closed`] says why.
/// Holds at most `max_head` bytes: the heads of the interim (`1xx`)
/// responses and the final one together. Each byte is scanned a bounded
/// number of times however the input is split, and httparse runs only once
/// a complete head has arrived.
#[derive(Clone, Debug)]
pub struct ResponseReader {
    buf: Vec<u8>,
    /// Where to resume looking for the end of the head in `buf`.
    scan: usize,
    /// Head bytes of interim responses already consumed.
    consumed: usize,
    max_head: usize,
    state: ReadState,
}

#[derive(Clone, Debug)]
enum ReadState {
    Head,
    Done(u16),
    Failed(ResponseError),
}

/// Why no status code can be read from a response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The response heads (interim ones included) exceed the bound.
    HeadTooLarge {
        /// The configured bound, in bytes.
        limit: usize,
    },
    /// The peer did not answer with HTTP/1.x; the text says what is wrong.
    Malformed(&'static str),
    /// The connection ended before a final status line and header block.
    ClosedBeforeStatus {
        /// Bytes of the unfinished head that had arrived.
        received: usize,
    },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::HeadTooLarge { limit } => write!(
                f,
                "the response head is larger than {limit} bytes; is the URL an HTTP endpoint?"
            ),
            ResponseError::Malformed(why) => write!(
                f,
                "the response is not valid HTTP/1.x ({why}); is the URL an HTTP endpoint (not HTTPS)?"
            ),
            ResponseError::ClosedBeforeStatus { received: 0 } => {
                f.write_str("the connection closed before any response")
            }
            ResponseError::ClosedBeforeStatus { received } => write!(
                f,
                "the connection closed after {received} bytes, before the response head was complete"
            ),
        }
    }
}

impl std::error::Error for ResponseError {}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader::new(DEFAULT_MAX_HEAD)
    }
}

impl ResponseReader {
    /// A reader that accepts at most `max_head` bytes of response heads
    /// ([`DEFAULT_MAX_HEAD`] is a sensible value).
    pub fn new(max_head: usize) -> Self {
        ResponseReader {
            buf: Vec::new(),
            scan: 0,
            consumed: 0,
            max_head,
            state: ReadState::Head,
        }
    }

    /// Takes the next bytes from the connection.
    ///
    /// `Ok(None)`: more is needed. `Ok(Some(status))`: the final status
    /// code (200..=999: interim `1xx` responses are skipped, a code below
    /// 100 is an error); the caller may close the connection,
    /// and later calls return it again without looking at their bytes.
    /// `Err`: the answer is not usable HTTP, or its head is over the bound;
    /// later calls return the same error.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<u16>, ResponseError> {
        match &self.state {
            ReadState::Done(status) => return Ok(Some(*status)),
            ReadState::Failed(e) => return Err(e.clone()),
            ReadState::Head => {}
        }
        self.buf.extend_from_slice(bytes);
        let result = self.advance();
        match &result {
            Ok(Some(status)) => {
                self.state = ReadState::Done(*status);
                self.buf = Vec::new();
            }
            Err(e) => {
                self.state = ReadState::Failed(e.clone());
                self.buf = Vec::new();
            }
            Ok(None) => {}
        }
        result
    }

    /// The final status code, once [`ResponseReader::push`] has returned it.
    pub fn status(&self) -> Option<u16> {
        match self.state {
            ReadState::Done(status) => Some(status),
            _ => None,
        }
    }

    /// What the connection ending now means: the final status when it had
    /// arrived, the error already reported, or
    /// [`ResponseError::ClosedBeforeStatus`].
    pub fn closed(&self) -> Result<u16, ResponseError> {
        match &self.state {
            ReadState::Done(status) => Ok(*status),
            ReadState::Failed(e) => Err(e.clone()),
            ReadState::Head => Err(ResponseError::ClosedBeforeStatus {
                received: self.consumed + self.buf.len(),
            }),
        }
    }

    fn advance(&mut self) -> Result<Option<u16>, ResponseError> {
        loop {
            // Only the bytes within the bound are looked at, so that a
            // peer's answer gets the same verdict however it is split.
            let within = (self.max_head + 1).saturating_sub(self.consumed);
            check_status_line_start(self.buf.get(..within).unwrap_or(&self.buf))?;
            let end = match find_head_end(&self.buf, self.scan) {
                Ok(end) => end,
                Err(resume) => {
                    self.scan = resume;
                    if self.consumed + self.buf.len() > self.max_head {
                        return Err(ResponseError::HeadTooLarge {
                            limit: self.max_head,
                        });
                    }
                    return Ok(None);
                }
            };
            if self.consumed + end > self.max_head {
                return Err(ResponseError::HeadTooLarge {
                    limit: self.max_head,
                });
            }
            let head = self.buf.get(..end).unwrap_or_default();
            let status = parse_status(head)?;
            if status < 100 {
                return Err(ResponseError::Malformed("the status code is below 100"));
            }
            if status >= 200 {
                return Ok(Some(status));
            }
            if status == 101 {
                return Err(ResponseError::Malformed(
                    "101 Switching Protocols to a request that asked for no upgrade",
                ));
            }
            // An interim response (100 Continue, 103 Early Hints): the final
            // one follows on the same connection.
            self.buf.drain(..end);
            self.consumed += end;
            self.scan = 0;
        }
    }
}

/// Refuses early a peer that does not speak HTTP/1.x, before its head ends.
fn check_status_line_start(buf: &[u8]) -> Result<(), ResponseError> {
    const PREFIX: &[u8] = b"HTTP/1.";
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let seen = buf.get(start..).unwrap_or_default();
    let n = seen.len().min(PREFIX.len());
    if seen.get(..n) == PREFIX.get(..n) {
        Ok(())
    } else {
        Err(ResponseError::Malformed("it does not start with HTTP/1."))
    }
}

/// The status code of one complete response head.
fn parse_status(head: &[u8]) -> Result<u16, ResponseError> {
    let mut slots = vec![httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => response
            .code
            .ok_or(ResponseError::Malformed("the status line has no code")),
        Ok(httparse::Status::Partial) => {
            Err(ResponseError::Malformed("the response head is incomplete"))
        }
        Err(e) => Err(ResponseError::Malformed(httparse_reason(e))),
    }
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "a header name is malformed",
        httparse::Error::HeaderValue => "a header value contains a byte that is not allowed",
        httparse::Error::NewLine => "a line of the head does not end in CRLF",
        httparse::Error::Version => "the HTTP version is malformed",
        httparse::Error::Status => "the status code is not three digits",
        httparse::Error::Token => "the status line is malformed",
        httparse::Error::TooManyHeaders => "it has more than 128 header fields",
    }
}
