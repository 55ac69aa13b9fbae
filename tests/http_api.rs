//! End-to-end tests of Spool's HTTP API (SPEC §3): the real `spool` binary on
//! a loopback port, spoken to over raw sockets, its data directory read back
//! with `spool cat`. Every wait is bounded; each test has its own directory
//! and server.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// [`assert_error`] for tests that need no label.
#[track_caller]
fn expect_error(r: &Response, status: u16, mentions: &[&str]) -> Value {
    assert_error(r, status, mentions, "answer")
}

// ---------------------------------------------------------------------------
// Helpers local to this file.
// ---------------------------------------------------------------------------

/// Reads a response head (status line and headers) only, up to the blank line.
fn read_head(s: &mut TcpStream) -> (String, u16, Vec<(String, String)>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            other => panic!(
                "response head incomplete ({other:?}): {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
        assert!(buf.len() < 64 * 1024, "response head too large");
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (head, status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn id_num(v: &Value) -> u64 {
    v.as_str()
        .unwrap_or_else(|| panic!("id should be a string, got {v}"))
        .parse()
        .unwrap_or_else(|_| panic!("id should be decimal digits, got {v}"))
}

/// Keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// Asserts a one-record ack `{"status":"accepted","id":"<n>"}` and returns n.
#[track_caller]
fn ack_one(r: &Response) -> u64 {
    assert_eq!(r.status, 200, "ingest: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(keys(&v), ["id", "status"], "ack shape: {v}");
    assert_eq!(v["status"], "accepted");
    id_num(&v["id"])
}

/// Asserts a several-record ack and returns (first, last).
#[track_caller]
fn ack_many(r: &Response, count: u64) -> (u64, u64) {
    assert_eq!(r.status, 200, "ingest: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(
        keys(&v),
        ["count", "first_id", "last_id", "status"],
        "ack shape: {v}"
    );
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["count"], count, "ack: {v}");
    let (first, last) = (id_num(&v["first_id"]), id_num(&v["last_id"]));
    assert_eq!(last - first + 1, count, "ids in {v} do not span count");
    (first, last)
}

/// Ingests one text record; returns its id.
fn seed(s: &Spool, message: &str) -> u64 {
    ack_one(&post(s.addr, "/ingest", "text/plain", message.as_bytes()))
}

/// Stops the server and asserts the log holds exactly the seed record.
#[track_caller]
fn assert_only_seed(s: &mut Spool, id: u64, message: &str) {
    stop(s);
    let records = cat(&s.dir);
    assert_eq!(
        records.len(),
        1,
        "only the seed record may be stored: {records:#?}"
    );
    assert_eq!(id_num(&records[0]["id"]), id);
    assert_eq!(records[0]["message"], message);
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` for `ns` since the epoch (H. Hinnant's
/// civil_from_days), to compare receive times lexicographically.
fn rfc3339_utc(ns: u128) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = ns % 1_000_000_000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn is_rfc3339_ns_utc(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 30
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[29] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 29].contains(&i) || c.is_ascii_digit())
}

/// An HTTP/1.1 keep-alive POST to /ingest.
fn keepalive_post(body: &str) -> Vec<u8> {
    format!(
        "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const HEALTH_KEEPALIVE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

// ---------------------------------------------------------------------------
// 1. Ingest formats, acks, and what `spool cat` reads back.
// ---------------------------------------------------------------------------

#[test]
fn ingest_every_format_round_trips_through_cat() {
    let dir = TempDir::new("formats");
    let mut s = start(dir.path(), &[]);
    let before = now_ns();

    // text/plain: three records; the blank line is skipped.
    let text = "ERROR x disk full on /dev/sda1\n\n[warn] y slow query: 1.2s\r\nplain line with ünïcödé ✓ and \"quotes\" \\ and\ttab\n";
    let r = post(
        s.addr,
        "/ingest",
        "text/plain; charset=utf-8",
        text.as_bytes(),
    );
    let (t_first, t_last) = ack_many(&r, 3);
    let after = now_ns();

    // One JSON object: escapes, unicode, offset timestamp, metadata.
    let object = r#"{"level":"fatal","message":"boom \"quoted\" \\ back\nslash\tTab \u00e9 \ud83d\ude00 \u0001","service":"payments-\u2713","timestamp":"2024-03-05T10:20:30.123456789+02:00","metadata":{"a":1,"b":{"c":[1,2.5,"x\u0001\"y"],"d":null,"e":true},"é":"ü"}}"#;
    let single = ack_one(&post(
        s.addr,
        "/ingest",
        "application/json",
        object.as_bytes(),
    ));

    // JSON array: word levels, syslog number, Unix ms as number and string.
    let array = r#"[
        {"level":"warning","message":"w1","service":"svc","timestamp":1700000000123},
        {"level":3,"message":"e1","service":"svc","timestamp":"1700000000456"},
        {"message":"i1","timestamp":"2024-02-29T23:59:59Z","metadata":{"k":"v"}}
    ]"#;
    let (a_first, a_last) = ack_many(
        &post(s.addr, "/ingest", "application/json", array.as_bytes()),
        3,
    );

    // NDJSON: CRLF and a blank line between records; OTel severity; case variants.
    let ndjson = "{\"level\":\"WARNING\",\"message\":\"n1\",\"timestamp\":\"2024-01-02T03:04:05.5-05:30\",\"metadata\":{\"z\":1,\"a\":{\"y\":[],\"b\":\"\\u00e9\"}}}\r\n\n{\"level\":\"Err\",\"message\":\"n2 \\u65e5\\u672c\",\"service\":\"db\",\"timestamp\":0}\n{\"severity_number\":21,\"message\":\"n3\",\"timestamp\":1}\n";
    let (n_first, n_last) = ack_many(
        &post(s.addr, "/ingest", "application/x-ndjson", ndjson.as_bytes()),
        3,
    );

    // Acks hand out consecutive, increasing ids in request order.
    assert_eq!(single, t_last + 1);
    assert_eq!(a_first, single + 1);
    assert_eq!(n_first, a_last + 1);

    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 10, "records: {records:#?}");
    for r in &records {
        assert_eq!(
            keys(r),
            ["id", "level", "message", "metadata", "service", "timestamp"],
            "record shape: {r}"
        );
        let ts = r["timestamp"].as_str().unwrap();
        assert!(
            is_rfc3339_ns_utc(ts),
            "timestamp {ts:?} is not RFC 3339 UTC with 9 digits"
        );
    }
    let ids: Vec<u64> = records.iter().map(|r| id_num(&r["id"])).collect();
    let want_ids: Vec<u64> = (t_first..=t_last)
        .chain([single])
        .chain(a_first..=a_last)
        .chain(n_first..=n_last)
        .collect();
    assert_eq!(ids, want_ids, "cat ids must be the acked ids, in order");

    // Text records: levels from the leading word, message is the whole line,
    // timestamp is the receive time.
    let (lo, hi) = (rfc3339_utc(before), rfc3339_utc(after));
    let text_expect = [
        ("ERROR", "ERROR x disk full on /dev/sda1"),
        ("WARN", "[warn] y slow query: 1.2s"),
        (
            "INFO",
            "plain line with ünïcödé ✓ and \"quotes\" \\ and\ttab",
        ),
    ];
    for (r, (level, message)) in records[..3].iter().zip(text_expect) {
        assert_eq!(r["level"], level, "{r}");
        assert_eq!(r["message"], message, "{r}");
        assert_eq!(r["service"], "", "{r}");
        assert_eq!(r["metadata"], json!({}), "{r}");
        let ts = r["timestamp"].as_str().unwrap();
        assert!(
            lo.as_str() <= ts && ts <= hi.as_str(),
            "receive time {ts} not within [{lo}, {hi}]"
        );
    }

    let o = &records[3];
    assert_eq!(o["level"], "CRITICAL");
    assert_eq!(
        o["message"],
        "boom \"quoted\" \\ back\nslash\tTab é 😀 \u{1}"
    );
    assert_eq!(o["service"], "payments-✓");
    assert_eq!(o["timestamp"], "2024-03-05T08:20:30.123456789Z");
    assert_eq!(
        o["metadata"],
        json!({"a":1,"b":{"c":[1,2.5,"x\u{1}\"y"],"d":null,"e":true},"é":"ü"})
    );

    let expect = [
        (
            "WARN",
            "w1",
            "svc",
            "2023-11-14T22:13:20.123000000Z",
            json!({}),
        ),
        (
            "ERROR",
            "e1",
            "svc",
            "2023-11-14T22:13:20.456000000Z",
            json!({}),
        ),
        (
            "INFO",
            "i1",
            "",
            "2024-02-29T23:59:59.000000000Z",
            json!({"k":"v"}),
        ),
        (
            "WARN",
            "n1",
            "",
            "2024-01-02T08:34:05.500000000Z",
            json!({"z":1,"a":{"y":[],"b":"é"}}),
        ),
        (
            "ERROR",
            "n2 日本",
            "db",
            "1970-01-01T00:00:00.000000000Z",
            json!({}),
        ),
        // `1` is below 2^31: Unix seconds (the unit is told by magnitude).
        (
            "CRITICAL",
            "n3",
            "",
            "1970-01-01T00:00:01.000000000Z",
            json!({}),
        ),
    ];
    for (r, (level, message, service, ts, meta)) in records[4..].iter().zip(expect) {
        assert_eq!(r["level"], level, "{r}");
        assert_eq!(r["message"], message, "{r}");
        assert_eq!(r["service"], service, "{r}");
        assert_eq!(r["timestamp"], ts, "{r}");
        assert_eq!(r["metadata"], meta, "{r}");
    }

    // Byte level: the metadata object is stored and printed as compact JSON
    // text, escapes intact, keys in the order sent.
    let lines = cat_lines(dir.path());
    assert!(
        lines[3].ends_with(
            r#","metadata":{"a":1,"b":{"c":[1,2.5,"x\u0001\"y"],"d":null,"e":true},"é":"ü"}}"#
        ),
        "raw line: {}",
        lines[3]
    );
    assert!(
        lines[3].contains(
            r#""service":"payments-✓","message":"boom \"quoted\" \\ back\nslash\tTab é 😀 \u0001""#
        ),
        "raw line: {}",
        lines[3]
    );
    let n1 = lines
        .iter()
        .find(|l| l.contains(r#""message":"n1""#))
        .unwrap();
    // Kept as sent: key order, and the escape `\u00e9` as written.
    assert!(
        n1.ends_with(r#""metadata":{"z":1,"a":{"y":[],"b":"\u00e9"}}}"#),
        "metadata not kept as sent: {n1}"
    );
}

/// A fractional Unix-millisecond timestamp must keep its fraction exactly
/// (`….5` ms is 500 000 ns, not an f64 rounding of it).
#[test]
fn fractional_unix_ms_timestamp_is_exact() {
    let dir = TempDir::new("fracms");
    let mut s = start(dir.path(), &[]);
    let body = r#"{"message":"frac","timestamp":1700000000789.5}"#;
    let id = ack_one(&post(
        s.addr,
        "/ingest",
        "application/json",
        body.as_bytes(),
    ));
    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 1);
    assert_eq!(id_num(&records[0]["id"]), id);
    assert_eq!(records[0]["timestamp"], "2023-11-14T22:13:20.789500000Z");
}

// ---------------------------------------------------------------------------
// 2. Errors. Each server gets one good record first; at the end `cat` must
//    show exactly it.
// ---------------------------------------------------------------------------

#[test]
fn unknown_path_is_404() {
    let dir = TempDir::new("404");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed 404");
    let r = get(s.addr, "/nope");
    let body = expect_error(&r, 404, &["/nope"]);
    assert_eq!(body["status"], 404);
    expect_error(
        &post(s.addr, "/ingestx", "text/plain", b"not stored"),
        404,
        &["/ingestx"],
    );
    assert_only_seed(&mut s, id, "seed 404");
}

#[test]
fn wrong_method_is_405_with_allow() {
    let dir = TempDir::new("405");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed 405");

    let r = get(s.addr, "/ingest");
    expect_error(&r, 405, &["POST"]);
    assert_eq!(r.header("allow"), Some("POST"));

    let r = post(s.addr, "/healthz", "text/plain", b"not stored");
    expect_error(&r, 405, &["GET"]);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));

    let r = raw(
        s.addr,
        b"PUT /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot stored",
    );
    expect_error(&r, 405, &["POST"]);
    assert_eq!(r.header("allow"), Some("POST"));
    assert_only_seed(&mut s, id, "seed 405");
}

/// RFC 9112 §6.3: a request with neither Content-Length nor
/// Transfer-Encoding has an empty body, POST included; any bytes a client
/// sent after the head would be read as the next request. A request that
/// needs a body (`POST /ingest`, `PUT /alerts/rules`) gets 411 naming
/// Content-Length, and the connection closes after it, so a body sent
/// without a length is never parsed as a request and nothing is stored.
/// Every other error answer to such a POST or PUT closes it too.
#[test]
fn post_without_length_is_411_and_any_error_to_it_closes() {
    let dir = TempDir::new("nolength");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed nolength");
    let rules = r#"{"rules":[{"name":"kept","level":"ERROR","threshold":2,"window":"1m"}]}"#;
    let put = format!(
        "PUT /alerts/rules HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{rules}",
        rules.len()
    );
    assert_eq!(raw(s.addr, put.as_bytes()).status, 200);
    for (what, request) in [
        (
            "HTTP/1.1 ingest, no body",
            &b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n\r\n"[..],
        ),
        (
            "HTTP/1.1 ingest, a body without a length",
            b"POST /ingest HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "HTTP/1.0 ingest, a body until close",
            b"POST /ingest HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\nERROR disk on fire\n",
        ),
        (
            "HTTP/1.1 rules",
            b"PUT /alerts/rules HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\r\n{\"rules\":[]}",
        ),
    ] {
        let mut c = connect(s.addr);
        c.write_all(request).unwrap();
        let r = read_response(&mut c).expect("an answer");
        assert_error(&r, 411, &["Content-Length"], what);
        assert_eq!(r.header("connection"), Some("close"), "{what}");
        expect_closed(&mut c, Duration::from_secs(5), what);
    }
    // Any other error to a POST or PUT without framing closes too: the
    // bytes after its head are never read as a request.
    for (what, status, request) in [
        (
            "405 on /logs",
            405,
            &b"POST /logs HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        ),
        (
            "404",
            404,
            b"PUT /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "403 for a foreign Host",
            403,
            b"POST /ingest HTTP/1.1\r\nHost: example.com\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
    ] {
        let mut c = connect(s.addr);
        c.write_all(request).unwrap();
        let r = read_response(&mut c).expect("an answer");
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(r.header("connection"), Some("close"), "{what}");
        expect_closed(&mut c, Duration::from_secs(5), what);
    }
    // Nothing from the refused requests was stored, the rules stand.
    let logs = get(s.addr, "/logs?limit=100").json();
    assert_eq!(logs["count"], 1, "{logs}");
    assert_eq!(id_num(&logs["logs"][0]["id"]), id, "{logs}");
    let rules = get(s.addr, "/alerts/rules");
    assert_eq!(rules.status, 200);
    assert_eq!(
        rules.json()["rules"][0]["name"],
        "kept",
        "the rules were not replaced"
    );
    // A POST that needs no body still works without one.
    let mut c = connect(s.addr);
    c.write_all(b"POST /simulate?count=3 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c).expect("simulate").status, 200);
    stop(&mut s);
}

#[test]
fn body_over_max_body_is_413_before_the_body_is_sent() {
    let dir = TempDir::new("413body");
    let mut s = start(dir.path(), &["--max-body", "1KiB"]);
    // A body of exactly the limit is accepted (the seed record).
    let at_limit = "s".repeat(1024);
    let id = seed(&s, &at_limit);

    // Only the head of a 1 MiB request: the answer must come without the body.
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(
        b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1048576\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut c).expect("413 before any body byte is sent");
    expect_error(&r, 413, &["1024"]);
    assert_eq!(r.header("connection"), Some("close"));
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");

    // Chunked: a single chunk announcing more than the limit.
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(
        b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n",
    )
    .unwrap();
    let r = read_response(&mut c).expect("413 for an oversized chunk");
    expect_error(&r, 413, &["1024"]);
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");

    assert_only_seed(&mut s, id, &at_limit);
}

#[test]
fn record_over_max_record_is_413() {
    let dir = TempDir::new("413rec");
    let mut s = start(dir.path(), &["--max-record", "512"]);
    let id = seed(&s, "seed 413 record");
    let big = "m".repeat(2048);

    let obj = format!(r#"{{"message":"{big}"}}"#);
    let r = post(s.addr, "/ingest", "application/json", obj.as_bytes());
    expect_error(&r, 413, &["512"]);

    let text = format!("small line\n{big}\n");
    let r = post(s.addr, "/ingest", "text/plain", text.as_bytes());
    let body = expect_error(&r, 413, &["line 2", "512"]);
    assert_eq!(body["line"], 2);

    let nd = format!("{{\"message\":\"ok\"}}\n{{\"message\":\"{big}\"}}\n");
    let r = post(s.addr, "/ingest", "application/x-ndjson", nd.as_bytes());
    let body = expect_error(&r, 413, &["line 2"]);
    assert_eq!(body["line"], 2);

    assert_only_seed(&mut s, id, "seed 413 record");
}

#[test]
fn unsupported_content_type_is_415() {
    let dir = TempDir::new("415");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed 415");
    let r = post(
        s.addr,
        "/ingest",
        "application/xml",
        b"<log>not stored</log>",
    );
    expect_error(
        &r,
        415,
        &["application/xml", "text/plain", "application/json"],
    );
    assert_only_seed(&mut s, id, "seed 415");
}

#[test]
fn malformed_json_is_400() {
    let dir = TempDir::new("400json");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed 400 json");
    let r = post(
        s.addr,
        "/ingest",
        "application/json",
        br#"{"message": "not stored","#,
    );
    expect_error(&r, 400, &["JSON"]);
    // A valid JSON value that is not a record.
    let r = post(s.addr, "/ingest", "application/json", br#""just a string""#);
    expect_error(&r, 400, &["object"]);
    // An array whose second record lacks a message: none of it is written.
    let r = post(
        s.addr,
        "/ingest",
        "application/json",
        br#"[{"message":"not stored"},{"level":"INFO"}]"#,
    );
    let body = expect_error(&r, 400, &["message"]);
    assert_eq!(body["index"], 1);
    // Text that is not UTF-8: 400 naming the line.
    let r = post(
        s.addr,
        "/ingest",
        "text/plain",
        b"fine line\nbad \xff byte\n",
    );
    let body = expect_error(&r, 400, &["line 2", "UTF-8"]);
    assert_eq!(body["line"], 2);
    // An unknown level word.
    let r = post(
        s.addr,
        "/ingest",
        "application/json",
        br#"{"message":"x","level":"LOUD"}"#,
    );
    expect_error(&r, 400, &["LOUD"]);
    assert_only_seed(&mut s, id, "seed 400 json");
}

#[test]
fn ndjson_bad_line_is_400_with_line_number_and_writes_nothing() {
    let dir = TempDir::new("400nd");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed 400 ndjson");
    let body = b"{\"message\":\"not stored 1\"}\n{\"message\":\"not stored 2\"}\n{\"message\": oops}\n{\"message\":\"not stored 4\"}\n";
    let r = post(s.addr, "/ingest", "application/x-ndjson", body);
    let v = expect_error(&r, 400, &["line 3"]);
    assert_eq!(v["line"], 3, "{v}");
    assert_only_seed(&mut s, id, "seed 400 ndjson");
}

#[test]
fn empty_body_is_400() {
    let dir = TempDir::new("400empty");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed 400 empty");
    expect_error(
        &post(s.addr, "/ingest", "text/plain", b""),
        400,
        &["no records"],
    );
    expect_error(
        &post(s.addr, "/ingest", "application/json", b""),
        400,
        &["no records"],
    );
    expect_error(
        &post(s.addr, "/ingest", "application/x-ndjson", b"\n\n"),
        400,
        &["no records"],
    );
    expect_error(
        &post(s.addr, "/ingest", "text/plain", b"\n  \r\n\t\n"),
        400,
        &["no records"],
    );
    expect_error(
        &post(s.addr, "/ingest", "application/json", b"[]"),
        400,
        &["no records"],
    );
    assert_only_seed(&mut s, id, "seed 400 empty");
}

#[test]
fn oversized_header_is_431() {
    let dir = TempDir::new("431");
    let mut s = start(dir.path(), &["--max-header", "1KiB"]);
    let id = seed(&s, "seed 431");
    let mut c = connect(s.addr);
    let req = format!(
        "POST /ingest HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot stored",
        "h".repeat(4096)
    );
    c.write_all(req.as_bytes()).unwrap();
    let r = read_response(&mut c).expect("a 431 answer");
    expect_error(&r, 431, &["1024"]);
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");
    // A normal request still works afterwards.
    assert_eq!(get(s.addr, "/healthz").status, 200);
    assert_only_seed(&mut s, id, "seed 431");
}

#[test]
fn smuggling_shapes_are_400_and_close() {
    let dir = TempDir::new("smuggle");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "seed smuggling");
    // Every body below would, under some other framing reading, carry a
    // record or a second request with SMUGGLED in it.
    let inner = "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\n\r\nSMUGGLED";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "CL+TE",
            format!(
                "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n{inner}"
            ),
            "both",
        ),
        (
            "two Content-Length",
            format!(
                "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nContent-Length: 0\r\n\r\nSMUGGLED{inner}"
            ),
            "Content-Length",
        ),
        (
            "Content-Length: +5",
            format!(
                "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: +8\r\n\r\nSMUGGLED{inner}"
            ),
            "Content-Length",
        ),
        (
            "Transfer-Encoding: gzip",
            format!(
                "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\nSMUGGLED{inner}"
            ),
            "chunked",
        ),
        (
            "TE on HTTP/1.0",
            format!(
                "POST /ingest HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nContent-Length: 8\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n{inner}"
            ),
            "HTTP/1.0",
        ),
        (
            "TE alone on HTTP/1.0",
            format!(
                "POST /ingest HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n{inner}"
            ),
            "HTTP/1.0",
        ),
    ];
    for (name, req, mention) in cases {
        let mut c = connect(s.addr);
        c.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut c).unwrap_or_else(|| panic!("{name}: no answer"));
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        expect_error(&r, 400, &[mention]);
        assert_eq!(r.header("connection"), Some("close"), "{name}");
        expect_closed(&mut c, Duration::from_secs(5), "after the answer");
    }
    assert_only_seed(&mut s, id, "seed smuggling");
}

// ---------------------------------------------------------------------------
// 3. HTTP mechanics.
// ---------------------------------------------------------------------------

#[test]
fn keep_alive_serves_three_requests_on_one_connection() {
    let dir = TempDir::new("keepalive");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);

    c.write_all(HEALTH_KEEPALIVE).unwrap();
    let r = read_response(&mut c).expect("first answer");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("connection"),
        None,
        "keep-alive by default in HTTP/1.1"
    );

    c.write_all(&keepalive_post("ka record")).unwrap();
    let r = read_response(&mut c).expect("second answer");
    let id = ack_one(&r);
    assert_eq!(r.header("connection"), None);

    c.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c).expect("third answer");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");

    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 1);
    assert_eq!(id_num(&records[0]["id"]), id);
    assert_eq!(records[0]["message"], "ka record");
}

#[test]
fn pipelined_posts_are_answered_in_order() {
    let dir = TempDir::new("pipeline");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);
    let mut all = Vec::new();
    for m in ["pipe 1", "pipe 2", "pipe 3"] {
        all.extend_from_slice(&keepalive_post(m));
    }
    c.write_all(&all).unwrap(); // one write: three requests
    let ids: Vec<u64> = (0..3)
        .map(|i| ack_one(&read_response(&mut c).unwrap_or_else(|| panic!("answer {i}"))))
        .collect();
    assert!(
        ids[0] < ids[1] && ids[1] < ids[2],
        "ids must increase in request order: {ids:?}"
    );
    // The connection stays usable afterwards.
    c.write_all(HEALTH_KEEPALIVE).unwrap();
    assert_eq!(read_response(&mut c).expect("after pipeline").status, 200);
    drop(c);

    stop(&mut s);
    let records = cat(dir.path());
    let got: Vec<(u64, String)> = records
        .iter()
        .map(|r| (id_num(&r["id"]), r["message"].as_str().unwrap().to_owned()))
        .collect();
    let want: Vec<(u64, String)> = ids
        .iter()
        .zip(["pipe 1", "pipe 2", "pipe 3"])
        .map(|(i, m)| (*i, m.to_owned()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn http10_request_is_answered_then_closed() {
    let dir = TempDir::new("http10");
    let mut s = start(dir.path(), &[]);

    let mut c = connect(s.addr);
    c.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut c).expect("an answer to HTTP/1.0");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status":"ok"}));
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");

    let mut c = connect(s.addr);
    c.write_all(b"POST /ingest HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nold client\n")
        .unwrap();
    let r = read_response(&mut c).expect("an answer to an HTTP/1.0 POST");
    let id = ack_one(&r);
    assert_eq!(r.header("connection"), Some("close"));
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");

    // HTTP/1.0 that asks for keep-alive gets it, and the connection is reused.
    let mut c = connect(s.addr);
    c.write_all(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c).expect("an answer to HTTP/1.0 keep-alive");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    c.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut c).expect("second answer").status, 200);
    expect_closed(&mut c, Duration::from_secs(5), "after the answer");

    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 1);
    assert_eq!(id_num(&records[0]["id"]), id);
    assert_eq!(records[0]["message"], "old client");
}

#[test]
fn chunked_post_body_is_decoded() {
    let dir = TempDir::new("chunked");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);
    // Lines split across chunks, a chunk extension, a trailer, several writes.
    c.write_all(
        b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let chunk = |data: &str, ext: &str| format!("{:x}{ext}\r\n{data}\r\n", data.len());
    c.write_all(chunk("{\"message\":", "").as_bytes()).unwrap();
    c.write_all(chunk("\"chunk one\"}\n{\"me", ";ext=1").as_bytes())
        .unwrap();
    let last = chunk("ssage\":\"chunk two ünï\"}\n", "") + "0\r\nX-Trailer: t\r\n\r\n";
    c.write_all(last.as_bytes()).unwrap();
    let r = read_response(&mut c).expect("an answer to a chunked POST");
    let (first, last) = ack_many(&r, 2);
    drop(c);

    stop(&mut s);
    let records = cat(dir.path());
    let got: Vec<(u64, &str)> = records
        .iter()
        .map(|r| (id_num(&r["id"]), r["message"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [(first, "chunk one"), (last, "chunk two ünï")]);
}

#[test]
fn expect_100_continue_gets_interim_answer_first() {
    let dir = TempDir::new("expect");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = "continued record\n";
    c.write_all(
        format!(
            "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    // The interim answer arrives before any body byte is sent.
    let (head, status, _) = read_head(&mut c);
    assert_eq!(status, 100, "interim answer: {head:?}");
    assert!(head.starts_with("HTTP/1.1 100"), "{head:?}");
    c.write_all(body.as_bytes()).unwrap();
    let id = ack_one(&read_response(&mut c).expect("final answer"));
    drop(c);

    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 1);
    assert_eq!(id_num(&records[0]["id"]), id);
    assert_eq!(records[0]["message"], "continued record");
}

#[test]
fn head_healthz_has_no_body() {
    let dir = TempDir::new("head");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);
    c.write_all(b"HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (head, status, headers) = read_head(&mut c);
    assert_eq!(status, 200, "{head}");
    // Content-Length, if given, describes the GET body; none is sent.
    if let Some(len) = header(&headers, "content-length") {
        assert_eq!(len, r#"{"status":"ok"}"#.len().to_string(), "{head}");
    }
    // Keep-alive: the next answer on the connection must follow immediately,
    // which proves no body bytes were sent in between.
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8(rest).unwrap();
    assert!(
        rest.starts_with("HTTP/1.1 200"),
        "bytes after the HEAD answer must be the next response, got {rest:?}"
    );
    assert!(rest.ends_with(r#"{"status":"ok"}"#), "{rest:?}");
    stop(&mut s);
}

// ---------------------------------------------------------------------------
// 4. Health.
// ---------------------------------------------------------------------------

#[test]
fn healthz_and_readyz_are_200() {
    let dir = TempDir::new("health");
    let mut s = start(dir.path(), &[]);
    let r = get(s.addr, "/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"status":"ok"}));
    let r = get(s.addr, "/readyz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.json().is_object());
    stop(&mut s);
}

// ---------------------------------------------------------------------------
// 5. Limits.
// ---------------------------------------------------------------------------

/// Opens `n` connections and has each served once, so the daemon has
/// accepted all of them; then opens one more and reads what it is told
/// (without sending anything, so no unread bytes can turn the close into a
/// reset). Returns the `n` connections, the extra one and its answer.
fn fill_then_one_more(s: &Spool, n: usize) -> (Vec<TcpStream>, TcpStream, Option<Response>) {
    let mut idle: Vec<TcpStream> = (0..n).map(|_| connect(s.addr)).collect();
    for c in &mut idle {
        c.write_all(HEALTH_KEEPALIVE).unwrap();
        assert_eq!(read_response(c).expect("one of the first n").status, 200);
    }
    let mut extra = connect(s.addr);
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let answer = read_response(&mut extra);
    (idle, extra, answer)
}

#[test]
fn connection_limit_refuses_the_sixth() {
    let dir = TempDir::new("maxconn");
    let mut s = start(dir.path(), &["--max-connections", "5"]);
    let (mut idle, mut sixth, answer) = fill_then_one_more(&s, 5);
    // A 503 with a JSON error, or a plain close, are both acceptable.
    if let Some(r) = answer {
        expect_error(&r, 503, &["connections"]);
    }
    expect_closed(&mut sixth, Duration::from_secs(5), "after the answer");

    // The first five still work.
    for c in &mut idle {
        c.write_all(HEALTH_KEEPALIVE).unwrap();
        assert_eq!(read_response(c).expect("still served").status, 200);
    }

    // Freeing a slot lets a new client in (the close is noticed within a
    // poll turn or so; bounded retries).
    drop(idle.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let r = get(s.addr, "/healthz");
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline && attempts < 100,
            "a freed slot was never reusable: last {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(idle);
    stop(&mut s);
}

#[test]
fn connection_limit_503_carries_retry_after() {
    let dir = TempDir::new("maxconn-ra");
    let mut s = start(dir.path(), &["--max-connections", "2"]);
    let (idle, _third, answer) = fill_then_one_more(&s, 2);
    let r = answer.expect("a 503 answer for the connection over the limit");
    expect_error(&r, 503, &["connections"]);
    assert!(
        r.header("retry-after").is_some(),
        "SPEC §3: 503 when overloaded carries Retry-After; headers {:?}",
        r.headers
    );
    drop(idle);
    stop(&mut s);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_idle_timeout() {
    let dir = TempDir::new("idle");
    let mut s = start(dir.path(), &["--idle-timeout", "1s"]);
    let mut c = connect(s.addr);
    c.write_all(HEALTH_KEEPALIVE).unwrap();
    assert_eq!(read_response(&mut c).expect("answer").status, 200);
    let took = expect_closed(&mut c, Duration::from_secs(3), "after the answer");
    assert!(
        took >= Duration::from_millis(800),
        "closed after {took:?}, before the 1 s idle timeout"
    );
    // The server itself is fine.
    assert_eq!(get(s.addr, "/healthz").status, 200);
    stop(&mut s);
}

#[test]
fn slow_request_head_gets_408_while_others_are_served() {
    let dir = TempDir::new("reqtimeout");
    let mut s = start(dir.path(), &["--request-timeout", "1s"]);
    let mut slow = connect(s.addr);
    slow.write_all(b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .unwrap();
    let sent = Instant::now();

    // Meanwhile another client is served promptly.
    let t = Instant::now();
    let id = ack_one(&post(s.addr, "/ingest", "text/plain", b"served meanwhile"));
    assert_eq!(get(s.addr, "/healthz").status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "other client waited {:?}",
        t.elapsed()
    );

    slow.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let r = read_response(&mut slow).expect("a 408 within ~3 s");
    let waited = sent.elapsed();
    expect_error(&r, 408, &["time"]);
    assert!(
        waited >= Duration::from_millis(800) && waited <= Duration::from_secs(3),
        "408 after {waited:?}"
    );
    expect_closed(&mut slow, Duration::from_secs(1), "after the answer");

    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 1);
    assert_eq!(id_num(&records[0]["id"]), id);
    assert_eq!(records[0]["message"], "served meanwhile");
}

// ---------------------------------------------------------------------------
// 6. Graceful shutdown and restart; 7. one daemon per data directory.
// ---------------------------------------------------------------------------

#[test]
fn sigterm_exits_zero_and_restart_sees_every_record() {
    let dir = TempDir::new("restart");
    let mut s = start(dir.path(), &[]);
    let (f1, l1) = ack_many(
        &post(s.addr, "/ingest", "text/plain", b"run1 a\nrun1 b\n"),
        2,
    );
    let one = ack_one(&post(
        s.addr,
        "/ingest",
        "application/json",
        br#"{"message":"run1 c"}"#,
    ));
    // An idle keep-alive connection must not hold up shutdown.
    let mut idle = connect(s.addr);
    idle.write_all(HEALTH_KEEPALIVE).unwrap();
    assert_eq!(read_response(&mut idle).expect("answer").status, 200);
    let t = Instant::now();
    stop(&mut s);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    expect_closed(&mut idle, Duration::from_secs(1), "after the answer");
    assert!(s.stderr().contains("stopped"), "stderr: {}", s.stderr());

    let mut s2 = start(dir.path(), &[]);
    assert_eq!(get(s2.addr, "/readyz").status, 200);
    let two = ack_one(&post(s2.addr, "/ingest", "text/plain", b"run2 d"));
    assert!(two > one, "ids continue after a restart: {two} after {one}");
    stop(&mut s2);

    let records = cat(dir.path());
    let got: Vec<(u64, &str)> = records
        .iter()
        .map(|r| (id_num(&r["id"]), r["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (f1, "run1 a"),
            (l1, "run1 b"),
            (one, "run1 c"),
            (two, "run2 d")
        ]
    );
}

#[test]
fn second_daemon_on_same_dir_refuses_to_start() {
    let dir = TempDir::new("lock");
    let mut s = start(dir.path(), &[]);
    let id = seed(&s, "first daemon");
    match try_start(dir.path(), &[], &[]) {
        Ok(_) => panic!("a second spool serve on the same data dir started"),
        Err((status, stderr)) => {
            assert!(
                stderr.contains("in use"),
                "stderr should say the directory is in use: {stderr}"
            );
            let status = status.expect("the second daemon exited");
            assert!(!status.success(), "second daemon exit status {status:?}");
        }
    }
    // The first one is unaffected.
    let id2 = seed(&s, "still serving");
    assert_eq!(id2, id + 1);
    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), 2);
}

/// A second daemon on a taken address says which address and which flag,
/// and exits 1 without touching its data directory's log.
#[test]
fn an_address_in_use_names_the_address_and_the_flag() {
    let dir = TempDir::new("addr-a");
    let mut s = start(dir.path(), &[]);
    let other = TempDir::new("addr-b");
    let taken = s.addr.to_string();
    let (status, log) = match try_start(other.path(), &["--listen", &taken], &[]) {
        Ok(_) => panic!("started on a taken address"),
        Err(e) => e,
    };
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(
        log.contains(&taken) && log.contains("already in use") && log.contains("--listen"),
        "{log}"
    );
    stop(&mut s);
}
