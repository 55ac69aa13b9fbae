//! Deterministic simulation of the write path on a simulated machine.
//!
//! The group commit runs with random producers; every IO operation it hands
//! out is carried out by the server's own [`SegmentFiles`] on a
//! [`SimStorage`] (the same code the IO thread runs on the disk), and every
//! restart runs the server's own recovery ([`recover`], with the torn-tail
//! cut) and reads the log back with the reader `spool cat` uses
//! ([`DirStore`]). Nothing here re-states what those do.
//!
//! An operation's calls stand for one turn of IO time each: its result
//! reaches the group commit that many turns after it started, and up to
//! two operations (an append beside a segment creation or deletion) are
//! in flight, completing in either order. At a random moment the machine
//! crashes, often in the middle of an operation (between the calls of a
//! segment creation, between an append's `pwrite` and its `fdatasync`):
//! either as a power loss (each file keeps its synced bytes plus, per
//! 512-byte sector, maybe its unsynced ones; unsynced directory entries
//! survive or vanish one by one) or as a process kill (the page cache
//! survives). Faults: ENOSPC from fallocate, short writes, EIO from file
//! and directory syncs, after which the kernel treats the failed pages as
//! clean (a retry would "succeed" with the data gone). The log lives on for
//! several crashes.
//!
//! Invariants after every recovery: it never refuses the log (Spool's own
//! writes never corrupt it, and the log mark never raises a false alarm);
//! the reader reads back exactly what recovery counted; every acknowledged
//! record is present with its exact bytes; every record present was
//! submitted, with the bytes submitted; nothing is acknowledged after a
//! failure; damage done after a clean shutdown is refused.
//!
//! All randomness comes from one seed. `SPOOL_SIM_SEEDS=N` sets how many
//! seeds run (default 10,000); a failure prints the command that replays it:
//! `SPOOL_SIM_SEED=<seed> cargo test -p spool-server --release --test simulation`
//! (`SPOOL_SIM_TRACE=1` prints every operation and storage call).

use std::collections::BTreeMap;

use spool_core::commit::{CommitConfig, Event, GroupCommit, IoError, IoOp, LogState, SubmitError};
use spool_core::read::{LogReader, ReadItem, Start};
use spool_core::record::{
    decode_frame, Decoded, Lsn, SegmentId, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN,
};
use spool_core::recover::{is_unwritten, scan_segment, Role};
use spool_core::segment::SegmentPolicy;
use spool_core::time::Now;
use spool_server::storage::backend::{Access, Storage};
use spool_server::storage::dir_store::DirStore;
use spool_server::storage::files::{parse_segment_file_name, SegmentFiles};
use spool_server::storage::recovery::recover;
use spool_server::storage::sim::{Faults, SimRng, SimStorage};

fn trace() -> bool {
    std::env::var_os("SPOOL_SIM_TRACE").is_some()
}

/// What a run exercised, summed over seeds and printed, so a simulation
/// that silently stopped reaching its faults is noticed.
#[derive(Default, Debug)]
struct Coverage {
    acked_checks: u64,
    sent: u64,
    torn_cuts: u64,
    failures: u64,
    rejections: u64,
    power_losses: u64,
    mid_op_crashes: u64,
    short_writes: u64,
    sync_errors: u64,
    no_space: u64,
    rotations: u64,
    deletions: u64,
    clean_stops: u64,
    damage_refused: u64,
}

/// An operation handed out by the group commit: waiting to start, or run
/// (its calls made) with its result due after `turns_left` more turns.
struct InFlight {
    op: IoOp,
    done: Option<(Result<(), IoError>, u64)>,
}

/// The operation without its data, for the trace.
fn describe(op: &IoOp) -> String {
    match op {
        IoOp::Append {
            segment,
            offset,
            data,
            first,
            last,
        } => format!(
            "Append {segment} at {offset}, {} bytes, records {first}..={last}",
            data.len()
        ),
        IoOp::Prepare {
            segment,
            file_bytes,
            ..
        } => format!("Prepare {segment}, {file_bytes} bytes"),
        IoOp::Delete { segment } => format!("Delete {segment}"),
    }
}

/// What the test learns from an operation as it is issued: which segment
/// each record goes to, and that retention may take a segment's records.
fn note_issued(
    op: &IoOp,
    segment_of: &mut BTreeMap<u64, SegmentId>,
    acked: &mut BTreeMap<u64, Vec<u8>>,
) {
    match op {
        IoOp::Append {
            segment,
            first,
            last,
            ..
        } => segment_of.extend((first.0..=last.0).map(|id| (id, *segment))),
        // Retention chose to delete it: its records may go.
        IoOp::Delete { segment } => acked.retain(|id, _| segment_of.get(id) != Some(segment)),
        IoOp::Prepare { .. } => {}
    }
}

/// Opens the log as the server does (recovery with repair), then reads
/// every record back with the log reader. Returns the state the group
/// commit starts from and the records, or what went wrong.
fn open_log(
    disk: &SimStorage,
    cov: &mut Coverage,
) -> Result<(LogState, BTreeMap<u64, Vec<u8>>), String> {
    let recovered = recover(disk, true, false).map_err(|e| e.to_string())?;
    cov.torn_cuts += recovered.torn.len() as u64;
    let mut store = DirStore::over(disk.clone());
    let mut reader = LogReader::new(Start::Oldest).with_gaps(&recovered.state.gaps);
    let mut records = BTreeMap::new();
    loop {
        match reader.next(&mut store) {
            Ok(Some(ReadItem::Record { id, payload })) => {
                records.insert(id.0, payload.to_vec());
            }
            Ok(Some(ReadItem::Gap { from, to })) => {
                return Err(format!("the reader found ids {from}..={to} missing"))
            }
            Ok(None) => break,
            Err(e) => return Err(format!("the reader failed: {e}")),
        }
    }
    if let Some((segment, offset)) = reader.stopped_on_bytes() {
        return Err(format!(
            "the reader stopped on bytes in {segment} at {offset} after the cut"
        ));
    }
    if records.len() as u64 != recovered.records {
        return Err(format!(
            "recovery counted {} records, the reader read {}",
            recovered.records,
            records.len()
        ));
    }
    Ok((recovered.state, records))
}

/// Damage done to a cleanly stopped log, which start-up must refuse:
/// through the storage calls an operator's tools would make.
fn damage_after_clean_stop(disk: &SimStorage, rng: &mut SimRng) -> Result<Option<String>, String> {
    let err = |e| format!("damaging the log: {e}");
    let mut segs: Vec<(SegmentId, String)> = disk
        .list()
        .map_err(err)?
        .into_iter()
        .filter_map(|n| Some((parse_segment_file_name(&n)?, n)))
        .collect();
    segs.sort();
    // The newest segment holding a record.
    let mut newest_written = None;
    for (id, name) in segs.iter().rev() {
        let (bytes, _) = disk.read(name).map_err(err)?;
        if !is_unwritten(&bytes) {
            newest_written = Some((*id, name, bytes));
            break;
        }
    }
    let Some((id, name, bytes)) = newest_written else {
        return Ok(None);
    };
    if rng.below(2) == 0 {
        // Delete the newest segment (whichever it is, written or prepared).
        let Some((_, newest)) = segs.last() else {
            return Ok(None);
        };
        disk.unlink(newest).map_err(err)?;
        disk.sync_dir().map_err(err)?;
        return Ok(Some(format!("deleted {newest}")));
    }
    // Flip one bit in the last record.
    let Ok(scan) = scan_segment(id, &bytes, Role::Active, Lsn(0), MAX_PAYLOAD_LEN) else {
        return Ok(None);
    };
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let mut last_at = None;
    while (pos as u64) < scan.end {
        let Ok(Decoded::Record(f)) = decode_frame(&bytes[pos..], id, MAX_PAYLOAD_LEN) else {
            return Ok(None);
        };
        last_at = Some((pos, 20 + f.payload.len()));
        pos += 20 + f.payload.len();
    }
    let Some((at, len)) = last_at else {
        return Ok(None);
    };
    let i = at + rng.below(len as u64) as usize;
    let bit = 1u8 << rng.below(8);
    let file = disk.open(name, Access::ReadWrite).map_err(err)?;
    disk.pwrite(&file, &[bytes[i] ^ bit], i as u64)
        .map_err(err)?;
    disk.fsync(&file).map_err(err)?;
    Ok(Some(format!(
        "flipped a bit of the last record of {name} at byte {i}"
    )))
}

/// The records' fate, as the producers learn it from the events.
#[derive(Default)]
struct Producers {
    /// Every record submitted, ever, by id (an id rejected for lack of
    /// space is given again: the later bytes replace it).
    sent: BTreeMap<u64, Vec<u8>>,
    /// Submitted in this life, not yet acknowledged or rejected.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Acknowledged (and not since given up to retention).
    acked: BTreeMap<u64, Vec<u8>>,
    /// A write failed in this life.
    failed: bool,
}

impl Producers {
    fn drain_events(&mut self, gc: &mut GroupCommit, cov: &mut Coverage) -> Result<(), String> {
        while let Some(ev) = gc.poll_event() {
            match ev {
                Event::Durable(l) => {
                    if self.failed {
                        return Err(format!("durable {l} after a failure"));
                    }
                    let rest = self.pending.split_off(&(l.0 + 1));
                    self.acked
                        .extend(std::mem::replace(&mut self.pending, rest));
                }
                Event::Rejected { first, last, .. } => {
                    cov.rejections += 1;
                    for id in first.0..=last.0 {
                        self.pending.remove(&id);
                    }
                }
                Event::Failed { .. } => {
                    cov.failures += 1;
                    self.failed = true;
                }
                Event::Rotated { .. } => cov.rotations += 1,
                Event::Deleted { .. } => cov.deletions += 1,
            }
        }
        Ok(())
    }
}

/// Runs one seed; `Err` describes the violated invariant.
fn run(seed: u64, cov: &mut Coverage) -> Result<(), String> {
    let mut rng = SimRng(seed);
    let cfg = CommitConfig {
        policy: SegmentPolicy {
            segment_bytes: 1024 + rng.below(6000),
            retention_bytes: if rng.below(2) == 0 {
                1 << 40
            } else {
                12_000 + rng.below(20_000)
            },
            ..SegmentPolicy::default()
        },
        max_payload: 300,
        max_batch_bytes: 512 + rng.below(1024),
        max_queued_bytes: 2048 + rng.below(4096),
        disk_full_retry_ns: 20,
    };
    let quiet = rng.below(4) == 0;
    let faults = Faults {
        no_space: if quiet { 0 } else { rng.below(40) },
        short_write: if quiet { 0 } else { rng.below(8) },
        sync_eio: if quiet { 0 } else { rng.below(8) },
    };
    let disk = SimStorage::new(rng.next_u64());
    disk.set_trace(trace());
    let mut p = Producers::default();
    let mut now = 0u64;
    let mut segment_of: BTreeMap<u64, SegmentId> = BTreeMap::new();
    for life in 0..2 + rng.below(5) {
        // Opening: no faults (a failed open is the operator's to see).
        disk.set_faults(Faults::NONE);
        let (state, on_disk) =
            open_log(&disk, cov).map_err(|e| format!("life {life}: recovery refused: {e}"))?;
        for (id, bytes) in &p.acked {
            if on_disk.get(id) != Some(bytes) {
                return Err(format!(
                    "life {life}: acknowledged record {id} lost or changed"
                ));
            }
        }
        for (id, bytes) in &on_disk {
            if p.sent.get(id) != Some(bytes) {
                return Err(format!(
                    "life {life}: record {id} on disk was never sent with these bytes"
                ));
            }
        }
        cov.acked_checks += p.acked.len() as u64;

        let mut gc = GroupCommit::new(cfg, state, Now::at(now));
        let files = SegmentFiles::new(disk.clone());
        // As the server does at open, before any write.
        files
            .write_mark(&gc.open_mark())
            .map_err(|e| format!("life {life}: writing the open mark: {e}"))?;
        disk.set_faults(faults);
        p.pending.clear();
        p.failed = false;
        let mut in_flight: Vec<InFlight> = Vec::new();
        // A third of the lives end in a clean shutdown (unless a write
        // fails), the others in a crash after `budget` turns.
        let clean_stop = rng.below(3) == 0;
        let budget = rng.below(400);
        for turn in 0..budget {
            now += rng.below(4);
            for _ in 0..rng.below(4) {
                let n = 1 + rng.below(3) as usize;
                let bodies: Vec<Vec<u8>> = (0..n)
                    .map(|_| {
                        (0..1 + rng.below(300))
                            .map(|_| rng.next_u64() as u8)
                            .collect()
                    })
                    .collect();
                match gc.submit(Now::at(now), bodies.iter().map(Vec::as_slice)) {
                    Ok((first, _)) => {
                        if p.failed {
                            return Err("submit accepted after a failure".into());
                        }
                        for (k, b) in bodies.into_iter().enumerate() {
                            p.sent.insert(first.0 + k as u64, b.clone());
                            p.pending.insert(first.0 + k as u64, b);
                        }
                    }
                    Err(SubmitError::Busy | SubmitError::DiskFull | SubmitError::Failed) => {}
                    Err(e) => return Err(format!("unexpected submit error {e:?}")),
                }
            }
            while let Some(op) = gc.poll_io(Now::at(now)) {
                note_issued(&op, &mut segment_of, &mut p.acked);
                in_flight.push(InFlight { op, done: None });
            }
            if !in_flight.is_empty() {
                let i = rng.below(in_flight.len() as u64) as usize;
                let slot = &mut in_flight[i];
                let turns_left = match &mut slot.done {
                    Some((_, left)) => {
                        *left -= 1;
                        *left
                    }
                    None => {
                        if trace() {
                            eprintln!("t={now} start {}", describe(&slot.op));
                        }
                        if !clean_stop {
                            // The life ends after `budget` turns, a call
                            // standing for one: an operation that would
                            // run past the end is cut where the end falls.
                            disk.crash_after(Some(budget - turn));
                        }
                        let before = disk.calls();
                        let result = files.execute(&slot.op, || {});
                        if disk.crashed() {
                            cov.mid_op_crashes += 1;
                            break;
                        }
                        let left = (disk.calls() - before).saturating_sub(1);
                        slot.done = Some((result, left));
                        left
                    }
                };
                if turns_left == 0 {
                    let InFlight { op, done } = in_flight.swap_remove(i);
                    let result = done.map_or(Ok(()), |(r, _)| r);
                    if trace() {
                        eprintln!("t={now} complete {} -> {result:?}", describe(&op));
                    }
                    gc.complete(Now::at(now), op, result);
                }
            }
            gc.handle_timeout(Now::at(now));
            p.drain_events(&mut gc, cov)?;
        }
        disk.crash_after(None);
        if clean_stop && !p.failed {
            // A clean shutdown: finish everything queued, then record it.
            for _ in 0..100_000 {
                if in_flight.is_empty() && (gc.is_idle() || gc.is_failed()) {
                    break;
                }
                now += 1;
                gc.handle_timeout(Now::at(now));
                while let Some(op) = gc.poll_io(Now::at(now)) {
                    note_issued(&op, &mut segment_of, &mut p.acked);
                    in_flight.push(InFlight { op, done: None });
                }
                if let Some(InFlight { op, done }) = in_flight.pop() {
                    let result = match done {
                        Some((result, _)) => result,
                        None => files.execute(&op, || {}),
                    };
                    gc.complete(Now::at(now), op, result);
                }
                p.drain_events(&mut gc, cov)?;
            }
            if let Some(mark) = gc.clean_mark() {
                disk.set_faults(Faults::NONE);
                files
                    .write_mark(&mark)
                    .map_err(|e| format!("life {life}: writing the clean mark: {e}"))?;
                cov.clean_stops += 1;
                if rng.below(4) == 0 {
                    // Damage after a clean stop must be refused, never cut.
                    let damaged = disk.fork();
                    damaged.set_trace(false);
                    if let Some(what) = damage_after_clean_stop(&damaged, &mut rng)? {
                        if recover(&damaged, true, false).is_ok() {
                            return Err(format!(
                                "life {life}: {what} after a clean stop, and recovery accepted it"
                            ));
                        }
                        cov.damage_refused += 1;
                    }
                }
            }
        }
        drop(files);
        let power = rng.below(2) == 0;
        if trace() {
            eprintln!(
                "--- crash ({}) with {} ops in flight{}",
                if power { "power loss" } else { "process kill" },
                in_flight.len(),
                if disk.crashed() {
                    ", one cut short"
                } else {
                    ""
                }
            );
        }
        if power {
            cov.power_losses += 1;
            disk.power_loss();
        } else {
            disk.process_kill();
        }
    }
    let injected = disk.injected();
    cov.short_writes += injected.short_writes;
    cov.sync_errors += injected.sync_errors;
    cov.no_space += injected.no_space;
    cov.sent += p.sent.len() as u64;
    Ok(())
}

fn replay_hint(seed: u64) -> String {
    format!("replay: SPOOL_SIM_SEED={seed} cargo test -p spool-server --release --test simulation")
}

#[test]
fn simulated_crashes_never_lose_an_acknowledged_record() {
    let mut cov = Coverage::default();
    if let Some(seed) = std::env::var("SPOOL_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        if let Err(e) = run(seed, &mut cov) {
            panic!("seed {seed}: {e}\n{}", replay_hint(seed));
        }
        println!("seed {seed}: {cov:?}");
        return;
    }
    let seeds: u64 = std::env::var("SPOOL_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    for seed in 1..=seeds {
        if let Err(e) = run(seed, &mut cov) {
            panic!("seed {seed}: {e}\n{}", replay_hint(seed));
        }
    }
    println!("{seeds} seeds: {cov:?}");
    // Each fault class must actually have been reached.
    assert!(cov.acked_checks > seeds * 10, "{cov:?}");
    assert!(cov.torn_cuts > seeds / 20, "{cov:?}");
    assert!(cov.failures > seeds / 20, "{cov:?}");
    assert!(cov.rejections > seeds / 100, "{cov:?}");
    assert!(
        cov.mid_op_crashes > seeds / 10 && cov.power_losses > seeds,
        "{cov:?}"
    );
    assert!(
        cov.short_writes > seeds / 100
            && cov.sync_errors > seeds / 100
            && cov.no_space > seeds / 100,
        "{cov:?}"
    );
    assert!(
        cov.rotations > seeds && cov.deletions > seeds / 10,
        "{cov:?}"
    );
    assert!(
        cov.clean_stops > seeds / 10 && cov.damage_refused > seeds / 100,
        "{cov:?}"
    );
}
