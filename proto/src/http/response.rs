//! Response writing into a caller-owned buffer.

use super::Version;

/// The reason phrase for `status` (`"Not Found"` for 404); `""` for codes
/// Spool does not use (the phrase is optional on the wire).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "",
    }
}

/// Appends a status line and header section (through the empty line).
///
/// Writes `Content-Length` when `content_length` is `Some`, and the
/// `Connection` header the version needs: `close` when `keep_alive` is false,
/// `keep-alive` for an HTTP/1.0 client that may reuse the connection. The
/// status line always says `HTTP/1.1` (RFC 9110 §6.2: our highest version).
/// CR and LF are dropped from header names and values so caller data cannot
/// split the response. Use it directly for `HEAD` answers and `101` upgrades.
pub fn write_head(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    headers: &[(&str, &str)],
    content_length: Option<u64>,
    keep_alive: bool,
) {
    write_head_parts(out, version, status, &[headers], content_length, keep_alive);
}

fn write_head_parts(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    header_groups: &[&[(&str, &str)]],
    content_length: Option<u64>,
    keep_alive: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for &(name, value) in header_groups.iter().copied().flatten() {
        push_field_text(out, name);
        out.extend_from_slice(b": ");
        push_field_text(out, value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(length) = content_length {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, length);
        out.extend_from_slice(b"\r\n");
    }
    if !(100..200).contains(&status) {
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if version == Version::Http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a complete response with `body`. `Content-Length` is added (except
/// for 1xx, 204 and 304, which carry no body: `body` is then not written).
pub fn write_response(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    write_body_response(out, version, status, &[headers], body, keep_alive);
}

fn write_body_response(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    header_groups: &[&[(&str, &str)]],
    body: &[u8],
    keep_alive: bool,
) {
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    let length = (!bodiless).then_some(body.len() as u64);
    write_head_parts(out, version, status, header_groups, length, keep_alive);
    if !bodiless {
        out.extend_from_slice(body);
    }
}

/// Appends a complete response with a JSON `body` and
/// `Content-Type: application/json`, plus `extra_headers`.
pub fn write_json(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    body: &[u8],
    keep_alive: bool,
    extra_headers: &[(&str, &str)],
) {
    const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];
    write_body_response(
        out,
        version,
        status,
        &[JSON, extra_headers],
        body,
        keep_alive,
    );
}

/// Appends the interim `100 Continue` answer.
pub fn write_continue(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// The JSON error body `{"error":"<message>","status":<status>}`, the message
/// JSON-escaped.
pub fn json_error(status: u16, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 32);
    out.extend_from_slice(b"{\"error\":");
    crate::decode::push_json_string(&mut out, message);
    out.extend_from_slice(b",\"status\":");
    push_decimal(&mut out, u64::from(status));
    out.push(b'}');
    out
}

fn push_field_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().filter(|&b| b != b'\r' && b != b'\n'));
}

pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or_default());
}
