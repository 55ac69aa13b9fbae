//! Integrity through the real binary: every reader sees the whole log or
//! names what it could not see; an id is given once, ever; damage is
//! refused with its own exit status and a message that names a command
//! that exists; the directory lock cannot be deleted away; retention says
//! what it deletes.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Exit status of damage (corruption, missing data): see README.
const DAMAGED: i32 = 3;
/// Exit status of `spool cat` after reporting a gap.
const GAP: i32 = 4;

/// Posts `n` text records in one request; returns (first, last) id.
fn post_batch(addr: std::net::SocketAddr, n: usize, tag: &str) -> (u64, u64) {
    let body: String = (0..n)
        .map(|i| format!("{tag} record {i} {}\n", "x".repeat(40)))
        .collect();
    let r = post(addr, "/ingest", "text/plain", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let id = |k: &str| j[k].as_str().unwrap().parse::<u64>().unwrap();
    if n == 1 {
        (id("id"), id("id"))
    } else {
        (id("first_id"), id("last_id"))
    }
}

/// Runs `spool cat`; returns (exit code, ids printed, gaps from stderr, stderr).
fn cat_run(dir: &Path) -> (i32, Vec<u64>, Vec<(u64, u64)>, String) {
    let out = Command::new(spool_bin())
        .args(["cat", "--data-dir"])
        .arg(dir)
        .output()
        .expect("run spool cat");
    parse_cat(out.status.code().unwrap_or(-1), &out.stdout, &out.stderr)
}

fn parse_cat(code: i32, stdout: &[u8], stderr: &[u8]) -> (i32, Vec<u64>, Vec<(u64, u64)>, String) {
    let ids = String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("cat line is JSON");
            v["id"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    let err = String::from_utf8_lossy(stderr).into_owned();
    let gaps = err
        .lines()
        .filter_map(|l| {
            let rest = l.split("gap: records ").nth(1)?;
            let range = rest.split_whitespace().next()?;
            let (a, b) = range.split_once("..=")?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    (code, ids, gaps, err)
}

/// Ids printed plus gaps reported must form one consecutive run, each id once.
fn assert_whole(ids: &[u64], gaps: &[(u64, u64)], what: &str) {
    let mut all: Vec<(u64, u64)> = ids.iter().map(|&i| (i, i)).collect();
    all.extend(gaps);
    all.sort();
    for w in all.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].1 + 1,
            "{what}: ids/gaps not consecutive around {:?} -> {:?}",
            w[0],
            w[1]
        );
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// The record count on `spool verify`'s summary line ("... N record(s) ...").
fn verified_records(out: &str) -> u64 {
    let before = out
        .split(" record(s)")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no record count in {out}"));
    before
        .parse()
        .unwrap_or_else(|e| panic!("{before:?}: {e} in {out}"))
}

/// Start must fail with `code`; returns its stderr.
fn start_fails(dir: &Path, args: &[&str], code: i32) -> String {
    match try_start(dir, args, &[]) {
        Ok(mut s) => {
            s.kill9();
            panic!("spool started on a damaged log:\n{}", s.stderr());
        }
        Err((status, text)) => {
            assert_eq!(status.and_then(|s| s.code()), Some(code), "{text}");
            text
        }
    }
}

#[test]
fn a_reader_paused_mid_segment_still_yields_every_id() {
    // The case: cat reads segment 1 while it holds ids 1-800, is
    // held up, meanwhile 801-1600 fill segment 1 and go on into segment 2.
    // Here cat is held up by its own stdout: a pipe nobody reads.
    let tmp = TempDir::new("int-paused");
    let mut s = start(
        tmp.path(),
        &["--segment-size", "64KiB", "--max-record", "1KiB"],
    );
    for _ in 0..8 {
        post_batch(s.addr, 100, "first");
    }
    let mut cat = Command::new(spool_bin())
        .args(["cat", "--data-dir"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it read segment 1 and block on the full pipe.
    std::thread::sleep(Duration::from_millis(300));
    let (first, last) = post_batch(s.addr, 800, "second");
    assert_eq!((first, last), (801, 1600));
    assert!(
        segments(tmp.path()).len() >= 2,
        "the batch went on into segment 2"
    );
    let mut stdout = Vec::new();
    cat.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    let mut stderr = Vec::new();
    cat.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    let status = cat.wait().unwrap();
    let (code, ids, gaps, err) = parse_cat(status.code().unwrap_or(-1), &stdout, &stderr);
    assert_eq!(code, 0, "{err}");
    assert!(gaps.is_empty(), "{err}");
    // Whatever cat saw is a consecutive run from 1 (it may have stopped
    // before the second batch, never skipped into it).
    assert_eq!(ids.first(), Some(&1));
    assert_whole(&ids, &[], "paused cat");
    assert!(ids.len() >= 800, "{} ids", ids.len());
    stop(&mut s);
}

#[test]
fn cat_under_a_concurrent_writer_never_skips() {
    let tmp = TempDir::new("int-concurrent");
    let mut s = start(
        tmp.path(),
        &["--segment-size", "64KiB", "--max-record", "1KiB"],
    );
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (addr, done) = (s.addr, done.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) && n < 4000 {
                post_batch(addr, 25, "steady");
                n += 1;
            }
        })
    };
    for run in 0..40 {
        let (code, ids, gaps, err) = cat_run(tmp.path());
        assert_eq!(code, 0, "run {run}: {err}");
        assert!(gaps.is_empty(), "run {run}: no retention, so no gap: {err}");
        if let Some(&f) = ids.first() {
            assert_eq!(f, 1, "run {run}");
        }
        assert_whole(&ids, &[], &format!("run {run}"));
    }
    done.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    stop(&mut s);
}

#[test]
fn cat_under_retention_reports_every_missing_id_as_a_gap() {
    let tmp = TempDir::new("int-retention");
    let mut s = start(
        tmp.path(),
        &[
            "--segment-size",
            "64KiB",
            "--max-record",
            "1KiB",
            "--retention-bytes",
            "256KiB",
        ],
    );
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (addr, done) = (s.addr, done.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) && n < 20_000 {
                post_batch(addr, 20, "steady");
                n += 1;
            }
        })
    };
    // Retention must be deleting while cat runs, not only afterwards: wait for
    // the first deletion before the first run (bounded).
    let first = Instant::now() + Duration::from_secs(30);
    while !s.stderr().contains("retention deleted") {
        assert!(Instant::now() < first, "no retention deletion within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut saw_gap = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for run in 0..60 {
        let (code, ids, gaps, err) = cat_run(tmp.path());
        assert!(
            code == 0 || code == GAP,
            "run {run}: exit {code} (no 'No such file', no failure):\n{err}"
        );
        assert_eq!(code == GAP, !gaps.is_empty(), "run {run}: {err}");
        assert!(!err.contains("No such file"), "run {run}: {err}");
        assert_whole(&ids, &gaps, &format!("run {run}"));
        saw_gap += usize::from(!gaps.is_empty());
        if Instant::now() > deadline {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let log = s.stderr();
    assert!(
        log.contains("spool: retention deleted 0") && log.contains("--retention-bytes"),
        "each deletion is logged with its reason:\n{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("retention deleted"))
        .unwrap();
    assert!(line.contains("ids ") && line.contains("bytes"), "{line}");
    stop(&mut s);
    eprintln!("{saw_gap} of the cat runs reported a gap");
}

#[test]
fn a_damaged_last_record_after_a_clean_stop_is_refused_and_its_id_never_reused() {
    let tmp = TempDir::new("int-cleanflip");
    let mut s = start(tmp.path(), &[]);
    let (_, last) = post_batch(s.addr, 10, "before");
    assert_eq!(last, 10);
    stop(&mut s);
    assert!(
        s.stderr().contains("clean shutdown recorded"),
        "{}",
        s.stderr()
    );
    // One bit flipped in the last record's payload.
    let seg = segments(tmp.path()).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap();
    bytes[end - 3] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();

    let err = start_fails(tmp.path(), &[], DAMAGED);
    assert!(err.contains("stopped cleanly"), "{err}");
    assert!(
        err.contains("spool verify") && err.contains("--accept-data-loss"),
        "{err}"
    );
    // The command it names exists and agrees.
    let (code, out, _) = run_cmd(&["verify"], tmp.path());
    assert_eq!(code, DAMAGED, "{out}");
    assert!(
        out.contains("DAMAGE") && out.contains("stopped cleanly"),
        "{out}"
    );
    // Nothing was cut: the damage is still there for an operator.
    assert_eq!(std::fs::read(&seg).unwrap(), bytes);

    // Accepting the loss: the damaged id is declared lost, never reused.
    let mut s = start(tmp.path(), &["--accept-data-loss"]);
    assert!(
        s.stderr().contains("ids 10..=10 are declared lost"),
        "{}",
        s.stderr()
    );
    let (next, _) = post_batch(s.addr, 1, "after");
    assert_eq!(
        next, 11,
        "id 10 was acknowledged once; it is never given again"
    );
    stop(&mut s);
    let (code, ids, gaps, err) = cat_run(tmp.path());
    assert_eq!(code, GAP, "{err}");
    assert_eq!(gaps, vec![(10, 10)], "{err}");
    assert_eq!(ids, (1..=9).chain([11]).collect::<Vec<_>>());
    // And the log is consistent from then on: a plain restart works.
    let mut s = start(tmp.path(), &[]);
    assert_eq!(post_batch(s.addr, 1, "later").0, 12);
    stop(&mut s);
    let (code, out, _) = run_cmd(&["verify"], tmp.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("declared lost") && out.contains("ids 10..=10"),
        "{out}"
    );
}

#[test]
fn a_missing_newest_segment_is_refused_and_ids_continue_after_it() {
    for crash in [false, true] {
        let tmp = TempDir::new("int-missing");
        let mut s = start(
            tmp.path(),
            &["--segment-size", "64KiB", "--max-record", "1KiB"],
        );
        let mut last = 0;
        while segments(tmp.path()).len() < 3 {
            last = post_batch(s.addr, 100, "fill").1;
        }
        if crash {
            s.kill9();
        } else {
            stop(&mut s);
        }
        // Delete the newest segment holding records (and any prepared after it).
        let segs = segments(tmp.path());
        let mut removed = Vec::new();
        for p in segs.iter().rev() {
            let bytes = std::fs::read(p).unwrap();
            let written = bytes[32..].iter().any(|&b| b != 0);
            std::fs::remove_file(p).unwrap();
            removed.push(p.file_name().unwrap().to_string_lossy().into_owned());
            if written {
                break;
            }
        }
        let err = start_fails(tmp.path(), &[], DAMAGED);
        assert!(err.contains("missing"), "crash={crash}: {err}");
        assert!(err.contains("--accept-data-loss"), "{err}");
        let (code, out, _) = run_cmd(&["verify"], tmp.path());
        assert_eq!(code, DAMAGED, "crash={crash}: {out}");

        let mut s = start(tmp.path(), &["--accept-data-loss"]);
        assert!(s.stderr().contains("declared lost"), "{}", s.stderr());
        let (next, _) = post_batch(s.addr, 5, "after");
        assert!(
            next > last,
            "crash={crash}: new id {next} must be above every id acknowledged ({last})"
        );
        stop(&mut s);
        let (code, ids, gaps, err) = cat_run(tmp.path());
        assert_eq!(code, GAP, "{err}");
        assert_eq!(gaps.len(), 1, "{err}");
        assert!(
            gaps[0].1 >= last && gaps[0].1 == next - 1,
            "{gaps:?} {next}"
        );
        assert_whole(&ids, &gaps, "after accepted loss");
        assert_eq!(ids.first(), Some(&1));
        // A restart without the flag now works: the loss is on record.
        let mut s = start(tmp.path(), &[]);
        assert_eq!(post_batch(s.addr, 1, "later").0, next + 5);
        stop(&mut s);
    }
}

#[test]
fn a_missing_mark_file_is_refused() {
    let tmp = TempDir::new("int-nomark");
    let mut s = start(tmp.path(), &[]);
    post_batch(s.addr, 3, "x");
    stop(&mut s);
    std::fs::remove_file(tmp.path().join("MARK")).unwrap();
    let err = start_fails(tmp.path(), &[], DAMAGED);
    assert!(err.contains("MARK file is missing"), "{err}");
    // Without a mark nothing bounds the ids: the message says what the
    // flag would then do, and the daemon warns when it is used.
    assert!(
        err.contains("ids then continue after the last record present"),
        "{err}"
    );
    let mut s = start(tmp.path(), &["--accept-data-loss"]);
    assert!(
        s.stderr().contains("without a MARK nothing bounds"),
        "{}",
        s.stderr()
    );
    assert_eq!(post_batch(s.addr, 1, "y").0, 4);
    stop(&mut s);
}

#[test]
fn corruption_in_a_sealed_segment_exits_3_and_verify_names_it() {
    let tmp = TempDir::new("int-corrupt");
    let mut s = start(
        tmp.path(),
        &["--segment-size", "64KiB", "--max-record", "1KiB"],
    );
    while segments(tmp.path()).len() < 3 {
        post_batch(s.addr, 100, "fill");
    }
    stop(&mut s);
    let (code, out, _) = run_cmd(&["verify"], tmp.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK") && out.contains("clean shutdown recorded"),
        "{out}"
    );
    let total = verified_records(&out);
    let first = &segments(tmp.path())[0];
    let mut bytes = std::fs::read(first).unwrap();
    // Records in the first segment: frames from the header to the zeros.
    let mut in_first = 0;
    let mut at = 32;
    while at + 20 <= bytes.len() && bytes[at..at + 20].iter().any(|&b| b != 0) {
        at += 20 + u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        in_first += 1;
    }
    bytes[1000] ^= 0x01;
    std::fs::write(first, &bytes).unwrap();
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    // The damage is in the segment's first block, which start-up checks
    // against the segment's index (a middle block it does not read: see
    // tests/query.rs, where a query refuses it instead). Without the index,
    // start-up reads the whole segment; either way it refuses.
    let err = start_fails(tmp.path(), &[], DAMAGED);
    assert!(err.contains(&name) && err.contains("spool verify"), "{err}");
    let idx = first.with_extension("idx");
    std::fs::remove_file(&idx).unwrap_or_else(|e| panic!("{}: {e}", idx.display()));
    let err = start_fails(tmp.path(), &[], DAMAGED);
    assert!(err.contains(&name) && err.contains("spool verify"), "{err}");
    let (code, out, _) = run_cmd(&["verify"], tmp.path());
    assert_eq!(code, DAMAGED, "{out}");
    assert!(out.contains(&name) && out.contains("offset"), "{out}");
    // cat stops at the corruption with the same status, naming it.
    let (code, ids, _, err) = cat_run(tmp.path());
    assert_eq!(code, DAMAGED, "{err}");
    assert!(err.contains(&name), "{err}");
    assert_whole(&ids, &[], "cat before corruption");
    // verify counts what is intact: the records before the damage and
    // those of the later segments.
    assert_eq!(
        verified_records(&out),
        total - in_first + ids.len() as u64,
        "{out}"
    );
    // --accept-data-loss never accepts corruption inside the log.
    start_fails(tmp.path(), &["--accept-data-loss"], DAMAGED);
}

#[test]
fn the_active_segment_deleted_while_running_is_a_write_failure() {
    active_segment_deleted(&[]);
}

/// Where `statx` is refused (an old kernel, a seccomp filter), the link
/// count comes from `fstat`: ingest works, and a deleted segment is still
/// caught.
#[test]
fn without_statx_the_link_check_falls_back_to_fstat() {
    let shim = fault_shim();
    active_segment_deleted(&[
        ("LD_PRELOAD", shim.to_str().unwrap()),
        ("SPOOL_FAULT_NO_STATX", "1"),
    ]);
}

fn active_segment_deleted(env: &[(&str, &str)]) {
    let tmp = TempDir::new("int-unlinked");
    let mut s = try_start(tmp.path(), &[], env).unwrap_or_else(|(st, log)| panic!("{st:?} {log}"));
    for i in 0..3 {
        let r = post(
            s.addr,
            "/ingest",
            "text/plain",
            format!("record {i}\n").as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    post_batch(s.addr, 5, "before");
    for p in segments(tmp.path()) {
        std::fs::remove_file(p).unwrap();
    }
    let r = post(s.addr, "/ingest", "text/plain", b"after the delete\n");
    assert_eq!(
        r.status,
        503,
        "never acknowledged into a deleted file: {}",
        r.text()
    );
    let status = s.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{}", s.stderr());
    assert!(
        s.stderr().contains("deleted while being written"),
        "{}",
        s.stderr()
    );
    assert!(!s.stderr().contains("every acknowledged record is durable"));
    // The restart refuses: acknowledged records are gone.
    let err = start_fails(tmp.path(), &[], DAMAGED);
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn a_second_daemon_is_refused_even_with_no_lock_file() {
    let tmp = TempDir::new("int-lock");
    let mut a = start(tmp.path(), &[]);
    let _ = std::fs::remove_file(tmp.path().join("LOCK"));
    let err = start_fails(tmp.path(), &[], 1);
    assert!(err.contains("in use by another spool process"), "{err}");
    // The first one is unaffected.
    assert_eq!(post_batch(a.addr, 1, "still").0, 1);
    stop(&mut a);
    // Once it stopped, the directory can be opened again.
    let mut b = start(tmp.path(), &[]);
    assert_eq!(post_batch(b.addr, 1, "next").0, 2);
    stop(&mut b);
}

#[test]
fn ids_stay_consecutive_across_restarts_and_crashes() {
    let tmp = TempDir::new("int-dense");
    let mut expected = 1;
    for round in 0..6 {
        let mut s = start(
            tmp.path(),
            &["--segment-size", "64KiB", "--max-record", "1KiB"],
        );
        let (first, last) = post_batch(s.addr, 150, "round");
        assert_eq!(first, expected, "round {round}");
        expected = last + 1;
        if round % 2 == 0 {
            s.kill9();
        } else {
            stop(&mut s);
        }
    }
    let (code, ids, gaps, err) = cat_run(tmp.path());
    assert_eq!(code, 0, "{err}");
    assert!(gaps.is_empty());
    assert_eq!(ids, (1..expected).collect::<Vec<_>>());
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
}

/// Restarting with another `--segment-size` never grows a segment written
/// before: a segment (the active one, or one prepared ahead) keeps the size
/// it was created with, and new ones take the new size, records up to a
/// raised `--max-record` included; an empty segment prepared ahead that is
/// too small for the new largest record is extended to the new size at
/// start. Every record reads back, ids consecutive, `spool verify` OK,
/// across a SIGKILL too.
#[test]
fn a_changed_segment_size_never_grows_an_older_segment() {
    let tmp = TempDir::new("int-resize");
    let mut expected = 1;
    let rounds: [(u64, &str, usize); 4] = [
        (64 << 10, "1KiB", 0),
        (256 << 10, "1KiB", 0),
        (32 << 10, "1KiB", 0),
        (1 << 20, "512KiB", 200_000),
    ];
    let sizes: Vec<u64> = rounds.iter().map(|r| r.0).collect();
    for (round, &(size, max_record, big)) in rounds.iter().enumerate() {
        let flag = format!("{}KiB", size >> 10);
        let mut s = start(
            tmp.path(),
            &["--segment-size", &flag, "--max-record", max_record],
        );
        if big > 0 {
            let body = "b".repeat(big);
            let r = post(s.addr, "/ingest", "text/plain", body.as_bytes());
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(
                r.json()["id"].as_str().unwrap().parse::<u64>().unwrap(),
                expected
            );
            expected += 1;
        }
        for _ in 0..4 {
            let (first, last) = post_batch(s.addr, 150, "resize");
            assert_eq!(first, expected, "round {round}");
            expected = last + 1;
        }
        // Before the big record: stop with a segment prepared ahead (the
        // newest file holds only its header), too small for that record.
        if round == 2 {
            let prepared_ahead = |dir: &Path| {
                let newest = segments(dir).pop().unwrap();
                std::fs::read(newest).unwrap()[32..].iter().all(|&b| b == 0)
            };
            for _ in 0..200 {
                if prepared_ahead(tmp.path()) {
                    break;
                }
                let (first, last) = post_batch(s.addr, 10, "resize");
                assert_eq!(first, expected, "round {round}");
                expected = last + 1;
            }
            assert!(prepared_ahead(tmp.path()), "no segment was prepared ahead");
        }
        if round == 1 {
            s.kill9();
        } else {
            stop(&mut s);
        }
        for seg in segments(tmp.path()) {
            let len = std::fs::metadata(&seg).unwrap().len();
            assert!(
                sizes[..=round].contains(&len),
                "round {round}: {seg:?} is {len} bytes, not a size it was created with"
            );
        }
    }
    let (code, ids, gaps, err) = cat_run(tmp.path());
    assert_eq!(code, 0, "{err}");
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(ids, (1..expected).collect::<Vec<_>>());
    let (code, out, _) = run_cmd(&["verify"], tmp.path());
    assert_eq!(code, 0, "{out}");
    // And the daemon starts on it again.
    let mut s = start(
        tmp.path(),
        &["--segment-size", "1MiB", "--max-record", "512KiB"],
    );
    assert_eq!(post_batch(s.addr, 3, "after").0, expected);
    stop(&mut s);
}

/// Three segments of records, stopped cleanly; returns (dir, segment paths).
fn three_segments(tag: &str) -> (TempDir, Vec<PathBuf>) {
    let tmp = TempDir::new(tag);
    let mut s = start(
        tmp.path(),
        &["--segment-size", "64KiB", "--max-record", "1KiB"],
    );
    while segments(tmp.path()).len() < 3 {
        post_batch(s.addr, 100, "fill");
    }
    post_batch(s.addr, 100, "more");
    stop(&mut s);
    let segs = segments(tmp.path());
    (tmp, segs)
}

#[test]
fn cat_calls_records_missing_from_a_segment_that_is_still_there_damage_not_retention() {
    // The first records of a sealed segment zeroed: not "caught up".
    let (tmp, segs) = three_segments("int-zerofirst");
    let mut bytes = std::fs::read(&segs[1]).unwrap();
    bytes[32..600].fill(0);
    std::fs::write(&segs[1], &bytes).unwrap();
    let (code, ids, gaps, err) = cat_run(tmp.path());
    assert_eq!(code, DAMAGED, "{err}");
    assert!(gaps.is_empty(), "damage is not a gap: {err}");
    assert_whole(&ids, &[], "before the damage");

    // The last records of a sealed segment zeroed, the file still there:
    // retention deletes whole files, so this is damage too.
    let (tmp, segs) = three_segments("int-zerolast");
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    // Frame starts: length at bytes 4..8 of each 20-byte frame header.
    let mut starts = Vec::new();
    let mut pos = 32;
    while pos + 20 <= bytes.len() && bytes[pos..pos + 20].iter().any(|&b| b != 0) {
        starts.push(pos);
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 20 + len;
    }
    let cut = starts[starts.len() - 5];
    bytes[cut..pos].fill(0);
    std::fs::write(&segs[0], &bytes).unwrap();
    let (code, _, gaps, err) = cat_run(tmp.path());
    assert_eq!(code, DAMAGED, "{err}");
    assert!(gaps.is_empty() && err.contains("missing"), "{err}");
    let (code, out, _) = run_cmd(&["verify"], tmp.path());
    assert_eq!(code, DAMAGED, "{out}");
}

#[test]
fn cat_knows_from_the_mark_when_the_newest_segment_is_gone() {
    let (tmp, segs) = three_segments("int-catmark");
    for p in segs.iter().rev() {
        let written = std::fs::read(p).unwrap()[32..].iter().any(|&b| b != 0);
        std::fs::remove_file(p).unwrap();
        if written {
            break;
        }
    }
    let (code, ids, _, err) = cat_run(tmp.path());
    assert_eq!(code, DAMAGED, "{err}");
    assert!(err.contains("missing"), "{err}");
    assert_whole(&ids, &[], "what is left");
}

#[test]
fn an_older_spool_holding_the_lock_file_keeps_this_one_out() {
    // Earlier versions locked the LOCK file; `flock` stands in for one.
    let tmp = TempDir::new("int-legacylock");
    std::fs::write(tmp.path().join("LOCK"), b"").unwrap();
    let held = std::fs::File::open(tmp.path().join("LOCK")).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let err = start_fails(tmp.path(), &[], 1);
    assert!(err.contains("in use by another spool process"), "{err}");
    drop(held);
    let mut s = start(tmp.path(), &[]);
    stop(&mut s);
}
