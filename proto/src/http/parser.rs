//! The per-connection request parser: head scanning, framing decisions
//! (RFC 9112 §6) and chunked decoding, resumable across reads.

use super::{find_header, hex_value, HttpError, Limits, Method, Request, Version};

/// Longest chunk-size line (size, extensions, CRLF) we wait for.
const MAX_CHUNK_LINE: usize = 4096;

/// Chunk framing (size lines, CRLFs, trailers) a body may carry for free;
/// beyond it, framing may not outweigh the data it frames. One-byte chunks
/// cost five bytes of framing per byte of data and would make a body's
/// wire size (and the work to decode it) several times its limit.
const FREE_CHUNK_FRAMING: usize = 64 * 1024;

/// Parses the requests of one connection, incrementally.
///
/// Call [`RequestParser::parse`] with the connection's unconsumed input each
/// time bytes arrive. Between a call that returns `Ok(None)` and the next one,
/// the caller may only *append* to that input (and drop the prefix that
/// [`RequestParser::take_released`] hands back): the parser remembers how far it
/// scanned (head terminator search, framing decisions, chunked decode position)
/// and resumes there, so every byte is examined a bounded number of times. When
/// a call returns `Ok(Some((request, consumed)))`, the caller drains `consumed`
/// bytes and calls again at once: pipelined requests may already be buffered.
/// After an `Err`, answer it and close; the parser is reset.
///
/// If the input handed in is shorter than what the parser already examined
/// (the caller replaced its buffer), it starts over on the new input.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Looking for the end of the head; bytes before `scanned` hold no terminator.
    Head { scanned: usize },
    /// Head parsed; waiting for the body.
    Body(Box<BodyProgress>),
}

#[derive(Debug)]
struct BodyProgress {
    head: Head,
    head_len: usize,
    framing: Framing,
    expect_continue: bool,
    continue_sent: bool,
}

#[derive(Debug)]
struct Head {
    method: Method,
    path: String,
    query: String,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    keep_alive: bool,
}

#[derive(Debug)]
enum Framing {
    Length(usize),
    Chunked(ChunkedDecoder),
}

#[derive(Debug)]
struct ChunkedDecoder {
    /// Offset in the caller's input of the next undecoded byte.
    pos: usize,
    /// Framing bytes decoded so far (size lines, CRLFs, trailers).
    framing: usize,
    phase: ChunkPhase,
    body: Vec<u8>,
    trailer_bytes: usize,
    /// Bytes of the current size or trailer line known to hold no LF, so a
    /// line that trickles in is scanned once.
    line_scanned: usize,
}

#[derive(Debug, Clone, Copy)]
enum ChunkPhase {
    SizeLine,
    Data { remaining: u64 },
    DataEnd,
    Trailer,
}

impl RequestParser {
    /// A parser for a new connection.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            state: State::Head { scanned: 0 },
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses from the start of `buf`, the caller's unconsumed input.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some((request, consumed)))`: a
    /// whole request (head and body) was in `buf`; drain `consumed` bytes.
    /// `Err`: answer the error and close the connection.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
        let result = self.advance(buf);
        if !matches!(result, Ok(None)) {
            self.state = State::Head { scanned: 0 };
        }
        result
    }

    /// True once the head of a request carrying `Expect: 100-continue` has been
    /// parsed and its body is still incomplete, until
    /// [`RequestParser::mark_continue_sent`]: the server should answer
    /// `100 Continue` ([`super::write_continue`]) now.
    pub fn wants_continue(&self) -> bool {
        match &self.state {
            State::Body(progress) => progress.expect_continue && !progress.continue_sent,
            State::Head { .. } => false,
        }
    }

    /// While a request's body is being received (its head parsed): how
    /// much of the input the whole request will occupy, if the head said
    /// (`Content-Length`: head plus body), or `None` for a chunked body,
    /// whose decoded bytes are counted by [`RequestParser::decoded_body_len`].
    /// `None` before the head is complete.
    pub fn expected_len(&self) -> Option<usize> {
        match &self.state {
            State::Body(progress) => match progress.framing {
                Framing::Length(length) => Some(progress.head_len.saturating_add(length)),
                Framing::Chunked(_) => None,
            },
            State::Head { .. } => None,
        }
    }

    /// True from a request's complete head until its body is complete.
    pub fn in_body(&self) -> bool {
        matches!(self.state, State::Body(_))
    }

    /// Bytes of chunked body decoded so far and held by the parser.
    pub fn decoded_body_len(&self) -> usize {
        match &self.state {
            State::Body(progress) => match &progress.framing {
                Framing::Chunked(decoder) => decoder.body.len(),
                Framing::Length(_) => 0,
            },
            State::Head { .. } => 0,
        }
    }

    /// How many leading bytes of the input the parser no longer needs
    /// (a chunked body's head, framing and data already decoded into its own
    /// buffer). The parser now counts positions as if they were gone: the
    /// caller must drop exactly that many bytes from the front of its input
    /// before the next [`RequestParser::parse`]. Always 0 outside a chunked
    /// body, so a chunked upload holds its decoded body plus at most a read's
    /// worth of raw input, not both copies whole.
    pub fn take_released(&mut self) -> usize {
        let State::Body(progress) = &mut self.state else {
            return 0;
        };
        let Framing::Chunked(decoder) = &mut progress.framing else {
            return 0;
        };
        let released = decoder.pos;
        decoder.pos = 0;
        progress.head_len = 0;
        released
    }

    /// Records that `100 Continue` was sent for the current request.
    pub fn mark_continue_sent(&mut self) {
        if let State::Body(progress) = &mut self.state {
            progress.continue_sent = true;
        }
    }

    fn advance(&mut self, buf: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
        if let State::Head { scanned } = self.state {
            let scanned = if scanned > buf.len() { 0 } else { scanned };
            match self.scan_head(buf, scanned)? {
                HeadScan::Incomplete(scanned) => {
                    self.state = State::Head { scanned };
                    return Ok(None);
                }
                HeadScan::Complete(progress) => self.state = State::Body(progress),
            }
        }
        let State::Body(progress) = &mut self.state else {
            return Ok(None);
        };
        if buf.len() < progress.examined() {
            // The caller replaced its input; start over on what it gave us.
            self.state = State::Head { scanned: 0 };
            return self.advance(buf);
        }
        let Some(consumed) = progress.advance_body(buf, &self.limits)? else {
            return Ok(None);
        };
        let State::Body(progress) = std::mem::replace(&mut self.state, State::Head { scanned: 0 })
        else {
            return Ok(None);
        };
        Ok(Some((progress.into_request(buf), consumed)))
    }

    fn scan_head(&self, buf: &[u8], scanned: usize) -> Result<HeadScan, HttpError> {
        let max = self.limits.max_header_bytes;
        let end = match find_head_end(buf, scanned) {
            Ok(end) => end,
            Err(resume) => {
                if buf.len() > max {
                    return Err(over_header_limit(buf, max));
                }
                return Ok(HeadScan::Incomplete(resume));
            }
        };
        if end > max {
            return Err(over_header_limit(buf, max));
        }
        let head_bytes = buf.get(..end).unwrap_or(buf);
        let (head, head_len) = parse_head(head_bytes, &self.limits)?;
        let (framing, expect_continue) = decide_framing(&head, head_len, &self.limits)?;
        Ok(HeadScan::Complete(Box::new(BodyProgress {
            head,
            head_len,
            framing,
            expect_continue,
            continue_sent: false,
        })))
    }
}

enum HeadScan {
    Incomplete(usize),
    Complete(Box<BodyProgress>),
}

fn over_header_limit(buf: &[u8], limit: usize) -> HttpError {
    let request_line_ended = buf.iter().take(limit).any(|&b| b == b'\n');
    if request_line_ended {
        HttpError::HeaderTooLarge { limit }
    } else {
        HttpError::UriTooLong { limit }
    }
}

/// Finds the end of the head: the offset just past the first empty line that
/// follows some content (leading empty lines are skipped, RFC 9112 §2.2).
/// `Err(resume)` when there is none yet; `resume` is where to look next time.
pub(super) fn find_head_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(0usize)?;
    let mut i = from.max(start);
    while let Some(offset) = buf
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        let lf = i + offset;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Ok(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Ok(lf + 3),
            (None, _) | (Some(b'\r'), None) => return Err(lf),
            _ => i = lf + 1,
        }
    }
    Err(buf.len())
}

fn parse_head(bytes: &[u8], limits: &Limits) -> Result<(Head, usize), HttpError> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::BadRequest("the request head is malformed"))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::TooManyHeaders {
                limit: limits.max_headers,
            })
        }
        Err(e) => return Err(HttpError::BadRequest(httparse_reason(e))),
    };
    let method = Method::from_token(req.method.unwrap_or_default());
    let version = match req.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => {
            return Err(HttpError::BadRequest(
                "only HTTP/1.0 and HTTP/1.1 are supported",
            ))
        }
    };
    let (path, query) = split_target(req.path.unwrap_or_default(), &method)?;
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    if headers.iter().filter(|(n, _)| n == "host").count() > 1 {
        return Err(HttpError::BadRequest(
            "the request has several Host headers; send exactly one",
        ));
    }
    let keep_alive = keep_alive(version, &headers);
    let head = Head {
        method,
        path,
        query,
        version,
        headers,
        keep_alive,
    };
    Ok((head, head_len))
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => {
            "a header name is malformed (no whitespace before ':', no line folding)"
        }
        httparse::Error::HeaderValue => "a header value contains a byte that is not allowed",
        httparse::Error::NewLine => "a line of the request head does not end in CRLF",
        httparse::Error::Version => "the HTTP version is malformed; send HTTP/1.1",
        httparse::Error::Token | httparse::Error::Status | httparse::Error::TooManyHeaders => {
            "the request line is malformed; send METHOD /path HTTP/1.1"
        }
    }
}

fn split_target(target: &str, method: &Method) -> Result<(String, String), HttpError> {
    let origin = if target.starts_with('/') {
        target
    } else if target == "*" && *method == Method::Options {
        return Ok(("*".to_owned(), String::new()));
    } else if let Some(rest) = strip_prefix_ignore_case(target, "http://")
        .or_else(|| strip_prefix_ignore_case(target, "https://"))
    {
        // absolute-form: drop the authority, keep path and query.
        let tail = rest
            .find(['/', '?'])
            .and_then(|i| rest.get(i..))
            .unwrap_or_default();
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let path = if path.is_empty() { "/" } else { path };
        return Ok((path.to_owned(), query.to_owned()));
    } else {
        return Err(HttpError::BadRequest(
            "the request target must be a path starting with '/'",
        ));
    };
    let (path, query) = origin.split_once('?').unwrap_or((origin, ""));
    Ok((path.to_owned(), query.to_owned()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// The comma-separated elements of every field named `name`, OWS trimmed,
/// empty elements dropped (RFC 9110 §5.6.1).
fn list_elements<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> {
    headers
        .iter()
        .filter(move |(n, _)| n == name)
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn keep_alive(version: Version, headers: &[(String, Vec<u8>)]) -> bool {
    let mut close = false;
    let mut keep = false;
    for token in list_elements(headers, "connection") {
        close |= token.eq_ignore_ascii_case(b"close");
        keep |= token.eq_ignore_ascii_case(b"keep-alive");
    }
    match version {
        Version::Http11 => !close,
        Version::Http10 => keep && !close,
    }
}

/// Decides how the body is delimited (RFC 9112 §6.3), rejecting every
/// ambiguous shape. Also reports whether the client waits for `100 Continue`.
fn decide_framing(
    head: &Head,
    head_len: usize,
    limits: &Limits,
) -> Result<(Framing, bool), HttpError> {
    let headers = &head.headers;
    let has_te = headers.iter().any(|(n, _)| n == "transfer-encoding");
    let lengths: Vec<&[u8]> = headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_slice())
        .collect();
    let framing = if has_te {
        if head.version == Version::Http10 {
            return Err(HttpError::BadRequest(
                "Transfer-Encoding is not allowed in an HTTP/1.0 request; send Content-Length",
            ));
        }
        if !lengths.is_empty() {
            return Err(HttpError::BadRequest(
                "Content-Length and Transfer-Encoding are both present; send one",
            ));
        }
        check_transfer_codings(headers)?;
        Framing::Chunked(ChunkedDecoder {
            pos: head_len,
            framing: 0,
            phase: ChunkPhase::SizeLine,
            body: Vec::new(),
            trailer_bytes: 0,
            line_scanned: 0,
        })
    } else if let Some(&value) = lengths.first() {
        if lengths.len() > 1 {
            return Err(HttpError::BadRequest(
                "the request has several Content-Length headers; send exactly one",
            ));
        }
        let length = parse_content_length(value)?;
        if length > limits.max_body {
            return Err(HttpError::BodyTooLarge {
                limit: limits.max_body,
            });
        }
        let length = usize::try_from(length).map_err(|_| HttpError::BodyTooLarge {
            limit: limits.max_body,
        })?;
        Framing::Length(length)
    } else {
        // Neither field: the body is empty (RFC 9112 §6.3), POST included.
        Framing::Length(0)
    };
    let expect_continue = head.version == Version::Http11
        && find_header(headers, "expect")
            .is_some_and(|v| trim_ows(v).eq_ignore_ascii_case(b"100-continue"))
        && !matches!(framing, Framing::Length(0));
    Ok((framing, expect_continue))
}

fn check_transfer_codings(headers: &[(String, Vec<u8>)]) -> Result<(), HttpError> {
    let codings: Vec<&[u8]> = list_elements(headers, "transfer-encoding").collect();
    let is_chunked = |c: &&[u8]| c.eq_ignore_ascii_case(b"chunked");
    match codings.last() {
        None => Err(HttpError::BadRequest(
            "Transfer-Encoding is empty; send Transfer-Encoding: chunked",
        )),
        Some(last) if !is_chunked(last) => Err(HttpError::BadRequest(
            "the last transfer coding must be chunked; send Transfer-Encoding: chunked or Content-Length",
        )),
        Some(_) if codings.iter().filter(|c| is_chunked(c)).count() > 1 => Err(
            HttpError::BadRequest("chunked is applied more than once in Transfer-Encoding; send it once"),
        ),
        Some(_) if codings.len() > 1 => Err(HttpError::UnsupportedTransferCoding),
        Some(_) => Ok(()),
    }
}

/// `Content-Length = 1*DIGIT`, surrounding OWS allowed, nothing else.
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    const BAD: HttpError =
        HttpError::BadRequest("Content-Length must be a single decimal number of bytes");
    let digits = trim_ows(value);
    if digits.is_empty() {
        return Err(BAD);
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(BAD);
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(BAD)
    })
}

impl BodyProgress {
    /// How many bytes of the input the parser has already relied on.
    fn examined(&self) -> usize {
        match &self.framing {
            Framing::Length(_) => self.head_len,
            Framing::Chunked(decoder) => decoder.pos,
        }
    }

    /// `Some(consumed)` once the whole body is in `buf`.
    fn advance_body(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, HttpError> {
        match &mut self.framing {
            Framing::Length(length) => {
                let end = self
                    .head_len
                    .checked_add(*length)
                    .ok_or(HttpError::BodyTooLarge {
                        limit: limits.max_body,
                    })?;
                Ok((buf.len() >= end).then_some(end))
            }
            Framing::Chunked(decoder) => decoder.advance(buf, limits),
        }
    }

    fn into_request(self, buf: &[u8]) -> Request {
        let body = match self.framing {
            Framing::Length(length) => buf
                .get(self.head_len..self.head_len.saturating_add(length))
                .unwrap_or_default()
                .to_vec(),
            Framing::Chunked(decoder) => decoder.body,
        };
        let head = self.head;
        Request {
            method: head.method,
            path: head.path,
            query: head.query,
            version: head.version,
            headers: head.headers,
            body,
            keep_alive: head.keep_alive,
        }
    }
}

impl ChunkedDecoder {
    /// Counts `n` framing bytes; an error once framing outweighs the data.
    fn add_framing(&mut self, n: usize) -> Result<(), HttpError> {
        self.framing += n;
        if self.framing > FREE_CHUNK_FRAMING && self.framing > self.body.len() {
            return Err(HttpError::BadRequest(
                "the chunked body is mostly framing (chunks of a few bytes); send chunks of at least 1 KiB, or Content-Length",
            ));
        }
        Ok(())
    }

    /// Decodes as far as `buf` allows; `Some(consumed)` after the final CRLF.
    fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, HttpError> {
        loop {
            let rest = buf.get(self.pos..).unwrap_or_default();
            match self.phase {
                ChunkPhase::SizeLine => {
                    let Some(line) = take_line(
                        rest,
                        MAX_CHUNK_LINE,
                        CHUNK_LINE_TOO_LONG,
                        &mut self.line_scanned,
                    )?
                    else {
                        return Ok(None);
                    };
                    let size = parse_chunk_size(line)?;
                    let total = u64::try_from(self.body.len())
                        .ok()
                        .and_then(|len| len.checked_add(size));
                    if total.is_none_or(|total| total > limits.max_body) {
                        return Err(HttpError::BodyTooLarge {
                            limit: limits.max_body,
                        });
                    }
                    self.pos += line.len() + 2;
                    self.add_framing(line.len() + 4)?;
                    self.phase = if size == 0 {
                        ChunkPhase::Trailer
                    } else {
                        ChunkPhase::Data { remaining: size }
                    };
                }
                ChunkPhase::Data { remaining } => {
                    let take = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                    self.body
                        .extend_from_slice(rest.get(..take).unwrap_or_default());
                    self.pos += take;
                    let remaining = remaining - take as u64;
                    if remaining > 0 {
                        self.phase = ChunkPhase::Data { remaining };
                        return Ok(None);
                    }
                    self.phase = ChunkPhase::DataEnd;
                }
                ChunkPhase::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        self.pos += 2;
                        self.phase = ChunkPhase::SizeLine;
                    }
                    [] | [b'\r'] => return Ok(None),
                    _ => {
                        return Err(HttpError::BadRequest(
                            "chunk data is longer than its chunk size says (no CRLF after it)",
                        ))
                    }
                },
                ChunkPhase::Trailer => {
                    let budget = limits.max_header_bytes.saturating_sub(self.trailer_bytes);
                    let too_long = HttpError::HeaderTooLarge {
                        limit: limits.max_header_bytes,
                    };
                    let Some(line) = take_line(rest, budget, too_long, &mut self.line_scanned)?
                    else {
                        return Ok(None);
                    };
                    self.pos += line.len() + 2;
                    if line.is_empty() {
                        return Ok(Some(self.pos));
                    }
                    self.trailer_bytes += line.len() + 2;
                    if line.starts_with(b" ") || line.starts_with(b"\t") || !line.contains(&b':') {
                        return Err(HttpError::BadRequest(
                            "a chunked trailer line is malformed; send name: value lines",
                        ));
                    }
                }
            }
        }
    }
}

const CHUNK_LINE_TOO_LONG: HttpError =
    HttpError::BadRequest("a chunk-size line is too long; send the size in hex, then CRLF");

/// The line at the start of `rest`, without its CRLF, or `None` if it has not
/// all arrived. A line must end in CRLF (a bare LF or CR is an error) and,
/// CRLF included, fit in `max` bytes.
fn take_line<'a>(
    rest: &'a [u8],
    max: usize,
    too_long: HttpError,
    scanned: &mut usize,
) -> Result<Option<&'a [u8]>, HttpError> {
    let window = rest.get(..max).unwrap_or(rest);
    let from = (*scanned).min(window.len());
    let unscanned = window.get(from..).unwrap_or_default();
    let Some(lf) = unscanned.iter().position(|&b| b == b'\n').map(|i| from + i) else {
        *scanned = window.len();
        return if rest.len() >= max {
            Err(too_long)
        } else {
            Ok(None)
        };
    };
    *scanned = 0;
    let line = window.get(..lf).unwrap_or_default();
    match line.split_last() {
        Some((b'\r', line)) if !line.contains(&b'\r') => Ok(Some(line)),
        _ => Err(HttpError::BadRequest(
            "a line in the chunked body does not end in CRLF",
        )),
    }
}

/// `chunk-size [ chunk-ext ]`: 1–16 hex digits, then optional `;`-led
/// extensions (ignored). Anything else is an error.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    const BAD: HttpError = HttpError::BadRequest(
        "a chunk size is malformed; send 1 to 16 hex digits, optional ;extensions, then CRLF",
    );
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(BAD);
    }
    let (size_digits, ext) = line.split_at(digits);
    let ext = ext.trim_ascii_start();
    if !ext.is_empty()
        && (!ext.starts_with(b";") || ext.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f))
    {
        return Err(BAD);
    }
    Ok(size_digits
        .iter()
        .filter_map(|&b| hex_value(b))
        .fold(0u64, |acc, d| acc << 4 | u64::from(d)))
}
