//! Alerts end to end against the real binary: rules from a file and from
//! `PUT /alerts/rules` (checked as a whole, saved across restarts), the
//! threshold edge, scoping, alerts stored as records and listed by
//! `GET /alerts`, delivered to WebSocket followers and to a webhook that
//! is down, then up, or that never answers; and restarts in the middle of
//! a burst and right after a fire.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Posts `n` JSON records of `level` and `service` (message `msg i`),
/// one request each; returns their ids.
fn send(addr: SocketAddr, n: usize, level: &str, service: &str, msg: &str) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let body =
                format!(r#"{{"level":"{level}","service":"{service}","message":"{msg} {i}"}}"#);
            let r = post(addr, "/ingest", "application/json", body.as_bytes());
            assert!((200..300).contains(&r.status), "{}", r.text());
            r.json()["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("numeric id")
        })
        .collect()
}

fn put_rules(addr: SocketAddr, body: &str) -> Response {
    let req = format!(
        "PUT /alerts/rules HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(addr, req.as_bytes())
}

fn alerts(addr: SocketAddr) -> Vec<Value> {
    let r = get(addr, "/alerts");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["alerts"].as_array().expect("alerts").clone()
}

/// Waits (at most 10 s) until `/alerts` lists `n` alerts; returns them.
fn wait_alerts(addr: SocketAddr, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = alerts(addr);
        if a.len() >= n || Instant::now() > deadline {
            return a;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn stat(addr: SocketAddr, key: &str) -> u64 {
    get(addr, "/stats").json()[key].as_u64().expect(key)
}

fn id(v: &Value, key: &str) -> u64 {
    v[key].as_str().expect(key).parse().expect("numeric id")
}

fn rules_file(dir: &TempDir, text: &str) -> String {
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).expect("write rules");
    path.to_string_lossy().into_owned()
}

const THREE_IN_30S: &str = r#"
[[rule]]
name = "Three criticals"
level = "CRITICAL"
threshold = 3
window = "30s"
cooldown = "30s"
"#;

#[test]
fn the_default_rules_fire_at_the_threshold_and_the_alert_is_a_durable_record() {
    let dir = TempDir::new("alerts-defaults");
    let data = dir.path().join("data");
    let mut s = match try_start_as_is(&data, &[], &[]) {
        Ok(s) => s,
        Err((status, text)) => panic!("spool did not start ({status:?}):\n{text}"),
    };
    let addr = s.addr;
    assert!(
        s.stderr().contains("2 alert rules from the defaults"),
        "{}",
        s.stderr()
    );
    // A follower that selects only CRITICAL records still gets alerts.
    let stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (mut ws, _) =
        tungstenite::client(format!("ws://{addr}/ws?level=CRITICAL").as_str(), stream)
            .expect("handshake");

    // Threshold − 1: nine ERRORs (and WARNs, which no rule counts).
    send(addr, 5, "WARN", "api", "slow");
    let first = send(addr, 9, "ERROR", "api", "boom");
    thread::sleep(Duration::from_millis(300));
    assert!(alerts(addr).is_empty(), "9 ERRORs are one below 10");
    // The tenth fires "High Error Rate".
    let tenth = send(addr, 1, "ERROR", "api", "boom");
    let got = wait_alerts(addr, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    let a = &got[0];
    assert_eq!(a["type"], "alert");
    assert_eq!(a["rule"], "High Error Rate");
    assert_eq!(a["level"], "ERROR");
    assert_eq!(a["count"], 10);
    assert_eq!(a["window_ms"], 60_000);
    assert_eq!((id(a, "first_id"), id(a, "last_id")), (first[0], tenth[0]));
    let alert_id = id(a, "id");
    assert!(alert_id > tenth[0]);

    // The follower got it as {"type":"alert"}, and no ERROR record.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while seen.is_empty() && Instant::now() < deadline {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                seen.push(serde_json::from_str::<Value>(&t).unwrap())
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("follower: {e}"),
        }
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "alert");
    assert_eq!(id(&seen[0], "id"), alert_id);
    assert_eq!(id(&seen[0], "last_id"), tenth[0]);

    // One line on stderr; a record of service spool in /logs.
    let err = s.stderr();
    assert_eq!(
        err.matches("ALERT [ERROR] High Error Rate").count(),
        1,
        "{err}"
    );
    let logs = get(addr, "/logs?service=spool").json();
    assert_eq!(logs["count"], 1);
    assert_eq!(
        logs["logs"][0]["metadata"]["alert"]["rule"],
        "High Error Rate"
    );
    // Producers cannot write as the daemon.
    let r = post(
        addr,
        "/ingest",
        "application/json",
        br#"{"level":"ERROR","service":"spool","message":"forged"}"#,
    );
    assert_error(&r, 400, &["reserved"], "service spool");
    assert_eq!(stat(addr, "alerts_fired"), 1);
    let metrics = get(addr, "/metrics").text();
    assert!(metrics.contains("spool_alerts_fired_total 1"), "{metrics}");
    assert!(metrics.contains("spool_alert_rules 2"), "{metrics}");
    stop(&mut s);
}

#[test]
fn rules_are_checked_as_a_whole_saved_and_kept_across_a_restart() {
    let dir = TempDir::new("alerts-rules");
    let data = dir.path().join("data");
    let file = rules_file(&dir, THREE_IN_30S);
    let mut s = start(&data, &["--alert-rules", &file]);
    let addr = s.addr;
    let before = get(addr, "/alerts/rules").json();
    assert_eq!(before["rules"][0]["name"], "Three criticals");
    assert_eq!(before["rules"][0]["window"], "30s");

    let good = r#"{"name":"ok","level":"ERROR","threshold":2,"window":"1m"}"#;
    for (body, mentions) in [
        (
            format!(
                r#"{{"rules":[{good},{{"name":"x","level":"LOUD","threshold":2,"window":"1s"}}]}}"#
            ),
            vec!["rule 2", "\"x\"", "level", "LOUD"],
        ),
        (
            format!(
                r#"{{"rules":[{good},{{"name":"y","level":"ERROR","threshold":0,"window":"1s"}}]}}"#
            ),
            vec!["rule 2", "threshold"],
        ),
        (
            format!(
                r#"{{"rules":[{good},{{"name":"z","level":"ERROR","threshold":2,"window":"10x"}}]}}"#
            ),
            vec!["rule 2", "window", "unit"],
        ),
        (
            format!(r#"{{"rules":[{good},{good}]}}"#),
            vec!["rule 2", "name", "another rule"],
        ),
        (
            r#"{"rules":[{"name":"t","level":"ERROR","threshold":2,"window":"1s","treshold":3}]}"#
                .to_owned(),
            vec!["rule 1", "treshold"],
        ),
        ("{\"rules\": [".to_owned(), vec!["not JSON"]),
        ("[]".to_owned(), vec!["rules"]),
    ] {
        let r = put_rules(addr, &body);
        let e = assert_error(
            &r,
            400,
            &mentions.iter().map(|m| &**m).collect::<Vec<_>>(),
            &body,
        );
        if body.starts_with("{\"rules\":[{") {
            assert!(e["field"].is_string(), "names the field: {e}");
        }
    }
    assert_eq!(
        get(addr, "/alerts/rules").json()["rules"],
        before["rules"],
        "nothing changed"
    );

    let new = format!(
        r#"{{"rules":[{good},{{"name":"pay","level":"WARN","service":"pay","pattern":"TimeOut","ignore_case":true,"threshold":2,"window":"1500ms","cooldown":"0s"}}]}}"#
    );
    let r = put_rules(addr, &new);
    assert_eq!(r.status, 200, "{}", r.text());
    let after = get(addr, "/alerts/rules").json();
    assert_eq!(after["rules"].as_array().map(Vec::len), Some(2));
    assert_eq!(after["rules"][1]["window"], "1500ms");
    assert!(after["source"].as_str().unwrap().contains("PUT"), "{after}");
    stop(&mut s);

    // Restarted with the same --alert-rules: the saved set wins, and says so.
    let mut s = start(&data, &["--alert-rules", &file]);
    let again = get(s.addr, "/alerts/rules").json();
    assert_eq!(again["rules"], after["rules"]);
    assert!(s.stderr().contains("is not used"), "{}", s.stderr());
    stop(&mut s);

    // A bad rules file stops the start, naming the rule and the field.
    let bad = rules_file(
        &dir,
        "[[rule]]\nname = \"b\"\nlevel = \"ERROR\"\nthreshold = 2000\nwindow = \"1s\"\n",
    );
    let fresh = dir.path().join("fresh");
    match try_start(&fresh, &["--alert-rules", &bad], &[]) {
        Ok(_) => panic!("started with a bad rules file"),
        Err((status, text)) => {
            assert!(status.is_some_and(|s| !s.success()), "{status:?}");
            assert!(
                text.contains("rule 1") && text.contains("threshold"),
                "{text}"
            );
        }
    }
}

#[test]
fn pattern_and_service_scope_what_a_rule_counts() {
    let dir = TempDir::new("alerts-scope");
    let file = rules_file(
        &dir,
        r#"
[[rule]]
name = "Pay timeouts"
level = "WARN"
service = "pay"
pattern = "TimeOut"
ignore_case = true
threshold = 3
window = "1m"
"#,
    );
    let mut s = start(&dir.path().join("data"), &["--alert-rules", &file]);
    let addr = s.addr;
    send(addr, 3, "ERROR", "api", "timeout"); // another service
    send(addr, 3, "ERROR", "pay", "refused"); // no pattern
    send(addr, 3, "INFO", "pay", "timeout"); // below WARN
    let two = send(addr, 2, "WARN", "pay", "upstream TIMEOUT");
    thread::sleep(Duration::from_millis(300));
    assert!(alerts(addr).is_empty());
    let third = send(addr, 1, "CRITICAL", "pay", "a timeout again");
    let got = wait_alerts(addr, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (id(&got[0], "first_id"), id(&got[0], "last_id")),
        (two[0], third[0])
    );
    assert_eq!(got[0]["rule_service"], "pay");
    assert_eq!(got[0]["level"], "WARN");
    stop(&mut s);
}

#[test]
fn alerts_page_newest_first() {
    let dir = TempDir::new("alerts-paging");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"each\"\nlevel = \"ERROR\"\nthreshold = 1\nwindow = \"1s\"\ncooldown = \"0s\"\n",
    );
    let mut s = start(&dir.path().join("data"), &["--alert-rules", &file]);
    let addr = s.addr;
    let ids = send(addr, 7, "ERROR", "api", "e");
    wait_alerts(addr, 7);
    let mut seen = Vec::new();
    let mut path = "/alerts?limit=3".to_owned();
    for _ in 0..10 {
        let page = get(addr, &path).json();
        for a in page["alerts"].as_array().unwrap() {
            seen.push(id(a, "last_id"));
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/alerts?limit=3&cursor={c}"),
            None => break,
        }
    }
    let mut want = ids.clone();
    want.reverse();
    assert_eq!(seen, want, "newest first, each once");
    assert_error(
        &get(addr, "/alerts?service=api"),
        400,
        &["service"],
        "service",
    );
    assert_error(&get(addr, "/alerts?bogus=1"), 400, &["bogus"], "unknown");
    let r = get(addr, "/alerts?q=each&limit=2");
    assert_eq!(r.json()["count"], 2);
    stop(&mut s);
}

#[test]
fn a_burst_that_spans_a_restart_fires_once() {
    let dir = TempDir::new("alerts-burst");
    let data = dir.path().join("data");
    let file = rules_file(&dir, THREE_IN_30S);
    let args = ["--alert-rules", file.as_str()];
    // Two of three, then a crash.
    let mut s = start(&data, &args);
    let two = send(s.addr, 2, "CRITICAL", "db", "down");
    s.kill9();
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(200));
    assert!(alerts(s.addr).is_empty(), "two are below three");
    let third = send(s.addr, 1, "CRITICAL", "db", "down");
    let got = wait_alerts(s.addr, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (id(&got[0], "first_id"), id(&got[0], "last_id")),
        (two[0], third[0])
    );
    // Right after the fire: a restart keeps the cooldown.
    stop(&mut s);
    let mut s = start(&data, &args);
    // Stopped cleanly: the window and cooldown come from the checkpoint.
    assert!(
        s.stderr()
            .contains("1 windows restored from alert-state.json"),
        "{}",
        s.stderr()
    );
    send(s.addr, 3, "CRITICAL", "db", "down");
    thread::sleep(Duration::from_millis(500));
    assert_eq!(
        alerts(s.addr).len(),
        1,
        "no second alert within the cooldown"
    );
    stop(&mut s);
}

#[test]
fn an_alert_whose_records_were_durable_but_never_stored_is_raised_at_start() {
    let dir = TempDir::new("alerts-missed");
    let data = dir.path().join("data");
    let file = rules_file(&dir, THREE_IN_30S);
    // Records written by the library: durable, evaluated by nothing.
    {
        let log = spool_server::Log::open(&data).expect("open");
        for i in 0..3 {
            let e = spool_core::entry::Entry {
                timestamp_ns: wall_ns(),
                level: spool_core::entry::Level::Critical,
                service: "db".into(),
                message: format!("down {i}"),
                metadata: String::new(),
            };
            log.append_entry(&e).expect("append");
        }
        assert!(log.close());
    }
    let mut s = start(&data, &["--alert-rules", &file]);
    let got = wait_alerts(s.addr, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["at_start"], true);
    assert_eq!((id(&got[0], "first_id"), id(&got[0], "last_id")), (1, 3));
    stop(&mut s);
    // Stored now: the next start does not raise it again.
    let mut s = start(&data, &["--alert-rules", &file]);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(alerts(s.addr).len(), 1);
    stop(&mut s);
}

fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A webhook receiver on `listener`: answers `status` to each POST
/// (or nothing at all while `hang` is set) and keeps the bodies.
struct Receiver {
    bodies: Arc<Mutex<Vec<Value>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(listener: TcpListener, status: u16, hang: bool) -> Receiver {
        listener.set_nonblocking(true).unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, c, st) = (bodies.clone(), connections.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let Some(body) = read_request(&mut conn) else {
                            continue;
                        };
                        if hang {
                            held.push(conn);
                            continue;
                        }
                        b.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).expect("JSON body"));
                        let _ = write!(
                            conn,
                            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver {
            bodies,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn wait_bodies(&self, n: usize, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let b = self.bodies.lock().unwrap().clone();
            if b.len() >= n || Instant::now() > deadline {
                return b;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request with a Content-Length body; returns the body.
fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            assert!(head.starts_with("post "), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())?;
            while buf.len() < end + 4 + len {
                let n = conn.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf[end + 4..end + 4 + len].to_vec());
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const EACH_ERROR: &str =
    "[[rule]]\nname = \"each\"\nlevel = \"ERROR\"\nthreshold = 1\nwindow = \"1s\"\ncooldown = \"0s\"\n";

#[test]
fn a_webhook_that_is_down_then_up_gets_the_alert_once_after_backing_off() {
    let dir = TempDir::new("alerts-hook-down");
    let file = rules_file(&dir, EACH_ERROR);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut s = start(
        &dir.path().join("data"),
        &["--alert-rules", &file, "--alert-webhook", &url],
    );
    let addr = s.addr;
    let ids = send(addr, 1, "ERROR", "api", "boom");
    // Nothing listens: attempts fail and back off.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stat(addr, "webhook_failed_attempts") < 3 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(stat(addr, "webhook_failed_attempts") >= 3);
    assert_eq!(stat(addr, "webhook_queued"), 1);
    assert_eq!(stat(addr, "webhook_delivered"), 0);
    assert!(s.stderr().contains("retrying in"), "{}", s.stderr());
    // Up: delivered once.
    let rx = Receiver::start(
        TcpListener::bind(("127.0.0.1", port)).expect("rebind"),
        200,
        false,
    );
    let bodies = rx.wait_bodies(1, Duration::from_secs(20));
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["type"], "alert");
    assert_eq!(bodies[0]["rule"], "each");
    assert_eq!(id(&bodies[0], "last_id"), ids[0]);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(rx.bodies.lock().unwrap().len(), 1, "delivered once");
    assert_eq!(rx.connections.load(Ordering::Relaxed), 1);
    assert_eq!(stat(addr, "webhook_delivered"), 1);
    assert_eq!(stat(addr, "webhook_queued"), 0);
    let m = get(addr, "/metrics").text();
    assert!(m.contains("spool_alert_webhook_delivered_total 1"), "{m}");
    stop(&mut s);
}

#[test]
fn a_webhook_that_never_answers_costs_ingest_nothing_and_its_queue_is_bounded() {
    let dir = TempDir::new("alerts-hook-hang");
    let file = rules_file(&dir, EACH_ERROR);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let _rx = Receiver::start(listener, 200, true);
    let mut s = start(
        &dir.path().join("data"),
        &[
            "--alert-rules",
            &file,
            "--alert-webhook",
            &url,
            "--alert-webhook-timeout",
            "300ms",
            "--alert-webhook-queue",
            "4",
        ],
    );
    let addr = s.addr;
    // Every ERROR fires; every request is still answered at once.
    let started = Instant::now();
    let ids = send(addr, 200, "ERROR", "api", "boom");
    assert_eq!(ids.len(), 200);
    assert!(started.elapsed() < Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(addr, "/alerts?limit=1000").json()["count"] != 200 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(addr, "/alerts?limit=1000").json()["count"], 200);
    assert_eq!(stat(addr, "alerts_fired"), 200);
    // At most the queue plus the one in flight wait; the rest are dropped.
    assert!(stat(addr, "webhook_queued") <= 5);
    assert!(
        stat(addr, "webhook_dropped") >= 195,
        "{}",
        stat(addr, "webhook_dropped")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while stat(addr, "webhook_failed_attempts") == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        s.stderr().contains("no answer within the timeout"),
        "{}",
        s.stderr()
    );
    stop(&mut s);
}

#[test]
fn a_slack_webhook_gets_a_text_field() {
    let dir = TempDir::new("alerts-hook-slack");
    let file = rules_file(&dir, EACH_ERROR);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/services/T/B/X", listener.local_addr().unwrap());
    let rx = Receiver::start(listener, 200, false);
    let mut s = start(
        &dir.path().join("data"),
        &[
            "--alert-rules",
            &file,
            "--alert-webhook",
            &url,
            "--alert-webhook-format",
            "slack",
        ],
    );
    send(s.addr, 1, "ERROR", "api", "disk full");
    let bodies = rx.wait_bodies(1, Duration::from_secs(10));
    assert_eq!(bodies.len(), 1);
    let text = bodies[0]["text"].as_str().expect("text");
    assert!(text.contains("each") && text.contains("ERROR"), "{text}");
    assert_eq!(
        bodies[0].as_object().map(|o| o.len()),
        Some(1),
        "{}",
        bodies[0]
    );
    stop(&mut s);
    // Bad webhook flags are refused at start with a reason.
    for (flag, value, says) in [
        ("--alert-webhook", "https://hooks.example.com/x", "TLS"),
        ("--alert-webhook", "ftp://x/", "http"),
        ("--alert-webhook-format", "xml", "json or slack"),
        ("--alert-webhook-queue", "0", "at least 1"),
    ] {
        let fresh = dir.path().join(format!("bad-{}", value.len()));
        match try_start(&fresh, &[flag, value], &[]) {
            Ok(_) => panic!("{flag} {value} was accepted"),
            Err((_, text)) => assert!(text.contains(says), "{flag} {value}: {text}"),
        }
    }
}

/// Sends one JSON record with its own `timestamp`; returns its id.
fn send_stamped(addr: SocketAddr, level: &str, service: &str, timestamp: &str) -> u64 {
    let body = format!(
        r#"{{"level":"{level}","service":"{service}","message":"m","timestamp":"{timestamp}"}}"#
    );
    let r = post(addr, "/ingest", "application/json", body.as_bytes());
    assert!((200..300).contains(&r.status), "{}", r.text());
    r.json()["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("numeric id")
}

#[test]
fn rebuilt_windows_and_cooldowns_keep_the_records_own_times() {
    let dir = TempDir::new("alerts-times");
    let data = dir.path().join("data");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"t\"\nlevel = \"ERROR\"\nthreshold = 3\nwindow = \"2s\"\ncooldown = \"3s\"\n",
    );
    let args = ["--alert-rules", file.as_str()];
    // Two, then 2.5 s later a restart and a third: the first two are out
    // of the window, so nothing fires.
    let mut s = start(&data, &args);
    send(s.addr, 2, "ERROR", "api", "a");
    thread::sleep(Duration::from_millis(2500));
    stop(&mut s);
    let mut s = start(&data, &args);
    send(s.addr, 1, "ERROR", "api", "b");
    thread::sleep(Duration::from_millis(300));
    assert!(
        alerts(s.addr).is_empty(),
        "2.5 s apart is outside a 2 s window"
    );
    // Three more within the window fire. A restart 2 s later keeps the
    // cooldown, which ends 3 s after the fire, not 3 s after the restart.
    let fired_at = Instant::now();
    send(s.addr, 2, "ERROR", "api", "c");
    assert_eq!(wait_alerts(s.addr, 1).len(), 1);
    thread::sleep((fired_at + Duration::from_secs(2)).saturating_duration_since(Instant::now()));
    stop(&mut s);
    let mut s = start(&data, &args);
    send(s.addr, 3, "ERROR", "api", "d");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(alerts(s.addr).len(), 1, "within the cooldown");
    let until = fired_at + Duration::from_millis(3300);
    thread::sleep(until.saturating_duration_since(Instant::now()));
    send(s.addr, 3, "ERROR", "api", "e");
    let got = wait_alerts(s.addr, 2);
    assert_eq!(got.len(), 2, "after the cooldown, three more fire: {got:?}");
    stop(&mut s);
}

#[test]
fn a_record_stamped_in_the_future_does_not_place_the_others_at_the_restart() {
    let dir = TempDir::new("alerts-future");
    let data = dir.path().join("data");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"f\"\nlevel = \"ERROR\"\nservice = \"api\"\nthreshold = 3\nwindow = \"1s\"\ncooldown = \"0s\"\n",
    );
    let args = ["--alert-rules", file.as_str()];
    let mut s = start(&data, &args);
    send_stamped(s.addr, "INFO", "other", "2100-01-01T00:00:00Z");
    for _ in 0..3 {
        send(s.addr, 1, "ERROR", "api", "slow burn");
        thread::sleep(Duration::from_millis(1200));
    }
    assert!(
        alerts(s.addr).is_empty(),
        "1.2 s apart never fills a 1 s window"
    );
    stop(&mut s);
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(300));
    assert!(
        alerts(s.addr).is_empty(),
        "nothing raised at start: {:?}",
        alerts(s.addr)
    );
    stop(&mut s);
}

#[test]
fn simulated_records_count_and_a_rule_set_later_counts_no_older_record() {
    let dir = TempDir::new("alerts-simulate");
    let data = dir.path().join("data");
    let mut s = match try_start_as_is(&data, &[], &[]) {
        Ok(s) => s,
        Err((status, text)) => panic!("spool did not start ({status:?}):\n{text}"),
    };
    let r = post(s.addr, "/simulate?count=10000&seed=1", "text/plain", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    // About 600 records at ERROR or above: each default rule fires once
    // (then its cooldown holds), as for ingested records.
    let got = wait_alerts(s.addr, 2);
    let mut rules: Vec<String> = got
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_owned())
        .collect();
    rules.sort();
    assert_eq!(rules, ["Critical Errors", "High Error Rate"], "{got:?}");
    // A new rule counts no record from before it was put in force, even
    // after a restart.
    let r = put_rules(
        s.addr,
        r#"{"rules":[{"name":"New","level":"ERROR","threshold":5,"window":"1m"}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    stop(&mut s);
    let mut s = start(&data, &[]);
    thread::sleep(Duration::from_millis(300));
    let after = alerts(s.addr);
    assert_eq!(after.len(), 2, "nothing raised at start: {after:?}");
    assert!(after.iter().all(|a| a["at_start"].is_null()), "{after:?}");
    stop(&mut s);
}

#[test]
fn producer_clocks_ahead_or_behind_neither_raise_nor_hide_an_alert_across_a_restart() {
    let dir = TempDir::new("alerts-clocks");
    let data = dir.path().join("data");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"ahead\"\nlevel = \"ERROR\"\nservice = \"ahead\"\nthreshold = 3\nwindow = \"2s\"\ncooldown = \"0s\"\n\n[[rule]]\nname = \"behind\"\nlevel = \"ERROR\"\nservice = \"behind\"\nthreshold = 4\nwindow = \"1m\"\ncooldown = \"0s\"\n",
    );
    let args = ["--alert-rules", file.as_str()];
    let stamp = |offset_s: i64| {
        let ns = (wall_ns() as i64 + offset_s * 1_000_000_000) as u64;
        let mut text = String::new();
        spool_proto::format_rfc3339_nanos(ns, &mut text);
        text
    };
    let mut s = start(&data, &args);
    // Stamped an hour ahead, arriving 1.2 s apart: never 3 within 2 s.
    for _ in 0..3 {
        send_stamped(s.addr, "ERROR", "ahead", &stamp(3600));
        thread::sleep(Duration::from_millis(1200));
    }
    // Stamped five minutes behind: two now ...
    let behind = send_stamped(s.addr, "ERROR", "behind", &stamp(-300));
    send_stamped(s.addr, "ERROR", "behind", &stamp(-300));
    thread::sleep(Duration::from_millis(300));
    assert!(alerts(s.addr).is_empty());
    stop(&mut s);
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(300));
    assert!(
        alerts(s.addr).is_empty(),
        "nothing raised at start: {:?}",
        alerts(s.addr)
    );
    // ... and two after the restart: four within a minute of arrival.
    send_stamped(s.addr, "ERROR", "behind", &stamp(-300));
    let last = send_stamped(s.addr, "ERROR", "behind", &stamp(-300));
    let got = wait_alerts(s.addr, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rule"], "behind");
    assert_eq!(
        (id(&got[0], "first_id"), id(&got[0], "last_id")),
        (behind, last)
    );
    stop(&mut s);
}

#[test]
fn a_rule_changed_by_put_does_not_inherit_the_old_ones_cooldown_after_a_restart() {
    let dir = TempDir::new("alerts-put-cooldown");
    let data = dir.path().join("data");
    let mut s = start(&data, &[]);
    let rule = |threshold: u32| {
        format!(
            r#"{{"rules":[{{"name":"R","level":"ERROR","threshold":{threshold},"window":"1m","cooldown":"10m"}}]}}"#
        )
    };
    assert_eq!(put_rules(s.addr, &rule(3)).status, 200);
    send(s.addr, 3, "ERROR", "api", "x");
    assert_eq!(wait_alerts(s.addr, 1).len(), 1);
    assert_eq!(put_rules(s.addr, &rule(2)).status, 200);
    stop(&mut s);
    let mut s = start(&data, &[]);
    let ids = send(s.addr, 2, "ERROR", "api", "y");
    let got = wait_alerts(s.addr, 2);
    assert_eq!(got.len(), 2, "the changed rule starts empty: {got:?}");
    assert_eq!(id(&got[0], "last_id"), ids[1]);
    stop(&mut s);
}

#[test]
fn restarts_with_nothing_in_between_and_rules_edited_while_down_raise_nothing() {
    let dir = TempDir::new("alerts-restarts");
    let data = dir.path().join("data");
    let three = "[[rule]]\nname = \"W\"\nlevel = \"ERROR\"\nthreshold = 3\nwindow = \"30s\"\n";
    let file = rules_file(&dir, three);
    let args = ["--alert-rules", file.as_str()];
    let mut s = start(&data, &args);
    let two = send(s.addr, 2, "ERROR", "api", "x");
    stop(&mut s);
    // Two starts and stops with no record between: the records are
    // counted once, not once per start.
    let mut s = start(&data, &args);
    stop(&mut s);
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(300));
    assert!(alerts(s.addr).is_empty(), "{:?}", alerts(s.addr));
    let third = send(s.addr, 1, "ERROR", "api", "x");
    let got = wait_alerts(s.addr, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (id(&got[0], "first_id"), id(&got[0], "last_id")),
        (two[0], third[0])
    );
    send(s.addr, 2, "ERROR", "api", "y");
    stop(&mut s);
    // The rule changed (threshold 2) and another added while the daemon
    // was down: both start empty, as after a PUT; the two records sent
    // before the stop do not fire them.
    rules_file(
        &dir,
        "[[rule]]\nname = \"W\"\nlevel = \"ERROR\"\nthreshold = 2\nwindow = \"30s\"\n\n[[rule]]\nname = \"Y\"\nlevel = \"ERROR\"\nthreshold = 2\nwindow = \"30s\"\n",
    );
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(alerts(s.addr).len(), 1, "{:?}", alerts(s.addr));
    stop(&mut s);
}

#[test]
fn an_alert_stored_just_before_a_crash_is_not_stored_again_after_a_long_stop() {
    let dir = TempDir::new("alerts-crash-stored");
    let data = dir.path().join("data");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"one\"\nlevel = \"ERROR\"\nthreshold = 1\nwindow = \"1s\"\ncooldown = \"1s\"\n",
    );
    let args = ["--alert-rules", file.as_str()];
    let mut s = start(&data, &args);
    send(s.addr, 1, "INFO", "api", "warm up");
    thread::sleep(Duration::from_millis(1200));
    send(s.addr, 1, "ERROR", "api", "x");
    assert_eq!(wait_alerts(s.addr, 1).len(), 1);
    thread::sleep(Duration::from_millis(300));
    s.kill9();
    // Down longer than the window and the cooldown.
    thread::sleep(Duration::from_millis(2500));
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(alerts(s.addr).len(), 1, "{:?}", alerts(s.addr));
    stop(&mut s);
}

#[test]
fn every_record_of_a_rule_that_fires_on_each_gets_its_alert_across_a_crash() {
    let dir = TempDir::new("alerts-crash-many");
    let data = dir.path().join("data");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"each\"\nlevel = \"CRITICAL\"\nthreshold = 1\nwindow = \"1m\"\ncooldown = \"0s\"\n",
    );
    let args = ["--alert-rules", file.as_str()];
    let mut s = start(&data, &args);
    let addr = s.addr;
    let sim = thread::spawn(move || {
        let _ = std::panic::catch_unwind(|| {
            post(addr, "/simulate?count=300000&seed=3", "text/plain", b"")
        });
    });
    thread::sleep(Duration::from_millis(150));
    s.kill9();
    let _ = sim.join();
    let mut s = start(&data, &args);
    // Every CRITICAL record durable before the crash has exactly one alert.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (critical, fired) = loop {
        let records = cat(&data);
        let critical: Vec<u64> = records
            .iter()
            .filter(|r| r["level"] == "CRITICAL" && r["service"] != "spool")
            .map(|r| id(r, "id"))
            .collect();
        let mut fired: Vec<u64> = records
            .iter()
            .filter(|r| r["service"] == "spool")
            .map(|r| {
                r["metadata"]["alert"]["last_id"]
                    .as_str()
                    .expect("last_id")
                    .parse()
                    .expect("numeric")
            })
            .collect();
        fired.sort_unstable();
        if fired.len() >= critical.len() || Instant::now() > deadline {
            break (critical, fired);
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(
        !critical.is_empty(),
        "the simulation wrote nothing before the kill"
    );
    assert_eq!(fired, critical, "one alert per CRITICAL record, none twice");
    stop(&mut s);
}

#[test]
fn a_rule_changed_and_changed_back_by_put_starts_empty_even_after_a_crash() {
    let dir = TempDir::new("alerts-put-back");
    let data = dir.path().join("data");
    let mut s = start(&data, &[]);
    let rule = |threshold: u32| {
        format!(
            r#"{{"rules":[{{"name":"W","level":"ERROR","threshold":{threshold},"window":"30s"}}]}}"#
        )
    };
    assert_eq!(put_rules(s.addr, &rule(3)).status, 200);
    send(s.addr, 2, "ERROR", "api", "x");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(put_rules(s.addr, &rule(4)).status, 200);
    assert_eq!(put_rules(s.addr, &rule(3)).status, 200);
    s.kill9();
    let mut s = start(&data, &[]);
    send(s.addr, 1, "ERROR", "api", "y");
    thread::sleep(Duration::from_millis(300));
    assert!(alerts(s.addr).is_empty(), "{:?}", alerts(s.addr));
    stop(&mut s);
}

#[test]
fn alerts_of_a_rule_with_no_cooldown_are_neither_lost_nor_doubled_by_repeated_crashes() {
    let dir = TempDir::new("alerts-crash-pairs");
    let data = dir.path().join("data");
    let file = rules_file(
        &dir,
        "[[rule]]\nname = \"A\"\nlevel = \"ERROR\"\nthreshold = 2\nwindow = \"1m\"\ncooldown = \"0s\"\n",
    );
    let args = ["--alert-rules", file.as_str()];
    for round in 0..4u64 {
        let s = start(&data, &args);
        let addr = s.addr;
        let stop_at = Instant::now() + Duration::from_millis(400 + 150 * round);
        let producers: Vec<_> = (0..2)
            .map(|_| {
                thread::spawn(move || {
                    let body = br#"[{"level":"ERROR","message":"x"},{"level":"ERROR","message":"y"},{"level":"ERROR","message":"z"}]"#;
                    while Instant::now() < stop_at {
                        let ok = std::panic::catch_unwind(|| {
                            post(addr, "/ingest", "application/json", body)
                        });
                        if ok.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        thread::sleep(stop_at.saturating_duration_since(Instant::now()));
        let mut s = s;
        s.kill9();
        for p in producers {
            let _ = p.join();
        }
    }
    let mut s = start(&data, &args);
    thread::sleep(Duration::from_millis(500));
    stop(&mut s);
    // The ERROR records in id order, in pairs: each pair has exactly one
    // alert naming it.
    let records = cat(&data);
    let errors: Vec<u64> = records
        .iter()
        .filter(|r| r["service"] != "spool")
        .map(|r| id(r, "id"))
        .collect();
    let mut fired: Vec<(u64, u64)> = records
        .iter()
        .filter(|r| r["service"] == "spool")
        .map(|r| {
            let a = &r["metadata"]["alert"];
            (id(a, "first_id"), id(a, "last_id"))
        })
        .collect();
    fired.sort_unstable();
    let want: Vec<(u64, u64)> = errors.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    assert!(want.len() > 100, "too few records: {}", errors.len());
    assert_eq!(fired, want);
}
