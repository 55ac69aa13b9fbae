//! End-to-end tests of the web-page rules (SPEC §3): a request whose `Origin`
//! is not the daemon's own (or listed with `--allow-origin`), or whose `Host`
//! is a name that is not loopback or listed with `--allow-host`, gets 403 and
//! stores nothing. Run against the real `spool` binary; the last test drives
//! a real headless Chromium when one is installed.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A request with `fields` (each line ending in CRLF) and a `text/plain` body,
/// on a new connection that closes after the answer.
fn send(addr: SocketAddr, method: &str, path: &str, fields: &str, body: &str) -> Response {
    raw(
        addr,
        format!(
            "{method} {path} HTTP/1.1\r\n{fields}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// `Host` and `Origin` field lines.
fn host_origin(host: &str, origin: &str) -> String {
    format!("Host: {host}\r\nOrigin: {origin}\r\n")
}

/// Every message `spool cat` reads from the data directory.
fn messages(s: &Spool) -> Vec<String> {
    cat(&s.dir)
        .iter()
        .map(|r| r["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[track_caller]
fn assert_stored(r: &Response, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    assert_eq!(r.json()["status"], "accepted", "{what}");
}

#[test]
fn cross_site_post_like_the_curl_example_is_403_and_not_stored() {
    let dir = TempDir::new("web-curl");
    let mut s = start(dir.path(), &[]);
    let port = s.addr.port();
    // What `curl -H 'Origin: http://evil.example' -H 'Content-Type: text/plain'
    // --data-binary 'ERROR injected' http://127.0.0.1:<port>/ingest` sends.
    let fields = format!(
        "Host: 127.0.0.1:{port}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nOrigin: http://evil.example\r\n"
    );
    let r = send(s.addr, "POST", "/ingest", &fields, "ERROR injected");
    let body = assert_error(&r, 403, &["--allow-origin", "http://evil.example"], "curl");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("http://127.0.0.1:{port}")),
        "names the daemon's own origin: {body}"
    );
    // Any other foreign origin, and other endpoints, the same.
    for (origin, path) in [
        ("https://evil.example", "/ingest"),
        ("http://localhost:3000", "/ingest"),
        (&format!("http://localhost:{port}"), "/ingest"),
        (&format!("https://127.0.0.1:{port}"), "/ingest"),
        ("http://evil.example", "/healthz"),
        ("http://evil.example", "/readyz"),
        ("http://evil.example", "/no/such/path"),
    ] {
        let r = send(
            s.addr,
            if path == "/ingest" { "POST" } else { "GET" },
            path,
            &host_origin(&format!("127.0.0.1:{port}"), origin),
            "ERROR injected",
        );
        assert_error(&r, 403, &["--allow-origin"], &format!("{origin} {path}"));
    }
    stop(&mut s);
    assert!(messages(&s).is_empty(), "nothing may be stored");
}

#[test]
fn dns_rebinding_host_is_403_on_every_path_with_or_without_origin() {
    let dir = TempDir::new("web-rebind");
    let mut s = start(dir.path(), &[]);
    let both = host_origin("attacker.example:8080", "http://attacker.example:8080");
    // Same-origin GETs from a page carry no Origin: the Host rule alone must hold.
    let host_only = "Host: attacker.example:8080\r\n".to_owned();
    for fields in [&both, &host_only] {
        for (method, path) in [
            ("POST", "/ingest"),
            ("GET", "/healthz"),
            ("GET", "/readyz"),
            ("GET", "/logs"),
            ("GET", "/no/such/path"),
            ("PUT", "/ingest"),
        ] {
            let r = send(s.addr, method, path, fields, "ERROR rebound");
            assert_error(
                &r,
                403,
                &["--allow-host", "attacker.example"],
                &format!("{method} {path} {fields:?}"),
            );
        }
    }
    for host in [
        "localhost.evil.com",
        "127.0.0.1.nip.io:8080",
        "ATTACKER.example.",
    ] {
        let r = send(s.addr, "POST", "/ingest", &format!("Host: {host}\r\n"), "x");
        assert_error(&r, 403, &["--allow-host"], host);
    }
    // HEAD gets the same status, head only.
    let mut c = connect(s.addr);
    c.write_all(b"HEAD /healthz HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\n"),
        "no body after the head: {answer}"
    );
    stop(&mut s);
    assert!(messages(&s).is_empty(), "nothing may be stored");
}

#[test]
fn same_origin_and_loopback_hosts_are_answered() {
    let dir = TempDir::new("web-same");
    let mut s = start(dir.path(), &[]);
    let port = s.addr.port();
    let cases = [
        host_origin(
            &format!("127.0.0.1:{port}"),
            &format!("http://127.0.0.1:{port}"),
        ),
        host_origin(
            &format!("localhost:{port}"),
            &format!("http://localhost:{port}"),
        ),
        host_origin(
            &format!("LocalHost:{port}"),
            &format!("HTTP://localhost:{port}"),
        ),
        host_origin(&format!("[::1]:{port}"), &format!("http://[::1]:{port}")),
        host_origin(
            &format!("app.localhost:{port}"),
            &format!("http://app.localhost:{port}"),
        ),
        host_origin("localhost", "http://localhost:80"),
        format!("Host: 127.0.0.1:{port}\r\n"),
        format!("Host: localhost.:{port}\r\n"),
        format!("Host: 192.0.2.7:{port}\r\n"),
        format!("Host: [2001:db8::1]:{port}\r\n"),
    ];
    for (i, fields) in cases.iter().enumerate() {
        let r = send(
            s.addr,
            "POST",
            "/ingest",
            fields,
            &format!("same origin {i}"),
        );
        assert_stored(&r, fields);
        let r = send(s.addr, "GET", "/healthz", fields, "");
        assert_eq!(r.status, 200, "{fields:?}: {}", r.text());
    }
    stop(&mut s);
    let expected: Vec<String> = (0..cases.len())
        .map(|i| format!("same origin {i}"))
        .collect();
    assert_eq!(messages(&s), expected);
}

#[test]
fn clients_without_origin_are_unaffected() {
    let dir = TempDir::new("web-shipper");
    let mut s = start(dir.path(), &[]);
    let port = s.addr.port();
    // curl / a shipper: Host is the address it connects to, no Origin.
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &format!("Host: 127.0.0.1:{port}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"),
        "from curl",
    );
    assert_stored(&r, "curl");
    // HTTP/1.0 without Host.
    let r = raw(
        s.addr,
        b"POST /ingest HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nfrom 1.0 \n",
    );
    assert_stored(&r, "HTTP/1.0 without Host");
    // A refusal is an ordinary answer: the keep-alive connection goes on.
    let mut c = connect(s.addr);
    let foreign = "POST /ingest HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\ninjected";
    let fine = "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nafter 403 ";
    c.write_all(format!("{foreign}{fine}").as_bytes()).unwrap();
    let first = read_response(&mut c).expect("the 403");
    assert_error(&first, 403, &["--allow-origin"], "pipelined foreign origin");
    assert_eq!(first.header("connection"), None, "keep-alive stays on");
    let second = read_response(&mut c).expect("the next answer");
    assert_stored(&second, "request after a 403 on the same connection");
    stop(&mut s);
    assert_eq!(messages(&s), ["from curl", "from 1.0 ", "after 403 "]);
}

#[test]
fn null_malformed_and_repeated_fields() {
    let dir = TempDir::new("web-null");
    let mut s = start(dir.path(), &[]);
    let port = s.addr.port();
    let host = format!("127.0.0.1:{port}");
    let r = send(s.addr, "POST", "/ingest", &host_origin(&host, "null"), "x");
    assert_error(&r, 403, &["null", "--allow-origin"], "Origin: null");
    for origin in ["NULL", &format!("http://{host}/"), "evil.example", ""] {
        let r = send(s.addr, "POST", "/ingest", &host_origin(&host, origin), "x");
        assert_error(&r, 403, &["--allow-origin"], &format!("Origin {origin:?}"));
    }
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &format!("Host: {host}\r\nOrigin: http://{host}\r\nOrigin: http://{host}\r\n"),
        "x",
    );
    assert_error(&r, 400, &["Origin"], "two Origin fields");
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &format!("Host: {host}\r\nHost: attacker.example\r\n"),
        "x",
    );
    assert_error(&r, 400, &["Host"], "two Host fields");
    for bad in [
        "127.0.0.1@evil.com",
        "user@localhost",
        "::1",
        "localhost:http",
        "local%68ost",
    ] {
        let r = send(s.addr, "POST", "/ingest", &format!("Host: {bad}\r\n"), "x");
        assert_error(&r, 400, &["Host"], bad);
    }
    stop(&mut s);
    assert!(messages(&s).is_empty(), "nothing may be stored");
}

#[test]
fn allow_origin_lists_exact_origins_and_star() {
    let dir = TempDir::new("web-allow-origin");
    let mut s = start(
        dir.path(),
        &[
            "--allow-origin",
            "https://dash.example.com:8443, http://localhost:3000",
        ],
    );
    let host = format!("127.0.0.1:{}", s.addr.port());
    for origin in ["https://dash.example.com:8443", "http://LOCALHOST:3000"] {
        let r = send(
            s.addr,
            "POST",
            "/ingest",
            &host_origin(&host, origin),
            origin,
        );
        assert_stored(&r, origin);
    }
    for origin in [
        "https://dash.example.com",
        "http://dash.example.com:8443",
        "http://localhost:3001",
        "null",
    ] {
        let r = send(s.addr, "POST", "/ingest", &host_origin(&host, origin), "no");
        assert_error(&r, 403, &["--allow-origin"], origin);
    }
    // An allowed origin does not lift the Host rule.
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &host_origin("attacker.example", "https://dash.example.com:8443"),
        "no",
    );
    assert_error(&r, 403, &["--allow-host"], "listed origin, rebinding Host");
    stop(&mut s);
    assert_eq!(
        messages(&s),
        ["https://dash.example.com:8443", "http://LOCALHOST:3000"]
    );

    let dir = TempDir::new("web-allow-origin-any");
    let mut s = start(dir.path(), &["--allow-origin", "*"]);
    let host = format!("127.0.0.1:{}", s.addr.port());
    for origin in ["http://evil.example", "null"] {
        let r = send(
            s.addr,
            "POST",
            "/ingest",
            &host_origin(&host, origin),
            origin,
        );
        assert_stored(&r, origin);
    }
    assert!(
        s.stderr().contains("--allow-origin *"),
        "a warning on start: {}",
        s.stderr()
    );
    stop(&mut s);
    assert_eq!(messages(&s), ["http://evil.example", "null"]);
}

#[test]
fn allow_host_lists_names_domains_and_star() {
    let dir = TempDir::new("web-allow-host");
    let mut s = start(dir.path(), &["--allow-host", "spool.lan,.example.com"]);
    let port = s.addr.port();
    for host in [
        "spool.lan",
        "example.com",
        "logs.example.com",
        "a.b.example.com",
    ] {
        let fields = host_origin(&format!("{host}:{port}"), &format!("http://{host}:{port}"));
        let r = send(s.addr, "POST", "/ingest", &fields, host);
        assert_stored(&r, host);
    }
    for host in [
        "spool.lan.evil.com",
        "x.spool.lan",
        "evilexample.com",
        "example.org",
    ] {
        let r = send(
            s.addr,
            "POST",
            "/ingest",
            &format!("Host: {host}:{port}\r\n"),
            "no",
        );
        assert_error(&r, 403, &["--allow-host", host], host);
    }
    // A listed Host does not make a foreign Origin acceptable.
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &host_origin(&format!("spool.lan:{port}"), "http://evil.example"),
        "no",
    );
    assert_error(&r, 403, &["--allow-origin"], "listed Host, foreign Origin");
    stop(&mut s);
    assert_eq!(
        messages(&s),
        [
            "spool.lan",
            "example.com",
            "logs.example.com",
            "a.b.example.com"
        ]
    );

    let dir = TempDir::new("web-allow-host-any");
    let mut s = start(dir.path(), &["--allow-host", "*"]);
    let fields = host_origin("attacker.example:8080", "http://attacker.example:8080");
    assert_stored(&send(s.addr, "POST", "/ingest", &fields, "any host"), "*");
    assert!(
        s.stderr().contains("--allow-host *"),
        "a warning on start: {}",
        s.stderr()
    );
    stop(&mut s);
    assert_eq!(messages(&s), ["any host"]);
}

#[test]
fn environment_variables_set_the_lists_and_flags_win() {
    let dir = TempDir::new("web-env");
    let env = [
        ("SPOOL_ALLOW_HOST", "env.lan"),
        ("SPOOL_ALLOW_ORIGIN", "http://dash.lan:3000"),
    ];
    let mut s = try_start(dir.path(), &[], &env).expect("starts");
    let port = s.addr.port();
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &format!("Host: env.lan:{port}\r\n"),
        "env host",
    );
    assert_stored(&r, "SPOOL_ALLOW_HOST");
    let fields = host_origin(&format!("127.0.0.1:{port}"), "http://dash.lan:3000");
    assert_stored(
        &send(s.addr, "POST", "/ingest", &fields, "env origin"),
        "SPOOL_ALLOW_ORIGIN",
    );
    stop(&mut s);
    assert_eq!(messages(&s), ["env host", "env origin"]);

    let dir = TempDir::new("web-env-flags");
    let mut s = try_start(dir.path(), &["--allow-host", "flag.lan"], &env).expect("starts");
    let port = s.addr.port();
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &format!("Host: env.lan:{port}\r\n"),
        "no",
    );
    assert_error(&r, 403, &["--allow-host"], "the flag replaces the variable");
    let r = send(
        s.addr,
        "POST",
        "/ingest",
        &format!("Host: flag.lan:{port}\r\n"),
        "flag host",
    );
    assert_stored(&r, "--allow-host");
    stop(&mut s);
    assert_eq!(messages(&s), ["flag host"]);
}

#[test]
fn bad_lists_refuse_to_start_and_help_names_the_flags() {
    for (args, env, mention) in [
        (&["--allow-origin", "null"][..], &[][..], "--allow-origin"),
        (
            &["--allow-origin", "dash.example.com"][..],
            &[][..],
            "--allow-origin",
        ),
        (
            &["--allow-host", "logs.example.com:8080"][..],
            &[][..],
            "--allow-host",
        ),
        (
            &[][..],
            &[("SPOOL_ALLOW_HOST", "http://x")][..],
            "SPOOL_ALLOW_HOST",
        ),
    ] {
        let dir = TempDir::new("web-bad-list");
        match try_start(dir.path(), args, env) {
            Ok(_) => panic!("{args:?} {env:?}: started"),
            Err((status, text)) => {
                assert_eq!(status.and_then(|s| s.code()), Some(2), "{args:?}: {text}");
                assert!(text.contains(mention), "{args:?}: {text}");
            }
        }
    }
    let out = Command::new(spool_bin())
        .arg("--help")
        .output()
        .expect("spool --help");
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--allow-origin",
        "SPOOL_ALLOW_ORIGIN",
        "--allow-host",
        "SPOOL_ALLOW_HOST",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

// ---------------------------------------------------------------------------
// A real browser.
// ---------------------------------------------------------------------------

/// The Chromium binary, or why this test cannot run.
fn chromium() -> Result<&'static str, String> {
    for bin in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new(bin).arg("--version").output() {
            if out.status.success() {
                return Ok(bin);
            }
        }
    }
    Err("no chromium on PATH (apt-get install chromium)".to_owned())
}

/// Serves `page` at every path on `listener` and reports each request line
/// (so the test learns when the page's script finished: it fetches `/done`).
fn serve_page(listener: TcpListener, page: String, seen: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => continue,
            });
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Drain the head; the page's requests carry no body.
            let mut field = String::new();
            while reader.read_line(&mut field).is_ok_and(|n| n > 2) {
                field.clear();
            }
            let _ = seen.send(line.trim_end().to_owned());
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
}

/// Headless Chromium that prints the DOM of `url` once loaded (after the
/// page's network activity settles, up to 10 s of virtual time). The name
/// `attacker.example` resolves to 127.0.0.1, as it would for a DNS-rebinding
/// attacker's page.
fn headless(bin: &str, profile: &TempDir, url: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=10000",
        "--host-resolver-rules=MAP attacker.example 127.0.0.1",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    // Chromium's own temporary files (shared memory without /dev/shm) go
    // inside the profile, which the test removes; it is killed, so it
    // never cleans them up itself.
    .env("TMPDIR", profile.path())
    .arg("--dump-dom")
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    cmd
}

/// The DOM Chromium shows for `url` (a JSON answer is rendered in a `<pre>`).
fn dump_dom(bin: &str, url: &str) -> String {
    let profile = TempDir::new("web-chromium-profile");
    let mut child = headless(bin, &profile, url)
        .spawn()
        .expect("spawn chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        let _ = tx.send(dom);
    });
    let dom = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    dom.unwrap_or_else(|_| panic!("chromium showed nothing for {url} within 60 s"))
}

/// A listener for the page server and the page's origin,
/// `http://localhost:<its port>`: another loopback origin than spool's.
fn page_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind page server");
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    (listener, origin)
}

/// Opens, in headless Chromium, a page served from `page_origin` whose script
/// POSTs `text/plain` to `spool` the way any web page can without a
/// preflight, and waits until it reports back. Returns what its `fetch`
/// resolved to.
fn browse_attack(
    bin: &str,
    (listener, page_origin): (TcpListener, String),
    spool: SocketAddr,
    message: &str,
) -> String {
    let page = format!(
        r#"<!doctype html><title>page</title><body><script>
fetch('http://{spool}/ingest', {{method: 'POST', mode: 'no-cors',
    headers: {{'Content-Type': 'text/plain'}}, body: '{message}'}})
  .then(r => 'resolved-' + r.type, e => 'rejected-' + e.name)
  .then(result => {{ document.body.textContent = result;
                     return fetch('/done?' + result); }});
</script></body>"#
    );
    let (tx, rx) = mpsc::channel();
    serve_page(listener, page, tx);
    let profile = TempDir::new("web-chromium-profile");
    let mut child = headless(bin, &profile, &format!("{page_origin}/"))
        .spawn()
        .expect("spawn chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut result = None;
    while result.is_none() && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("GET /done?") {
                    result = rest.split_whitespace().next().map(str::to_owned);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("chromium exited ({status}) before the page reported back");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let mut dom = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut dom);
    }
    let _ = child.wait();
    result.unwrap_or_else(|| panic!("the page did not report back within 90 s; DOM: {dom}"))
}

/// Chromium's binary, or `None` after printing why the test is skipped.
fn chromium_or_skip(test: &str) -> Option<&'static str> {
    match chromium() {
        Ok(bin) => Some(bin),
        Err(why) => {
            println!("skipped {test}: {why}");
            None
        }
    }
}

#[test]
fn browser_page_from_another_origin_cannot_post() {
    let Some(bin) = chromium_or_skip("browser_page_from_another_origin_cannot_post") else {
        return;
    };
    let dir = TempDir::new("web-browser");
    let mut s = start(dir.path(), &[]);
    let result = browse_attack(bin, page_server(), s.addr, "ERROR injected by a web page");
    // An opaque answer: the browser sent the POST and got the 403, which a
    // no-cors page cannot read. The record must not be there.
    assert_eq!(result, "resolved-opaque", "what the page's fetch saw");
    stop(&mut s);
    assert!(
        messages(&s).is_empty(),
        "nothing may be stored: {:?}",
        messages(&s)
    );

    // Control: the same page, its origin listed, does store. So the browser
    // did send the request, and the 403 above is what kept it out.
    let dir = TempDir::new("web-browser-allowed");
    let page = page_server();
    let mut s = start(dir.path(), &["--allow-origin", &page.1]);
    let result = browse_attack(bin, page, s.addr, "INFO from a listed page");
    assert_eq!(result, "resolved-opaque");
    stop(&mut s);
    assert_eq!(messages(&s), ["INFO from a listed page"]);
}

#[test]
fn browser_on_a_rebound_name_cannot_read() {
    let Some(bin) = chromium_or_skip("browser_on_a_rebound_name_cannot_read") else {
        return;
    };
    // DNS rebinding as the browser sees it: a name the attacker points at
    // 127.0.0.1. Opening it is the read a rebound page would make
    // (same-origin GET: Host is the name, no Origin).
    let dir = TempDir::new("web-browser-rebind");
    let mut s = start(dir.path(), &[]);
    let port = s.addr.port();
    let dom = dump_dom(bin, &format!("http://attacker.example:{port}/healthz"));
    assert!(dom.contains("--allow-host"), "the 403 answer: {dom}");
    assert!(!dom.contains(r#"{"status":"ok"}"#), "{dom}");
    let dom = dump_dom(bin, &format!("http://localhost:{port}/healthz"));
    assert!(
        dom.contains(r#"{"status":"ok"}"#),
        "control, a loopback name: {dom}"
    );
    stop(&mut s);
}
