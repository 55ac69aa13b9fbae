//! Shared harness for the end-to-end tests: start the real `spool` binary on
//! a kernel-chosen loopback port, talk to it over real sockets, read its data
//! directory with `spool cat`. Every wait is bounded in time.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn spool_bin() -> &'static str {
    env!("CARGO_BIN_EXE_spool")
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "spool-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running daemon.
pub struct Spool {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stderr: Arc<Mutex<String>>,
}

/// Starts `spool serve` on 127.0.0.1:0 with `args`; `Err` holds the exit
/// status and stderr when it does not come up within 20 s. Without an
/// `--alert-rules` among `args` it runs with `--alert-rules none`: these
/// tests compare the log with exactly what they sent, and the default
/// rules would add alert records to it (`tests/alerts.rs` tests those,
/// with [`try_start_as_is`]).
pub fn try_start(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Spool, (Option<ExitStatus>, String)> {
    if args.iter().any(|a| a.starts_with("--alert-rules")) {
        return try_start_as_is(dir, args, env);
    }
    let mut with = vec!["--alert-rules", "none"];
    with.extend_from_slice(args);
    try_start_as_is(dir, &with, env)
}

/// [`try_start`] with exactly `args` (the default alert rules on).
pub fn try_start_as_is(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Spool, (Option<ExitStatus>, String)> {
    let mut cmd = Command::new(spool_bin());
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn spool");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                if let (Some(tx), Some(addr)) = (tx.take(), rest.split_whitespace().next()) {
                    let _ = tx.send(addr.parse::<SocketAddr>().ok());
                }
            }
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Some(addr)) => Ok(Spool {
            child,
            addr,
            dir: dir.to_path_buf(),
            stderr: log,
        }),
        _ => {
            let deadline = Instant::now() + Duration::from_secs(5);
            let status = loop {
                if let Ok(Some(s)) = child.try_wait() {
                    break Some(s);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break child.wait().ok();
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            std::thread::sleep(Duration::from_millis(50));
            let text = log.lock().unwrap().clone();
            Err((status, text))
        }
    }
}

/// Starts the daemon or panics with its stderr.
pub fn start(dir: &Path, args: &[&str]) -> Spool {
    match try_start(dir, args, &[]) {
        Ok(s) => s,
        Err((status, text)) => panic!("spool did not start ({status:?}):\n{text}"),
    }
}

impl Spool {
    /// Everything the daemon wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `sig` and waits (at most 30 s) for the exit status.
    pub fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
        self.wait(Duration::from_secs(30))
    }

    /// Waits for exit, killing the process after `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("spool did not exit within {limit:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Connects with 10 s read/write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one response from `stream` (Content-Length framing, or to EOF).
pub fn read_response(stream: &mut TcpStream) -> Option<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            // A signal to this test process (a child exiting) is not the
            // server's doing: read again.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Ok(0) | Err(_) => return None,
            Ok(_) => buf.push(byte[0]),
        }
        assert!(buf.len() < 64 * 1024, "response head too large");
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    if status == 100 {
        return read_response(stream);
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            stream.read_exact(&mut body).ok()?;
        }
        None => {
            let _ = stream.read_to_end(&mut body);
        }
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

/// Sends raw bytes on a new connection and reads one response.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut s = connect(addr);
    s.write_all(bytes).unwrap();
    read_response(&mut s).expect("a response")
}

/// `POST path` with a content type and body on a new connection.
pub fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Response {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

/// `GET path` on a new connection.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// `spool cat` output as raw lines (for byte-level checks).
pub fn cat_lines(dir: &Path) -> Vec<String> {
    let out = Command::new(spool_bin())
        .arg("cat")
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run spool cat");
    assert!(
        out.status.success(),
        "spool cat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every record in `dir` by `spool cat`, as JSON values.
pub fn cat(dir: &Path) -> Vec<serde_json::Value> {
    cat_lines(dir)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("cat line not JSON ({e}): {l}")))
        .collect()
}

/// Asserts the peer closes `s` within `within` without sending anything more
/// (EOF or a reset). Returns how long it took.
#[track_caller]
pub fn expect_closed(s: &mut TcpStream, within: Duration, what: &str) -> Duration {
    let start = Instant::now();
    let deadline = start + within;
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: connection still open after {within:?}"
        );
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(n) => panic!(
                "{what}: expected the connection to close, got {n} more bytes: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return start.elapsed()
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: connection still open after {within:?}")
            }
            Err(e) => panic!("{what}: read failed: {e}"),
        }
    }
}

/// Asserts an error answer: `status`, `Content-Type: application/json`, a
/// JSON body whose `"error"` is a sentence (not a bare code) containing every
/// one of `mentions` (ASCII case-insensitive), and a matching `"status"`
/// field. Returns the body.
#[track_caller]
pub fn assert_error(r: &Response, status: u16, mentions: &[&str], what: &str) -> serde_json::Value {
    assert_eq!(r.status, status, "{what}: status; body {}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{what}: error answers are JSON; headers {:?}",
        r.headers
    );
    let body = r.json();
    let msg = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no \"error\" string in {body}"));
    assert!(
        msg.len() >= 15 && msg.contains(' '),
        "{what}: error should be a sentence a person can act on, got {msg:?}"
    );
    assert_eq!(body["status"], status, "{what}: {body}");
    let lower = msg.to_ascii_lowercase();
    for m in mentions {
        assert!(
            lower.contains(&m.to_ascii_lowercase()),
            "{what}: error {msg:?} should mention {m:?}"
        );
    }
    body
}

/// SIGTERM; the daemon must exit successfully.
#[track_caller]
pub fn stop(s: &mut Spool) {
    let status = s.signal_and_wait(libc::SIGTERM);
    assert!(
        status.success(),
        "exit after SIGTERM: {status:?}\n{}",
        s.stderr()
    );
}

/// Byte ranges `[start, end)` of the frames in a segment file, by walking
/// the length fields (the format in core/src/record.rs).
pub fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 32;
    while pos + 20 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        out.push((pos, pos + 20 + len));
        pos += 20 + len;
    }
    out
}

/// A TCP connection to `addr` (IPv4), optionally from source address
/// `from` (any 127.0.0.0/8 address works on Linux loopback) and with a
/// receive buffer of `rcvbuf` bytes set before connecting (a small window:
/// a client that reads slowly).
pub fn connect_raw(
    addr: SocketAddr,
    from: Option<std::net::Ipv4Addr>,
    rcvbuf: Option<libc::c_int>,
) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| {
        // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
        let mut a: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_port = port.to_be();
        a.sin_addr.s_addr = u32::from(ip).to_be();
        a
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket/setsockopt/bind/connect on a descriptor created here
    // and handed to TcpStream, which owns and closes it; the option value
    // and the sockaddr_in structs are locals of the right size.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let stream = TcpStream::from_raw_fd(fd);
        if let Some(size) = rcvbuf {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        if let Some(from) = from {
            let local = sockaddr(from, 0);
            assert_eq!(
                libc::bind(fd, (&raw const local).cast(), len),
                0,
                "bind {from}"
            );
        }
        let remote = sockaddr(*v4.ip(), v4.port());
        assert_eq!(libc::connect(fd, (&raw const remote).cast(), len), 0);
        stream
    }
}

/// Runs `spool <args> --data-dir <dir>`: status, stdout, stderr.
pub fn run_cmd(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(spool_bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run spool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in KiB.
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"))
}

/// Builds the LD_PRELOAD fault shim once per test binary.
pub fn fault_shim() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap();
    if let Some(p) = built.as_ref() {
        return p.clone();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fault_shim.c");
    // Built under the target directory (cargo's scratch space for
    // integration tests), not /tmp, so no run leaves a file behind there.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("spool-fault-shim-{}.so", std::process::id()));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .status()
        .expect("a C compiler (cc) for the fault shim");
    assert!(status.success());
    *built = Some(out.clone());
    out
}

/// Starts the daemon under the fault shim: its first `after` fdatasync
/// calls succeed (really syncing), every later one fails with EIO.
pub fn start_failing_fsync(dir: &Path, after: u32) -> Spool {
    let shim = fault_shim();
    let after = after.to_string();
    try_start(
        dir,
        &[],
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("SPOOL_FAULT_FDATASYNC_AFTER", &after),
        ],
    )
    .unwrap_or_else(|(st, log)| panic!("{st:?} {log}"))
}
