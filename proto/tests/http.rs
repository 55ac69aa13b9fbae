//! Request parsing and response writing, through the public API.

use spool_proto::http::{
    json_error, write_continue, write_head, write_json, write_response, HttpError, Limits, Method,
    Request, RequestParser, Version,
};

/// Feeds `input` all at once and returns every request, or the first error.
fn parse_all(input: &[u8], limits: Limits) -> Result<Vec<Request>, HttpError> {
    let mut parser = RequestParser::new(limits);
    let mut buf = input.to_vec();
    let mut requests = Vec::new();
    while let Some((request, consumed)) = parser.parse(&buf)? {
        buf.drain(..consumed);
        requests.push(request);
    }
    Ok(requests)
}

fn parse_one(input: &[u8]) -> Result<Request, HttpError> {
    let mut requests = parse_all(input, Limits::default())?;
    assert_eq!(requests.len(), 1, "expected exactly one request");
    Ok(requests.remove(0))
}

/// Feeds `input` byte by byte, as a connection with tiny reads would.
fn parse_trickle(input: &[u8], limits: Limits) -> Result<Vec<Request>, HttpError> {
    let mut parser = RequestParser::new(limits);
    let mut buf = Vec::new();
    let mut requests = Vec::new();
    for &b in input {
        buf.push(b);
        while let Some((request, consumed)) = parser.parse(&buf)? {
            buf.drain(..consumed);
            requests.push(request);
        }
    }
    Ok(requests)
}

const CHUNKED_POST: &[u8] = b"POST /ingest?x=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n";
const CL_POST: &[u8] = b"POST /ingest HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
const GET: &[u8] = b"GET /logs?level=ERROR&q=disk+full%21 HTTP/1.1\r\nHost: a\r\n\r\n";

#[test]
fn simple_get() {
    let r = parse_one(GET).unwrap();
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.path, "/logs");
    assert_eq!(r.query, "level=ERROR&q=disk+full%21");
    assert_eq!(r.version, Version::Http11);
    assert!(r.keep_alive);
    assert!(r.body.is_empty());
    assert_eq!(r.header("HOST"), Some(&b"a"[..]));
    assert_eq!(r.query_param("q").as_deref(), Some("disk full!"));
    assert_eq!(r.query_param("level").as_deref(), Some("ERROR"));
    assert_eq!(r.query_param("missing"), None);
}

#[test]
fn content_length_and_chunked_bodies() {
    let r = parse_one(CL_POST).unwrap();
    assert_eq!(r.body, b"hello world");
    let r = parse_one(CHUNKED_POST).unwrap();
    assert_eq!(r.body, b"hello world");
    assert_eq!(r.content_type(), Some("text/plain"));
    assert_eq!(r.query_param("x").as_deref(), Some("1"));
}

#[test]
fn every_split_point_gives_the_same_request() {
    for input in [CHUNKED_POST, CL_POST, GET] {
        let whole = parse_one(input).unwrap();
        for cut in 0..=input.len() {
            let mut parser = RequestParser::new(Limits::default());
            let (first, second) = input.split_at(cut);
            let mut buf = first.to_vec();
            let early = parser.parse(&buf).unwrap();
            if let Some((r, consumed)) = early {
                assert_eq!(cut, input.len());
                assert_eq!(consumed, input.len());
                assert_eq!(r, whole);
                continue;
            }
            buf.extend_from_slice(second);
            let (r, consumed) = parser.parse(&buf).unwrap().expect("complete");
            assert_eq!(consumed, input.len(), "cut at {cut}");
            assert_eq!(r, whole, "cut at {cut}");
        }
        assert_eq!(
            parse_trickle(input, Limits::default()).unwrap(),
            vec![whole]
        );
    }
}

#[test]
fn pipelined_requests_in_one_buffer() {
    let mut input = Vec::new();
    input.extend_from_slice(CL_POST);
    input.extend_from_slice(CHUNKED_POST);
    input.extend_from_slice(GET);
    let requests = parse_all(&input, Limits::default()).unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].body, b"hello world");
    assert_eq!(requests[1].body, b"hello world");
    assert_eq!(requests[2].path, "/logs");
    assert_eq!(parse_trickle(&input, Limits::default()).unwrap(), requests);
}

#[test]
fn leading_empty_lines_are_skipped() {
    let mut input = b"\r\n".to_vec();
    input.extend_from_slice(GET);
    assert_eq!(parse_one(&input).unwrap().path, "/logs");
}

#[test]
fn keep_alive_semantics() {
    let cases: [(&[u8], bool); 7] = [
        (b"GET / HTTP/1.1\r\n\r\n", true),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        (
            b"GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
        ),
    ];
    for (input, want) in cases {
        let r = parse_one(input).unwrap();
        assert_eq!(r.keep_alive, want, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn http_1_0_with_content_length() {
    let r = parse_one(b"POST /ingest HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi").unwrap();
    assert_eq!(r.version, Version::Http10);
    assert_eq!(r.body, b"hi");
    assert!(!r.keep_alive);
}

#[test]
fn absolute_and_asterisk_targets() {
    let r = parse_one(b"GET http://example.com/logs?limit=5 HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!((r.path.as_str(), r.query.as_str()), ("/logs", "limit=5"));
    let r = parse_one(b"GET https://example.com?limit=5 HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!((r.path.as_str(), r.query.as_str()), ("/", "limit=5"));
    let r = parse_one(b"OPTIONS * HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(r.path, "*");
    assert_eq!(r.method, Method::Options);
    let r = parse_one(b"PATCH /x HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(r.method, Method::Other("PATCH".into()));
    assert_eq!(
        parse_one(b"GET logs HTTP/1.1\r\n\r\n")
            .unwrap_err()
            .status(),
        400
    );
}

fn status_of(input: &[u8]) -> u16 {
    match parse_all(input, Limits::default()) {
        Err(e) => {
            assert!(!e.message().is_empty());
            e.status()
        }
        Ok(requests) => panic!(
            "accepted {} request(s): {}",
            requests.len(),
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn smuggling_shapes_are_rejected_with_400() {
    let cases: &[&[u8]] = &[
        // CL and TE together, in both orders.
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        // chunked not last.
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n0\r\n\r\n",
        // chunked twice, also across duplicate headers.
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // TE in HTTP/1.0.
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // several or invalid Content-Length values.
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 1,2\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length:  5x\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\nhello",
        // whitespace before the colon, obs-fold.
        b"POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n",
        // several Host headers.
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        // malformed chunk sizes and framing.
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!!\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n bad\r\n\r\n",
        // not HTTP at all.
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET /\r\n\r\n",
    ];
    for input in cases {
        assert_eq!(status_of(input), 400, "{}", String::from_utf8_lossy(input));
        // Same verdict however the bytes arrive.
        let trickled = parse_trickle(input, Limits::default());
        assert_eq!(
            trickled.map_err(|e| e.status()),
            Err(400),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn unsupported_codings_are_501() {
    assert_eq!(
        status_of(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
        501
    );
    assert_eq!(
        status_of(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        501
    );
}

#[test]
fn codings_are_case_insensitive_and_lists_tolerate_empty_elements() {
    let r =
        parse_one(b"POST / HTTP/1.1\r\nTransfer-Encoding: , Chunked ,\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
            .unwrap();
    assert_eq!(r.body, b"hi");
    let r = parse_one(b"POST / HTTP/1.1\r\nContent-Length: 2 \r\n\r\nhi").unwrap();
    assert_eq!(r.body, b"hi");
}

#[test]
fn header_limit_is_enforced_before_the_head_ends() {
    let limits = Limits {
        max_header_bytes: 64,
        ..Limits::default()
    };
    let mut parser = RequestParser::new(limits);
    let mut buf = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    assert!(parser.parse(&buf).unwrap().is_none());
    buf.extend_from_slice(&[b'a'; 64]);
    // No CRLFCRLF yet, but already over the limit.
    let err = parser.parse(&buf).unwrap_err();
    assert_eq!(err.status(), 431);
    // A head that ends just past the limit is refused too.
    let mut input = b"GET / HTTP/1.1\r\nX: ".to_vec();
    input.extend_from_slice(&[b'a'; 50]);
    input.extend_from_slice(b"\r\n\r\n");
    assert!(input.len() > 64);
    assert_eq!(parse_all(&input, limits).unwrap_err().status(), 431);
    // A request line alone over the limit is 414.
    let mut input = b"GET /".to_vec();
    input.extend_from_slice(&[b'a'; 100]);
    assert_eq!(parse_all(&input, limits).unwrap_err().status(), 414);
}

#[test]
fn too_many_headers_is_431() {
    let limits = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    let input = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    assert_eq!(parse_all(input, limits).unwrap_err().status(), 431);
    assert!(parse_all(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).is_ok());
}

#[test]
fn content_length_over_the_limit_is_413_before_the_body() {
    let limits = Limits {
        max_body: 10,
        ..Limits::default()
    };
    let mut parser = RequestParser::new(limits);
    let head = b"POST /ingest HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    assert_eq!(parser.parse(head).unwrap_err().status(), 413);
    let ok = b"POST /ingest HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_eq!(parse_all(ok, limits).unwrap()[0].body.len(), 10);
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let limits = Limits {
        max_body: 10,
        ..Limits::default()
    };
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n";
    assert_eq!(parse_all(input, limits).unwrap_err().status(), 413);
    // Decided at the size line, before the chunk's data arrives.
    let mut parser = RequestParser::new(limits);
    let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
    assert_eq!(parser.parse(head).unwrap_err().status(), 413);
}

#[test]
fn chunk_extensions_and_trailers_are_ignored() {
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b;c\r\nabc\r\n1 ; name=\"q\"\r\nd\r\n0;last\r\nA: 1\r\nB: 2\r\n\r\n";
    let r = parse_one(input).unwrap();
    assert_eq!(r.body, b"abcd");
    assert!(
        r.header("a").is_none(),
        "trailers are not merged into headers"
    );
}

#[test]
fn trailers_are_bounded() {
    let limits = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    for _ in 0..20 {
        input.extend_from_slice(b"X-Trailer: value\r\n");
    }
    input.extend_from_slice(b"\r\n");
    assert_eq!(parse_all(&input, limits).unwrap_err().status(), 431);
}

#[test]
fn a_request_without_length_or_chunked_has_an_empty_body() {
    // RFC 9112 §6.3: no Content-Length and no Transfer-Encoding is a body
    // of length zero, for POST too (`curl -X POST .../simulate`).
    for input in [
        &b"POST /ingest HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"PUT /alerts/rules HTTP/1.1\r\n\r\n",
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"HEAD / HTTP/1.1\r\n\r\n",
        b"DELETE /x HTTP/1.1\r\n\r\n",
    ] {
        assert!(parse_one(input).unwrap().body.is_empty());
    }
}

#[test]
fn expect_continue_is_signalled_until_marked() {
    let mut parser = RequestParser::new(Limits::default());
    let head = b"POST /ingest HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert!(!parser.wants_continue());
    assert!(parser.parse(head).unwrap().is_none());
    assert!(parser.wants_continue());
    parser.mark_continue_sent();
    assert!(!parser.wants_continue());
    let mut buf = head.to_vec();
    buf.extend_from_slice(b"hi");
    let (r, _) = parser.parse(&buf).unwrap().unwrap();
    assert_eq!(r.body, b"hi");
    assert!(!parser.wants_continue());
}

#[test]
fn a_replaced_buffer_restarts_parsing() {
    let mut parser = RequestParser::new(Limits::default());
    assert!(parser.parse(&CHUNKED_POST[..80]).unwrap().is_none());
    let (r, consumed) = parser.parse(GET).unwrap().unwrap();
    assert_eq!(consumed, GET.len());
    assert_eq!(r.path, "/logs");
}

#[test]
fn garbage_never_panics() {
    // A deterministic xorshift stream of inputs biased towards HTTP bytes.
    let alphabet = b"GET POST/ HTTP/1.1\r\n:Content-Length:Transfer-Encoding:chunked0123456789abcdef;\r\n\r\n\x00\xff";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let limits = Limits {
        max_header_bytes: 256,
        max_body: 256,
        max_headers: 8,
    };
    for _ in 0..3000 {
        let len = (next() % 300) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let _ = parse_all(&input, limits);
        let _ = parse_trickle(&input, limits);
    }
    // Prefixes of valid requests with random tails.
    for _ in 0..1000 {
        let mut input = CHUNKED_POST[..(next() % CHUNKED_POST.len() as u64) as usize].to_vec();
        input.extend(
            (0..(next() % 40)).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]),
        );
        let _ = parse_all(&input, limits);
    }
}

#[test]
fn responses_carry_length_and_connection() {
    let mut out = Vec::new();
    write_response(&mut out, Version::Http11, 200, &[("X-A", "b")], b"hi", true);
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 2\r\n\r\nhi"
    );

    out.clear();
    write_response(&mut out, Version::Http11, 404, &[], b"", false);
    assert_eq!(
        out,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );

    out.clear();
    write_response(&mut out, Version::Http10, 200, &[], b"x", true);
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx"
    );

    out.clear();
    write_response(&mut out, Version::Http11, 204, &[], b"ignored", true);
    assert_eq!(out, b"HTTP/1.1 204 No Content\r\n\r\n");

    out.clear();
    write_head(
        &mut out,
        Version::Http11,
        200,
        &[("X-Evil", "a\r\nInjected: 1")],
        Some(5),
        true,
    );
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nX-Evil: aInjected: 1\r\nContent-Length: 5\r\n\r\n"
    );

    out.clear();
    write_continue(&mut out);
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn json_responses_and_errors() {
    let body = json_error(400, "line 3: bad \"quote\"\n");
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["error"], "line 3: bad \"quote\"\n");
    assert_eq!(value["status"], 400);

    let mut out = Vec::new();
    write_json(
        &mut out,
        Version::Http11,
        429,
        &body,
        true,
        &[("Retry-After", "1")],
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    ));
    assert!(text.ends_with(std::str::from_utf8(&body).unwrap()));
}

#[test]
fn content_type_strips_parameters() {
    let r = parse_one(
        b"POST / HTTP/1.1\r\nContent-Type:  Application/JSON ; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}",
    )
    .unwrap();
    assert_eq!(r.content_type(), Some("Application/JSON"));
}

/// One-byte chunks: five bytes of framing per byte of data. Refused once the
/// framing passes 64 KiB and outweighs the data, long before the body limit.
#[test]
fn chunks_of_a_few_bytes_are_refused_early() {
    let mut input = b"POST /ingest HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..2_000_000 {
        input.extend_from_slice(b"1\r\nx\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    let mut parser = RequestParser::new(Limits::default());
    let err = parser.parse(&input).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.message().contains("at least 1 KiB"),
        "{}",
        err.message()
    );
    // Chunks of a line each (100 bytes) are fine.
    let mut input = b"POST /ingest HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let line = [b'y'; 99];
    for _ in 0..20_000 {
        input.extend_from_slice(b"64\r\n");
        input.extend_from_slice(&line);
        input.extend_from_slice(b"\n\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(parse_one(&input).unwrap().body.len(), 2_000_000);
}

/// A caller that drops what `take_released` hands back holds at most a read's
/// worth of raw chunked input, and still gets the same requests.
#[test]
fn released_chunked_input_can_be_dropped_as_it_is_decoded() {
    let mut input = Vec::new();
    for r in 0..3 {
        input.extend_from_slice(b"POST /ingest HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        for c in 0..500 {
            let data = format!("request {r} chunk {c} {}\n", "z".repeat(c % 300));
            input.extend_from_slice(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes());
        }
        input.extend_from_slice(b"0\r\nX-T: 1\r\n\r\n");
    }
    input.extend_from_slice(b"GET /healthz HTTP/1.1\r\n\r\n");
    let expected = parse_all(&input, Limits::default()).unwrap();
    for read in [1usize, 7, 1000, 4096] {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf: Vec<u8> = Vec::new();
        let mut got = Vec::new();
        let mut most = 0;
        for piece in input.chunks(read) {
            buf.extend_from_slice(piece);
            loop {
                match parser.parse(&buf).unwrap() {
                    Some((request, used)) => {
                        buf.drain(..used);
                        got.push(request);
                    }
                    None => {
                        let n = parser.take_released();
                        buf.drain(..n);
                        break;
                    }
                }
            }
            most = most.max(buf.len());
        }
        assert_eq!(got, expected, "reads of {read}");
        assert!(
            most <= read + 4096,
            "reads of {read}: held {most} raw bytes"
        );
    }
}
