//! The `Host` and `Origin` checks (`spool_proto::http::origin`), through the
//! public API: parsing of hosts and origins in many shapes, the allow-lists,
//! and the decision for whole requests.

use std::net::{Ipv4Addr, Ipv6Addr};

use spool_proto::http::origin::{
    AllowedHosts, AllowedOrigins, Authority, HostName, Origin, Refusal, Scheme, WebAccess,
};
use spool_proto::http::{Limits, Request, RequestParser};

fn name(s: &str) -> HostName {
    HostName::Name(s.to_owned())
}

fn authority(value: &str) -> Option<Authority> {
    Authority::parse(value.as_bytes())
}

#[test]
fn host_values_that_parse() {
    let cases: &[(&str, HostName, Option<u16>)] = &[
        ("localhost", name("localhost"), None),
        ("localhost:8080", name("localhost"), Some(8080)),
        ("LocalHost:8080", name("localhost"), Some(8080)),
        ("localhost.:8080", name("localhost"), Some(8080)),
        ("127.0.0.1", HostName::Ipv4(Ipv4Addr::LOCALHOST), None),
        (
            "127.0.0.1:80",
            HostName::Ipv4(Ipv4Addr::LOCALHOST),
            Some(80),
        ),
        (
            "10.1.2.3:65535",
            HostName::Ipv4(Ipv4Addr::new(10, 1, 2, 3)),
            Some(65535),
        ),
        ("[::1]", HostName::Ipv6(Ipv6Addr::LOCALHOST), None),
        (
            "[::1]:8080",
            HostName::Ipv6(Ipv6Addr::LOCALHOST),
            Some(8080),
        ),
        (
            "[0:0:0:0:0:0:0:1]:1",
            HostName::Ipv6(Ipv6Addr::LOCALHOST),
            Some(1),
        ),
        (
            "[::FFFF:127.0.0.1]",
            HostName::Ipv6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
            None,
        ),
        ("Logs.Example.COM", name("logs.example.com"), None),
        ("my_host-1.lan:08080", name("my_host-1.lan"), Some(8080)),
        ("  localhost:1 \t", name("localhost"), Some(1)),
        // Not dotted-quad IPv4 (browsers never send these): names, not loopback.
        ("127.1", name("127.1"), None),
        ("127.0.0.1.nip.io", name("127.0.0.1.nip.io"), None),
        ("127.0.0.1.", name("127.0.0.1"), None),
        ("2130706433", name("2130706433"), None),
    ];
    for (value, host, port) in cases {
        let got = authority(value).unwrap_or_else(|| panic!("{value:?} should parse"));
        assert_eq!(&got.host, host, "{value:?}");
        assert_eq!(got.port, *port, "{value:?}");
    }
}

#[test]
fn host_values_that_are_malformed() {
    for value in [
        "",
        " ",
        ":8080",
        "localhost:",
        "localhost:http",
        "localhost:65536",
        "localhost:123456",
        "localhost:-1",
        "localhost:+80",
        "localhost:80:80",
        "::1",
        "::1:8080",
        "[::1",
        "::1]",
        "[::1]8080",
        "[::1]:",
        "[127.0.0.1]",
        "[fe80::1%25eth0]",
        "[v1.fe]",
        "[localhost]",
        "127.0.0.1@evil.com",
        "user:pass@localhost",
        "localhost@127.0.0.1",
        "evil.com#@127.0.0.1",
        "local%68ost",
        "127.0.0.1%2f",
        "localhost/",
        "localhost/path",
        "localhost?x",
        "local host",
        "a..b",
        ".localhost",
        ".",
        "..",
        "localhost..",
        "lоcalhost", // Cyrillic о
        "bücher.example",
        "*.localhost",
        "http://localhost",
        "localhost,evil.com",
        "localhost;evil.com",
    ] {
        assert_eq!(authority(value), None, "{value:?} should be malformed");
    }
    assert_eq!(Authority::parse(b"local\xffhost"), None);
    assert_eq!(Authority::parse(b"localhost\0"), None);
}

#[test]
fn loopback_names_and_ip_literals() {
    for value in [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "app.localhost",
        "a.b.localhost.",
        "evil.localhost",
    ] {
        let host = HostName::parse(value.as_bytes()).unwrap();
        assert!(host.is_loopback_name(), "{value:?}");
        assert!(!host.is_ip(), "{value:?}");
    }
    for value in [
        "localhost.evil.com",
        "localhostevil",
        "evil-localhost",
        "xlocalhost",
        "localhost.localdomain",
        "127.0.0.1.nip.io",
        "127.1",
    ] {
        let host = HostName::parse(value.as_bytes()).unwrap();
        assert!(!host.is_loopback_name(), "{value:?}");
        assert!(!host.is_ip(), "{value:?}");
    }
    for value in ["127.0.0.1", "192.168.1.9", "[::1]", "[2001:db8::7]"] {
        let host = HostName::parse(value.as_bytes()).unwrap();
        assert!(host.is_ip(), "{value:?}");
        assert!(!host.is_loopback_name(), "{value:?}");
    }
}

#[test]
fn origins_normalise_scheme_host_and_default_port() {
    let o = |s: &str| Origin::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s:?}"));
    assert_eq!(o("http://localhost"), o("http://localhost:80"));
    assert_eq!(o("HTTP://LocalHost:80"), o("http://localhost"));
    assert_eq!(o("http://localhost."), o("http://localhost"));
    assert_eq!(
        o("https://dash.example.com"),
        o("https://dash.example.com:443")
    );
    assert_eq!(o("http://[::1]:8080"), o("http://[0::1]:8080"));
    assert_eq!(o(" http://a.example "), o("http://a.example"));
    assert_ne!(o("http://localhost:8080"), o("http://localhost:8081"));
    assert_ne!(o("http://localhost"), o("https://localhost"));
    assert_ne!(o("http://localhost:443"), o("https://localhost"));
    assert_ne!(o("http://127.0.0.1:8080"), o("http://localhost:8080"));
    assert_ne!(o("chrome-extension://abc"), o("chrome-extension://abc:80"));
    assert_eq!(o("HTTP://LocalHost:80").to_string(), "http://localhost");
    assert_eq!(o("http://[::1]:8080").to_string(), "http://[::1]:8080");
    assert_eq!(
        o("https://Dash.Example.com:8443").to_string(),
        "https://dash.example.com:8443"
    );
}

#[test]
fn origins_that_are_malformed() {
    for value in [
        "",
        "null",
        "localhost",
        "localhost:8080",
        "http://",
        "http:/localhost",
        "http:localhost",
        "://localhost",
        "1http://localhost",
        "ht tp://localhost",
        "http://localhost/",
        "http://localhost:8080/ingest",
        "http://localhost?x=1",
        "http://localhost#f",
        "http://user@localhost",
        "http://127.0.0.1@evil.com",
        "http://evil.com@127.0.0.1",
        "http://local%68ost",
        "http://::1",
        "http://[::1",
        "http:// localhost",
        "http://localhost http://evil.com",
        "http://localhost:",
        "http://localhost:99999",
    ] {
        assert_eq!(
            Origin::parse(value.as_bytes()),
            None,
            "{value:?} should be malformed"
        );
    }
}

#[test]
fn allowed_hosts_lists() {
    let allows = |list: &str, host: &str| {
        let hosts = AllowedHosts::parse(list).unwrap_or_else(|e| panic!("{list:?}: {e}"));
        hosts.allows(&HostName::parse(host.as_bytes()).unwrap())
    };
    // Always: loopback names and IP literals, whatever the list.
    for host in ["localhost", "x.localhost", "127.0.0.1", "10.0.0.8", "[::1]"] {
        assert!(allows("", host), "{host}");
    }
    for host in ["attacker.example", "localhost.evil.com", "127.0.0.1.nip.io"] {
        assert!(!allows("", host), "{host}");
    }
    assert!(allows("logs.example.com", "logs.example.com"));
    assert!(allows("Logs.Example.com.", "LOGS.example.COM."));
    assert!(!allows("logs.example.com", "x.logs.example.com"));
    assert!(!allows("logs.example.com", "example.com"));
    assert!(allows("a.test, b.test", "b.test"));
    assert!(allows("a.test,,b.test,", "a.test"));
    assert!(!allows("a.test,b.test", "c.test"));
    assert!(allows(".example.com", "example.com"));
    assert!(allows(".example.com", "a.b.example.com"));
    assert!(!allows(".example.com", "evilexample.com"));
    assert!(!allows(".example.com", "example.com.evil.net"));
    assert!(allows("*", "attacker.example"));
    assert!(allows("a.test,*", "whatever.example"));
    assert!(AllowedHosts::parse("*").unwrap().allows_any());
    assert!(!AllowedHosts::parse("a.test").unwrap().allows_any());
    // IP entries are accepted (they are always allowed anyway).
    assert!(AllowedHosts::parse("10.0.0.1,[::1]").is_ok());
    for bad in [
        "logs.example.com:8080",
        "http://logs.example.com",
        "*.example.com",
        "..example.com",
        ".",
        "a b",
        "user@host",
        ".10.0.0.1",
    ] {
        let err = AllowedHosts::parse(bad).expect_err(bad);
        assert!(err.contains(bad), "{bad:?}: {err}");
    }
}

#[test]
fn allowed_origins_lists() {
    let list =
        AllowedOrigins::parse("https://dash.example.com:8443, http://localhost:3000").unwrap();
    let access = WebAccess {
        origins: list,
        ..WebAccess::default()
    };
    let check = |origin: &str| {
        access.check_fields(
            Scheme::Http,
            Some(b"127.0.0.1:8080"),
            Some(origin.as_bytes()),
        )
    };
    assert_eq!(check("https://dash.example.com:8443"), Ok(()));
    assert_eq!(check("HTTPS://DASH.example.com:8443"), Ok(()));
    assert_eq!(check("http://localhost:3000"), Ok(()));
    assert_eq!(check("http://127.0.0.1:8080"), Ok(()));
    assert!(check("https://dash.example.com").is_err());
    assert!(check("http://dash.example.com:8443").is_err());
    assert!(check("http://localhost:3001").is_err());
    assert_eq!(check("null"), Err(Refusal::NullOrigin));
    assert!(AllowedOrigins::parse("*").unwrap().allows_any());
    assert_eq!(
        AllowedOrigins::parse("").unwrap(),
        AllowedOrigins::default()
    );
    for bad in [
        "dash.example.com",
        "https://dash.example.com/",
        "https://dash.example.com:8443/app",
        "https://*.example.com",
        "null",
        "NULL",
    ] {
        let err = AllowedOrigins::parse(bad).expect_err(bad);
        assert!(!err.is_empty(), "{bad:?}");
    }
}

/// Parses a request head (no body) with the real parser.
fn request(head_fields: &str) -> Request {
    let text = format!("GET /healthz HTTP/1.1\r\n{head_fields}\r\n");
    let mut parser = RequestParser::new(Limits::default());
    match parser.parse(text.as_bytes()) {
        Ok(Some((req, _))) => req,
        other => panic!("{head_fields:?} did not parse: {other:?}"),
    }
}

fn decide(access: &WebAccess, head_fields: &str) -> Result<(), Refusal> {
    access.check(Scheme::Http, &request(head_fields))
}

#[test]
fn requests_without_origin_pass_the_origin_rule() {
    let access = WebAccess::default();
    for fields in [
        "",
        "Host: 127.0.0.1:8080\r\n",
        "Host: localhost\r\n",
        "Host: [::1]:8080\r\n",
        "Host: 192.168.1.20:8080\r\n",
        "Host: app.localhost:5173\r\n",
        "Host:\r\n",
        "User-Agent: curl/8\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n",
    ] {
        assert_eq!(decide(&access, fields), Ok(()), "{fields:?}");
    }
}

#[test]
fn same_origin_requests_pass() {
    let access = WebAccess::default();
    for fields in [
        "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080\r\n",
        "Host: localhost:8080\r\nOrigin: http://localhost:8080\r\n",
        "Host: LOCALHOST:8080\r\nOrigin: http://localhost:8080\r\n",
        "Host: localhost\r\nOrigin: http://localhost:80\r\n",
        "Host: localhost:80\r\nOrigin: http://localhost\r\n",
        "Host: [::1]:8080\r\nOrigin: http://[::1]:8080\r\n",
        "Host: localhost.:8080\r\nOrigin: http://localhost:8080\r\n",
        "Origin: http://app.localhost:9\r\nHost: app.localhost:9\r\n",
    ] {
        assert_eq!(decide(&access, fields), Ok(()), "{fields:?}");
    }
}

#[test]
fn cross_origin_requests_are_forbidden() {
    let access = WebAccess::default();
    for (fields, origin) in [
        (
            "Host: 127.0.0.1:8080\r\nOrigin: http://evil.example\r\n",
            "http://evil.example",
        ),
        (
            "Host: 127.0.0.1:8080\r\nOrigin: http://localhost:8080\r\n",
            "http://localhost:8080",
        ),
        (
            "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:3000\r\n",
            "http://127.0.0.1:3000",
        ),
        (
            "Host: 127.0.0.1:8080\r\nOrigin: https://127.0.0.1:8080\r\n",
            "https://127.0.0.1:8080",
        ),
        (
            "Host: 127.0.0.1\r\nOrigin: http://127.0.0.1:8080\r\n",
            "http://127.0.0.1:8080",
        ),
        // No Host: there is no own origin to match.
        ("Origin: http://127.0.0.1:8080\r\n", "http://127.0.0.1:8080"),
    ] {
        match decide(&access, fields) {
            Err(r @ Refusal::OriginNotAllowed { .. }) => {
                assert_eq!(r.status(), 403);
                let msg = r.message();
                assert!(msg.contains("--allow-origin"), "{msg}");
                assert!(msg.contains(origin), "{msg}");
            }
            other => panic!("{fields:?}: {other:?}"),
        }
    }
    for fields in [
        "Host: 127.0.0.1:8080\r\nOrigin: null\r\n",
        "Host: localhost:8080\r\nOrigin:  null \r\n",
    ] {
        let r = decide(&access, fields).expect_err(fields);
        assert_eq!(r, Refusal::NullOrigin);
        assert_eq!(r.status(), 403);
        assert!(r.message().contains("--allow-origin"));
    }
    for fields in [
        "Host: 127.0.0.1:8080\r\nOrigin: NULL\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin: 127.0.0.1:8080\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080/\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080 http://evil.example\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin:\r\n",
    ] {
        let r = decide(&access, fields).expect_err(fields);
        assert_eq!(r, Refusal::MalformedOrigin, "{fields:?}");
        assert_eq!(r.status(), 403);
        assert!(r.message().contains("--allow-origin"));
    }
}

#[test]
fn rebinding_hosts_are_forbidden_with_or_without_origin() {
    let access = WebAccess::default();
    for (fields, named) in [
        (
            "Host: attacker.example:8080\r\nOrigin: http://attacker.example:8080\r\n",
            "attacker.example",
        ),
        ("Host: attacker.example:8080\r\n", "attacker.example"),
        ("Host: localhost.evil.com\r\n", "localhost.evil.com"),
        ("Host: 127.0.0.1.nip.io:8080\r\n", "127.0.0.1.nip.io"),
        ("Host: Attacker.Example.\r\n", "attacker.example"),
    ] {
        match decide(&access, fields) {
            Err(r @ Refusal::HostNotAllowed { .. }) => {
                assert_eq!(r.status(), 403);
                let msg = r.message();
                assert!(msg.contains("--allow-host"), "{msg}");
                assert!(msg.contains(&format!("--allow-host {named}")), "{msg}");
            }
            other => panic!("{fields:?}: {other:?}"),
        }
    }
    // The Host rule holds even when every origin is allowed.
    let any_origin = WebAccess {
        origins: AllowedOrigins::parse("*").unwrap(),
        ..WebAccess::default()
    };
    assert!(matches!(
        decide(
            &any_origin,
            "Host: attacker.example\r\nOrigin: http://attacker.example\r\n"
        ),
        Err(Refusal::HostNotAllowed { .. })
    ));
}

#[test]
fn malformed_or_repeated_fields_are_400() {
    let access = WebAccess::default();
    for fields in [
        "Host: 127.0.0.1@evil.com\r\n",
        "Host: localhost:8080:80\r\n",
        "Host: ::1\r\n",
        "Host: local%68ost\r\n",
        "Host: localhost/x\r\nOrigin: http://localhost\r\n",
    ] {
        let r = decide(&access, fields).expect_err(fields);
        assert_eq!(r, Refusal::MalformedHost, "{fields:?}");
        assert_eq!(r.status(), 400);
    }
    let r = decide(
        &access,
        "Host: localhost\r\nOrigin: http://localhost\r\nOrigin: http://localhost\r\n",
    )
    .unwrap_err();
    assert_eq!(r, Refusal::SeveralOrigins);
    assert_eq!(r.status(), 400);
    // The parser refuses two Host fields itself; a Request built by hand
    // still gets the same answer.
    let mut req = request("Host: localhost\r\n");
    req.headers
        .push(("host".to_owned(), b"evil.example".to_vec()));
    assert_eq!(access.check(Scheme::Http, &req), Err(Refusal::SeveralHosts));
}

#[test]
fn allow_lists_open_exactly_what_they_name() {
    let access = WebAccess {
        hosts: AllowedHosts::parse("spool.lan,.example.com").unwrap(),
        origins: AllowedOrigins::parse("https://dash.example.com:8443").unwrap(),
    };
    for fields in [
        "Host: spool.lan:8080\r\n",
        "Host: spool.lan:8080\r\nOrigin: http://spool.lan:8080\r\n",
        "Host: logs.example.com\r\nOrigin: http://logs.example.com\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin: https://dash.example.com:8443\r\n",
        "Host: example.com:8080\r\nOrigin: https://dash.example.com:8443\r\n",
    ] {
        assert_eq!(decide(&access, fields), Ok(()), "{fields:?}");
    }
    for fields in [
        "Host: other.lan\r\n",
        "Host: spool.lan.evil.com\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin: http://spool.lan:8080\r\n",
        "Host: 127.0.0.1:8080\r\nOrigin: https://dash.example.com\r\n",
    ] {
        assert_eq!(
            decide(&access, fields).map_err(|r| r.status()),
            Err(403),
            "{fields:?}"
        );
    }
    let open = WebAccess {
        hosts: AllowedHosts::parse("*").unwrap(),
        origins: AllowedOrigins::parse("*").unwrap(),
    };
    for fields in [
        "Host: attacker.example\r\nOrigin: http://attacker.example\r\n",
        "Host: 127.0.0.1\r\nOrigin: null\r\n",
        "Host: 127.0.0.1\r\nOrigin: not an origin\r\n",
    ] {
        assert_eq!(decide(&open, fields), Ok(()), "{fields:?}");
    }
    // `*` does not make a malformed Host acceptable.
    assert_eq!(decide(&open, "Host: a@b\r\n"), Err(Refusal::MalformedHost));
}

#[test]
fn messages_are_sentences_naming_the_flag() {
    let refusals = [
        Refusal::MalformedHost,
        Refusal::SeveralHosts,
        Refusal::SeveralOrigins,
        Refusal::MalformedOrigin,
        Refusal::NullOrigin,
        Refusal::HostNotAllowed {
            host: "a.example:1".into(),
            name: "a.example".into(),
        },
        Refusal::OriginNotAllowed {
            origin: "http://a.example".into(),
            own: None,
        },
    ];
    for r in refusals {
        let msg = r.message();
        assert!(msg.len() > 30 && msg.contains(' '), "{msg}");
        if r.status() == 403 {
            assert!(msg.contains("--allow-"), "{msg}");
        }
    }
}
