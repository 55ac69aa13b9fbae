//! Writes the hand-made seed inputs into `fuzz/corpus/<target>/seed-*`.
//!
//! Not part of the normal test run (it writes files); regenerate with
//!
//! ```text
//! cargo test --release --manifest-path fuzz/Cargo.toml --test gen_corpus -- --ignored
//! ```
//!
//! Each seed starts with the control bytes its target documents in
//! `src/lib.rs`. The seeds are also checked against their target, so a seed
//! that fails a property is caught here.

use std::fs;
use std::path::Path;

use spool_core::entry::{Entry, Level};
use spool_core::record::{encode_frame, Lsn, SegmentHeader, SegmentId, FLAG_BATCH_START};

fn write(target: &str, name: &str, data: &[u8], run: fn(&[u8])) {
    run(data);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("seed-{name}")), data).unwrap();
}

fn entry_payload(message: &str) -> Vec<u8> {
    Entry {
        timestamp_ns: 1_700_000_000_000_000_000,
        level: Level::Warn,
        service: "api".into(),
        message: message.into(),
        metadata: r#"{"k":1}"#.into(),
    }
    .encode()
    .unwrap()
}

fn frame(epoch: u64, seq: u64, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, SegmentId(epoch), Lsn(seq), flags, payload);
    out
}

/// record_decode: ctrl, epoch u64, max u32, bytes.
fn rd(ctrl: u8, epoch: u64, max: u32, buf: &[u8]) -> Vec<u8> {
    let mut v = vec![ctrl];
    v.extend_from_slice(&epoch.to_le_bytes());
    v.extend_from_slice(&max.to_le_bytes());
    v.extend_from_slice(buf);
    v
}

/// recovery_scan: ctrl, epoch u8, previous u8, max u16, keep_bad, body.
fn rs(ctrl: u8, epoch: u8, previous: u8, max: u16, keep_bad: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ctrl, epoch, previous];
    v.extend_from_slice(&max.to_le_bytes());
    v.push(keep_bad);
    v.extend_from_slice(body);
    v
}

/// http_request: ctrl, a u16, b u16, input.
fn hr(ctrl: u8, a: u16, b: u16, input: &[u8]) -> Vec<u8> {
    let mut v = vec![ctrl];
    v.extend_from_slice(&a.to_le_bytes());
    v.extend_from_slice(&b.to_le_bytes());
    v.extend_from_slice(input);
    v
}

#[test]
#[ignore = "writes the seed corpus"]
fn generate_seeds() {
    record_decode_seeds();
    recovery_scan_seeds();
    http_request_seeds();
    entry_decoders_seeds();
    json_text_seeds();
    index_decode_seeds();
}

fn index_decode_seeds() {
    use spool_core::index::{encode, BlockTarget, IndexBuilder};
    let t = "index_decode";
    let run = spool_fuzz::index_decode;
    let id = SegmentId(3);
    let mut seg = SegmentHeader { id }.encode().to_vec();
    for i in 0..40u64 {
        let level = [Level::Info, Level::Error, Level::Warn][(i % 3) as usize];
        let e = Entry {
            timestamp_ns: 1_700_000_000_000_000_000 + (i % 7) * 1_000_000,
            level,
            service: format!("svc-{}", i % 11),
            message: format!("record {i}"),
            metadata: String::new(),
        };
        encode_frame(
            &mut seg,
            id,
            Lsn(100 + i),
            FLAG_BATCH_START,
            &e.encode().unwrap(),
        );
    }
    encode_frame(&mut seg, id, Lsn(140), 0, b"raw");
    let header = spool_core::record::SEGMENT_HEADER_LEN;
    for (name, max_records) in [("one-block", 512), ("blocks-of-4", 4), ("blocks-of-1", 1)] {
        let mut b = IndexBuilder::with_target(
            id,
            BlockTarget {
                max_bytes: 1 << 20,
                max_records,
            },
        );
        b.push_frames(&seg[header as usize..], header).unwrap();
        let mut v = vec![0u8];
        v.extend_from_slice(&encode(&b.finish()));
        write(t, name, &v, run);
        v[0] = 1 | 6 << 1;
        write(t, &format!("{name}-fix-crc"), &v, run);
    }
    write(t, "empty", &[1], run);
}

fn record_decode_seeds() {
    let t = "record_decode";
    let run = spool_fuzz::record_decode;
    let f = frame(7, 42, FLAG_BATCH_START, b"hello");
    write(t, "valid", &rd(0, 7, 1024, &f), run);
    let e = frame(1, 1, 0, &entry_payload("disk full"));
    write(t, "valid-entry", &rd(0, 1, 4096, &e), run);
    let mut two = f.clone();
    two.extend_from_slice(&frame(7, 43, 0, b"x"));
    write(t, "two-frames", &rd(0, 7, 1024, &two), run);
    write(t, "need-more-header", &rd(0, 7, 1024, &f[..10]), run);
    write(t, "need-more-payload", &rd(0, 7, 1024, &f[..22]), run);
    write(t, "zero", &rd(0, 7, 1024, &[0; 24]), run);
    let mut len0 = f.clone();
    len0[4..8].fill(0);
    write(t, "len-zero", &rd(0, 7, 1024, &len0), run);
    let mut huge = f.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    write(t, "len-huge", &rd(4, 7, 0, &huge), run);
    let mut over = f.clone();
    over[4..8].copy_from_slice(&(64u32 << 20).to_le_bytes());
    write(t, "len-at-format-max", &rd(2, 7, 0, &over), run);
    write(t, "over-max", &rd(0, 7, 4, &f), run);
    let mut flags = f.clone();
    flags[8] = 3;
    write(t, "bad-flags", &rd(1, 7, 1024, &flags), run);
    let mut reserved = f.clone();
    reserved[10] = 1;
    write(t, "bad-reserved", &rd(1, 7, 1024, &reserved), run);
    write(t, "other-epoch", &rd(0, 8, 1024, &f), run);
    let mut crc = f.clone();
    crc[21] ^= 1;
    write(t, "bad-crc", &rd(0, 7, 1024, &crc), run);
    write(t, "fix-crc", &rd(1, 99, 1024, &crc), run);
    write(t, "empty", &[], run);
}

fn segment(epoch: u64, records: &[(u64, u8, &[u8])], size: usize) -> Vec<u8> {
    let mut buf = SegmentHeader {
        id: SegmentId(epoch),
    }
    .encode()
    .to_vec();
    for &(seq, flags, payload) in records {
        encode_frame(&mut buf, SegmentId(epoch), Lsn(seq), flags, payload);
    }
    if buf.len() < size {
        buf.resize(size, 0);
    }
    buf
}

fn recovery_scan_seeds() {
    let t = "recovery_scan";
    let run = spool_fuzz::recovery_scan;
    let b = FLAG_BATCH_START;
    let recs: [(u64, u8, &[u8]); 3] =
        [(1, b, b"first"), (2, 0, b"second"), (3, b, b"third record")];
    // Body after the generated header: the frames, then zeros.
    let body = |seg: &[u8]| seg[32..].to_vec();
    let clean = segment(3, &recs, 200);
    write(t, "clean", &rs(0, 3, 0, 4096, 0, &body(&clean)), run);
    write(t, "clean-padded", &rs(4, 3, 0, 4096, 0, &body(&clean)), run);
    write(
        t,
        "previous-too-high",
        &rs(0, 3, 2, 4096, 0, &body(&clean)),
        run,
    );
    let end_two = 32 + 25 + 26;
    let mut torn = clean.clone();
    torn[end_two + 10..].fill(0);
    write(t, "torn-last", &rs(0, 3, 0, 4096, 0, &body(&torn)), run);
    let mut flipped = clean.clone();
    flipped[32 + 22] ^= 0x40;
    write(
        t,
        "corrupt-first",
        &rs(0, 3, 0, 4096, 0, &body(&flipped)),
        run,
    );
    let mut garbage = clean.clone();
    garbage[180..190].copy_from_slice(b"garbage!!!");
    write(
        t,
        "garbage-after-end",
        &rs(0, 3, 0, 4096, 0, &body(&garbage)),
        run,
    );
    let seq = segment(3, &[(5, b, b"a"), (5, b, b"b")], 100);
    write(t, "sequence", &rs(0, 3, 0, 4096, 0, &body(&seq)), run);
    // A multi-sector write whose first sector never landed.
    let mut big: Vec<(u64, u8, Vec<u8>)> = vec![(1, b, vec![0x5A; 100]), (2, 0, vec![0x5A; 100])];
    for k in 0..12 {
        big.push((3 + k, if k == 0 { b } else { 0 }, vec![0x5B; 150]));
    }
    let refs: Vec<(u64, u8, &[u8])> = big.iter().map(|(s, f, p)| (*s, *f, p.as_slice())).collect();
    let mut multi = segment(1, &refs, 2560);
    let end1 = 32 + 2 * 120;
    multi[end1..512].fill(0);
    write(
        t,
        "torn-multi-sector",
        &rs(0, 1, 0, 4096, 0, &body(&multi)),
        run,
    );
    // The same with MAX_IN_FLIGHT later writes: corruption.
    let mut later = refs.clone();
    for k in 0..4 {
        later.push((20 + k, b, b"later"));
    }
    let mut proof = segment(1, &later, 2560);
    proof[end1..512].fill(0);
    write(
        t,
        "torn-then-4-writes",
        &rs(0, 1, 0, 4096, 0, &body(&proof)),
        run,
    );
    // Raw images.
    let unwritten = segment(9, &[], 512);
    write(t, "raw-unwritten", &rs(1, 9, 0, 4096, 0, &unwritten), run);
    write(t, "raw-wrong-id", &rs(1, 8, 0, 4096, 0, &unwritten), run);
    write(t, "raw-header-id", &rs(9, 200, 0, 4096, 0, &clean), run);
    let mut magic = clean.clone();
    magic[0] = b'X';
    write(t, "raw-bad-magic", &rs(1, 3, 0, 4096, 0, &magic), run);
    write(t, "raw-short", &rs(1, 3, 0, 4096, 0, &clean[..20]), run);
    // Plausible frames without CRCs, fixed by the harness; the second left bad.
    let mut plain = Vec::new();
    for (seq, flags, payload) in recs {
        let mut fr = frame(0, seq, flags, payload);
        fr[..4].fill(0xEE);
        plain.extend_from_slice(&fr);
    }
    write(t, "fixup", &rs(2, 4, 0, 4096, 0, &plain), run);
    write(
        t,
        "fixup-keep-second",
        &rs(6, 4, 0, 4096, 0b10, &plain),
        run,
    );
    write(t, "small-max", &rs(0, 3, 0, 8, 0, &body(&clean)), run);
}

fn http_request_seeds() {
    let t = "http_request";
    let run = spool_fuzz::http_request;
    let seeds: &[(&str, &[u8])] = &[
        ("get", b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            "get-query",
            b"GET /v1/logs?since=2024-01-01T00:00:00Z&level=warn&q=a+b%20c HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            "post-length",
            b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
        ),
        (
            "post-chunked",
            b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        ),
        (
            "pipelined",
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\nGET /d HTTP/1.1\r\nConnection: close\r\n\r\n",
        ),
        (
            "http10-keepalive",
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        ),
        (
            "expect-continue",
            b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
        ),
        (
            "cl-and-te",
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "te-twice-chunked",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "te-gzip-chunked",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "te-chunked-identity",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        ),
        (
            "te-http10",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "cl-twice",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        ),
        ("cl-plus", b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc"),
        ("cl-list", b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc"),
        ("no-length", b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
        ("space-before-colon", b"GET / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc"),
        ("bare-lf", b"GET / HTTP/1.1\nHost: x\n\nGET /2 HTTP/1.1\n\n"),
        ("leading-crlf", b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
        ("absolute-form", b"GET http://example.com/p?q=1 HTTP/1.1\r\n\r\n"),
        ("options-star", b"OPTIONS * HTTP/1.1\r\n\r\n"),
        ("http2", b"GET / HTTP/2.0\r\n\r\n"),
        (
            "chunk-bare-lf",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
        ),
        (
            "chunk-overlong",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
        ),
        (
            "chunk-size-17-digits",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\na\r\n0\r\n\r\n",
        ),
        (
            "chunk-huge",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        ),
        (
            "chunk-trailer-bad",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnocolon\r\n\r\n",
        ),
        (
            "body-too-large",
            b"POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n",
        ),
        ("cl-overflow", b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
    ];
    for (i, (name, input)) in seeds.iter().enumerate() {
        let n = input.len() as u16;
        // Vary the split: the middle, a third, and byte-at-a-time.
        let ctrl = match i % 3 {
            0 => 0,
            1 => 1,
            _ => 2,
        };
        write(t, name, &hr(ctrl, n / 2, n / 3, input), run);
    }
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 1100));
    long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    write(t, "uri-too-long", &hr(0, 500, 0, &long), run);
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..20 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    write(t, "too-many-headers", &hr(0, 50, 0, &many), run);
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'v', 1100));
    big.extend_from_slice(b"\r\n\r\n");
    write(t, "headers-too-large", &hr(1, 30, 1050, &big), run);
}

fn entry_decoders_seeds() {
    let t = "entry_decoders";
    let run = spool_fuzz::entry_decoders;
    let seeds: &[(&str, u8, &[u8])] = &[
        ("text", 0, b"ERROR disk full\nwarning: slow\n[warn] x\n3 retries left\nplain line\n"),
        ("text-crlf-blank", 4, b"\r\n  \r\nINFO a\r\n\r\nfatal\tboom\r\n"),
        ("text-bom", 0, b"\xEF\xBB\xBFDEBUG bom line"),
        ("text-not-utf8", 0, b"ok\n\xff\xfe bad\n"),
        ("text-limits", 1, b"a\nb\nc\nd\n"),
        ("empty", 0, b""),
        ("blank", 0, b" \n\t\n"),
        (
            "json-object",
            4,
            br#"{"message":"hello","level":"warn","service":"api","timestamp":"2024-01-02T03:04:05.123Z","metadata":{"user":42,"tags":["a"]}}"#,
        ),
        (
            "json-array",
            8,
            br#"[{"message":"a","level":3},{"message":"b","severity_number":17,"timestamp":1700000000123},{"message":"c","timestamp":1700000000123.456,"level":null}]"#,
        ),
        ("json-ts-string-ms", 0, br#"{"message":"m","timestamp":"1700000000123"}"#),
        ("json-bad-level", 0, br#"{"message":"m","level":"loud"}"#),
        ("json-no-message", 0, br#"[{"message":"ok"},{"msg":"x"}]"#),
        ("json-metadata-array", 0, br#"{"message":"m","metadata":[1]}"#),
        ("json-scalar", 0, b"42"),
        ("json-too-many", 3, br#"[{"message":"a"},{"message":"b"}]"#),
        ("json-big-record", 2, br#"{"message":"this message is longer than the limit"}"#),
        (
            "ndjson",
            12,
            b"{\"message\":\"one\",\"level\":\"ERROR\"}\r\n\n{\"message\":\"two\",\"service\":\"s\",\"metadata\":{}}\n",
        ),
        ("ndjson-bad-line", 0, b"{\"message\":\"one\"}\nnot json\n"),
        ("ndjson-escapes", 0, b"{\"message\":\"tab\\tnl\\n\\u00e9\\ud83d\\ude00\"}\n"),
        (
            "json-metadata-numbers",
            0,
            br#"{"message":"m","metadata":{"p":[1046.8333333333335,1119.0714285714287,0.1],"big":123456789012345678901234567890,"tiny":1e-400,"huge":-1E+400,"z":-0}}"#,
        ),
        (
            "json-metadata-whitespace",
            0,
            b"{ \"message\" : \"m\" ,\r\n \"metadata\" :\t{ \"z\" : [ 1 , { } ] ,\n \"z\" : \"a \\u00e9 \\/\" } }",
        ),
        (
            "json-timestamps",
            4,
            br#"[{"message":"s","timestamp":1700000000},{"message":"us","timestamp":1700000000123456},{"message":"ns","timestamp":"1700000000123456789"},{"message":"frac","timestamp":1.7000000001234567e9},{"message":"neg","timestamp":-1}]"#,
        ),
        ("json-duplicate-key", 0, br#"{"message":"a","message":"b"}"#),
        ("json-escaped-key", 0, br#"{"\u006dessage":"m","x":1,"x":2}"#),
        (
            "json-array-bad-element",
            0,
            br#"[{"message":"ok"},{"message":"bad \ud800"}]"#,
        ),
        ("form-body", 0, b"System status: nominal\na+b%20c&d=e"),
    ];
    for (name, ctrl, body) in seeds {
        let mut v = vec![*ctrl];
        v.extend_from_slice(body);
        write(t, name, &v, run);
    }
}

fn json_text_seeds() {
    let t = "json_text";
    let run = spool_fuzz::json_text;
    let seeds: &[(&str, &[u8])] = &[
        (
            "object",
            br#"{"a":[1,-0,1e400,"x\u00e9\ud83d\ude00",true,false,null,{}],"a":{}}"#,
        ),
        (
            "whitespace",
            b" \t\r\n{ \"k\" : [ 1 , 2 ] , \"s\" : \" in string \" }\n",
        ),
        (
            "numbers",
            b"[0,-0,0.5,-1.25e-3,1E+2,123456789012345678901234567890,1e-400,4.9e-324]",
        ),
        (
            "escapes",
            br#""\" \\ \/ \b \f \n \r \t \u0000 \uFFFF \uDBFF\uDFFF""#,
        ),
        ("lone-surrogate", br#""\ud800""#),
        ("low-surrogate", br#"["\udc00"]"#),
        ("bad-utf8", b"\"\xff\xc3\""),
        ("control-char", b"\"tab\there\""),
        ("leading-zero", b"[01]"),
        ("trailing-comma", b"{\"a\":1,}"),
        ("trailing-bytes", b"{} x"),
        ("deep", &[b'['; 200]),
        ("empty", b""),
    ];
    for (name, text) in seeds {
        write(t, name, text, run);
    }
}
