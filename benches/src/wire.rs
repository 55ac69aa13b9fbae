//! The client side of the daemon's HTTP and WebSocket, as the load tools
//! (`spool-follow`, `spool-alerts`) need it: a `/ws` handshake, one
//! ingest answer, its ids, and server-to-client text frames.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// Sends the `/ws` handshake for `path` (with its query) and reads the
/// 101.
pub fn subscribe(stream: &mut TcpStream, addr: SocketAddr, path: &str) -> io::Result<()> {
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            .as_bytes(),
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::other("closed during the handshake"));
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other(format!(
            "handshake refused: {}",
            String::from_utf8_lossy(&head)
        )));
    }
    Ok(())
}

/// Parses the whole (unmasked, server-to-client) frames at the start of
/// `buf`, calls `on_text` with the payload of each text frame, and
/// removes them from `buf`; a partial frame stays for the next read.
pub fn text_frames(buf: &mut Vec<u8>, mut on_text: impl FnMut(&[u8])) {
    let mut used = 0;
    loop {
        let b = &buf[used..];
        if b.len() < 2 {
            break;
        }
        let (len, header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if b.len() < header + len {
            break;
        }
        if b[0] & 0x0f == 1 {
            on_text(&b[header..header + len]);
        }
        used += header + len;
    }
    buf.drain(..used);
}

/// Reads one `200` HTTP answer (Content-Length framing) into `buf`;
/// returns how many bytes it took.
pub fn read_answer(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    loop {
        let got = s.read(&mut buf[n..])?;
        if got == 0 {
            return Err(io::Error::other("the daemon closed the connection"));
        }
        n += got;
        let text = &buf[..n];
        if let Some(head_end) = find(text, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&text[..head_end]);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if n >= head_end + 4 + len {
                if !head.starts_with("HTTP/1.1 200") {
                    return Err(io::Error::other(format!(
                        "ingest answered {}",
                        String::from_utf8_lossy(text)
                    )));
                }
                return Ok(n);
            }
        }
        if n == buf.len() {
            return Err(io::Error::other("answer too long"));
        }
    }
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The string field `"name":"N"` of `text`, as a number.
pub fn id_field(text: &[u8], name: &str) -> Option<u64> {
    let key = format!("\"{name}\":\"");
    let at = find(text, key.as_bytes())? + key.len();
    let end = text[at..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&text[at..at + end]).ok()?.parse().ok()
}

/// `first_id`/`last_id` (or `id`) of an ingest answer.
pub fn ack_ids(text: &[u8]) -> Option<(u64, u64)> {
    match (id_field(text, "first_id"), id_field(text, "last_id")) {
        (Some(f), Some(l)) => Some((f, l)),
        _ => id_field(text, "id").map(|i| (i, i)),
    }
}

/// `GET path`, the whole answer (head and body).
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}
