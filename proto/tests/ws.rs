//! The WebSocket layer: the handshake against RFC 6455's example and every
//! refusal, client frames (masked, fragmented, control, over the limits,
//! not UTF-8), server frames, and a real client (tungstenite's) talking
//! to a server built on these functions over a loopback socket.

use std::io::{Read, Write};
use std::net::TcpListener;

use spool_proto::http::{Limits, RequestParser};
use spool_proto::ws::{self, close, FrameReader, Incoming, WsLimits};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

fn request(head: &str) -> spool_proto::Request {
    let mut p = RequestParser::new(Limits::default());
    p.parse(head.as_bytes()).unwrap().unwrap().0
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[test]
fn the_handshake_answers_rfc_6455s_example_and_refuses_the_rest() {
    let ok = format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    );
    assert_eq!(
        ws::accept_key(&request(&ok)).unwrap(),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    let mut out = Vec::new();
    ws::write_accept(&mut out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    let cases = [
        (
            ok.replacen("GET", "POST", 1)
                .replace("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n"),
            405,
        ),
        (ok.replace("Upgrade: websocket\r\n", ""), 400),
        (
            ok.replace("Connection: keep-alive, Upgrade", "Connection: keep-alive"),
            400,
        ),
        (ok.replace("Version: 13", "Version: 8"), 426),
        (ok.replacen("HTTP/1.1", "HTTP/1.0", 1), 400),
        (ok.replace(KEY, "short=="), 400),
        (
            ok.replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""),
            400,
        ),
    ];
    for (head, status) in cases {
        assert_eq!(
            ws::accept_key(&request(&head)).unwrap_err().status,
            status,
            "{head}"
        );
    }
}

/// A client frame: masked unless `mask` is None.
fn frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        is_final: fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask,
    };
    let mut out = Vec::new();
    header.format(payload.len() as u64, &mut out).unwrap();
    let mut data = payload.to_vec();
    if let Some(m) = mask {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    out.extend_from_slice(&data);
    out
}

const M: Option<[u8; 4]> = Some([1, 2, 3, 4]);
const TEXT: OpCode = OpCode::Data(Data::Text);

#[test]
fn client_frames_are_read_by_the_rules() {
    let mut r = FrameReader::new(WsLimits::default());
    let f = frame(TEXT, true, "héllo".as_bytes(), M);
    // A prefix is not a frame yet.
    assert_eq!(r.next(&f[..f.len() - 1]).unwrap(), (None, 0));
    assert_eq!(
        r.next(&f).unwrap(),
        (Some(Incoming::Text("héllo".into())), f.len())
    );
    // Fragmented, with a ping between the fragments.
    let mut buf = frame(TEXT, false, b"ab", M);
    buf.extend(frame(OpCode::Control(Control::Ping), true, b"p", M));
    buf.extend(frame(OpCode::Data(Data::Continue), true, b"cd", M));
    let (first, used) = r.next(&buf).unwrap();
    assert_eq!(first, Some(Incoming::Ping(b"p".to_vec())));
    let (second, rest) = r.next(&buf[used..]).unwrap();
    assert_eq!(second, Some(Incoming::Text("abcd".into())));
    assert_eq!(used + rest, buf.len());
    // A fragment is consumed as it arrives, before the message is whole:
    // the bytes used say so, and the rest completes it.
    let first = frame(TEXT, false, b"ef", M);
    let mut buf = first.clone();
    buf.extend(frame(OpCode::Data(Data::Continue), true, b"gh", M));
    assert_eq!(
        r.next(&buf[..first.len() + 3]).unwrap(),
        (None, first.len())
    );
    assert_eq!(
        r.next(&buf[first.len()..]).unwrap(),
        (Some(Incoming::Text("efgh".into())), buf.len() - first.len())
    );
    // Close with a code.
    let c = frame(
        OpCode::Control(Control::Close),
        true,
        &[0x03, 0xe8, b'b', b'y'],
        M,
    );
    assert_eq!(r.next(&c).unwrap().0, Some(Incoming::Close(Some(1000))));
    // Close codes a peer may send are taken; reserved ones are refused.
    for (code, taken) in [
        (1001u16, true),
        (1012, true),
        (3000, true),
        (4999, true),
        (999, false),
        (1005, false),
        (1006, false),
        (1015, false),
        (5000, false),
    ] {
        let c = frame(
            OpCode::Control(Control::Close),
            true,
            &code.to_be_bytes(),
            M,
        );
        let mut r = FrameReader::new(WsLimits::default());
        match r.next(&c) {
            Ok((Some(Incoming::Close(Some(got))), _)) => assert!(taken && got == code, "{code}"),
            Err(e) => assert!(!taken && e.code == close::PROTOCOL, "{code}: {e:?}"),
            other => panic!("{code}: {other:?}"),
        }
    }
    // Refusals, each with its close code.
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (frame(TEXT, true, b"x", None), close::PROTOCOL),
        (frame(TEXT, true, &[0xff, 0xfe], M), close::INVALID_DATA),
        (
            frame(OpCode::Control(Control::Ping), false, b"x", M),
            close::PROTOCOL,
        ),
        (
            frame(OpCode::Control(Control::Ping), true, &[0; 126], M),
            close::PROTOCOL,
        ),
        (
            frame(OpCode::Data(Data::Continue), true, b"x", M),
            close::PROTOCOL,
        ),
        (
            frame(OpCode::Data(Data::Reserved(3)), true, b"x", M),
            close::PROTOCOL,
        ),
    ];
    for (bytes, code) in cases {
        let mut r = FrameReader::new(WsLimits::default());
        assert_eq!(r.next(&bytes).unwrap_err().code, code, "{bytes:?}");
    }
    // Over the frame limit: refused from the header alone (no payload yet).
    let limits = WsLimits {
        max_frame: 1000,
        max_message: 1500,
    };
    let big = frame(TEXT, true, &[b'a'; 1001], M);
    let mut r = FrameReader::new(limits);
    assert_eq!(r.next(&big[..8]).unwrap_err().code, close::TOO_BIG);
    // Over the message limit across fragments.
    let mut r = FrameReader::new(limits);
    let mut buf = frame(TEXT, false, &[b'a'; 1000], M);
    buf.extend(frame(OpCode::Data(Data::Continue), true, &[b'a'; 600], M));
    assert_eq!(r.next(&buf).unwrap_err().code, close::TOO_BIG);
}

/// A real client (tungstenite's) against a server made of these functions.
#[test]
fn a_real_client_talks_to_a_server_built_on_these_functions() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut parser = RequestParser::new(Limits::default());
        let (req, used) = loop {
            let n = s.read(&mut chunk).unwrap();
            buf.extend_from_slice(&chunk[..n]);
            if let Some(done) = parser.parse(&buf).unwrap() {
                break done;
            }
        };
        buf.drain(..used);
        let mut out = Vec::new();
        ws::write_accept(&mut out, &ws::accept_key(&req).unwrap());
        ws::write_text(&mut out, b"{\"id\":\"1\"}");
        s.write_all(&out).unwrap();
        // Echo text messages until the client closes.
        let mut reader = FrameReader::new(WsLimits::default());
        loop {
            loop {
                let (msg, used) = reader.next(&buf).unwrap();
                buf.drain(..used);
                let Some(msg) = msg else { break };
                let mut out = Vec::new();
                match msg {
                    Incoming::Text(t) => ws::write_text(&mut out, t.as_bytes()),
                    Incoming::Ping(p) => ws::write_pong(&mut out, &p),
                    Incoming::Close(_) => {
                        ws::write_close(&mut out, close::NORMAL, "bye");
                        s.write_all(&out).unwrap();
                        return;
                    }
                    _ => {}
                }
                s.write_all(&out).unwrap();
            }
            let n = s.read(&mut chunk).unwrap();
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    });
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let (mut client, _) =
        tungstenite::client::client(format!("ws://{addr}/ws"), stream).expect("handshake");
    assert_eq!(
        client.read().unwrap(),
        tungstenite::Message::Text("{\"id\":\"1\"}".into())
    );
    client
        .send(tungstenite::Message::Text("echo me".into()))
        .unwrap();
    assert_eq!(
        client.read().unwrap(),
        tungstenite::Message::Text("echo me".into())
    );
    client.close(None).unwrap();
    while client.read().is_ok() {}
    server.join().unwrap();
}
