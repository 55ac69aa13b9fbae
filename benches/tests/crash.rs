//! Crash test (RELIABILITY 19): the real daemon under load from `spool-load`
//! is killed with SIGKILL at a random moment, restarted, and its log checked
//! against every acknowledgment the load tool received so far:
//!
//! - every acknowledged id is present exactly once, with its exact message
//!   (64-bit FNV-1a of the bytes sent);
//! - ids strictly increase in log order;
//! - every message in the log is one `spool-load` sent (self-checking format,
//!   a run id of this test, a connection index it used), never twice.
//!
//! Unacknowledged records may be present or absent. SIGKILL keeps the page
//! cache, so this does not simulate a power cut.
//!
//! `SPOOL_CRASH_CYCLES` (default 20) sets the number of kills,
//! `SPOOL_CRASH_SEED` replays a run (the seed is printed). Needs the `spool`
//! binary next to this test's target dir: `cargo build [--release] -p
//! spool-server` (`cargo test --workspace` builds it).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spool_benches::load::{fnv1a64, parse_message, MessageId};

/// Connections of every load run.
const CONNECTIONS: u32 = 8;
/// Records per NDJSON request.
const BATCH: u64 = 50;
const SHAPES: [&str; 3] = ["text", "json", "ndjson"];
const DAEMON_ARGS: [&str; 4] = ["--segment-size", "1MiB", "--max-record", "64KiB"];

/// splitmix64: a small seeded generator, so a failing run replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A temporary directory, removed on drop unless the test is failing (then
/// it is kept for inspection and its path printed).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "spool-crash-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("crash test: kept {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The `spool` daemon binary: `SPOOL_BIN`, or `target/<profile>/spool` next
/// to this test executable (`target/<profile>/deps/crash-…`).
fn spool_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SPOOL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is in target/<profile>/deps");
    let bin = profile_dir.join("spool");
    if !bin.is_file() {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        panic!(
            "build the daemon first: cargo build {}-p spool-server (no {})",
            if release { "--release " } else { "" },
            bin.display()
        );
    }
    bin
}

/// A running daemon with its stderr collected.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `spool serve` on 127.0.0.1:0; waits at most 30 s for its
    /// "listening on" line.
    fn start(bin: &Path, dir: &Path) -> Daemon {
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir)
            .args(DAEMON_ARGS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn spool");
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
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(addr)) => Daemon {
                child,
                addr,
                stderr: log,
            },
            _ => {
                let _ = child.kill();
                let status = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "spool did not start ({status:?}):\n{}",
                    log.lock().unwrap_or_else(|p| p.into_inner())
                );
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// SIGKILL and reap.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit must be clean (status 0) within 30 s.
    fn terminate(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on our own, not yet reaped child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let status = wait_bounded(&mut self.child, Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "spool did not exit cleanly on SIGTERM ({status:?}):\n{}",
            self.stderr()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` at most `limit`; then kills it and returns `None`.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a check of the log found.
struct Checked {
    records: u64,
    acked: u64,
}

/// Reads the whole log with `spool cat` and checks it against `acked`
/// (id → message hash); `runs` is the number of load runs so far (run ids
/// are `0..runs`). Returns a description of the first violation.
fn check_log(
    bin: &Path,
    dir: &Path,
    acked: &HashMap<u64, u64>,
    runs: u64,
) -> Result<Checked, String> {
    let err_path = dir.with_extension("cat-stderr");
    let mut cat = Command::new(bin)
        .arg("cat")
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&err_path).map_err(|e| format!("cat stderr file: {e}"))?)
        .spawn()
        .map_err(|e| format!("run spool cat: {e}"))?;
    let out = cat.stdout.take().ok_or("cat stdout")?;
    let mut result = scan(BufReader::with_capacity(1 << 20, out), acked, runs);
    // Reading stopped early on a violation: do not wait for the rest.
    let status = wait_bounded(&mut cat, Duration::from_secs(120));
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    if result.is_ok() && !status.is_some_and(|s| s.success()) {
        result = Err(format!("spool cat failed ({status:?}): {stderr}"));
    }
    if result.is_ok() && !stderr.trim().is_empty() {
        result = Err(format!("spool cat complained after recovery: {stderr}"));
    }
    result
}

/// `(id, message)` of one `spool cat` line. Fast path for the usual line,
/// `{"id":"N",…,"message":"…",…}` with no backslash anywhere: then no string
/// holds a quote, so the one `"message":"` is the key and the message ends
/// at the next quote. Anything else is parsed with serde_json.
fn record_fields(line: &str) -> Result<(u64, Cow<'_, str>), String> {
    const KEY: &str = "\"message\":\"";
    if !line.contains('\\') {
        let id = line
            .strip_prefix("{\"id\":\"")
            .and_then(|rest| rest.split_once('"'))
            .and_then(|(id, _)| id.parse::<u64>().ok());
        let mut keys = line.match_indices(KEY);
        if let (Some(id), Some((at, _)), None) = (id, keys.next(), keys.next()) {
            let rest = &line[at + KEY.len()..];
            if let Some((message, _)) = rest.split_once('"') {
                return Ok((id, Cow::Borrowed(message)));
            }
        }
    }
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("cat line not JSON ({e}): {line}"))?;
    let id: u64 = v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("record without a numeric id: {line}"))?;
    let message = v["message"]
        .as_str()
        .ok_or_else(|| format!("record {id} without a message: {line}"))?;
    Ok((id, Cow::Owned(message.to_owned())))
}

fn scan(out: impl BufRead, acked: &HashMap<u64, u64>, runs: u64) -> Result<Checked, String> {
    let mut prev_id = 0u64;
    let mut seen: HashSet<MessageId> = HashSet::new();
    let mut found = 0u64;
    let mut records = 0u64;
    // Every id in log order (strictly increasing, so sorted).
    let mut ids: Vec<u64> = Vec::new();
    let mut line = String::new();
    let mut out = out;
    loop {
        line.clear();
        match out.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("reading spool cat: {e}")),
        }
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let (id, message) = record_fields(line)?;
        let message = message.as_ref();
        records += 1;
        if id <= prev_id {
            return Err(format!("ids not strictly increasing: {id} after {prev_id}"));
        }
        prev_id = id;
        ids.push(id);
        let Some(who) = parse_message(message) else {
            return Err(format!(
                "record {id} holds a message spool-load never sent: {message:?}"
            ));
        };
        if who.run >= runs || who.conn >= CONNECTIONS {
            return Err(format!(
                "record {id} names a run or connection that never existed: {message:?}"
            ));
        }
        if !seen.insert(who) {
            return Err(format!(
                "record {id} duplicates an earlier message: {message:?}"
            ));
        }
        if let Some(&want) = acked.get(&id) {
            let got = fnv1a64(message.as_bytes());
            if got != want {
                return Err(format!(
                    "acknowledged record {id} changed: hash {got:016x}, acked {want:016x}, message {message:?}"
                ));
            }
            found += 1;
        }
    }
    if found != acked.len() as u64 {
        let mut missing: Vec<u64> = acked
            .keys()
            .filter(|id| ids.binary_search(id).is_err())
            .copied()
            .collect();
        missing.sort_unstable();
        let shown: Vec<String> = missing.iter().take(20).map(u64::to_string).collect();
        return Err(format!(
            "{} acknowledged record(s) missing from the log (log has {records} records, last id {prev_id}); first ids: {}",
            missing.len(),
            shown.join(", ")
        ));
    }
    Ok(Checked {
        records,
        acked: found,
    })
}

/// Adds the acknowledgments in `path` to `acked`; an id acknowledged twice
/// is a violation.
fn read_acks(path: &Path, acked: &mut HashMap<u64, u64>) -> Result<u64, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("read {}: {e}", path.display())),
    };
    let mut n = 0;
    for line in text.lines() {
        let parsed = line
            .split_once(' ')
            .and_then(|(id, h)| Some((id.parse::<u64>().ok()?, u64::from_str_radix(h, 16).ok()?)));
        let Some((id, hash)) = parsed else {
            return Err(format!("bad ack-log line {line:?} in {}", path.display()));
        };
        if let Some(old) = acked.insert(id, hash) {
            return Err(format!(
                "id {id} acknowledged twice (hashes {old:016x} and {hash:016x})"
            ));
        }
        n += 1;
    }
    Ok(n)
}

#[test]
fn acknowledged_records_survive_sigkill_under_load() {
    let cycles: u64 = std::env::var("SPOOL_CRASH_CYCLES")
        .ok()
        .map(|s| s.parse().expect("SPOOL_CRASH_CYCLES must be a number"))
        .unwrap_or(20);
    let seed: u64 = std::env::var("SPOOL_CRASH_SEED")
        .ok()
        .map(|s| s.parse().expect("SPOOL_CRASH_SEED must be a number"))
        .unwrap_or_else(|| {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ u64::from(std::process::id()).rotate_left(32)
        });
    println!("crash test: seed {seed} (replay with SPOOL_CRASH_SEED={seed}), {cycles} cycles");
    let mut rng = Rng(seed);
    let bin = spool_bin();
    let load_bin = env!("CARGO_BIN_EXE_spool-load");
    let tmp = TempDir::new("work");
    let dir = tmp.0.join("data");
    std::fs::create_dir_all(&dir).expect("create data dir");

    let started = Instant::now();
    let mut acked: HashMap<u64, u64> = HashMap::new();
    let mut daemon = Daemon::start(&bin, &dir);
    let mut records = 0;
    let mut torn_cuts = 0;
    for cycle in 0..cycles {
        let shape = SHAPES[(cycle % 3) as usize];
        let ack_log = tmp.0.join(format!("acks-{cycle}.log"));
        let out_path = tmp.0.join(format!("load-{cycle}.out"));
        let mut load = Command::new(load_bin)
            .arg("--addr")
            .arg(daemon.addr.to_string())
            .args(["--connections", &CONNECTIONS.to_string()])
            .args(["--duration", "5s", "--warmup", "0s", "--shape", shape])
            .args([
                "--batch",
                &BATCH.to_string(),
                "--run-id",
                &cycle.to_string(),
            ])
            .arg("--ack-log")
            .arg(&ack_log)
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("load output file"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn spool-load");
        let delay = rng.range(100, 600);
        std::thread::sleep(Duration::from_millis(delay));
        daemon.kill9();
        let status = wait_bounded(&mut load, Duration::from_secs(30));
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        assert!(
            status.is_some_and(|s| s.success()),
            "seed {seed} cycle {cycle}: spool-load did not exit cleanly within 30 s of the kill ({status:?}):\n{out}"
        );
        let new_acks = match read_acks(&ack_log, &mut acked) {
            Ok(n) => n,
            Err(e) => panic!("seed {seed} cycle {cycle}: {e}"),
        };

        daemon = Daemon::start(&bin, &dir);
        let recovery = daemon.stderr();
        if recovery.contains("cut") || recovery.contains("torn") {
            torn_cuts += 1;
        }
        let check_start = Instant::now();
        match check_log(&bin, &dir, &acked, cycle + 1) {
            Ok(c) => {
                records = c.records;
                println!(
                    "cycle {cycle:>3}: {shape:<6} killed after {delay:>3} ms, {new_acks:>6} acked this run; log {} records, {} acked checked ({} ms)",
                    c.records,
                    c.acked,
                    check_start.elapsed().as_millis()
                );
            }
            Err(e) => panic!(
                "seed {seed} cycle {cycle} ({shape}, killed after {delay} ms): {e}\nload tool output:\n{out}\ndaemon stderr after restart:\n{recovery}"
            ),
        }
        let _ = std::fs::remove_file(&out_path);
    }
    daemon.terminate();
    println!(
        "crash test: seed {seed}: {cycles} cycles, {} acked records checked, {records} records in log, {torn_cuts} restarts cut a torn tail, {:.1} s",
        acked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        cycles < 3 || !acked.is_empty(),
        "seed {seed}: the load tool never got an acknowledgment: the test checked nothing"
    );
}

#[test]
fn cat_line_fields_fast_path_agrees_with_serde() {
    let mut msg = String::new();
    spool_benches::load::write_message(
        &mut msg,
        MessageId {
            run: 3,
            conn: 1,
            seq: 9,
        },
        4,
    );
    let line = format!(
        r#"{{"id":"42","timestamp":"2026-01-01T00:00:00Z","level":"INFO","service":"spool-load","message":"{msg}","metadata":{{"conn":1}}}}"#
    );
    let (id, m) = record_fields(&line).expect("fast path");
    assert!(matches!(m, Cow::Borrowed(_)));
    assert_eq!((id, m.as_ref()), (42, msg.as_str()));
    // An escaped quote, a second "message" key: serde_json decides.
    let line = r#"{"id":"7","service":"","message":"a\"b","metadata":{"message":"x"}}"#;
    let (id, m) = record_fields(line).expect("serde path");
    assert_eq!((id, m.as_ref()), (7, "a\"b"));
    let line = r#"{"id":"8","service":"","message":"m","metadata":{"message":"x"}}"#;
    assert_eq!(record_fields(line).expect("two keys").1.as_ref(), "m");
    assert!(record_fields("garbage").is_err());
}
