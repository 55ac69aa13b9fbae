//! Durability end to end: the real binary, real files, real crashes.
//!
//! - acknowledged records survive SIGKILL, byte for byte, with their ids;
//! - recovery cuts a torn tail (every cut offset, every flipped bit of the
//!   last record, zeros and garbage after the end, a stale record from an
//!   older segment) and refuses to start on corruption elsewhere, naming the
//!   segment file and offset;
//! - rotation and retention across restarts never delete the active segment;
//! - an fdatasync failure (injected with an LD_PRELOAD shim) is never
//!   acknowledged and makes the daemon exit non-zero; disk full answers 507
//!   and ingest resumes by itself.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const SMALL: &[&str] = &["--segment-size", "64KiB", "--max-record", "16KiB"];

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn seg_files(dir: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    ids.sort();
    ids
}

fn ids(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A data directory with `n` acknowledged text records, left as a crash
/// leaves it (SIGKILL, no clean shutdown recorded: the damage these tests
/// make then reads as a torn write; after a clean stop the same damage is
/// refused, see tests/integrity.rs); returns their ids.
fn seeded_dir(dir: &Path, n: usize, args: &[&str]) -> Vec<u64> {
    let mut s = start(dir, args);
    let mut acked = Vec::new();
    for i in 0..n {
        let r = post(
            s.addr,
            "/ingest",
            "text/plain",
            format!("record number {i}").as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        acked.push(r.json()["id"].as_str().unwrap().parse().unwrap());
    }
    s.kill9();
    acked
}

#[test]
fn acknowledged_records_survive_sigkill_byte_for_byte() {
    let dir = TempDir::new("kill9");
    let mut s = start(dir.path(), &[]);
    let addr = s.addr;
    // Each acknowledged id maps to the exact message it carried.
    let acked: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop_flag = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..6)
        .map(|c| {
            let (acked, sent, stop_flag, total) = (acked.clone(), sent.clone(), stop_flag.clone(), total.clone());
            std::thread::spawn(move || {
                for i in 0..400 {
                    if stop_flag.load(Ordering::Relaxed) {
                        break;
                    }
                    // Four shapes, unique messages, with escapes and unicode.
                    let n = [1, 1, 3, 4][i % 4];
                    let msgs: Vec<String> = (0..n).map(|k| format!("c{c} r{i} k{k} \"quoted\" ünï ✓")).collect();
                    let (ctype, body) = match i % 4 {
                        0 => ("text/plain", msgs[0].clone()),
                        1 => ("application/json", serde_json::json!({"level":"error","message":msgs[0],"service":"svc"}).to_string()),
                        2 => (
                            "application/json",
                            Value::Array(msgs.iter().map(|m| serde_json::json!({"message": m})).collect()).to_string(),
                        ),
                        _ => (
                            "application/x-ndjson",
                            msgs.iter().map(|m| serde_json::json!({"message": m, "metadata": {"c": c}}).to_string() + "\n").collect(),
                        ),
                    };
                    sent.lock().unwrap().extend(msgs.iter().cloned());
                    let mut conn = match std::net::TcpStream::connect(addr) {
                        Ok(c) => c,
                        Err(_) => break,
                    };
                    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let req = format!(
                        "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    if std::io::Write::write_all(&mut conn, req.as_bytes()).is_err() {
                        break;
                    }
                    let Some(resp) = read_response(&mut conn) else { break };
                    assert_eq!(resp.status, 200, "{}", resp.text());
                    let v = resp.json();
                    let first: u64 = v.get("id").or_else(|| v.get("first_id")).unwrap().as_str().unwrap().parse().unwrap();
                    let mut a = acked.lock().unwrap();
                    for (k, m) in msgs.into_iter().enumerate() {
                        a.insert(first + k as u64, m);
                    }
                    total.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while total.load(Ordering::Relaxed) < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.kill9(); // mid-load: requests are in flight
    stop_flag.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} records acknowledged",
        acked.len()
    );

    // Restart (recovery runs), then read the log back.
    let mut s = start(dir.path(), &[]);
    stop(&mut s);
    let records = cat(dir.path());
    let got: Vec<u64> = ids(&records);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "ids not strictly increasing"
    );
    let by_id: BTreeMap<u64, &Value> = got.iter().copied().zip(records.iter()).collect();
    let sent = sent.lock().unwrap();
    for (id, msg) in &acked {
        let r = by_id
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged id {id} lost"));
        assert_eq!(r["message"].as_str(), Some(msg.as_str()), "id {id} changed");
    }
    for r in &records {
        assert!(
            sent.contains(r["message"].as_str().unwrap()),
            "record never sent: {r}"
        );
    }
    let unique: HashSet<&str> = records
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), records.len(), "a record appears twice");

    // New ids continue after everything recovered.
    let mut s = start(dir.path(), &[]);
    let r = post(s.addr, "/ingest", "text/plain", b"after restart");
    let id: u64 = r.json()["id"].as_str().unwrap().parse().unwrap();
    assert!(id > *got.last().unwrap());
    stop(&mut s);
}

/// Applies `damage` to a copy of `pristine`, starts the daemon on it, and
/// returns (ids served afterwards, stderr).
fn recover_copy(pristine: &Path, tag: &str, damage: impl FnOnce(&Path)) -> (Vec<u64>, String) {
    let dir = TempDir::new(tag);
    copy_dir(pristine, dir.path());
    damage(dir.path());
    let mut s = start(dir.path(), SMALL);
    stop(&mut s);
    let log = s.stderr();
    (ids(&cat(dir.path())), log)
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_torn_last_record_is_cut_at_every_byte_offset() {
    let pristine = TempDir::new("torn-src");
    let acked = seeded_dir(pristine.path(), 3, SMALL);
    let seg = seg_path(pristine.path(), 1);
    let f = frames(&std::fs::read(&seg).unwrap());
    assert_eq!(f.len(), 3);
    let (start_last, end_last) = f[2];
    let original = std::fs::read(&seg).unwrap();
    for cut in start_last + 1..end_last {
        // The record's last bytes may already be zero (an empty metadata
        // length): zeroing only those leaves the record whole and valid.
        let changes = original[cut..end_last].iter().any(|&b| b != 0);
        let (got, log) = recover_copy(pristine.path(), "torn", |d| {
            edit(&seg_path(d, 1), |b| b[cut..end_last].fill(0));
        });
        if changes {
            assert_eq!(got, acked[..2], "cut at {cut}");
            assert!(
                log.contains("torn tail"),
                "cut at {cut}: no torn-tail message:\n{log}"
            );
        } else {
            assert_eq!(got, acked, "cut at {cut} changed nothing");
        }
    }
}

#[test]
fn any_flipped_bit_in_the_last_record_is_cut() {
    let pristine = TempDir::new("flip-src");
    let acked = seeded_dir(pristine.path(), 3, SMALL);
    let seg = seg_path(pristine.path(), 1);
    let (start_last, end_last) = frames(&std::fs::read(&seg).unwrap())[2];
    for byte in start_last..end_last {
        for bit in 0..8 {
            let (got, log) = recover_copy(pristine.path(), "flip", |d| {
                edit(&seg_path(d, 1), |b| b[byte] ^= 1 << bit);
            });
            assert_eq!(got, acked[..2], "byte {byte} bit {bit}");
            assert!(log.contains("torn tail"), "byte {byte} bit {bit}:\n{log}");
        }
    }
}

#[test]
fn zeros_after_the_end_are_clean_and_garbage_is_cut_once() {
    let pristine = TempDir::new("tail-src");
    let acked = seeded_dir(pristine.path(), 3, SMALL);
    let seg = seg_path(pristine.path(), 1);
    let end = frames(&std::fs::read(&seg).unwrap())[2].1;

    let (got, log) = recover_copy(pristine.path(), "zeros", |d| {
        edit(&seg_path(d, 1), |b| b[end..end + 100].fill(0));
    });
    assert_eq!(got, acked);
    assert!(!log.contains("torn tail"), "{log}");

    let dir = TempDir::new("garbage");
    copy_dir(pristine.path(), dir.path());
    edit(&seg_path(dir.path(), 1), |b| {
        b[end + 7..end + 40].copy_from_slice(&[0xA5; 33])
    });
    let mut s = start(dir.path(), SMALL);
    stop(&mut s);
    assert!(s.stderr().contains("torn tail"), "{}", s.stderr());
    assert_eq!(ids(&cat(dir.path())), acked);
    // The cut was zeroed and synced: the next start finds nothing to cut.
    let mut s = start(dir.path(), SMALL);
    let r = post(s.addr, "/ingest", "text/plain", b"next");
    assert_eq!(r.status, 200);
    stop(&mut s);
    assert!(!s.stderr().contains("torn tail"), "{}", s.stderr());
    assert_eq!(ids(&cat(dir.path())).len(), 4);
}

/// NDJSON body of `n` records of about 100 bytes each.
fn batch(n: usize, tag: &str) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{{\"message\":\"{tag} {i} {}\"}}\n", "x".repeat(60)))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn a_valid_record_from_an_older_segment_is_never_accepted() {
    let pristine = TempDir::new("epoch-src");
    let mut s = start(pristine.path(), SMALL);
    for k in 0..3 {
        let r = post(
            s.addr,
            "/ingest",
            "application/x-ndjson",
            &batch(400, &format!("b{k}")),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // As a crash leaves it: a clean stop would make any change refused.
    s.kill9();
    let before = ids(&cat(pristine.path()));
    let segs = seg_files(pristine.path());
    assert!(segs.len() >= 2, "expected a rotation, got {segs:?}");
    let old = std::fs::read(seg_path(pristine.path(), segs[0])).unwrap();
    let (a, b) = frames(&old)[5];
    let stale = old[a..b].to_vec();
    // The newest segment holding records is the active one.
    let active = *segs
        .iter()
        .rev()
        .find(|&&id| !frames(&std::fs::read(seg_path(pristine.path(), id)).unwrap()).is_empty())
        .unwrap();
    let (got, log) = recover_copy(pristine.path(), "epoch", |d| {
        edit(&seg_path(d, active), |bytes| {
            let end = frames(bytes).last().unwrap().1;
            bytes[end..end + stale.len()].copy_from_slice(&stale);
        });
    });
    assert_eq!(got, before, "a stale record was served");
    assert!(log.contains("torn tail"), "{log}");
}

#[test]
fn corruption_outside_the_torn_tail_refuses_to_start_naming_the_offset() {
    let pristine = TempDir::new("corrupt-src");
    let mut s = start(pristine.path(), SMALL);
    for k in 0..3 {
        assert_eq!(
            post(
                s.addr,
                "/ingest",
                "application/x-ndjson",
                &batch(400, &format!("b{k}"))
            )
            .status,
            200
        );
    }
    stop(&mut s);
    let segs = seg_files(pristine.path());
    assert!(segs.len() >= 2);

    // A sealed segment with one flipped byte in record 10's payload, and no
    // index file, so start-up reads it (with its index, start-up does not:
    // see tests/integrity.rs).
    let dir = TempDir::new("corrupt-sealed");
    copy_dir(pristine.path(), dir.path());
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "idx") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let sealed = seg_path(dir.path(), segs[0]);
    let (a, _) = frames(&std::fs::read(&sealed).unwrap())[10];
    edit(&sealed, |b| b[a + 30] ^= 0x01);
    let (status, log) = match try_start(dir.path(), SMALL, &[]) {
        Ok(_) => panic!("started on a corrupt sealed segment"),
        Err(e) => e,
    };
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(3),
        "corruption has its own exit status: {log}"
    );
    let name = format!("{:020}.seg", segs[0]);
    assert!(
        log.contains(&name) && log.contains(&format!("offset {a}")),
        "{log}"
    );

    // The active segment with a bad record followed by valid ones.
    let dir = TempDir::new("corrupt-active");
    copy_dir(pristine.path(), dir.path());
    let active = seg_path(dir.path(), segs[1]);
    let (a, _) = frames(&std::fs::read(&active).unwrap())[1];
    edit(&active, |b| b[a + 25] ^= 0x80);
    let (_, log) = match try_start(dir.path(), SMALL, &[]) {
        Ok(_) => panic!("started with corruption in the middle of the active segment"),
        Err(e) => e,
    };
    assert!(log.contains(&format!("offset {a}")), "{log}");
    // `spool cat` reports it too, and fails.
    let out = Command::new(spool_bin())
        .arg("cat")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("offset {a}")));
}

#[test]
fn rotation_and_retention_across_restarts_keep_the_active_segment() {
    let dir = TempDir::new("retention");
    let args = [
        "--segment-size",
        "64KiB",
        "--max-record",
        "16KiB",
        "--retention-bytes",
        "256KiB",
    ];
    let mut last_acked = 0;
    for round in 0..3 {
        let mut s = start(dir.path(), &args);
        for k in 0..6 {
            let r = post(
                s.addr,
                "/ingest",
                "application/x-ndjson",
                &batch(300, &format!("r{round} b{k}")),
            );
            assert_eq!(r.status, 200, "{}", r.text());
            let last: u64 = r.json()["last_id"].as_str().unwrap().parse().unwrap();
            assert!(last > last_acked);
            last_acked = last;
        }
        stop(&mut s);
        let segs = seg_files(dir.path());
        let bytes: u64 = segs
            .iter()
            .map(|&id| std::fs::metadata(seg_path(dir.path(), id)).unwrap().len())
            .sum();
        assert!(
            bytes <= 256 * 1024 + 64 * 1024,
            "{} segments, {bytes} bytes after round {round}",
            segs.len()
        );
        assert!(
            segs.windows(2).all(|w| w[1] == w[0] + 1),
            "segments not contiguous: {segs:?}"
        );
        let got = ids(&cat(dir.path()));
        // A contiguous suffix of the log, ending with the last acknowledged record.
        assert_eq!(*got.last().unwrap(), last_acked, "round {round}");
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 1),
            "gap in served ids"
        );
        if round > 0 {
            assert!(got[0] > 1, "retention deleted nothing");
            assert!(segs[0] > 1);
        }
    }
}

#[test]
fn a_failed_fdatasync_is_never_acknowledged_and_the_daemon_exits() {
    let dir = TempDir::new("eio");
    let mut s = start_failing_fsync(dir.path(), 3);
    let mut acked = Vec::new();
    let mut failed = None;
    for i in 0..6 {
        let mut conn = connect(s.addr);
        let body = format!("line {i}");
        let req = format!("POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        if std::io::Write::write_all(&mut conn, req.as_bytes()).is_err() {
            break;
        }
        match read_response(&mut conn) {
            Some(r) if r.status == 200 => {
                acked.push(r.json()["id"].as_str().unwrap().parse::<u64>().unwrap())
            }
            Some(r) => {
                assert_eq!(r.status, 503, "{}", r.text());
                assert!(r.json()["error"].as_str().unwrap().contains("failed"));
                failed = Some(i);
                break;
            }
            None => break,
        }
    }
    assert_eq!(
        acked.len(),
        3,
        "exactly the syncs that succeeded are acknowledged"
    );
    assert_eq!(failed, Some(3));
    let status = s.wait(Duration::from_secs(15));
    assert!(
        !status.success(),
        "must exit non-zero after a failed fdatasync"
    );
    assert!(s.stderr().contains("sync failed"), "{}", s.stderr());

    // Restart without the fault: the acknowledged prefix is intact; the
    // failed record may or may not be there; nothing else is.
    let mut s = start(dir.path(), &[]);
    stop(&mut s);
    let got = ids(&cat(dir.path()));
    assert!(got.starts_with(&acked), "{got:?} vs {acked:?}");
    assert!(got.len() <= acked.len() + 1, "{got:?}");
}

#[test]
fn disk_full_answers_507_and_ingest_resumes_when_space_returns() {
    let dir = TempDir::new("enospc");
    let flag = dir.path().join("no-space");
    let data = dir.path().join("data");
    let shim = fault_shim();
    let mut s = try_start(
        &data,
        SMALL,
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("SPOOL_FAULT_ENOSPC_FILE", flag.to_str().unwrap()),
        ],
    )
    .unwrap_or_else(|(st, log)| panic!("{st:?} {log}"));
    let first = post(s.addr, "/ingest", "text/plain", b"before the disk filled");
    assert_eq!(first.status, 200);
    std::fs::write(&flag, b"").unwrap();
    // Enough to need a new segment: refused whole, with a clear message.
    let r = post(
        s.addr,
        "/ingest",
        "application/x-ndjson",
        &batch(800, "full"),
    );
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("disk full"));
    assert!(r.header("Retry-After").is_some());
    std::fs::remove_file(&flag).unwrap();
    // Resumes by itself (no restart) within a few retry intervals.
    let deadline = Instant::now() + Duration::from_secs(10);
    let resumed = loop {
        let r = post(
            s.addr,
            "/ingest",
            "application/x-ndjson",
            &batch(800, "later"),
        );
        if r.status == 200 {
            break r;
        }
        assert_eq!(r.status, 507, "{}", r.text());
        assert!(Instant::now() < deadline, "ingest did not resume");
        std::thread::sleep(Duration::from_millis(200));
    };
    stop(&mut s);
    let got = cat(&data);
    let first_id: u64 = first.json()["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(ids(&got)[0], first_id);
    assert_eq!(got.len(), 1 + 800, "exactly the acknowledged records");
    assert!(got
        .iter()
        .all(|r| !r["message"].as_str().unwrap().starts_with("full")));
    assert_eq!(resumed.json()["count"], 800);
    // The exit line counts every record refused for lack of space (queued
    // then rejected, or refused at once), not 0.
    let log = s.stderr();
    let line = log.lines().find(|l| l.contains("made durable")).unwrap();
    let rejected: u64 = line
        .split(", ")
        .find_map(|p| p.strip_suffix(" rejected for lack of space"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(rejected >= 800, "{line}");
}

/// The disk-full retry runs on the monotonic clock: a wall clock stepped
/// back an hour while the disk is full must not keep answering 507 for that
/// hour once space returns.
#[test]
fn disk_full_recovery_does_not_wait_for_a_wall_clock_stepped_back() {
    let dir = TempDir::new("enospc-clock");
    let flag = dir.path().join("no-space");
    let shift = dir.path().join("wall-shift");
    let data = dir.path().join("data");
    std::fs::write(&flag, b"").unwrap();
    let shim = fault_shim();
    let mut s = try_start(
        &data,
        SMALL,
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("SPOOL_FAULT_ENOSPC_FILE", flag.to_str().unwrap()),
            ("SPOOL_FAULT_WALL_SHIFT_FILE", shift.to_str().unwrap()),
        ],
    )
    .unwrap_or_else(|(st, log)| panic!("{st:?} {log}"));
    // No first segment can be created: refused.
    let r = post(s.addr, "/ingest", "text/plain", b"while full");
    assert_eq!(r.status, 507, "{}", r.text());
    // The wall clock steps back an hour, then space returns.
    std::fs::write(&shift, b"3600").unwrap();
    std::fs::remove_file(&flag).unwrap();
    let t = Instant::now();
    let id = loop {
        let r = post(s.addr, "/ingest", "text/plain", b"after space returned");
        if r.status == 200 {
            break r.json()["id"].as_str().unwrap().parse::<u64>().unwrap();
        }
        assert_eq!(r.status, 507, "{}", r.text());
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still 507 {:?} after space returned: the retry waits for the wall clock",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    stop(&mut s);
    assert_eq!(
        ids(&cat(&data)),
        vec![id],
        "exactly the acknowledged record"
    );
}

#[test]
fn a_full_write_queue_answers_503_with_retry_after_and_loses_nothing() {
    let dir = TempDir::new("busy");
    let shim = fault_shim();
    let mut s = try_start(
        dir.path(),
        &["--max-queued", "2KiB"],
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("SPOOL_FAULT_FDATASYNC_DELAY_MS", "300"),
        ],
    )
    .unwrap_or_else(|(st, log)| panic!("{st:?} {log}"));
    let addr = s.addr;
    let body = |tag: &str| format!("{tag} {}", "y".repeat(1500)).into_bytes();
    // A: its write and (slow) sync are in flight for 300 ms.
    let a = std::thread::spawn(move || post(addr, "/ingest", "text/plain", &body("A")));
    std::thread::sleep(Duration::from_millis(100));
    // B: fills the queue behind A.
    let b = std::thread::spawn(move || post(addr, "/ingest", "text/plain", &body("B")));
    std::thread::sleep(Duration::from_millis(50));
    // C: no room: refused at once, not queued.
    let started = Instant::now();
    let c = post(addr, "/ingest", "text/plain", &body("C"));
    assert_eq!(c.status, 503, "{}", c.text());
    assert_eq!(c.header("Retry-After"), Some("1"));
    assert!(c.json()["error"].as_str().unwrap().contains("queue full"));
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "503 must not wait for the disk"
    );
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!((a.status, b.status), (200, 200));
    stop(&mut s);
    let got = cat(dir.path());
    let msgs: Vec<&str> = got
        .iter()
        .map(|r| &r["message"].as_str().unwrap()[..1])
        .collect();
    assert_eq!(msgs, ["A", "B"]);
}
