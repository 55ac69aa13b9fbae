//! Property tests of the group commit against an in-memory disk, all
//! randomness from one seed (printed on failure).
//!
//! Invariants (RELIABILITY.md 10): acks in id order; no ack before the
//! completed sync that covers it; no ack after a failure; every record ends
//! acked, rejected or failed; syncs ≤ records, far fewer under concurrency;
//! and every acked record is read back exactly by the recovery scan.

use std::collections::BTreeMap;

use spool_core::commit::{CommitConfig, Event, GroupCommit, IoError, IoOp, LogState, SubmitError};
use spool_core::record::{
    decode_frame, Decoded, Lsn, SegmentHeader, SegmentId, SEGMENT_HEADER_LEN,
};
use spool_core::recover::{active_index, is_unwritten, scan_segment, Role};
use spool_core::segment::SegmentPolicy;
use spool_core::time::Now;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Disk {
    files: BTreeMap<u64, Vec<u8>>,
}

impl Disk {
    fn run(&mut self, op: &IoOp, rng: &mut Rng, fail_rate: u64) -> Result<(), IoError> {
        match op {
            IoOp::Prepare {
                segment,
                file_bytes,
                ..
            } => {
                if fail_rate > 0 && rng.below(fail_rate) == 0 {
                    return Err(IoError::NoSpace);
                }
                let mut f = vec![0u8; *file_bytes as usize];
                f[..32].copy_from_slice(&SegmentHeader { id: *segment }.encode());
                self.files.insert(segment.0, f);
                Ok(())
            }
            IoOp::Append {
                segment,
                offset,
                data,
                ..
            } => {
                if fail_rate > 0 && rng.below(fail_rate * 20) == 0 {
                    return Err(IoError::Os(5));
                }
                let f = self
                    .files
                    .get_mut(&segment.0)
                    .expect("append to a prepared segment");
                let at = *offset as usize;
                assert!(at + data.len() <= f.len(), "write past the segment end");
                assert!(
                    f[at..at + data.len()].iter().all(|&b| b == 0),
                    "overwrite of written bytes"
                );
                f[at..at + data.len()].copy_from_slice(data);
                Ok(())
            }
            IoOp::Delete { segment } => {
                self.files
                    .remove(&segment.0)
                    .expect("delete an existing segment");
                Ok(())
            }
        }
    }

    /// Every record id and payload on disk, by a recovery scan.
    fn recover(&self, max_payload: u32) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut prev = Lsn(0);
        let unwritten: Vec<bool> = self.files.values().map(|b| is_unwritten(b)).collect();
        let active = active_index(&unwritten);
        for (i, (&id, bytes)) in self.files.iter().enumerate() {
            let role = if Some(i) >= active {
                Role::Active
            } else {
                Role::Sealed
            };
            let scan =
                scan_segment(SegmentId(id), bytes, role, prev, max_payload).expect("no corruption");
            let mut pos = SEGMENT_HEADER_LEN as usize;
            while (pos as u64) < scan.end {
                match decode_frame(&bytes[pos..], SegmentId(id), max_payload) {
                    Ok(Decoded::Record(f)) => {
                        out.push((f.seq.0, f.payload.to_vec()));
                        pos += 20 + f.payload.len();
                    }
                    other => panic!("scan said valid, decode says {other:?}"),
                }
            }
            if let Some(l) = scan.last {
                prev = l;
            }
        }
        out
    }
}

fn payload(id_hint: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (id_hint as usize * 31 + i) as u8 | 1)
        .collect()
}

/// What the test knows of issued appends: last id -> completed successfully.
type Issued = BTreeMap<u64, bool>;

fn check_durable(seed: u64, l: Lsn, issued: &Issued, acked: &mut Lsn, failed: bool) {
    assert!(l > *acked, "seed {seed}: acks out of order");
    assert!(!failed, "seed {seed}: ack after failure");
    for (&last, &ok) in issued.range(..=l.0) {
        assert!(
            ok,
            "seed {seed}: ack of {l} before the sync of the append ending at {last}"
        );
    }
    *acked = l;
}

fn run_seed(seed: u64, fail_rate: u64) -> (u64, u64) {
    let mut rng = Rng(seed | 1);
    let cfg = CommitConfig {
        policy: SegmentPolicy {
            segment_bytes: 2048 + rng.below(4096),
            retention_bytes: 1 << 40,
            ..SegmentPolicy::default()
        },
        max_payload: 300,
        max_batch_bytes: 1024,
        max_queued_bytes: 4096,
        disk_full_retry_ns: 10,
    };
    let mut gc = GroupCommit::new(cfg, LogState::default(), Now::at(0));
    let mut disk = Disk::default();
    let mut sent: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut acked_upto = Lsn(0);
    let mut rejected = 0u64;
    let mut failed_from: Option<u64> = None;
    let mut in_flight: Vec<IoOp> = Vec::new();
    let mut issued: Issued = BTreeMap::new();
    let mut now = 0u64;
    let step = |gc: &mut GroupCommit,
                in_flight: &mut Vec<IoOp>,
                issued: &mut Issued,
                disk: &mut Disk,
                rng: &mut Rng,
                now: u64,
                fail_rate: u64,
                all: bool| {
        while let Some(op) = gc.poll_io(Now::at(now)) {
            if let IoOp::Append { last, .. } = &op {
                issued.insert(last.0, false);
            }
            in_flight.push(op);
        }
        let maintenance = in_flight
            .iter()
            .filter(|o| !matches!(o, IoOp::Append { .. }))
            .count();
        assert!(maintenance <= 1, "seed {seed}: two creates/deletes at once");
        assert!(
            in_flight
                .iter()
                .filter(|o| matches!(o, IoOp::Append { .. }))
                .count()
                <= usize::from(spool_core::commit::MAX_IN_FLIGHT)
        );
        // Complete a random subset, in random order.
        let mut k = 0;
        while k < in_flight.len() {
            if all || rng.below(2) == 0 {
                let i = rng.below(in_flight.len() as u64) as usize;
                let op = in_flight.swap_remove(i);
                let result = disk.run(&op, rng, fail_rate);
                if let (IoOp::Append { last, .. }, Ok(())) = (&op, &result) {
                    issued.insert(last.0, true);
                }
                gc.complete(Now::at(now), op, result);
            } else {
                k += 1;
            }
        }
    };
    for _step in 0..400 {
        now += rng.below(5);
        // Several producers submit between IO completions.
        for _ in 0..rng.below(6) {
            let n = 1 + rng.below(3) as usize;
            let bodies: Vec<Vec<u8>> = (0..n)
                .map(|k| payload(k as u64 + now, 1 + rng.below(300) as usize))
                .collect();
            match gc.submit(Now::at(now), bodies.iter().map(|b| b.as_slice())) {
                Ok((first, last)) => {
                    assert_eq!(last.0 - first.0 + 1, n as u64);
                    assert!(failed_from.is_none(), "submit accepted after failure");
                    for (i, b) in bodies.into_iter().enumerate() {
                        sent.insert(first.0 + i as u64, b);
                    }
                }
                Err(SubmitError::Failed) => assert!(failed_from.is_some()),
                Err(SubmitError::Busy | SubmitError::DiskFull) => {}
                Err(e) => panic!("seed {seed}: unexpected {e:?}"),
            }
        }
        step(
            &mut gc,
            &mut in_flight,
            &mut issued,
            &mut disk,
            &mut rng,
            now,
            fail_rate,
            false,
        );
        gc.handle_timeout(Now::at(now));
        while let Some(ev) = gc.poll_event() {
            match ev {
                Event::Durable(l) => {
                    check_durable(seed, l, &issued, &mut acked_upto, failed_from.is_some())
                }
                Event::Rejected { first, last, .. } => {
                    assert!(first > acked_upto);
                    // Never written; the ids go to the next records.
                    for id in first.0..=last.0 {
                        sent.remove(&id);
                    }
                    rejected += 1;
                }
                Event::Failed { first, .. } => {
                    assert_eq!(first, acked_upto.next());
                    failed_from = Some(first.0);
                }
                Event::Rotated { .. } | Event::Deleted { .. } => {}
            }
        }
    }
    // Drain: finish everything still queued, without new faults.
    for _ in 0..10_000 {
        if gc.is_idle() && in_flight.is_empty() || (gc.is_failed() && in_flight.is_empty()) {
            break;
        }
        now += 100;
        gc.handle_timeout(Now::at(now));
        step(
            &mut gc,
            &mut in_flight,
            &mut issued,
            &mut disk,
            &mut rng,
            now,
            0,
            true,
        );
        while let Some(ev) = gc.poll_event() {
            match ev {
                Event::Durable(l) => {
                    check_durable(seed, l, &issued, &mut acked_upto, failed_from.is_some())
                }
                Event::Rejected { first, last, .. } => {
                    for id in first.0..=last.0 {
                        sent.remove(&id);
                    }
                    rejected += 1;
                }
                Event::Failed { first, .. } => failed_from = Some(first.0),
                _ => {}
            }
        }
    }
    let on_disk = disk.recover(300);
    let on_disk_map: BTreeMap<u64, Vec<u8>> = on_disk.iter().cloned().collect();
    // Ids are dense on disk: each the previous one's + 1.
    for w in on_disk.windows(2) {
        assert_eq!(w[1].0, w[0].0 + 1, "seed {seed}: ids on disk skip");
    }
    for (&id, bytes) in sent.range(..=acked_upto.0) {
        assert_eq!(
            on_disk_map.get(&id),
            Some(bytes),
            "seed {seed}: acked id {id} not recovered exactly"
        );
    }
    for (id, bytes) in &on_disk {
        assert_eq!(
            sent.get(id),
            Some(bytes),
            "seed {seed}: id {id} on disk was never sent"
        );
    }
    if failed_from.is_none() {
        for &id in sent.keys() {
            assert!(
                id <= acked_upto.0,
                "seed {seed}: id {id} neither acked nor rejected (rejected ids leave `sent`)"
            );
        }
    }
    let _ = rejected;
    (gc.stats().syncs, gc.stats().records)
}

#[test]
fn group_commit_invariants_hold_for_many_seeds() {
    for seed in 1..=300u64 {
        run_seed(seed, 0);
    }
}

#[test]
fn failures_and_disk_full_keep_the_invariants() {
    for seed in 1..=300u64 {
        run_seed(seed * 7919, 6);
    }
}

#[test]
fn concurrent_producers_share_syncs() {
    let (syncs, records) = run_seed(12345, 0);
    assert!(records > 0);
    assert!(syncs * 2 < records, "{syncs} syncs for {records} records");
}

#[test]
fn idle_log_writes_the_first_record_at_once() {
    let mut gc = GroupCommit::new(CommitConfig::default(), LogState::default(), Now::at(0));
    gc.submit(Now::at(0), [b"one".as_slice()]).unwrap();
    assert!(matches!(
        gc.poll_io(Now::at(0)),
        Some(IoOp::Prepare {
            segment: SegmentId(1),
            ..
        })
    ));
}

#[test]
fn full_queue_pushes_back() {
    let cfg = CommitConfig {
        max_queued_bytes: 100,
        ..CommitConfig::default()
    };
    let mut gc = GroupCommit::new(cfg, LogState::default(), Now::at(0));
    let big = [0x55u8; 90];
    gc.submit(Now::at(0), [big.as_slice()]).unwrap();
    assert_eq!(
        gc.submit(Now::at(0), [big.as_slice()]),
        Err(SubmitError::Busy)
    );
}

#[test]
fn disk_full_on_a_fresh_log_clears_once_space_returns() {
    let cfg = CommitConfig {
        disk_full_retry_ns: 100,
        ..CommitConfig::default()
    };
    let mut gc = GroupCommit::new(cfg, LogState::default(), Now::at(0));
    let (first, last) = gc.submit(Now::at(0), [b"a".as_slice()]).unwrap();
    let op = gc.poll_io(Now::at(0)).unwrap();
    assert!(matches!(op, IoOp::Prepare { .. }));
    gc.complete(Now::at(0), op, Err(IoError::NoSpace));
    assert_eq!(
        gc.poll_event(),
        Some(Event::Rejected {
            first,
            last,
            epoch: 0
        })
    );
    assert_eq!(gc.id_epoch(), 1);
    // Inside the retry window: refused at once, nothing queued.
    assert_eq!(
        gc.submit(Now::at(50), [b"b".as_slice()]),
        Err(SubmitError::DiskFull)
    );
    assert!(gc.poll_io(Now::at(50)).is_none());
    // After it: accepted, creation retried, and the record made durable.
    let (b, _) = gc.submit(Now::at(150), [b"b".as_slice()]).unwrap();
    assert_eq!(
        b, first,
        "the rejected id was never written: the next record takes it"
    );
    let op = gc.poll_io(Now::at(150)).unwrap();
    assert!(matches!(op, IoOp::Prepare { .. }));
    gc.complete(Now::at(150), op, Ok(()));
    let op = gc.poll_io(Now::at(150)).unwrap();
    assert!(matches!(op, IoOp::Append { .. }));
    gc.complete(Now::at(150), op, Ok(()));
    assert!(!gc.is_disk_full());
    assert!(std::iter::from_fn(|| gc.poll_event()).any(|e| e == Event::Durable(b)));
}

/// The disk-full retry runs on the monotonic clock: a wall clock stepped
/// back an hour after ENOSPC must not keep refusing for that hour.
#[test]
fn disk_full_retry_ignores_a_wall_clock_stepped_backwards() {
    use spool_core::time::{Instant, UnixNanos};
    let at = |mono: u64, wall: u64| Now {
        mono: Instant::from_nanos(mono),
        wall: UnixNanos(wall),
    };
    let hour = 3_600_000_000_000u64;
    let cfg = CommitConfig {
        disk_full_retry_ns: 100,
        ..CommitConfig::default()
    };
    let mut gc = GroupCommit::new(cfg, LogState::default(), at(0, 2 * hour));
    gc.submit(at(0, 2 * hour), [b"a".as_slice()]).unwrap();
    let op = gc.poll_io(at(0, 2 * hour)).unwrap();
    gc.complete(at(0, 2 * hour), op, Err(IoError::NoSpace));
    // 150 ns later by the monotonic clock, but the wall clock went back an hour.
    let later = at(150, hour);
    let (b, _) = gc
        .submit(later, [b"b".as_slice()])
        .expect("the retry window is over by the monotonic clock");
    let op = gc.poll_io(later).unwrap();
    assert!(matches!(op, IoOp::Prepare { .. }));
    gc.complete(later, op, Ok(()));
    let op = gc.poll_io(later).unwrap();
    gc.complete(later, op, Ok(()));
    assert!(std::iter::from_fn(|| gc.poll_event()).any(|e| e == Event::Durable(b)));
    // And the other way: a wall clock stepped forward does not end it early.
    let mut gc = GroupCommit::new(cfg, LogState::default(), at(0, hour));
    gc.submit(at(0, hour), [b"a".as_slice()]).unwrap();
    let op = gc.poll_io(at(0, hour)).unwrap();
    gc.complete(at(0, hour), op, Err(IoError::NoSpace));
    assert_eq!(
        gc.submit(at(50, 3 * hour), [b"b".as_slice()]),
        Err(SubmitError::DiskFull)
    );
}

/// A segment recovered from an earlier run keeps the size it was created
/// with when `segment_bytes` changed since: a larger setting never writes
/// past its end (the file would grow), a smaller one fills it to its end
/// and never writes an id above the bound in the newest mark.
#[test]
fn a_recovered_segment_keeps_its_size_when_the_setting_changes() {
    use spool_core::segment::SegmentInfo;
    for (file_bytes, setting) in [(1000u64, 4000u64), (4000, 1000)] {
        let mut disk = Disk::default();
        let mut f = vec![0u8; file_bytes as usize];
        f[..32].copy_from_slice(&SegmentHeader { id: SegmentId(1) }.encode());
        disk.files.insert(1, f);
        let state = LogState {
            segments: vec![SegmentInfo {
                id: SegmentId(1),
                file_bytes,
                sealed_at_ns: 0,
                first: Lsn(0),
                last: Lsn(0),
            }],
            active: Some(SegmentId(1)),
            active_end: SEGMENT_HEADER_LEN,
            last_lsn: Lsn(0),
            gaps: Vec::new(),
            seal_active: false,
        };
        let cfg = CommitConfig {
            policy: SegmentPolicy {
                segment_bytes: setting,
                ..SegmentPolicy::default()
            },
            max_payload: 100,
            max_batch_bytes: 400,
            ..CommitConfig::default()
        };
        let mut gc = GroupCommit::new(cfg, state, Now::at(0));
        let mut bound = gc.open_mark().id_bound;
        let mut rng = Rng(7);
        let mut sent = Vec::new();
        let mut seg1_end = 0;
        for i in 0..100u64 {
            let p = payload(i, 60);
            gc.submit(Now::at(i), [p.as_slice()]).unwrap();
            sent.push(p);
            while let Some(op) = gc.poll_io(Now::at(i)) {
                match &op {
                    IoOp::Prepare { mark, .. } => bound = mark.id_bound,
                    IoOp::Append {
                        segment,
                        offset,
                        data,
                        last,
                        ..
                    } => {
                        assert!(*last <= bound, "id {last} above the mark's bound {bound}");
                        if segment.0 == 1 {
                            seg1_end = offset + data.len() as u64;
                        }
                    }
                    IoOp::Delete { .. } => {}
                }
                // Disk::run panics on a write past a file's end.
                disk.run(&op, &mut rng, 0).unwrap();
                gc.complete(Now::at(i), op, Ok(()));
            }
        }
        assert_eq!(disk.files[&1].len() as u64, file_bytes);
        assert!(
            seg1_end + 80 > file_bytes,
            "segment 1 ({file_bytes} bytes, setting {setting}) filled only to {seg1_end}"
        );
        assert!(disk.files.len() > 1, "later segments were created");
        for (id, f) in &disk.files {
            if *id > 1 {
                assert_eq!(f.len() as u64, setting, "new segments take the setting");
            }
        }
        let recovered: Vec<Vec<u8>> = disk.recover(100).into_iter().map(|(_, p)| p).collect();
        assert_eq!(recovered, sent);
    }
}
