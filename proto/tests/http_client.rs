//! The webhook's HTTP client side: URL checking, the request bytes, and
//! reading the status code of the answer however it is split.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use spool_proto::http::client::{
    parse_http_url, write_post, Host, HttpUrl, ResponseError, ResponseReader, UrlError,
    DEFAULT_MAX_HEAD,
};

fn url(s: &str) -> HttpUrl {
    match parse_http_url(s) {
        Ok(url) => url,
        Err(e) => panic!("{s:?} refused: {e}"),
    }
}

#[test]
fn url_name_with_defaults() {
    let u = url("http://hooks.example.com");
    assert_eq!(u.host(), &Host::Name("hooks.example.com".into()));
    assert_eq!(u.port(), 80);
    assert_eq!(u.path_and_query(), "/");
    assert_eq!(u.host_header(), "hooks.example.com");
    assert_eq!(u.socket_addr(), None);
    assert_eq!(u.to_string(), "http://hooks.example.com/");
}

#[test]
fn url_port_path_and_query() {
    let u = url("HTTP://alerts.internal:8081/hooks/spool?token=a%20b&x=1");
    assert_eq!(u.host(), &Host::Name("alerts.internal".into()));
    assert_eq!(u.port(), 8081);
    assert_eq!(u.path_and_query(), "/hooks/spool?token=a%20b&x=1");
    assert_eq!(u.host_header(), "alerts.internal:8081");
}

#[test]
fn url_query_without_path_gets_root() {
    let u = url("http://h:9000?k=v");
    assert_eq!(u.path_and_query(), "/?k=v");
    assert_eq!(u.port(), 9000);
}

#[test]
fn url_ipv4() {
    let u = url("http://127.0.0.1:9/x");
    assert_eq!(u.host(), &Host::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(
        u.socket_addr(),
        Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 9)))
    );
    assert_eq!(u.host_header(), "127.0.0.1:9");
}

#[test]
fn url_ipv6_in_brackets() {
    let u = url("http://[::1]:8080/hook");
    assert_eq!(u.host(), &Host::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(u.host_header(), "[::1]:8080");
    assert_eq!(
        u.socket_addr(),
        Some(SocketAddr::from((Ipv6Addr::LOCALHOST, 8080)))
    );
    let u = url("http://[fe80::1]");
    assert_eq!(u.port(), 80);
    assert_eq!(u.host_header(), "[fe80::1]");
    assert_eq!(u.to_string(), "http://[fe80::1]/");
}

#[test]
fn url_name_with_trailing_dot_and_underscore() {
    assert_eq!(
        url("http://my_host.example.").host(),
        &Host::Name("my_host.example.".into())
    );
}

#[test]
fn url_https_says_tls_is_not_supported() {
    for s in ["https://hooks.slack.com/services/x", "HTTPS://h/"] {
        let e = parse_http_url(s).unwrap_err();
        assert_eq!(e, UrlError::TlsUnsupported);
        let msg = e.to_string();
        assert!(msg.contains("https://"), "{msg}");
        assert!(msg.contains("proxy"), "{msg}");
    }
}

#[test]
fn url_refusals() {
    let cases: &[(&str, UrlError)] = &[
        ("", UrlError::Empty),
        ("hooks.example.com/x", UrlError::MissingScheme),
        ("://h/", UrlError::MissingScheme),
        ("ftp://h/", UrlError::UnsupportedScheme("ftp".into())),
        ("WS://h/", UrlError::UnsupportedScheme("ws".into())),
        ("http://user:pass@h/", UrlError::Userinfo),
        ("http://user@h/", UrlError::Userinfo),
        ("http:///path", UrlError::EmptyHost),
        ("http://", UrlError::EmptyHost),
        ("http://:80/", UrlError::EmptyHost),
        ("http://h:/", UrlError::BadPort(String::new())),
        ("http://h:0/", UrlError::BadPort("0".into())),
        ("http://h:65536/", UrlError::BadPort("65536".into())),
        ("http://h:8o/", UrlError::BadPort("8o".into())),
        ("http://h:-1/", UrlError::BadPort("-1".into())),
        ("http://h/p#frag", UrlError::Fragment),
        ("http://h#", UrlError::Fragment),
        ("http://h/a b", UrlError::BadCharacter { at: 10 }),
        ("http://h/\r\nX: y", UrlError::BadCharacter { at: 9 }),
        ("http://h/\t", UrlError::BadCharacter { at: 9 }),
        (" http://h/", UrlError::BadCharacter { at: 0 }),
        ("http://hé/", UrlError::BadCharacter { at: 8 }),
        ("http://h\x7f/", UrlError::BadCharacter { at: 8 }),
    ];
    for (input, want) in cases {
        assert_eq!(parse_http_url(input).as_ref(), Err(want), "{input:?}");
    }
}

#[test]
fn url_bad_hosts() {
    for s in [
        "http://a..b/",
        "http://-h/",
        "http://h-.example/",
        "http://h%41/",
        "http://1.2.3/",
        "http://999.0.0.1/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[not-v6]/",
        "http://[fe80::1%25eth0]/",
        "http://::1/",
        "http://h:1:2/",
    ] {
        match parse_http_url(s) {
            Err(UrlError::BadHost(_)) | Err(UrlError::BadPort(_)) => {}
            other => panic!("{s:?}: {other:?}"),
        }
    }
    let long_label = format!("http://{}.com/", "a".repeat(64));
    assert!(matches!(
        parse_http_url(&long_label),
        Err(UrlError::BadHost(_))
    ));
}

#[test]
fn url_errors_never_echo_credentials() {
    let e = parse_http_url("http://admin:hunter2@h/").unwrap_err();
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn post_request_bytes_default_port() {
    let mut out = b"already here|".to_vec();
    write_post(
        &mut out,
        &url("http://hooks.example.com/a?b=c"),
        "application/json",
        br#"{"x":1}"#,
    );
    let want = format!(
        "already here|POST /a?b=c HTTP/1.1\r\n\
         Host: hooks.example.com\r\n\
         User-Agent: spool/{}\r\n\
         Content-Type: application/json\r\n\
         Content-Length: 7\r\n\
         Connection: close\r\n\
         \r\n\
         {{\"x\":1}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(String::from_utf8_lossy(&out), want);
}

#[test]
fn post_request_bytes_ipv6_port_and_empty_body() {
    let mut out = Vec::new();
    write_post(&mut out, &url("http://[::1]:8081"), "text/plain", b"");
    let want = format!(
        "POST / HTTP/1.1\r\nHost: [::1]:8081\r\nUser-Agent: spool/{}\r\n\
         Content-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(String::from_utf8_lossy(&out), want);
}

#[test]
fn post_content_type_cannot_add_headers() {
    let mut out = Vec::new();
    write_post(&mut out, &url("http://h/"), "a/b\r\nX-Evil: 1", b"");
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("Content-Type: a/bX-Evil: 1\r\n"), "{text}");
    assert_eq!(text.matches("\r\n").count(), 7, "{text}");
}

/// Feeds `input` one byte at a time; the result of the push that
/// completed the status, and how many bytes that took.
fn trickle(input: &[u8], max_head: usize) -> (Result<Option<u16>, ResponseError>, usize) {
    let mut reader = ResponseReader::new(max_head);
    for (i, b) in input.iter().enumerate() {
        match reader.push(std::slice::from_ref(b)) {
            Ok(None) => {}
            other => return (other, i + 1),
        }
    }
    (Ok(None), input.len())
}

#[test]
fn status_whole() {
    let mut r = ResponseReader::default();
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(r.push(resp), Ok(Some(200)));
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.push(b"more body"), Ok(Some(200)));
    assert_eq!(r.closed(), Ok(200));
}

#[test]
fn status_one_byte_at_a_time() {
    let head = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nServer: x\r\n\r\n";
    let (got, used) = trickle(head, DEFAULT_MAX_HEAD);
    assert_eq!(got, Ok(Some(503)));
    assert_eq!(
        used,
        head.len(),
        "the status arrives with the last byte of the head"
    );
}

#[test]
fn status_in_every_two_way_split() {
    let resp = b"HTTP/1.0 404 Not Found\r\nA: b\r\n\r\nbody";
    for cut in 0..=resp.len() {
        let mut r = ResponseReader::default();
        let (a, b) = resp.split_at(cut);
        let first = r.push(a).expect("first half");
        let status = match first {
            Some(s) => s,
            None => r.push(b).expect("second half").expect("status"),
        };
        assert_eq!(status, 404, "cut at {cut}");
    }
}

#[test]
fn status_with_bare_lf_lines() {
    let mut r = ResponseReader::default();
    assert_eq!(r.push(b"HTTP/1.1 201 Created\nA: b\n\n"), Ok(Some(201)));
}

#[test]
fn continue_then_no_content() {
    let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nDate: x\r\n\r\n";
    let mut r = ResponseReader::default();
    assert_eq!(r.push(resp), Ok(Some(204)));
    let (got, used) = trickle(resp, DEFAULT_MAX_HEAD);
    assert_eq!(got, Ok(Some(204)));
    assert_eq!(used, resp.len());
    // The interim head alone is not an answer.
    let mut r = ResponseReader::default();
    assert_eq!(r.push(b"HTTP/1.1 100 Continue\r\n\r\n"), Ok(None));
    assert_eq!(r.status(), None);
    assert!(matches!(
        r.closed(),
        Err(ResponseError::ClosedBeforeStatus { received: 25 })
    ));
}

#[test]
fn several_interim_responses() {
    let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n";
    let (got, _) = trickle(resp, DEFAULT_MAX_HEAD);
    assert_eq!(got, Ok(Some(202)));
}

#[test]
fn switching_protocols_is_an_error() {
    let mut r = ResponseReader::default();
    assert!(matches!(
        r.push(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
        Err(ResponseError::Malformed(_))
    ));
}

#[test]
fn oversized_head() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    while head.len() < 300 {
        head.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaa\r\n");
    }
    head.extend_from_slice(b"\r\n");
    // Whole, and trickled (the bound holds before the head ends).
    let mut r = ResponseReader::new(256);
    assert_eq!(
        r.push(&head),
        Err(ResponseError::HeadTooLarge { limit: 256 })
    );
    assert_eq!(r.push(b""), Err(ResponseError::HeadTooLarge { limit: 256 }));
    assert_eq!(r.closed(), Err(ResponseError::HeadTooLarge { limit: 256 }));
    let (got, used) = trickle(&head, 256);
    assert_eq!(got, Err(ResponseError::HeadTooLarge { limit: 256 }));
    assert_eq!(used, 257);
    // The same head fits a larger bound.
    assert_eq!(ResponseReader::new(4096).push(&head), Ok(Some(200)));
}

#[test]
fn interim_heads_count_towards_the_bound() {
    let mut resp = Vec::new();
    for _ in 0..20 {
        resp.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    resp.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    let mut r = ResponseReader::new(200);
    assert_eq!(
        r.push(&resp),
        Err(ResponseError::HeadTooLarge { limit: 200 })
    );
}

#[test]
fn garbage_is_refused_early() {
    for junk in [
        &b"<html><body>hello"[..],
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"\x16\x03\x01\x02\x00",
        b"HTTP/2 200\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
    ] {
        let (got, used) = trickle(junk, DEFAULT_MAX_HEAD);
        assert!(
            matches!(got, Err(ResponseError::Malformed(_))),
            "{junk:?}: {got:?}"
        );
        assert!(used <= 7, "{junk:?} refused only after {used} bytes");
    }
}

#[test]
fn malformed_heads() {
    for bad in [
        &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
    ] {
        let mut r = ResponseReader::default();
        let got = r.push(bad);
        assert!(
            matches!(got, Err(ResponseError::Malformed(_))),
            "{bad:?}: {got:?}"
        );
        assert_eq!(r.push(b"HTTP/1.1 200 OK\r\n\r\n"), got, "errors are sticky");
    }
}

#[test]
fn closed_before_status() {
    let r = ResponseReader::default();
    assert_eq!(
        r.closed(),
        Err(ResponseError::ClosedBeforeStatus { received: 0 })
    );
    let mut r = ResponseReader::default();
    assert_eq!(r.push(b"HTTP/1.1 200 OK\r\nA: b\r\n"), Ok(None));
    let e = r.closed().unwrap_err();
    assert_eq!(e, ResponseError::ClosedBeforeStatus { received: 23 });
    assert!(e.to_string().contains("23 bytes"), "{e}");
}
