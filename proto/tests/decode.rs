//! Entry decoders and the record JSON, through the public API.

use serde_json::Value;
use spool_core::entry::{Entry, EntryRef, Level};
use spool_proto::decode::{decode_entries, entry_to_json, DecodeError, DecodeLimits};

mod common;
use common::{random_document, random_number, Rng};

const NOW: u64 = 1_700_000_000_000_000_000;

fn decode(content_type: Option<&str>, body: &str) -> Result<Vec<Entry>, DecodeError> {
    decode_entries(content_type, body.as_bytes(), NOW, &DecodeLimits::default())
}

fn json(body: &str) -> Result<Vec<Entry>, DecodeError> {
    decode(Some("application/json"), body)
}

fn json_err(body: &str) -> DecodeError {
    json(body).expect_err(body)
}

#[test]
fn text_lines_with_levels() {
    let body = "ERROR disk full\r\n\n   \n[warn] slow\nWARNING: y\nerror: z\nplain line\n3 retries\nErrors happen";
    let entries = decode(Some("text/plain; charset=utf-8"), body).unwrap();
    let got: Vec<(Level, &str)> = entries
        .iter()
        .map(|e| (e.level, e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Level::Error, "ERROR disk full"),
            (Level::Warn, "[warn] slow"),
            (Level::Warn, "WARNING: y"),
            (Level::Error, "error: z"),
            (Level::Info, "plain line"),
            (Level::Info, "3 retries"),
            (Level::Info, "Errors happen"),
        ]
    );
    for e in &entries {
        assert_eq!(e.timestamp_ns, NOW);
        assert!(e.service.is_empty() && e.metadata.is_empty());
    }
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let e = &decode(Some("application/json"), "\u{feff}{\"message\":\"m\"}").unwrap()[0];
    assert_eq!(e.message, "m");
    let e = &decode(None, "\u{feff}WARN x").unwrap()[0];
    assert_eq!((e.level, e.message.as_str()), (Level::Warn, "WARN x"));
}

#[test]
fn missing_content_type_is_text() {
    let entries = decode(None, "CRITICAL boom").unwrap();
    assert_eq!(entries[0].level, Level::Critical);
}

#[test]
fn text_that_is_not_utf8_is_400_with_its_line() {
    let err = decode_entries(
        Some("text/plain"),
        b"ok\nbad \xff\xfe\n",
        NOW,
        &DecodeLimits::default(),
    )
    .unwrap_err();
    assert_eq!((err.status, err.line), (400, Some(2)));
    assert!(err.message.starts_with("line 2: "), "{}", err.message);
}

#[test]
fn empty_bodies_have_no_records() {
    for (ct, body) in [
        (Some("text/plain"), ""),
        (Some("text/plain"), "\n \r\n\t\n"),
        (Some("application/x-ndjson"), "\n\n"),
        (Some("application/json"), ""),
        (Some("application/json"), "[]"),
    ] {
        let err = decode(ct, body).unwrap_err();
        assert_eq!(err.status, 400, "{ct:?} {body:?}");
        assert_eq!(err.message, "body has no records");
    }
}

#[test]
fn unsupported_content_type_is_415() {
    let err = decode(Some("application/xml"), "<x/>").unwrap_err();
    assert_eq!(err.status, 415);
    assert!(
        err.message.contains("application/x-ndjson"),
        "{}",
        err.message
    );
    assert!(err.message.contains("text/plain"));
}

#[test]
fn content_types_are_case_insensitive_with_aliases() {
    for ct in [
        "Application/JSON",
        "application/json; charset=UTF-8",
        "APPLICATION/X-NDJSON",
        "application/ndjson",
        "application/jsonlines",
        "application/x-jsonlines",
    ] {
        let entries = decode(Some(ct), r#"{"message":"m"}"#).unwrap();
        assert_eq!(entries.len(), 1, "{ct}");
    }
}

#[test]
fn json_object_with_every_field() {
    let entries = json(
        r#"{"level":"warning","message":"slow","service":"payments","timestamp":"2024-01-02T03:04:05.123456789+01:00","metadata":{"user":42, "tags":["a"]},"extra":true}"#,
    )
    .unwrap();
    let e = &entries[0];
    assert_eq!(e.level, Level::Warn);
    assert_eq!(e.message, "slow");
    assert_eq!(e.service, "payments");
    assert_eq!(e.timestamp_ns, 1_704_161_045_123_456_789);
    let meta: Value = serde_json::from_str(&e.metadata).unwrap();
    assert_eq!(meta["user"], 42);
    assert!(!e.metadata.contains(' '), "compact: {}", e.metadata);
}

#[test]
fn json_defaults() {
    let e = &json(r#"{"message":"m","level":null,"metadata":null}"#).unwrap()[0];
    assert_eq!(e.level, Level::Info);
    assert_eq!(e.timestamp_ns, NOW);
    assert!(e.service.is_empty() && e.metadata.is_empty());
}

#[test]
fn json_levels() {
    let cases = [
        (r#"{"message":"m","level":"FATAL"}"#, Level::Critical),
        (r#"{"message":"m","level":"err"}"#, Level::Error),
        (r#"{"message":"m","level":3}"#, Level::Error),
        (r#"{"message":"m","level":"7"}"#, Level::Debug),
        (r#"{"message":"m","severity_number":17}"#, Level::Error),
        (r#"{"message":"m","severity_number":2}"#, Level::Trace),
    ];
    for (body, level) in cases {
        assert_eq!(json(body).unwrap()[0].level, level, "{body}");
    }
    for body in [
        r#"{"message":"m","level":"verbose"}"#,
        r#"{"message":"m","level":8}"#,
        r#"{"message":"m","level":-1}"#,
        r#"{"message":"m","level":2.5}"#,
        r#"{"message":"m","level":true}"#,
        r#"{"message":"m","severity_number":25}"#,
    ] {
        let err = json_err(body);
        assert_eq!(err.status, 400, "{body}");
    }
    let err = json_err(r#"{"message":"m","level":"verbose"}"#);
    assert!(err.message.contains("\"verbose\""), "{}", err.message);
    assert!(err.message.contains("WARN"), "{}", err.message);
}

#[test]
fn json_timestamps() {
    let cases = [
        (r#""1970-01-01T00:00:00Z""#, 0),
        (r#""2024-01-02T03:04:05Z""#, 1_704_164_645_000_000_000),
        (
            r#""2024-01-02T03:04:05.5-02:30""#,
            1_704_173_645_500_000_000,
        ),
        ("1704164645123", 1_704_164_645_123_000_000),
        ("1704164645123.5", 1_704_164_645_123_500_000),
        (r#""1704164645123""#, 1_704_164_645_123_000_000),
    ];
    for (ts, want) in cases {
        let body = format!(r#"{{"message":"m","timestamp":{ts}}}"#);
        assert_eq!(json(&body).unwrap()[0].timestamp_ns, want, "{ts}");
    }
    for ts in [
        r#""1969-12-31T23:59:59Z""#,
        r#""yesterday""#,
        r#""2024-02-30T00:00:00Z""#,
        "-5",
        "-0.5",
        "1e300",
        "true",
        "{}",
    ] {
        let body = format!(r#"{{"message":"m","timestamp":{ts}}}"#);
        let err = json_err(&body);
        assert_eq!(err.status, 400, "{ts}");
        assert!(err.message.contains("timestamp"), "{}", err.message);
    }
}

#[test]
fn json_record_errors() {
    let cases = [
        (r#"{"level":"INFO"}"#, "\"message\" is missing"),
        (r#"{"message":5}"#, "\"message\" must be a string"),
        (
            r#"{"message":"m","service":1}"#,
            "\"service\" must be a string",
        ),
        (
            r#"{"message":"m","metadata":"x"}"#,
            "\"metadata\" must be a JSON object",
        ),
        (
            r#"{"message":"m","metadata":[1]}"#,
            "\"metadata\" must be a JSON object",
        ),
        ("\"just a string\"", "must be a JSON object or an array"),
        ("{\"message\":", "not valid JSON"),
        (
            "{\"message\":\"a\"}\n{\"message\":\"b\"}",
            "one object per line is application/x-ndjson",
        ),
        ("[{\"message\":\"a\"}] x", "bytes follow the first value"),
    ];
    for (body, needle) in cases {
        let err = json_err(body);
        assert_eq!(err.status, 400, "{body}");
        assert!(err.message.contains(needle), "{body}: {}", err.message);
        assert_eq!((err.line, err.index), (None, None));
    }
}

#[test]
fn json_array_errors_name_the_index() {
    let entries = json(r#"[{"message":"a"},{"message":"b","level":"error"}]"#).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].level, Level::Error);

    let err = json_err(r#"[{"message":"a"},{"message":"b"},{"message":"c","metadata":3}]"#);
    assert_eq!((err.status, err.index, err.line), (400, Some(2), None));
    assert!(err.message.starts_with("record 2: "), "{}", err.message);

    let err = json_err(r#"[{"message":"a"}, 7]"#);
    assert_eq!(err.index, Some(1));
}

#[test]
fn ndjson_errors_name_the_line() {
    let body = "{\"message\":\"a\"}\r\n\n{\"message\":\"b\",\"level\":\"debug\"}\n{\"message\":\n";
    let err = decode(Some("application/x-ndjson"), body).unwrap_err();
    assert_eq!((err.status, err.line, err.index), (400, Some(4), None));
    assert!(err.message.starts_with("line 4: "), "{}", err.message);

    let body = "{\"message\":\"a\"}\n[1]\n";
    let err = decode(Some("application/x-ndjson"), body).unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(err.message.contains("JSON object"), "{}", err.message);

    let body = "{\"message\":\"a\"}\n\n{\"message\":\"b\",\"level\":\"debug\"}\n";
    let entries = decode(Some("application/x-ndjson"), body).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].level, Level::Debug);
}

#[test]
fn record_and_count_limits_are_413() {
    let limits = DecodeLimits {
        max_record_bytes: 64,
        max_records: 3,
    };
    let long = "x".repeat(100);
    let err = decode_entries(
        Some("text/plain"),
        format!("ok\n{long}\n").as_bytes(),
        NOW,
        &limits,
    )
    .unwrap_err();
    assert_eq!((err.status, err.line), (413, Some(2)));

    let body = format!(r#"[{{"message":"ok"}},{{"message":"{long}"}}]"#);
    let err = decode_entries(Some("application/json"), body.as_bytes(), NOW, &limits).unwrap_err();
    assert_eq!((err.status, err.index), (413, Some(1)));

    for (ct, body) in [
        ("text/plain", "a\nb\nc\nd\n".to_owned()),
        ("application/x-ndjson", "{\"message\":\"a\"}\n".repeat(4)),
        (
            "application/json",
            format!("[{}]", ["{\"message\":\"a\"}"; 4].join(",")),
        ),
    ] {
        let err = decode_entries(Some(ct), body.as_bytes(), NOW, &limits).unwrap_err();
        assert_eq!(err.status, 413, "{ct}");
        assert!(
            err.message.contains("more than 3 records"),
            "{}",
            err.message
        );
    }
    let exactly = "a\nb\nc\n";
    assert_eq!(
        decode_entries(Some("text/plain"), exactly.as_bytes(), NOW, &limits)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn entry_json_round_trips() {
    let entry = Entry {
        timestamp_ns: 1_704_164_645_123_456_789,
        level: Level::Error,
        service: "pay\"ments".into(),
        message: "line1\nline2 \u{1} \\ ünï".into(),
        metadata: r#"{"user":42}"#.into(),
    };
    let payload = entry.encode().unwrap();
    let view = EntryRef::decode(&payload).unwrap();
    let mut out = Vec::new();
    entry_to_json(7, &view, &mut out);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["id"], "7");
    assert_eq!(v["timestamp"], "2024-01-02T03:04:05.123456789Z");
    assert_eq!(v["level"], "ERROR");
    assert_eq!(v["service"], "pay\"ments");
    assert_eq!(v["message"], "line1\nline2 \u{1} \\ ünï");
    assert_eq!(v["metadata"]["user"], 42);

    // Back through the JSON decoder gives the same entry.
    let again =
        decode_entries(Some("application/json"), &out, 0, &DecodeLimits::default()).unwrap();
    assert_eq!(again, vec![entry]);
}

#[test]
fn entry_json_with_empty_fields() {
    let view = EntryRef {
        timestamp_ns: 0,
        level: Level::Info,
        service: "",
        message: "",
        metadata: "",
    };
    let mut out = Vec::new();
    entry_to_json(u64::MAX, &view, &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"id":"18446744073709551615","timestamp":"1970-01-01T00:00:00.000000000Z","level":"INFO","service":"","message":"","metadata":{}}"#
    );
}

#[test]
fn garbage_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"{}[]\":,0123456789.eE-+ \n\r\tmessagelevtimsp\\u\xff\xc3";
    for _ in 0..5000 {
        let len = (next() % 80) as usize;
        let body: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        for ct in ["text/plain", "application/json", "application/x-ndjson"] {
            let _ = decode_entries(Some(ct), &body, NOW, &DecodeLimits::default());
        }
    }
}

// ---------------------------------------------------------------------------
// Fidelity: metadata is the producer's JSON text minus insignificant
// whitespace; strings are the strings sent; timestamps as shippers send them.
// ---------------------------------------------------------------------------

#[test]
fn metadata_numbers_are_kept_as_written() {
    let body = r#"{"message":"m","metadata":{"p":[1046.8333333333335,1119.0714285714287,0.1],"big":123456789012345678901234567890,"tiny":1e-400}}"#;
    let e = &json(body).unwrap()[0];
    assert_eq!(
        e.metadata,
        r#"{"p":[1046.8333333333335,1119.0714285714287,0.1],"big":123456789012345678901234567890,"tiny":1e-400}"#
    );
    let e = &json(r#"{"message":"m","metadata":{"huge":1e400,"neg":-1E+400,"z":-0,"f":-0.0e-0}}"#)
        .unwrap()[0];
    assert_eq!(
        e.metadata,
        r#"{"huge":1e400,"neg":-1E+400,"z":-0,"f":-0.0e-0}"#
    );
}

#[test]
fn metadata_keeps_order_duplicates_and_escapes_without_whitespace() {
    let body = "{\"message\":\"m\",\"metadata\" :\r\n { \"z\" : 1 ,\n\t\"a\":[ 1 , 2 ],\"z\":\"dup\", \"s\":\"a \\u00e9 \\/ \\uD83D\\uDE00 b\",\"é\":{ }} }";
    let e = &json(body).unwrap()[0];
    assert_eq!(
        e.metadata,
        r#"{"z":1,"a":[1,2],"z":"dup","s":"a \u00e9 \/ \uD83D\uDE00 b","é":{}}"#
    );
    for (ct, body) in [
        (
            "application/x-ndjson",
            body.replace(['\r', '\n'], " ") + "\n",
        ),
        ("application/json", format!("[{body}]")),
    ] {
        let got = decode(Some(ct), &body).unwrap();
        assert_eq!(got[0].metadata, e.metadata, "{ct}");
    }
}

/// Random metadata documents (random numbers, strings, nesting, duplicate
/// keys, whitespace) are stored as the input minus insignificant whitespace,
/// byte for byte, through every JSON body form.
#[test]
fn random_metadata_is_stored_as_sent() {
    let mut rng = Rng::new(0x5eed_0003);
    for i in 0..2000 {
        let doc = random_document(&mut rng, 4);
        let record = format!(
            "{{ \"message\" : \"r{i}\" , \"metadata\" :{} , \"x\": {} }}",
            doc.pretty,
            random_number(&mut rng)
        );
        let e = &json(&record).unwrap_or_else(|e| panic!("{e}: {record}"))[0];
        assert_eq!(e.metadata, doc.compact, "record: {record}");
        let nd = decode(
            Some("application/x-ndjson"),
            &record.replace(['\n', '\r'], " "),
        );
        let nd = &nd.unwrap_or_else(|e| panic!("{e}: {record}"))[0];
        assert_eq!(nd.metadata, doc.compact, "NDJSON record: {record}");
        let arr = format!("[{record} ,\n{record}]");
        for e in json(&arr).unwrap() {
            assert_eq!(e.metadata, doc.compact, "array: {arr}");
        }
    }
}

#[test]
fn strings_are_stored_as_the_decoded_string() {
    let body = r#"{"message":"nul \u0000 bell \u0007 esc \u001b del \u007f \"q\" \\ \/ \ud83d\ude00 é","service":"sv\u00e9","level":"\u0057ARN"}"#;
    let e = &json(body).unwrap()[0];
    assert_eq!(
        e.message,
        "nul \0 bell \u{7} esc \u{1b} del \u{7f} \"q\" \\ / 😀 é"
    );
    assert_eq!(e.service, "své");
    assert_eq!(e.level, Level::Warn);
    // A member name with escapes is the name it decodes to.
    let e = &json(r#"{"\u006dessage":"escaped key","lev\u0065l":"error"}"#).unwrap()[0];
    assert_eq!((e.message.as_str(), e.level), ("escaped key", Level::Error));
}

#[test]
fn a_known_field_twice_is_refused_naming_it() {
    for (body, key) in [
        (r#"{"message":"a","message":"b"}"#, "message"),
        (r#"{"message":"a","level":"info","level":"error"}"#, "level"),
        (
            r#"{"message":"a","metadata":{},"metadata":null}"#,
            "metadata",
        ),
        (
            r#"{"message":"a","timestamp":1,"timestamp":2}"#,
            "timestamp",
        ),
        (r#"{"message":"a","service":null,"service":"x"}"#, "service"),
        (r#"{"message":"a","\u006dessage":"b"}"#, "message"),
        (
            r#"{"message":"a","severity_number":1,"severity_number":2}"#,
            "severity_number",
        ),
    ] {
        let err = json_err(body);
        assert_eq!(err.status, 400, "{body}");
        assert!(
            err.message
                .contains(&format!("\"{key}\" appears more than once")),
            "{body}: {}",
            err.message
        );
    }
    // Unknown fields may repeat; they are ignored.
    let e = &json(r#"{"message":"a","x":1,"x":2}"#).unwrap()[0];
    assert_eq!(e.message, "a");
}

#[test]
fn ignored_fields_are_checked_like_the_rest() {
    for body in [
        r#"{"message":"m","x":"\ud800"}"#,
        r#"{"message":"m","x":"\udc00"}"#,
        r#"{"message":"m","x":[1,]}"#,
        r#"{"message":"m","x":01}"#,
        r#"{"message":"m","x":"tab	inside"}"#,
        r#"{"message":"m","x":{"a":NaN}}"#,
    ] {
        let err = json_err(body);
        assert_eq!(err.status, 400, "{body}");
        assert!(
            err.message.contains("not valid JSON at byte"),
            "{body}: {}",
            err.message
        );
    }
    let err = decode_entries(
        Some("application/json"),
        b"{\"message\":\"m\",\"x\":\"\xcd\"}",
        NOW,
        &DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(err.message.contains("UTF-8"), "{}", err.message);
    // Numbers of any size are valid JSON, wherever they are.
    let e = &json(r#"{"message":"m","x":1e400,"y":[123456789012345678901234567890]}"#).unwrap()[0];
    assert_eq!(e.message, "m");
}

/// Every kind of per-record problem names its record: `index` in arrays,
/// `line` in NDJSON and text.
#[test]
fn every_record_error_names_the_record() {
    let limits = DecodeLimits {
        max_record_bytes: 100,
        max_records: 100,
    };
    let long = "x".repeat(200);
    let bad_records: &[(&[u8], u16, &str)] = &[
        (br#"{"message":"bad \ud800"}"#, 400, "surrogate"),
        (b"{\"message\":\"m\",\"ignored\":\"\xff\"}", 400, "UTF-8"),
        (br#"{"message":5}"#, 400, "\"message\" must be a string"),
        (br#"{"level":"INFO"}"#, 400, "\"message\" is missing"),
        (
            br#"{"message":"a","message":"b"}"#,
            400,
            "appears more than once",
        ),
        (br#"{"message":"m","timestamp":-1}"#, 400, "timestamp"),
        (br#"{"message":"m","metadata":[]}"#, 400, "metadata"),
        (br#"{"message":"m" "level":1}"#, 400, "not valid JSON"),
        (br#"7"#, 400, "must be a JSON object"),
        (br#"{"message":"m""#, 400, "not valid JSON"),
    ];
    let long_record = format!(r#"{{"message":"{long}"}}"#);
    let mut cases: Vec<(&[u8], u16, &str)> = bad_records.to_vec();
    cases.push((long_record.as_bytes(), 413, "more than the limit"));
    for (record, status, needle) in cases {
        let shown = String::from_utf8_lossy(record);
        let mut array = b"[{\"message\":\"ok\"},\n ".to_vec();
        array.extend_from_slice(record);
        array.push(b']');
        let err = decode_entries(Some("application/json"), &array, NOW, &limits).unwrap_err();
        assert_eq!(
            (err.status, err.index, err.line),
            (status, Some(1), None),
            "{shown}: {err:?}"
        );
        assert!(
            err.message.starts_with("record 1: "),
            "{shown}: {}",
            err.message
        );
        assert!(err.message.contains(needle), "{shown}: {}", err.message);

        let mut nd = b"{\"message\":\"ok\"}\n\n".to_vec();
        nd.extend_from_slice(record);
        nd.extend_from_slice(b"\n{\"message\":\"after\"}\n");
        let err = decode_entries(Some("application/x-ndjson"), &nd, NOW, &limits).unwrap_err();
        assert_eq!(
            (err.status, err.line, err.index),
            (status, Some(3), None),
            "{shown}: {err:?}"
        );
        assert!(
            err.message.starts_with("line 3: "),
            "{shown}: {}",
            err.message
        );
        assert!(err.message.contains(needle), "{shown}: {}", err.message);

        // A single object has no index.
        if record.starts_with(b"{") {
            let err = decode_entries(Some("application/json"), record, NOW, &limits).unwrap_err();
            assert_eq!(
                (err.status, err.index, err.line),
                (status, None, None),
                "{shown}"
            );
        }
    }
    // Text: invalid UTF-8 and too large name their line.
    for (body, status) in [
        (b"ok\n\nbad \xc3(\n".to_vec(), 400),
        (format!("ok\n\n{long}\n").into_bytes(), 413),
    ] {
        let err = decode_entries(Some("text/plain"), &body, NOW, &limits).unwrap_err();
        assert_eq!((err.status, err.line, err.index), (status, Some(3), None));
    }
}

#[test]
fn form_type_and_no_type_are_text_as_sent() {
    for ct in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
    ] {
        let got = decode(ct, "System status: nominal\na+b%20c&d=e\n").unwrap();
        let messages: Vec<&str> = got.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["System status: nominal", "a+b%20c&d=e"],
            "{ct:?}"
        );
        assert!(got
            .iter()
            .all(|e| e.level == Level::Info && e.metadata.is_empty()));
    }
    for ct in [
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "text/html",
    ] {
        assert_eq!(decode(Some(ct), "x").unwrap_err().status, 415, "{ct}");
    }
}

#[test]
fn timestamps_as_shippers_send_them() {
    const T: u64 = 1_700_000_000_000_000_000;
    let cases = [
        ("1700000000", T),
        ("1700000000123", T + 123_000_000),
        ("1700000000123456", T + 123_456_000),
        ("1700000000123456789", T + 123_456_789),
        ("1700000000.123456789", T + 123_456_789),
        ("1.7e9", T),
        ("1.700000000123E+12", T + 123_000_000),
        (r#""1700000000""#, T),
        (r#"" 1700000000.5 ""#, T + 500_000_000),
        (r#""1700000000123456789""#, T + 123_456_789),
        (r#""2023-11-14T22:13:20.123456789Z""#, T + 123_456_789),
        (r#""2023-11-15T00:13:20+02:00""#, T),
        ("0", 0),
        ("null", NOW),
    ];
    for (ts, want) in cases {
        let body = format!(r#"{{"message":"m","timestamp":{ts}}}"#);
        assert_eq!(json(&body).unwrap()[0].timestamp_ns, want, "{ts}");
    }
    for (ts, shown) in [
        ("-1", "-1"),
        ("-0.001", "-0.001"),
        ("1e400", "1e400"),
        ("18446744073709551616", "18446744073709551616"),
        (r#""-5""#, r#""-5""#),
        (r#""NaN""#, r#""NaN""#),
        (r#""Infinity""#, r#""Infinity""#),
        (r#""soon""#, r#""soon""#),
        (r#""1e999""#, r#""1e999""#),
    ] {
        let body = format!(r#"{{"message":"m","timestamp":{ts}}}"#);
        let err = json_err(&body);
        assert_eq!(err.status, 400, "{ts}");
        assert!(
            err.message.contains(&format!("\"timestamp\" {shown} ")),
            "{ts}: {}",
            err.message
        );
        for needle in [
            "RFC 3339",
            "2147483648",
            "2147483648000",
            "2147483648000000",
            "2554-07-21",
        ] {
            assert!(err.message.contains(needle), "{ts}: {}", err.message);
        }
    }
    let err = json_err(r#"{"message":"m","timestamp":true}"#);
    assert!(
        err.message.contains("must be a string or a number"),
        "{}",
        err.message
    );
    // A long value is shown cut short.
    let body = format!(r#"{{"message":"m","timestamp":"{}"}}"#, "9".repeat(5000));
    let err = json_err(&body);
    assert!(err.message.len() < 600, "{}", err.message);
}

#[test]
fn an_rfc3339_time_out_of_range_says_so() {
    for (ts, says) in [
        ("1969-12-31T23:59:59Z", "before 1970"),
        ("9999-12-31T23:59:59Z", "after 2554-07-21"),
        ("2024-13-01T00:00:00Z", "is not RFC 3339 or a Unix time"),
    ] {
        let err = json_err(&format!(r#"{{"message":"m","timestamp":"{ts}"}}"#));
        assert_eq!(err.status, 400);
        assert!(err.message.contains(says), "{ts}: {}", err.message);
        assert!(
            err.message.contains(ts),
            "the value is shown: {}",
            err.message
        );
    }
}
