//! WebSocket (RFC 6455) on byte buffers: the opening handshake, server
//! frames out, client frames in. No IO: the caller owns the buffers.
//!
//! Frame headers are read and written with tungstenite's
//! [`FrameHeader`]; the accept key with its `derive_accept_key`. What this
//! module adds is the server's side of the rules: client frames must be
//! masked (1002 otherwise), a frame or a message over its limit is refused
//! before its payload is buffered (1009), control frames are small and
//! never fragmented, reserved bits and opcodes are protocol errors, and
//! text must be UTF-8 (1007). Every [`WsError`] names the close code to
//! send.

use std::io::Cursor;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::http::{find_header, Method, Request, Version};

/// Why an upgrade request is refused, with the status to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRefusal {
    /// 400, 405 or 426.
    pub status: u16,
    /// What is wrong and what to send.
    pub message: &'static str,
}

/// Checks a request is a WebSocket opening handshake (RFC 6455 §4.2.1)
/// and returns the `Sec-WebSocket-Accept` value to answer with.
pub fn accept_key(req: &Request) -> Result<String, UpgradeRefusal> {
    let refuse = |status, message| Err(UpgradeRefusal { status, message });
    if req.method != Method::Get {
        return refuse(405, "a WebSocket handshake is a GET");
    }
    if req.version != Version::Http11 {
        return refuse(400, "a WebSocket handshake needs HTTP/1.1");
    }
    let has_token = |name: &str, token: &[u8]| {
        find_header(&req.headers, name).is_some_and(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
        })
    };
    if !has_token("upgrade", b"websocket") || !has_token("connection", b"upgrade") {
        return refuse(
            400,
            "not a WebSocket handshake: send Upgrade: websocket and Connection: Upgrade",
        );
    }
    if find_header(&req.headers, "sec-websocket-version").map(<[u8]>::trim_ascii) != Some(b"13") {
        return refuse(
            426,
            "only WebSocket version 13 is spoken: send Sec-WebSocket-Version: 13",
        );
    }
    let Some(key) = find_header(&req.headers, "sec-websocket-key").map(<[u8]>::trim_ascii) else {
        return refuse(400, "Sec-WebSocket-Key is missing");
    };
    // 16 random bytes, base64: 24 characters ending in "==".
    let well_formed = key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !well_formed {
        return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
    }
    Ok(tungstenite::handshake::derive_accept_key(key))
}

/// Appends the `101 Switching Protocols` answer.
pub fn write_accept(out: &mut Vec<u8>, accept: &str) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// Close codes this module sends (RFC 6455 §7.4.1).
pub mod close {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Going away (the server shuts down).
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// Data that is not what the type says (text not UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// A frame or message too big.
    pub const TOO_BIG: u16 = 1009;
    /// The server cannot go on (the log cannot be read).
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// Why the client's frames cannot be read further: send a close frame with
/// this code and close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsError {
    /// The close code.
    pub code: u16,
    /// Why, for the close frame's reason (short) and the log.
    pub reason: &'static str,
}

fn ws_error(code: u16, reason: &'static str) -> WsError {
    WsError { code, reason }
}

/// A message (or control frame) from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A whole text message (UTF-8 checked).
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A ping: answer with a pong of the same payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The client closes (its code, if it sent one): answer the close and
    /// close.
    Close(Option<u16>),
}

/// Limits on what a client may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest frame payload.
    pub max_frame: usize,
    /// Largest message (fragments together).
    pub max_message: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_frame: 64 * 1024,
            max_message: 64 * 1024,
        }
    }
}

/// Reads client frames from a connection's input, one message at a time.
#[derive(Debug, Default)]
pub struct FrameReader {
    limits: WsLimits,
    /// A fragmented message being assembled: its opcode and bytes.
    partial: Option<(Data, Vec<u8>)>,
}

impl FrameReader {
    /// A reader with these limits.
    pub fn new(limits: WsLimits) -> FrameReader {
        FrameReader {
            limits,
            partial: None,
        }
    }

    /// Reads frames from the start of `buf`: the next whole message, if
    /// one is there, and how many bytes were consumed. Fragments of a
    /// message are consumed (and held here) as they arrive, so the bytes
    /// used can be non-zero with no message yet: drop them from `buf` and
    /// call again with more. A frame over the limit is refused from its
    /// header, before its payload arrives.
    pub fn next(&mut self, buf: &[u8]) -> Result<(Option<Incoming>, usize), WsError> {
        let mut used = 0;
        loop {
            let mut cursor = Cursor::new(&buf[used..]);
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok((None, used)),
                Err(_) => return Err(ws_error(close::PROTOCOL, "malformed frame header")),
            };
            let header_len = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(ws_error(close::PROTOCOL, "reserved bits set"));
            }
            let Some(mask) = header.mask else {
                return Err(ws_error(close::PROTOCOL, "client frames must be masked"));
            };
            let control = matches!(header.opcode, OpCode::Control(_));
            if control && (len > 125 || !header.is_final) {
                return Err(ws_error(
                    close::PROTOCOL,
                    "a control frame over 125 bytes or fragmented",
                ));
            }
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > self.limits.max_frame {
                return Err(ws_error(close::TOO_BIG, "frame too big"));
            }
            let assembled = self.partial.as_ref().map_or(0, |(_, b)| b.len());
            if !control && assembled.saturating_add(len) > self.limits.max_message {
                return Err(ws_error(close::TOO_BIG, "message too big"));
            }
            let start = used + header_len;
            let Some(payload) = buf.get(start..start.saturating_add(len)) else {
                return Ok((None, used));
            };
            let mut data = payload.to_vec();
            for (i, b) in data.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
            used = start + len;
            let message = match header.opcode {
                OpCode::Control(Control::Ping) => Incoming::Ping(data),
                OpCode::Control(Control::Pong) => Incoming::Pong(data),
                OpCode::Control(Control::Close) => {
                    let code = data.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    if data.len() == 1
                        || (data.len() > 2 && std::str::from_utf8(&data[2..]).is_err())
                    {
                        return Err(ws_error(close::PROTOCOL, "malformed close frame"));
                    }
                    // RFC 6455 §7.4: codes a peer may send (1004-1006 and
                    // 1015 are reserved, never on the wire; 1012-1014
                    // are registered with IANA since).
                    if code.is_some_and(|c| !matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)) {
                        return Err(ws_error(close::PROTOCOL, "a close code no peer may send"));
                    }
                    Incoming::Close(code)
                }
                OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                    return Err(ws_error(close::PROTOCOL, "reserved opcode"));
                }
                OpCode::Data(Data::Continue) => {
                    let Some((kind, mut bytes)) = self.partial.take() else {
                        return Err(ws_error(close::PROTOCOL, "continuation without a message"));
                    };
                    bytes.extend_from_slice(&data);
                    if !header.is_final {
                        self.partial = Some((kind, bytes));
                        continue;
                    }
                    whole(kind, bytes)?
                }
                OpCode::Data(kind) => {
                    if self.partial.is_some() {
                        return Err(ws_error(
                            close::PROTOCOL,
                            "a new message inside a fragmented one",
                        ));
                    }
                    if !header.is_final {
                        self.partial = Some((kind, data));
                        continue;
                    }
                    whole(kind, data)?
                }
            };
            return Ok((Some(message), used));
        }
    }
}

fn whole(kind: Data, bytes: Vec<u8>) -> Result<Incoming, WsError> {
    match kind {
        Data::Text => String::from_utf8(bytes)
            .map(Incoming::Text)
            .map_err(|_| ws_error(close::INVALID_DATA, "text that is not UTF-8")),
        _ => Ok(Incoming::Binary(bytes)),
    }
}

fn write_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    let header = FrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: None,
    };
    // Writing to a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Appends a text frame (the server's frames are not masked).
pub fn write_text(out: &mut Vec<u8>, text: &[u8]) {
    write_frame(out, OpCode::Data(Data::Text), text);
}

/// Appends a ping.
pub fn write_ping(out: &mut Vec<u8>, payload: &[u8]) {
    write_frame(out, OpCode::Control(Control::Ping), payload);
}

/// Appends a pong answering a ping's payload.
pub fn write_pong(out: &mut Vec<u8>, payload: &[u8]) {
    write_frame(out, OpCode::Control(Control::Pong), payload);
}

/// Appends a close frame with `code` and a reason (cut to fit 125 bytes).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    write_frame(out, OpCode::Control(Control::Close), &payload);
}
