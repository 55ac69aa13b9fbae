//! End-to-end: what is stored is what was sent (SPEC §2, §3). The real
//! `spool` binary on a loopback port; records read back with `spool cat`
//! and compared as raw text where the bytes matter (metadata), or as the
//! decoded string (messages, which cat writes as JSON strings).

mod common;
use common::*;

use serde_json::Value;
use spool_proto::decode::json_text::validate;

/// The line `spool cat` must print for a record whose metadata is `compact`
/// ends with exactly this.
fn metadata_suffix(compact: &str) -> String {
    format!(",\"metadata\":{compact}}}")
}

#[track_caller]
fn ack(r: &Response, count: u64) {
    assert_eq!(r.status, 200, "ingest: {}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "accepted", "{v}");
    if count > 1 {
        assert_eq!(v["count"], count, "{v}");
    }
}

/// xorshift64*, seeded: the same "random" numbers every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn f64(&mut self) -> f64 {
        loop {
            let f = match self.next() % 3 {
                // Any finite double.
                0 => f64::from_bits(self.next()),
                // Metric-like values: long decimal expansions.
                1 => (self.next() % 10_000_000) as f64 / ((self.next() % 97 + 1) as f64),
                _ => (self.next() as i64) as f64 * 1e-9,
            };
            if f.is_finite() {
                return f;
            }
        }
    }
}

/// A raw request as curl 8 sends it for `curl -X POST -d <body> URL`
/// (plus `-H 'Content-Type: ...'` when `content_type` is given).
fn curl_post(s: &Spool, content_type: Option<&str>, body: &[u8]) -> Response {
    let ct = content_type.unwrap_or("application/x-www-form-urlencoded");
    let mut req = format!(
        "POST /ingest HTTP/1.1\r\nHost: {}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.addr,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(s.addr, &req)
}

#[test]
fn curl_examples_round_trip_byte_exact() {
    let dir = TempDir::new("fidelity-curl");
    let mut s = start(dir.path(), &[]);

    // GoStash's example: curl's default form type is read as a text line.
    ack(&curl_post(&s, None, b"System status: nominal"), 1);
    // A form-looking body is kept as sent, not form-decoded.
    ack(&curl_post(&s, None, b"a+b%20c&d=e\nWARN disk 91%+"), 2);
    // No Content-Type at all: text too.
    let body = b"no type: x=1&y=%41";
    let mut req = format!(
        "POST /ingest HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.addr,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    ack(&raw(s.addr, &req), 1);
    // The metadata example from issue 13, with curl -H 'Content-Type: application/json'.
    let metadata = r#"{"p":[1046.8333333333335,1119.0714285714287,0.1],"big":123456789012345678901234567890,"tiny":1e-400}"#;
    let record = format!(r#"{{"message":"m","metadata":{metadata}}}"#);
    ack(
        &curl_post(&s, Some("application/json"), record.as_bytes()),
        1,
    );
    // JSON allows 1e400; it is kept, not refused.
    let huge = r#"{"message":"huge","metadata":{"x":1e400,"y":-1E+400,"z":-0}}"#;
    ack(&curl_post(&s, Some("application/json"), huge.as_bytes()), 1);
    // Other unknown types stay 415.
    assert_error(
        &curl_post(&s, Some("multipart/form-data; boundary=x"), b"--x--"),
        415,
        &["multipart/form-data"],
        "multipart",
    );

    stop(&mut s);
    let lines = cat_lines(dir.path());
    assert_eq!(lines.len(), 6, "{lines:#?}");
    // serde_json refuses 1e400 (outside f64), so the last line is checked
    // as text only.
    let records: Vec<Value> = lines[..5]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages[..4],
        [
            "System status: nominal",
            "a+b%20c&d=e",
            "WARN disk 91%+",
            "no type: x=1&y=%41"
        ]
    );
    assert_eq!(records[0]["level"], "INFO");
    assert_eq!(records[2]["level"], "WARN");
    for line in &lines[..4] {
        assert!(line.ends_with(&metadata_suffix("{}")), "{line}");
    }
    assert!(
        lines[4].ends_with(&metadata_suffix(metadata)),
        "metadata changed: {}",
        lines[4]
    );
    assert!(
        lines[5].ends_with(&metadata_suffix(r#"{"x":1e400,"y":-1E+400,"z":-0}"#)),
        "{}",
        lines[5]
    );
}

#[test]
fn numbers_keys_and_whitespace_come_back_as_sent() {
    let dir = TempDir::new("fidelity-numbers");
    let mut s = start(dir.path(), &[]);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut expected = Vec::new();

    // 2,000 random doubles, each printed shortest ({}), shortest with an
    // exponent ({:e}) or with 17 significant digits ({:.16e}), 100 per
    // record, half the records as NDJSON and half as one JSON array.
    let mut records = Vec::new();
    for r in 0..20 {
        let numbers: Vec<String> = (0..100)
            .map(|i| {
                let f = rng.f64();
                match (r + i) % 3 {
                    0 => format!("{f}"),
                    1 => format!("{f:e}"),
                    _ => format!("{f:.16e}"),
                }
            })
            .collect();
        let compact = format!(r#"{{"n":[{}]}}"#, numbers.join(","));
        records.push(format!(
            r#"{{"message":"doubles {r}","metadata":{compact}}}"#
        ));
        expected.push(compact);
    }
    let ndjson = records[..10].join("\n") + "\n";
    ack(
        &post(s.addr, "/ingest", "application/x-ndjson", ndjson.as_bytes()),
        10,
    );
    let array = format!("[{}]", records[10..].join(",\n  "));
    ack(
        &post(s.addr, "/ingest", "application/json", array.as_bytes()),
        10,
    );

    // Extreme numbers, key order, duplicate keys and escapes, with
    // whitespace of every kind around the tokens.
    let cases = [
        (
            "{ \"z\" : 1 ,\n\t\"a\" : 2 ,\r\n \"m\" : 3 }",
            r#"{"z":1,"a":2,"m":3}"#,
        ),
        (
            r#"{"k":1,"k":"again","k":{"k":[1,1]}}"#,
            r#"{"k":1,"k":"again","k":{"k":[1,1]}}"#,
        ),
        (
            "{\"big\":  123456789012345678901234567890123456789 ,\"e\":[1e400 , -1e-400,\t0.0000000000000000000001e-5000, 1.7976931348623159e308]}",
            r#"{"big":123456789012345678901234567890123456789,"e":[1e400,-1e-400,0.0000000000000000000001e-5000,1.7976931348623159e308]}"#,
        ),
        (
            "{\"u64max+1\":18446744073709551616,\"i64min-1\":-9223372036854775809,\"negzero\":-0.0,\"subnormal\":4.9e-324}",
            r#"{"u64max+1":18446744073709551616,"i64min-1":-9223372036854775809,"negzero":-0.0,"subnormal":4.9e-324}"#,
        ),
        (
            "{ \"s\" : \"a \\u00e9 \\/ \\uD83D\\uDE00 \\\" b  c\" , \"é\" : [ ] , \"t\" : { } }",
            r#"{"s":"a \u00e9 \/ \uD83D\uDE00 \" b  c","é":[],"t":{}}"#,
        ),
    ];
    for (i, (sent, kept)) in cases.iter().enumerate() {
        let body = format!("{{\n  \"message\" : \"case {i}\" ,\n  \"metadata\" :\t{sent}\n}}\n");
        ack(
            &post(s.addr, "/ingest", "application/json", body.as_bytes()),
            1,
        );
        expected.push((*kept).to_owned());
    }

    stop(&mut s);
    let lines = cat_lines(dir.path());
    assert_eq!(lines.len(), expected.len());
    for (line, compact) in lines.iter().zip(&expected) {
        assert!(
            line.ends_with(&metadata_suffix(compact)),
            "stored metadata differs from what was sent\nsent: {compact}\nline: {line}"
        );
        // And the line is JSON (serde_json would refuse 1e400: it reads
        // numbers as f64).
        if let Err(e) = validate(line.as_bytes()) {
            panic!("cat line is not JSON ({e}): {line}");
        }
    }
}

#[test]
fn messages_and_services_round_trip_byte_for_byte() {
    let dir = TempDir::new("fidelity-strings");
    let mut s = start(dir.path(), &[]);
    let control: String = (0u8..0x20).map(char::from).collect();
    let messages = [
        format!("controls {control} del \u{7f} end"),
        "nul \0 in the middle \0".to_owned(),
        "ünïcödé ✓ 日本語 😀 \u{2028} \u{feff} \u{10ffff}".to_owned(),
        "quotes \" backslash \\ slash / tab \t".to_owned(),
        "  leading and trailing spaces  ".to_owned(),
        String::new(),
    ];
    // As JSON strings serde_json writes them (control characters escaped),
    // and once with every character as a \u escape (pairs for non-BMP).
    let mut bodies = Vec::new();
    for m in &messages {
        bodies.push(serde_json::to_string(m).unwrap());
        let escaped: String = m.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
        bodies.push(format!("\"{escaped}\""));
    }
    let array: Vec<String> = bodies
        .iter()
        .map(|m| format!(r#"{{"message":{m},"service":{m}}}"#))
        .collect();
    // The service must fit in 65535 bytes; these do.
    ack(
        &post(
            s.addr,
            "/ingest",
            "application/json",
            format!("[{}]", array.join(",")).as_bytes(),
        ),
        array.len() as u64,
    );
    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), messages.len() * 2);
    for (r, want) in records.iter().zip(messages.iter().flat_map(|m| [m, m])) {
        assert_eq!(r["message"].as_str().unwrap().as_bytes(), want.as_bytes());
        assert_eq!(r["service"].as_str().unwrap().as_bytes(), want.as_bytes());
    }
}

#[test]
fn timestamps_as_shippers_send_them() {
    let dir = TempDir::new("fidelity-time");
    let mut s = start(dir.path(), &[]);
    let same = "2023-11-14T22:13:20.000000000Z";
    let accepted = [
        ("1700000000", same),
        ("1700000000000", same),
        ("1700000000000000", same),
        ("1700000000000000000", same),
        ("1700000000.123456789", "2023-11-14T22:13:20.123456789Z"),
        ("1700000000.1234567891", "2023-11-14T22:13:20.123456789Z"),
        ("1700000000123.456789", "2023-11-14T22:13:20.123456789Z"),
        ("1.7e9", same),
        ("1.700000000123456E+15", "2023-11-14T22:13:20.123456000Z"),
        (r#""1700000000""#, same),
        (r#""1700000000123456789""#, "2023-11-14T22:13:20.123456789Z"),
        (r#""1.7e12""#, same),
        (
            r#""2023-11-14T23:13:20.5+01:00""#,
            "2023-11-14T22:13:20.500000000Z",
        ),
        ("2147483647", "2038-01-19T03:14:07.000000000Z"),
        ("2147483648", "1970-01-25T20:31:23.648000000Z"),
        ("18446744073709551615", "2554-07-21T23:34:33.709551615Z"),
        ("0", "1970-01-01T00:00:00.000000000Z"),
    ];
    let ndjson: String = accepted
        .iter()
        .map(|(ts, _)| format!("{{\"message\":\"t\",\"timestamp\":{ts}}}\n"))
        .collect();
    ack(
        &post(s.addr, "/ingest", "application/x-ndjson", ndjson.as_bytes()),
        accepted.len() as u64,
    );
    for (ts, shown) in [
        ("-1", "-1"),
        ("-0.5", "-0.5"),
        ("18446744073709551616", "18446744073709551616"),
        ("1e400", "1e400"),
        (r#""NaN""#, r#""NaN""#),
        (r#""-Infinity""#, r#""-Infinity""#),
        (r#""tomorrow""#, r#""tomorrow""#),
        (r#""2024-02-30T00:00:00Z""#, r#""2024-02-30T00:00:00Z""#),
    ] {
        let body = format!("{{\"message\":\"not stored\",\"timestamp\":{ts}}}\n");
        let r = post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes());
        let v = assert_error(
            &r,
            400,
            &[
                &format!("\"timestamp\" {shown} "),
                "RFC 3339",
                "seconds below 2147483648",
                "milliseconds below 2147483648000",
                "microseconds below 2147483648000000",
                "18446744073709551615",
            ],
            ts,
        );
        assert_eq!(v["line"], 1, "{v}");
    }
    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(records.len(), accepted.len());
    for (r, (ts, want)) in records.iter().zip(accepted) {
        assert_eq!(r["timestamp"], want, "sent {ts}");
    }
}

#[test]
fn every_record_error_names_its_record() {
    let dir = TempDir::new("fidelity-errors");
    let mut s = start(dir.path(), &["--max-record", "512"]);
    let seed = r#"{"message":"seed"}"#;
    ack(
        &post(s.addr, "/ingest", "application/json", seed.as_bytes()),
        1,
    );
    let big = format!(r#"{{"message":"{}"}}"#, "m".repeat(2048));
    let bad: Vec<(&str, Vec<u8>, u16, &[&str])> = vec![
        (
            "lone surrogate",
            br#"{"message":"bad \ud800"}"#.to_vec(),
            400,
            &["surrogate"],
        ),
        (
            "lone low surrogate in an ignored field",
            br#"{"message":"m","x":"\udc00"}"#.to_vec(),
            400,
            &["surrogate"],
        ),
        (
            "invalid UTF-8 in an ignored field",
            b"{\"message\":\"m\",\"ignored\":\"\xff\xfe\"}".to_vec(),
            400,
            &["UTF-8"],
        ),
        (
            "wrong type",
            br#"{"message":["not","a","string"]}"#.to_vec(),
            400,
            &["\"message\" must be a string"],
        ),
        (
            "missing message",
            br#"{"level":"ERROR"}"#.to_vec(),
            400,
            &["\"message\" is missing"],
        ),
        (
            "duplicate key",
            br#"{"message":"a","level":"info","level":"error"}"#.to_vec(),
            400,
            &["\"level\" appears more than once"],
        ),
        (
            "not an object",
            br#""just a string""#.to_vec(),
            400,
            &["must be a JSON object"],
        ),
        ("too large", big.clone().into_bytes(), 413, &["512"]),
    ];
    for (what, record, status, mentions) in &bad {
        // JSON array: the element's 0-based index.
        let mut array = br#"[{"message":"not stored"}, "#.to_vec();
        array.extend_from_slice(record);
        array.extend_from_slice(br#", {"message":"not stored either"}]"#);
        let r = post(s.addr, "/ingest", "application/json", &array);
        let v = assert_error(&r, *status, mentions, what);
        assert_eq!(v["index"], 1, "{what}: {v}");
        assert!(v.get("line").is_none(), "{what}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with("record 1: "),
            "{v}"
        );

        // NDJSON: the 1-based line (blank lines count).
        let mut nd = b"{\"message\":\"not stored\"}\n\n".to_vec();
        nd.extend_from_slice(record);
        nd.extend_from_slice(b"\n{\"message\":\"not stored\"}\n");
        let r = post(s.addr, "/ingest", "application/x-ndjson", &nd);
        let v = assert_error(&r, *status, mentions, what);
        assert_eq!(v["line"], 3, "{what}: {v}");
        assert!(v.get("index").is_none(), "{what}: {v}");
    }
    // Text: invalid UTF-8 and a line over --max-record name their line.
    for (what, body, status, mentions) in [
        (
            "text not UTF-8",
            b"fine\nstill fine\nbad \xc3\x28 byte\n".to_vec(),
            400,
            &["UTF-8"][..],
        ),
        (
            "text line too large",
            format!("fine\n\n{}\n", "t".repeat(2048)).into_bytes(),
            413,
            &["512"][..],
        ),
    ] {
        for ct in ["text/plain", "application/x-www-form-urlencoded"] {
            let r = post(s.addr, "/ingest", ct, &body);
            let v = assert_error(&r, status, mentions, what);
            assert_eq!(v["line"], 3, "{what} as {ct}: {v}");
        }
    }
    // A single object has no index.
    let r = post(
        s.addr,
        "/ingest",
        "application/json",
        br#"{"message":"bad \ud800"}"#,
    );
    let v = assert_error(&r, 400, &["surrogate"], "single object");
    assert!(v.get("index").is_none() && v.get("line").is_none(), "{v}");

    stop(&mut s);
    let records = cat(dir.path());
    assert_eq!(
        records.len(),
        1,
        "only the seed may be stored: {records:#?}"
    );
    assert_eq!(records[0]["message"], "seed");
}
