//! The reader stepped against a live writer, deterministically.
//!
//! The store the reader reads through *is* the writer's world: before every
//! `list` and every `read_at` it lets the real group commit run a random
//! number of steps (submits, segment creation, writes in random-size
//! pieces so a read can see half a write, fsyncs, rotation, retention
//! deletes), and reads return short, random-size pieces. So every
//! interleaving of a reader's listing and reads with the writer's rotation
//! and retention that these seeds reach is tried, and replays from its seed.
//!
//! Invariants: the reader never reports corruption; it yields ids in order,
//! each once, with the bytes written; a gap starts at the id it wanted and
//! covers only ids whose segment retention had deleted when the gap was
//! reported; once the writer stops, the reader reaches the last record.
//! `SPOOL_READER_SEEDS=N` sets the number of seeds (default 10,000); a failure
//! prints `SPOOL_READER_SEED=<seed>` to replay it.

mod common;

use common::Rng;
use std::collections::BTreeMap;

use spool_core::commit::{CommitConfig, Event, GroupCommit, IoOp, LogState};
use spool_core::read::{LogReader, ReadItem, SegmentStore, Start};
use spool_core::record::{Lsn, SegmentHeader, SegmentId};
use spool_core::segment::SegmentPolicy;
use spool_core::time::Now;

/// An operation being carried out piece by piece.
struct Running {
    op: IoOp,
    /// For appends: bytes of `data` written so far.
    written: usize,
}

/// The writer and its files; every reader call first advances it.
struct World {
    rng: Rng,
    gc: GroupCommit,
    files: BTreeMap<SegmentId, Vec<u8>>,
    running: Option<Running>,
    now: u64,
    /// Every id given, with its payload.
    sent: BTreeMap<u64, Vec<u8>>,
    /// First and last id written to each segment.
    ids_in: BTreeMap<SegmentId, (u64, u64)>,
    /// Retention deletes oldest first: every id up to this one is gone.
    deleted_through: u64,
    /// Writer steps per reader call: large makes the reader fall behind.
    pace: u64,
    writing: bool,
    max_read: u64,
    deletions: u64,
    calls: u64,
    /// Bytes handed to readers, per segment.
    served: BTreeMap<SegmentId, u64>,
}

impl World {
    /// A fresh log written by the group commit under `cfg`; `pace` writer
    /// steps per reader call at most, reads of at most `max_read` bytes.
    fn new(cfg: CommitConfig, rng: Rng, pace: u64, max_read: u64) -> World {
        World {
            gc: GroupCommit::new(cfg, LogState::default(), Now::at(0)),
            rng,
            files: BTreeMap::new(),
            running: None,
            now: 0,
            sent: BTreeMap::new(),
            ids_in: BTreeMap::new(),
            deleted_through: 0,
            pace,
            writing: true,
            max_read,
            deletions: 0,
            calls: 0,
            served: BTreeMap::new(),
        }
    }

    fn step(&mut self) {
        self.now += 1;
        if self.writing && self.rng.below(3) == 0 {
            let n = 1 + self.rng.below(4) as usize;
            let bodies: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = 1 + self.rng.below(120) as usize;
                    (0..len).map(|_| self.rng.next() as u8).collect()
                })
                .collect();
            if let Ok((first, _)) = self
                .gc
                .submit(Now::at(self.now), bodies.iter().map(Vec::as_slice))
            {
                for (k, b) in bodies.into_iter().enumerate() {
                    self.sent.insert(first.0 + k as u64, b);
                }
            }
        }
        if self.running.is_none() {
            self.running = self
                .gc
                .poll_io(Now::at(self.now))
                .map(|op| Running { op, written: 0 });
        }
        let Some(mut r) = self.running.take() else {
            return;
        };
        let done = match &r.op {
            IoOp::Prepare {
                segment,
                file_bytes,
                ..
            } => {
                let mut f = SegmentHeader { id: *segment }.encode().to_vec();
                f.resize(*file_bytes as usize, 0);
                self.files.insert(*segment, f);
                true
            }
            IoOp::Append {
                segment,
                offset,
                data,
                first,
                last,
            } => {
                // Written in pieces, so a reader can see part of a write.
                let piece = 1 + self.rng.below(data.len() as u64) as usize;
                let end = (r.written + piece).min(data.len());
                let f = self.files.get_mut(segment).expect("segment exists");
                let at = *offset as usize;
                f[at + r.written..at + end].copy_from_slice(&data[r.written..end]);
                r.written = end;
                if end == data.len() {
                    let e = self.ids_in.entry(*segment).or_insert((first.0, last.0));
                    e.1 = last.0;
                }
                end == data.len()
            }
            IoOp::Delete { segment } => {
                self.files.remove(segment);
                if let Some((_, last)) = self.ids_in.remove(segment) {
                    self.deleted_through = self.deleted_through.max(last);
                }
                self.deletions += 1;
                true
            }
        };
        if done {
            self.gc.complete(Now::at(self.now), r.op, Ok(()));
            while let Some(ev) = self.gc.poll_event() {
                if let Event::Failed { .. } | Event::Rejected { .. } = ev {
                    panic!("no faults are injected here: {ev:?}");
                }
            }
        } else {
            self.running = Some(r);
        }
    }

    fn advance(&mut self) {
        self.calls += 1;
        // A reader whose every read is outrun by retention would never
        // return (nor would a real one whose reads took longer than the
        // writer takes to fill a segment); after enough of its calls in
        // one `next`, the writer pauses until the reader returns.
        if self.calls > 1_000 {
            return;
        }
        for _ in 0..self.rng.below(self.pace) {
            self.step();
        }
    }
}

impl SegmentStore for World {
    type Error = std::convert::Infallible;

    fn list(&mut self, out: &mut Vec<SegmentId>) -> Result<(), Self::Error> {
        self.advance();
        out.clear();
        out.extend(self.files.keys().copied());
        Ok(())
    }

    fn read_at(
        &mut self,
        id: SegmentId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<Option<usize>, Self::Error> {
        self.advance();
        let Some(f) = self.files.get(&id) else {
            return Ok(None);
        };
        let start = (offset as usize).min(f.len());
        let n = (f.len() - start)
            .min(buf.len())
            .min(1 + self.rng.below(self.max_read) as usize);
        buf[..n].copy_from_slice(&f[start..start + n]);
        *self.served.entry(id).or_default() += n as u64;
        Ok(Some(n))
    }
}

fn run(seed: u64, totals: &mut (u64, u64, u64)) -> Result<(), String> {
    let mut rng = Rng(seed);
    let segment_bytes = 400 + rng.below(3000);
    let cfg = CommitConfig {
        policy: SegmentPolicy {
            segment_bytes,
            retention_bytes: segment_bytes * (2 + rng.below(4)),
            ..SegmentPolicy::default()
        },
        max_payload: 200,
        max_batch_bytes: 300 + rng.below(800),
        max_queued_bytes: 4096,
        disk_full_retry_ns: 10,
    };
    let pace = 1 + rng.below(12);
    let max_read = 1 + rng.below(700);
    let mut world = World::new(cfg, rng, pace, max_read);
    // Let the log get going, and sometimes start the reader late.
    for _ in 0..world.rng.below(300) {
        world.step();
    }
    let start = if world.rng.below(3) == 0 {
        let durable = world.gc.durable().0;
        Start::After(Lsn(world.rng.below(durable + 1)))
    } else {
        Start::Oldest
    };
    let mut reader = LogReader::new(start);
    let mut expect = match start {
        Start::After(l) => Some(l.0 + 1),
        Start::Oldest => None,
    };
    let mut calls = 0u64;
    let mut idle_after_stop = 0;
    loop {
        calls += 1;
        if calls == 2_000 || world.sent.len() > 2_000 {
            world.writing = false;
        }
        if calls > 200_000 {
            return Err("reader did not finish".into());
        }
        world.calls = 0;
        // A follower that pauses gives its buffers back; it must read on
        // from the same place.
        if world.rng.below(4) == 0 {
            reader.release_buffers();
        }
        let item = reader
            .next(&mut world)
            .map_err(|e| format!("reader failed: {e:?}"))?;
        match item {
            Some(ReadItem::Record { id, payload }) => {
                if let Some(e) = expect {
                    if id.0 != e {
                        return Err(format!("wanted id {e}, got {id}"));
                    }
                }
                if world.sent.get(&id.0).map(Vec::as_slice) != Some(payload) {
                    return Err(format!("record {id} has bytes that were not written"));
                }
                totals.0 += 1;
                expect = Some(id.0 + 1);
            }
            Some(ReadItem::Gap { from, to }) => {
                if expect.is_some_and(|e| e != from.0) || from > to {
                    return Err(format!("gap {from}..={to} while wanting {expect:?}"));
                }
                if to.0 > world.deleted_through {
                    return Err(format!(
                        "gap {from}..={to} reported, but records after {} were never deleted",
                        world.deleted_through
                    ));
                }
                totals.1 += 1;
                expect = Some(to.0 + 1);
            }
            None => {
                if !world.writing {
                    // Let the writer finish everything queued.
                    while world.running.is_some() || !world.gc.is_idle() {
                        world.step();
                    }
                    idle_after_stop += 1;
                    if idle_after_stop > 3 {
                        break;
                    }
                }
            }
        }
    }
    let last = world.gc.durable().0;
    let reached = expect.map_or(0, |e| e - 1);
    if last > 0 && reached != last && !matches!(start, Start::After(l) if l.0 >= last) {
        return Err(format!("reader stopped at {reached}, log ends at {last}"));
    }
    totals.2 += world.deletions;
    Ok(())
}

#[test]
fn reader_stepped_against_rotation_and_retention() {
    let mut totals = (0, 0, 0);
    if let Some(seed) = std::env::var("SPOOL_READER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        if let Err(e) = run(seed, &mut totals) {
            panic!("seed {seed}: {e}");
        }
        return;
    }
    let seeds: u64 = std::env::var("SPOOL_READER_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    for seed in 1..=seeds {
        if let Err(e) = run(seed, &mut totals) {
            panic!("seed {seed}: {e}\nreplay: SPOOL_READER_SEED={seed} cargo test -p spool-core --release --test reader");
        }
    }
    println!(
        "{seeds} seeds: {} records read in order, {} gaps reported (each checked against deletions), {} segments deleted under readers",
        totals.0, totals.1, totals.2
    );
    // The interleavings this test exists for were reached.
    assert!(totals.1 > seeds / 10, "too few gaps: {totals:?}");
    assert!(totals.2 > seeds, "too few deletions: {totals:?}");
}

#[test]
fn a_reader_starting_after_an_id_reads_only_first_records_of_older_segments() {
    let segment_bytes = 4096;
    let cfg = CommitConfig {
        policy: SegmentPolicy {
            segment_bytes,
            retention_bytes: segment_bytes * 100,
            ..SegmentPolicy::default()
        },
        max_payload: 200,
        max_batch_bytes: 1000,
        max_queued_bytes: 4096,
        disk_full_retry_ns: 10,
    };
    let mut world = World::new(cfg, Rng(7), 1, 1 << 20);
    while world.ids_in.len() < 8 {
        world.step();
    }
    world.writing = false;
    while world.running.is_some() || !world.gc.is_idle() {
        world.step();
    }
    let (&newest, &(first, last)) = world.ids_in.iter().next_back().unwrap();
    world.served.clear();
    let mut reader = LogReader::new(Start::After(Lsn(first)));
    let mut ids = Vec::new();
    while let Some(item) = reader.next(&mut world).unwrap() {
        match item {
            ReadItem::Record { id, .. } => ids.push(id.0),
            ReadItem::Gap { from, to } => panic!("gap {from}..={to}"),
        }
    }
    assert_eq!(ids, (first + 1..=last).collect::<Vec<_>>());
    for (&segment, &bytes) in &world.served {
        if segment != newest {
            // A header and one record, not the segment.
            assert!(bytes < 600, "segment {segment:?}: {bytes} bytes read");
        }
    }
    // Given back its buffers, it reads on from the same place.
    reader.release_buffers();
    assert!(reader.next(&mut world).unwrap().is_none());
}
