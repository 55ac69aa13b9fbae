//! The live path end to end: WebSocket followers of the real binary over
//! loopback, with tungstenite and Python's `websocket-client` as clients.
//! Followers must get exactly the acknowledged records, in order, with
//! their filters; resume by id with no gap and no duplicate; survive
//! rotation and retention (a `gap` message for what was deleted); and a
//! follower that stops reading must hold bounded memory and lose nothing.

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// A WebSocket follower on `path` (`/ws?...`).
fn follow(addr: SocketAddr, path: &str) -> WebSocket<TcpStream> {
    follow_on(connect(addr), addr, path)
}

fn follow_on(stream: TcpStream, addr: SocketAddr, path: &str) -> WebSocket<TcpStream> {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let url = format!("ws://{addr}{path}");
    let (ws, resp) = tungstenite::client(url.as_str(), stream).expect("WebSocket handshake");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

/// What a follower received.
#[derive(Debug, Default)]
struct Got {
    records: Vec<Value>,
    gaps: Vec<(u64, u64)>,
    closed: Option<Option<u16>>,
}

impl Got {
    fn ids(&self) -> Vec<u64> {
        self.records.iter().map(id_of).collect()
    }
}

fn id_of(v: &Value) -> u64 {
    v["id"].as_str().expect("id").parse().expect("numeric id")
}

/// Reads messages until `done` says so, the server closes, or `limit`.
fn receive(
    ws: &mut WebSocket<TcpStream>,
    got: &mut Got,
    limit: Duration,
    done: impl Fn(&Got) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(got) && Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("a JSON message");
                if v["type"] == "gap" {
                    let n = |k: &str| v[k].as_str().unwrap().parse::<u64>().unwrap();
                    got.gaps.push((n("from"), n("to")));
                } else {
                    assert!(v.get("type").is_none(), "unexpected message {v}");
                    got.records.push(v);
                }
            }
            Ok(Message::Close(frame)) => {
                got.closed = Some(frame.map(|f| u16::from(f.code)));
                return;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                got.closed.get_or_insert(None);
                return;
            }
            Err(e) => panic!("reading the WebSocket: {e}"),
        }
    }
}

/// Reads `ws` on a thread until the flag is set, then 3 s more: a follower
/// that keeps reading. Set the flag, then join for what it got.
fn read_in_background(mut ws: WebSocket<TcpStream>) -> (Arc<AtomicBool>, thread::JoinHandle<Got>) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let reader = thread::spawn(move || {
        let mut got = Got::default();
        while !flag.load(Ordering::Relaxed) {
            receive(&mut ws, &mut got, Duration::from_millis(100), |_| false);
        }
        receive(&mut ws, &mut got, Duration::from_secs(3), |_| false);
        got
    });
    (done, reader)
}

/// Posts NDJSON `lines` on a keep-alive connection; the acknowledged ids.
fn post_lines(stream: &mut TcpStream, lines: &[String]) -> (u64, u64) {
    use std::io::Write;
    let body = lines.join("\n");
    let req = format!(
        "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let r = read_response(stream).expect("an answer");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let n = |k: &str| {
        v[k].as_str()
            .or(v["id"].as_str())
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    (n("first_id"), n("last_id"))
}

/// The record a producer sends: level, service and a unique message.
fn record(producer: usize, n: usize, pad: usize) -> (String, String, String) {
    let level = ["INFO", "ERROR", "WARN", "DEBUG", "ERROR"][(producer + n) % 5];
    let service = ["pay", "auth", "pay", "search"][(producer * 3 + n) % 4];
    let disk = if n % 3 == 0 { " disk slow" } else { "" };
    let message = format!("p{producer} n{n}{disk}{}", ".".repeat(pad));
    (level.to_owned(), service.to_owned(), message)
}

/// `producers` threads each post `posts` batches of `batch` records (their
/// messages padded with `pad` bytes); returns id → (level, service,
/// message) for every acknowledged record.
fn produce(
    addr: SocketAddr,
    producers: usize,
    posts: usize,
    batch: usize,
    pad: usize,
) -> std::collections::BTreeMap<u64, (String, String, String)> {
    let handles: Vec<_> = (0..producers)
        .map(|p| {
            thread::spawn(move || {
                let mut s = connect(addr);
                let mut acked = Vec::new();
                for i in 0..posts {
                    let recs: Vec<_> = (0..batch).map(|j| record(p, i * batch + j, pad)).collect();
                    let lines: Vec<String> = recs
                        .iter()
                        .map(|(l, s, m)| {
                            serde_json::json!({"level": l, "service": s, "message": m}).to_string()
                        })
                        .collect();
                    let (first, last) = post_lines(&mut s, &lines);
                    assert_eq!(last - first + 1, batch as u64);
                    for (k, r) in recs.into_iter().enumerate() {
                        acked.push((first + k as u64, r));
                    }
                }
                acked
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("producer"))
        .collect()
}

#[test]
fn followers_receive_exactly_the_acknowledged_records_in_order_with_their_filters() {
    let dir = TempDir::new("live-exact");
    // Small segments: the stream crosses several rotations.
    let mut s = start(
        dir.path(),
        &["--segment-size", "128KiB", "--max-record", "16KiB"],
    );
    let mut all = follow(s.addr, "/ws");
    let mut errors = follow(s.addr, "/ws?level=ERROR");
    let mut pay_disk = follow(s.addr, "/ws?service=pay&q=disk");
    let mut warn_up = follow(s.addr, "/ws?level%3E=WARN&service=auth,search");
    let sent = produce(s.addr, 4, 40, 25, 0);
    let n = sent.len() as u64;
    assert_eq!(n, 4000);
    assert_eq!(
        sent.keys().copied().collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    let expect = |keep: &dyn Fn(&(String, String, String)) -> bool| -> Vec<u64> {
        sent.iter()
            .filter(|(_, r)| keep(r))
            .map(|(id, _)| *id)
            .collect()
    };
    let cases: Vec<(&mut WebSocket<TcpStream>, Vec<u64>, &str)> = vec![
        (&mut all, expect(&|_| true), "no filter"),
        (&mut errors, expect(&|r| r.0 == "ERROR"), "level=ERROR"),
        (
            &mut pay_disk,
            expect(&|r| r.1 == "pay" && r.2.contains("disk")),
            "service=pay&q=disk",
        ),
        (
            &mut warn_up,
            expect(&|r| (r.0 == "WARN" || r.0 == "ERROR") && (r.1 == "auth" || r.1 == "search")),
            "level>=WARN&service=auth,search",
        ),
    ];
    for (ws, want, what) in cases {
        let mut got = Got::default();
        let last = *want.last().unwrap();
        receive(ws, &mut got, Duration::from_secs(20), |g| {
            g.records.last().is_some_and(|r| id_of(r) >= last)
        });
        // Nothing more arrives after the last one it selects.
        receive(ws, &mut got, Duration::from_millis(300), |_| false);
        assert_eq!(got.ids(), want, "{what}: the ids received");
        assert!(got.gaps.is_empty(), "{what}: {:?}", got.gaps);
        for r in &got.records {
            let (level, service, message) = &sent[&id_of(r)];
            assert_eq!(r["level"], level.as_str(), "{what}: {r}");
            assert_eq!(r["service"], service.as_str(), "{what}: {r}");
            assert_eq!(r["message"], message.as_str(), "{what}: {r}");
        }
    }
    let stats = get(s.addr, "/stats").json();
    assert_eq!(stats["subscribers"], 4, "{stats}");
    stop(&mut s);
}

#[test]
fn a_follower_resumes_after_an_id_with_no_gap_and_no_duplicate() {
    let dir = TempDir::new("live-resume");
    let mut s = start(dir.path(), &[]);
    let mut ws = follow(s.addr, "/ws");
    produce(s.addr, 2, 5, 10, 0);
    let mut got = Got::default();
    receive(&mut ws, &mut got, Duration::from_secs(10), |g| {
        g.records.len() >= 50
    });
    // Disconnect having seen some, not all.
    let seen = got.ids()[..37].to_vec();
    drop(ws);
    produce(s.addr, 2, 5, 10, 0);
    let resume = *seen.last().unwrap();
    let mut ws = follow(s.addr, &format!("/ws?from={resume}"));
    let mut rest = Got::default();
    receive(&mut ws, &mut rest, Duration::from_secs(10), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= 200)
    });
    let mut ids = seen.clone();
    ids.extend(rest.ids());
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    // While it follows, new records keep coming after the resumed ones.
    produce(s.addr, 1, 1, 5, 0);
    receive(&mut ws, &mut rest, Duration::from_secs(10), |g| {
        g.records.len() >= 168
    });
    assert_eq!(rest.ids(), (38..=205).collect::<Vec<_>>());

    // from=oldest, and from a time (the first record at or after it).
    let mut ws = follow(s.addr, "/ws?from=oldest");
    let mut old = Got::default();
    receive(&mut ws, &mut old, Duration::from_secs(10), |g| {
        g.records.len() >= 205
    });
    assert_eq!(old.ids(), (1..=205).collect::<Vec<_>>());
    let t100 = old.records[99]["timestamp"].as_str().unwrap().to_owned();
    let mut ws = follow(s.addr, &format!("/ws?from={t100}"));
    let mut by_time = Got::default();
    receive(&mut ws, &mut by_time, Duration::from_secs(10), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= 205)
    });
    let first = by_time.ids()[0];
    assert!(first <= 100, "from={t100} started at {first}");
    assert!(
        old.records[(first - 1) as usize]["timestamp"]
            .as_str()
            .unwrap()
            >= t100.as_str()
    );
    assert_eq!(by_time.ids(), (first..=205).collect::<Vec<_>>());

    // An id the log never gave, and a bad from, are refused before the upgrade.
    for (path, status, mentions) in [
        ("/ws?from=999999", 400, "newer than the newest record"),
        ("/ws?from=yesterday", 400, "RFC 3339"),
        ("/ws?limit=5", 400, "/ws takes level, service, q, qi, from"),
        ("/ws?level=LOUD", 400, "level"),
    ] {
        let r = raw(
            s.addr,
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").as_bytes(),
        );
        assert_error(&r, status, &[mentions], path);
    }
    // Another WebSocket version: 426 saying which one is spoken.
    let r = raw(
        s.addr,
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert_error(&r, 426, &["Sec-WebSocket-Version: 13"], "version 8");
    assert_eq!(r.header("Sec-WebSocket-Version"), Some("13"));
    // A plain GET is not a handshake.
    assert_error(
        &get(s.addr, "/ws"),
        400,
        &["Upgrade: websocket"],
        "plain GET /ws",
    );
    stop(&mut s);
}

fn handshake(addr: SocketAddr, origin: &str) -> Vec<u8> {
    format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").into_bytes()
}

/// Whether the handshake from `origin` is accepted (101).
fn accepted_from(addr: SocketAddr, origin: &str) -> bool {
    use std::io::{Read, Write};
    let mut stream = connect(addr);
    stream.write_all(&handshake(addr, origin)).unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    &head == b"HTTP/1.1 101"
}

#[test]
fn a_foreign_origin_is_refused_the_handshake() {
    let dir = TempDir::new("live-origin");
    let mut s = start(dir.path(), &["--allow-origin", "https://dash.example.com"]);
    let own = format!("http://{}", s.addr);
    assert!(accepted_from(s.addr, &own));
    assert!(accepted_from(s.addr, "https://dash.example.com"));
    for evil in [
        "http://evil.example",
        "null",
        "https://dash.example.com.evil.example",
    ] {
        let r = raw(s.addr, &handshake(s.addr, evil));
        assert_error(&r, 403, &["--allow-origin"], evil);
    }
    stop(&mut s);
}

#[test]
fn client_frames_over_the_limit_close_with_1009_and_pings_flow_both_ways() {
    let dir = TempDir::new("live-frames");
    let mut s = start(
        dir.path(),
        &["--max-ws-message", "1KiB", "--ws-ping", "300ms"],
    );
    // The server pings a quiet connection; a ping from the client is answered.
    let mut ws = follow(s.addr, "/ws");
    ws.send(Message::Ping(b"hello".to_vec().into())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut pinged, mut ponged) = (false, false);
    while !(pinged && ponged) && Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Ping(_)) => pinged = true,
            Ok(Message::Pong(p)) => ponged = p.as_ref() == b"hello",
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        pinged && ponged,
        "server ping seen: {pinged}, pong to ours: {ponged}"
    );
    // A message under the limit is taken (and ignored); one over it closes
    // the connection with 1009.
    ws.send(Message::Text("x".repeat(1000).into())).unwrap();
    ws.send(Message::Text("x".repeat(2000).into())).unwrap();
    let mut got = Got::default();
    receive(&mut ws, &mut got, Duration::from_secs(5), |_| false);
    assert_eq!(got.closed, Some(Some(1009)), "{got:?}");
    assert_eq!(CloseCode::from(1009), CloseCode::Size);
    // The daemon goes on serving.
    assert_eq!(get(s.addr, "/healthz").status, 200);
    stop(&mut s);
}

/// Sends the handshake on `stream` by hand and reads the 101, leaving the
/// socket otherwise unread (a follower that then stops reading).
fn raw_subscribe(stream: &mut TcpStream, path: &str) {
    use std::io::{Read, Write};
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

/// Reads server frames from `stream` by hand (text frames as JSON).
fn read_frames(
    stream: &mut TcpStream,
    got: &mut Got,
    limit: Duration,
    done: impl Fn(&Got) -> bool,
) {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    while !done(got) && Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => {
                got.closed.get_or_insert(None);
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("{e}"),
        }
        let mut used = 0;
        while buf.len() - used >= 2 {
            let b = &buf[used..];
            let (len, header) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => (
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if b.len() < header + len {
                break;
            }
            let payload = &b[header..header + len];
            match b[0] & 0x0f {
                1 => {
                    let v: Value = serde_json::from_slice(payload).unwrap();
                    if v["type"] == "gap" {
                        let n = |k: &str| v[k].as_str().unwrap().parse::<u64>().unwrap();
                        got.gaps.push((n("from"), n("to")));
                    } else {
                        got.records.push(v);
                    }
                }
                8 => got.closed = Some(payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]))),
                _ => {}
            }
            used += header + len;
        }
        buf.drain(..used);
    }
}

#[test]
fn a_follower_that_stops_reading_holds_bounded_memory_and_then_gets_everything() {
    let dir = TempDir::new("live-stall");
    let mut s = start(dir.path(), &["--live-window", "1MiB"]);
    let pid = s.child.id();
    let mut stalled = connect(s.addr);
    raw_subscribe(&mut stalled, "/ws?from=now");
    let rss_before = proc_kib(pid, "VmRSS:");
    // Producers run for 10 s while it reads nothing.
    let stop_at = Instant::now() + Duration::from_secs(10);
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(proc_kib(pid, "VmRSS:"), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let addr = s.addr;
            thread::spawn(move || {
                let mut conn = connect(addr);
                let mut last = 0;
                let mut n = 0;
                // Until 10 s passed (at most 2,500 posts of 100: the
                // follower reads it all back afterwards).
                while Instant::now() < stop_at && n < 2_500 {
                    let lines: Vec<String> = (0..100)
                        .map(|j| {
                            format!(
                                "{{\"level\":\"INFO\",\"message\":\"p{p} {n} {j} {}\"}}",
                                "x".repeat(120)
                            )
                        })
                        .collect();
                    last = last.max(post_lines(&mut conn, &lines).1);
                    n += 1;
                }
                last
            })
        })
        .collect();
    let last: u64 = producers
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew_kib = peak.load(Ordering::Relaxed).saturating_sub(rss_before);
    // Producers wrote far more than the bounds meanwhile (each record ~190 bytes).
    assert!(last > 100_000, "only {last} records in 10 s");
    // It stopped reading for the whole time.
    thread::sleep(stop_at.saturating_duration_since(Instant::now()));
    let written_mib = last * 190 / (1 << 20);
    assert!(
        grew_kib < 32 * 1024,
        "daemon RSS grew {grew_kib} KiB while a follower did not read and {written_mib} MiB were written"
    );
    // Reading again: everything since it subscribed, in order, once.
    let mut got = Got::default();
    read_frames(&mut stalled, &mut got, Duration::from_secs(60), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= last)
    });
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    let ids = got.ids();
    assert_eq!(
        ids.len() as u64,
        last,
        "ids {:?}..{:?}",
        ids.first(),
        ids.last()
    );
    assert!(
        ids.iter().copied().eq(1..=last),
        "ids are not 1..={last} in order"
    );
    stop(&mut s);
}

#[test]
fn followers_cross_rotation_and_retention_with_a_gap_for_what_was_deleted() {
    let dir = TempDir::new("live-retention");
    let mut s = start(
        dir.path(),
        &[
            "--segment-size",
            "256KiB",
            "--max-record",
            "16KiB",
            "--retention-bytes",
            "1MiB",
            "--live-window",
            "64KiB",
        ],
    );
    // One follower reads all along; another subscribed from the oldest
    // record and stops reading at once.
    let (done, reader) = read_in_background(follow(s.addr, "/ws?from=oldest"));
    let mut stalled = connect_raw(s.addr, None, Some(4096));
    raw_subscribe(&mut stalled, "/ws?from=oldest");
    // 12 MiB: more than the kernel's socket buffers (4 MiB at most here) can hold.
    let sent = produce(s.addr, 4, 100, 30, 1000);
    let n = sent.len() as u64;
    // Retention deleted the oldest segments meanwhile.
    let stats = get(s.addr, "/stats").json();
    assert!(stats["logs_in_storage"].as_u64().unwrap() < n, "{stats}");
    thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::Relaxed);
    let live = reader.join().unwrap();
    assert_eq!(
        live.ids(),
        (1..=n).collect::<Vec<_>>(),
        "the reading follower"
    );
    assert!(live.gaps.is_empty());

    let mut got = Got::default();
    read_frames(&mut stalled, &mut got, Duration::from_secs(20), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= n)
    });
    assert!(!got.gaps.is_empty(), "no gap though retention deleted records it had not read: {} records {:?}..{:?}, closed {:?}", got.records.len(), got.ids().first(), got.ids().last(), got.closed);
    assert_covers(&got, n, "the stalled follower");
    stop(&mut s);
}

#[test]
fn python_websocket_client_follows_the_log() {
    let dir = TempDir::new("live-python");
    let mut s = start(dir.path(), &[]);
    produce(s.addr, 1, 3, 10, 0);
    let script = r#"
import json, sys, websocket
ws = websocket.create_connection(sys.argv[1], timeout=10)
ids = []
while len(ids) < 30:
    m = json.loads(ws.recv())
    ids.append(int(m["id"]))
ws.close()
print(",".join(map(str, ids)))
"#;
    // Debian's python3 with python3-websocket (websocket-client), which
    // .ci/run installs; another python3 may come first on PATH.
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(format!("ws://{}/ws?from=oldest", s.addr))
        .output()
        .expect("/usr/bin/python3 runs (CI installs python3-websocket)");
    assert!(
        out.status.success(),
        "python websocket-client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=30).collect::<Vec<_>>());
    stop(&mut s);
}

#[test]
fn many_followers_behind_the_window_that_do_not_read_hold_bounded_memory() {
    let dir = TempDir::new("live-many-stalled");
    let mut s = start(dir.path(), &["--live-window", "1MiB"]);
    // ~24 MiB of log, all of it older than the window.
    produce(s.addr, 4, 20, 300, 1000);
    let pid = s.child.id();
    let before = proc_kib(pid, "VmRSS:");
    // 200 followers from the oldest record, none of which reads: each gets
    // a catch-up job, fills its bounded buffer, and waits.
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut c = connect_raw(s.addr, None, Some(4096));
            raw_subscribe(&mut c, "/ws?from=oldest");
            c
        })
        .collect();
    thread::sleep(Duration::from_secs(3));
    let grew = proc_kib(pid, "VmRSS:").saturating_sub(before);
    // Each may hold --max-unsent (64 KiB) plus one frame; a reader's
    // buffers (~1.25 MiB) must not stay with a waiting follower.
    assert!(
        grew < 48 * 1024,
        "RSS grew {grew} KiB with 200 stalled followers"
    );
    assert_eq!(get(s.addr, "/stats").json()["subscribers"], 200);
    // One of them reads: it gets everything, in order.
    let mut got = Got::default();
    read_frames(&mut conns[17], &mut got, Duration::from_secs(30), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= 24_000)
    });
    assert_eq!(got.ids(), (1..=24_000).collect::<Vec<_>>());
    drop(conns);
    stop(&mut s);
}

#[test]
fn after_a_failed_fdatasync_followers_get_only_what_was_acknowledged_and_are_closed() {
    let dir = TempDir::new("live-eio");
    let mut s = start_failing_fsync(dir.path(), 3);
    let mut ws = follow(s.addr, "/ws");
    let mut acked = Vec::new();
    for i in 0..6 {
        let r = post(
            s.addr,
            "/ingest",
            "text/plain",
            format!("line {i}").as_bytes(),
        );
        if r.status != 200 {
            assert_eq!(r.status, 503, "{}", r.text());
            break;
        }
        acked.push(r.json()["id"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(acked.len(), 3);
    // The failed record was written (the page cache holds it, and inotify
    // reported it) but never made durable: no follower is sent it.
    let mut got = Got::default();
    receive(&mut ws, &mut got, Duration::from_secs(10), |_| false);
    assert_eq!(got.ids(), acked);
    assert!(got.closed.is_some(), "the follower was not closed: {got:?}");
    assert!(!s.wait(Duration::from_secs(15)).success());
}

#[test]
fn followers_that_answer_no_ping_or_read_nothing_are_closed_after_the_idle_timeout() {
    let dir = TempDir::new("live-idle");
    let mut s = start(dir.path(), &["--idle-timeout", "2s", "--ws-ping", "500ms"]);
    // Reads what comes but never answers the server's pings.
    let mut deaf = connect(s.addr);
    raw_subscribe(&mut deaf, "/ws");
    // Reads nothing at all, while records fill its buffers.
    let mut stalled = connect_raw(s.addr, None, Some(4096));
    raw_subscribe(&mut stalled, "/ws");
    let t0 = Instant::now();
    produce(s.addr, 2, 20, 200, 500);
    assert_eq!(get(s.addr, "/stats").json()["subscribers"], 2);
    let mut got = Got::default();
    read_frames(&mut deaf, &mut got, Duration::from_secs(15), |g| {
        g.closed.is_some()
    });
    let deaf_after = t0.elapsed();
    assert!(
        got.closed.is_some(),
        "a follower that answers no ping stayed open"
    );
    // Ping after 0.5 s quiet, no pong for 2 s: closed after about 2.5 s
    // (its records kept it busy for part of that).
    assert!(
        deaf_after >= Duration::from_secs(2),
        "closed after {deaf_after:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(s.addr, "/stats").json()["subscribers"] != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        get(s.addr, "/stats").json()["subscribers"],
        0,
        "the stalled follower is still open"
    );
    // A follower that answers pings stays open through many intervals.
    let mut alive = follow(s.addr, "/ws");
    let mut g = Got::default();
    receive(&mut alive, &mut g, Duration::from_secs(4), |_| false);
    assert!(g.closed.is_none(), "{g:?}");
    assert_eq!(get(s.addr, "/stats").json()["subscribers"], 1);
    stop(&mut s);
}

#[test]
fn a_follower_from_the_oldest_record_served_from_the_window_then_behind_it_gets_each_record_once() {
    // Found by a break test: such a follower restarted at the oldest
    // record when it fell behind (records twice, or, under retention,
    // deleted ones skipped without a gap).
    let dir = TempDir::new("live-oldest-window");
    let mut s = start(dir.path(), &["--live-window", "64KiB"]);
    // A follower at the head keeps the window from the first record on.
    let _head = follow(s.addr, "/ws");
    produce(s.addr, 1, 1, 10, 0);
    let mut slow = connect_raw(s.addr, None, Some(4096));
    raw_subscribe(&mut slow, "/ws?from=oldest");
    let mut got = Got::default();
    read_frames(&mut slow, &mut got, Duration::from_secs(10), |g| {
        g.records.len() >= 10
    });
    assert_eq!(got.ids(), (1..=10).collect::<Vec<_>>());
    // It stops reading while far more than the window is written.
    let sent = produce(s.addr, 2, 20, 250, 200);
    let last = *sent.keys().last().unwrap();
    read_frames(&mut slow, &mut got, Duration::from_secs(30), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= last)
    });
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    let ids = got.ids();
    assert_eq!(
        ids.len() as u64,
        last,
        "first ids {:?}",
        &ids[..ids.len().min(30)]
    );
    assert!(ids.iter().copied().eq(1..=last));
    stop(&mut s);
}

/// Records and gaps together cover `1..=last`, each id once, in order.
fn assert_covers(got: &Got, last: u64, what: &str) {
    let mut covered: Vec<(u64, u64)> = got.ids().iter().map(|&i| (i, i)).collect();
    covered.extend(&got.gaps);
    covered.sort();
    let mut want = 1;
    for (from, to) in covered {
        assert_eq!(from, want, "{what}: at id {from}; gaps {:?}", got.gaps);
        want = to + 1;
    }
    assert_eq!(want, last + 1, "{what}: ends at {}", want - 1);
    assert!(
        got.ids().windows(2).all(|w| w[0] < w[1]),
        "{what}: out of order"
    );
}

#[test]
fn followers_from_the_oldest_record_under_retention_name_every_deleted_id_in_a_gap() {
    let dir = TempDir::new("live-oldest-retention");
    let mut s = start(
        dir.path(),
        &[
            "--max-record",
            "4KiB",
            "--segment-size",
            "64KiB",
            "--retention-bytes",
            "256KiB",
        ],
    );
    let _head = follow(s.addr, "/ws");
    produce(s.addr, 1, 1, 10, 0);
    // Both start from the oldest record, served from the window at first.
    let (done, reader) = read_in_background(follow(s.addr, "/ws?from=oldest"));
    let mut paused = connect_raw(s.addr, None, Some(4096));
    raw_subscribe(&mut paused, "/ws?from=oldest");
    let mut paused_got = Got::default();
    read_frames(&mut paused, &mut paused_got, Duration::from_secs(10), |g| {
        g.records.len() >= 10
    });
    // ~9 MiB: more than the socket buffers (4 MiB at most here) hold.
    let sent = produce(s.addr, 2, 200, 20, 1000);
    let last = *sent.keys().last().unwrap();
    done.store(true, Ordering::Relaxed);
    let reading_got = reader.join().unwrap();
    read_frames(&mut paused, &mut paused_got, Duration::from_secs(20), |g| {
        g.records.last().is_some_and(|r| id_of(r) >= last)
    });
    assert!(
        !paused_got.gaps.is_empty(),
        "retention deleted nothing it needed?"
    );
    assert_covers(&paused_got, last, "the paused follower");
    assert_covers(&reading_got, last, "the reading follower");
    stop(&mut s);
}

#[test]
fn shutdown_closes_followers_with_1001_and_a_stalled_one_does_not_delay_it() {
    let dir = TempDir::new("live-shutdown");
    let mut s = start(dir.path(), &[]);
    let mut reading = follow(s.addr, "/ws");
    let mut stalled = connect_raw(s.addr, None, Some(4096));
    raw_subscribe(&mut stalled, "/ws");
    let reader = thread::spawn(move || {
        let mut got = Got::default();
        receive(&mut reading, &mut got, Duration::from_secs(60), |g| {
            g.closed.is_some()
        });
        got
    });
    // Fill the stalled one's buffers (several MiB of records).
    let sent = produce(s.addr, 2, 20, 200, 1000);
    thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let status = s.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        t.elapsed()
    );
    let got = reader.join().unwrap();
    assert_eq!(got.closed, Some(Some(1001)), "{:?}", got.closed);
    assert_eq!(
        got.ids().len(),
        sent.len(),
        "the reading follower got every record first"
    );
    drop(stalled);
}

#[test]
fn followers_that_stopped_reading_do_not_shut_out_queries() {
    // Unread /logs answers past --max-buffered make new queries wait (503);
    // records queued for followers are bounded per follower instead, and
    // never count against queries.
    let dir = TempDir::new("live-queries");
    let mut s = start(dir.path(), &["--max-buffered", "1MiB"]);
    let stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut c = connect_raw(s.addr, None, Some(4096));
            raw_subscribe(&mut c, "/ws");
            c
        })
        .collect();
    // 40 x 64 KiB queued for followers: more than --max-buffered.
    produce(s.addr, 2, 20, 100, 1000);
    thread::sleep(Duration::from_millis(300));
    let r = get(s.addr, "/logs?limit=5");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["count"], 5);
    drop(stalled);
    stop(&mut s);
}
