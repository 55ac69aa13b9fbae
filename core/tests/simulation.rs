//! Deterministic simulation of the write path against a simulated disk.
//!
//! The group commit runs with random producers; every IO operation it hands
//! out is carried out as the server's IO thread does it, one syscall-sized
//! step at a time (create, fallocate, pwrite, fsync, rename, directory fsync,
//! fdatasync, unlink), with steps of concurrent operations interleaved. At a
//! random moment the machine crashes, either as a power loss (each file
//! keeps its synced bytes plus, per 512-byte sector, maybe its unsynced ones;
//! unsynced directory entries survive or vanish one by one) or as a process
//! kill (the page cache survives). Faults: ENOSPC from fallocate, short
//! writes, EIO from fsync/fdatasync followed by the kernel treating the
//! failed pages as clean (a retry would "succeed" with the data gone). Then
//! recovery runs exactly as the server runs it ([`LogScan`]), and the log
//! lives on for several crashes.
//!
//! Invariants after every recovery: it never reports corruption (Spool's own
//! writes never corrupt); every acknowledged record is present with its
//! exact bytes; every record present was submitted, with the bytes
//! submitted; nothing is acknowledged after a failure.
//!
//! All randomness comes from one seed. `SPOOL_SIM_SEEDS=N` sets how many
//! seeds run (default 10,000); a failure prints the command that replays it:
//! `SPOOL_SIM_SEED=<seed> cargo test -p spool-core --release --test simulation`.

mod common;

use common::Rng;
use std::collections::{BTreeMap, BTreeSet};

use spool_core::commit::{CommitConfig, Event, GroupCommit, IoError, IoOp, SubmitError};
use spool_core::mark::{check, LogMark};
use spool_core::record::{
    decode_frame, Decoded, SegmentHeader, SegmentId, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN,
};
use spool_core::recover::{is_unwritten, LogScan};
use spool_core::segment::SegmentPolicy;
use spool_core::time::Now;

const SECTOR: usize = 512;

fn trace() -> bool {
    std::env::var_os("SPOOL_SIM_TRACE").is_some()
}
const EIO: i32 = 5;

#[derive(Clone, Default)]
struct File {
    /// What a read returns (the page cache).
    live: Vec<u8>,
    /// What survives a power loss.
    durable: Vec<u8>,
    /// Sectors whose fsync failed: the kernel marked them clean without
    /// writing them, so no later fsync will.
    falsely_clean: BTreeSet<usize>,
}

#[derive(Default)]
struct Disk {
    files: BTreeMap<u64, File>,
    live_dir: BTreeMap<String, u64>,
    durable_dir: BTreeMap<String, u64>,
    next_inode: u64,
}

impl Disk {
    fn inode(&self, name: &str) -> Option<u64> {
        self.live_dir.get(name).copied()
    }

    fn create(&mut self, name: &str) {
        self.next_inode += 1;
        self.files.insert(self.next_inode, File::default());
        self.live_dir.insert(name.to_owned(), self.next_inode);
    }

    fn file(&mut self, name: &str) -> &mut File {
        let ino = self.inode(name).expect("file exists");
        self.files.get_mut(&ino).expect("inode exists")
    }

    fn pwrite(&mut self, name: &str, offset: usize, data: &[u8]) {
        let f = self.file(name);
        if f.live.len() < offset + data.len() {
            f.live.resize(offset + data.len(), 0);
        }
        f.live[offset..offset + data.len()].copy_from_slice(data);
        let (a, b) = (offset / SECTOR, (offset + data.len()).div_ceil(SECTOR));
        for s in a..b {
            f.falsely_clean.remove(&s);
        }
    }

    fn fsync(&mut self, name: &str) {
        let f = self.file(name);
        let old = std::mem::take(&mut f.durable);
        let mut new = f.live.clone();
        for &s in &f.falsely_clean {
            let range = s * SECTOR..((s + 1) * SECTOR).min(new.len());
            for i in range {
                new[i] = old.get(i).copied().unwrap_or(0);
            }
        }
        f.durable = new;
    }

    /// fsync returned EIO: dirty sectors are now "clean" but not on disk.
    fn fsync_failed(&mut self, name: &str) {
        let f = self.file(name);
        let sectors = f.live.len().div_ceil(SECTOR);
        for s in 0..sectors {
            let range = s * SECTOR..((s + 1) * SECTOR).min(f.live.len());
            if f.durable.get(range.clone()) != Some(&f.live[range]) {
                f.falsely_clean.insert(s);
            }
        }
    }

    fn sync_dir(&mut self) {
        self.durable_dir = self.live_dir.clone();
    }

    fn power_loss(&mut self, rng: &mut Rng) {
        let names: BTreeSet<String> = self
            .live_dir
            .keys()
            .chain(self.durable_dir.keys())
            .cloned()
            .collect();
        let mut dir = BTreeMap::new();
        for name in names {
            let (l, d) = (self.live_dir.get(&name), self.durable_dir.get(&name));
            let pick = if l == d || rng.below(2) == 0 { d } else { l };
            if let Some(&ino) = pick {
                dir.insert(name, ino);
            }
        }
        for f in self.files.values_mut() {
            let len = if rng.below(2) == 0 {
                f.durable.len()
            } else {
                f.live.len()
            };
            let mut out = f.durable.clone();
            out.resize(len, 0);
            for s in 0..len.div_ceil(SECTOR) {
                let range = s * SECTOR..((s + 1) * SECTOR).min(len);
                if f.falsely_clean.contains(&s) || rng.below(2) == 0 {
                    continue; // this sector's unsynced bytes never landed
                }
                for i in range {
                    if let Some(&b) = f.live.get(i) {
                        out[i] = b;
                    }
                }
            }
            f.live = out.clone();
            f.durable = out;
            f.falsely_clean.clear();
        }
        self.live_dir = dir.clone();
        self.durable_dir = dir;
        self.files
            .retain(|ino, _| self.live_dir.values().any(|i| i == ino));
    }

    /// The process dies; the page cache lives on. Recovery's settle step
    /// (fsync, then drop clean cached pages) makes reads return what the
    /// kernel will keep: falsely clean sectors come back from disk.
    fn process_kill(&mut self) {
        for f in self.files.values_mut() {
            for &s in &f.falsely_clean {
                let range = s * SECTOR..((s + 1) * SECTOR).min(f.live.len());
                for i in range {
                    f.live[i] = f.durable.get(i).copied().unwrap_or(0);
                }
            }
            f.falsely_clean.clear();
            f.durable = f.live.clone();
        }
        self.durable_dir = self.live_dir.clone();
        self.files
            .retain(|ino, _| self.live_dir.values().any(|i| i == ino));
    }
}

fn seg_name(id: SegmentId) -> String {
    format!("{id}.seg")
}

/// One syscall-sized step of an IO operation, as server/src/storage/files.rs does them.
#[derive(Clone, Debug)]
enum Step {
    Create(String),
    Fallocate(String, usize),
    Pwrite(String, usize, Vec<u8>),
    Fsync(String),
    Rename(String, String),
    SyncDir,
    Unlink(String),
}

fn steps(op: &IoOp, mark_now: Option<&[u8]>) -> Vec<Step> {
    match op {
        IoOp::Prepare {
            segment,
            file_bytes,
            mark,
        } => {
            let (tmp, name) = (format!("{}.tmp", seg_name(*segment)), seg_name(*segment));
            let mut steps = vec![
                Step::Create(tmp.clone()),
                Step::Fallocate(tmp.clone(), *file_bytes as usize),
                Step::Pwrite(
                    tmp.clone(),
                    0,
                    SegmentHeader { id: *segment }.encode().to_vec(),
                ),
                Step::Fsync(tmp.clone()),
                Step::Rename(tmp, name),
                Step::SyncDir,
            ];
            steps.extend(mark_steps(mark, mark_now));
            steps
        }
        IoOp::Append {
            segment,
            offset,
            data,
            ..
        } => {
            let name = seg_name(*segment);
            vec![
                Step::Pwrite(name.clone(), *offset as usize, data.clone()),
                Step::Fsync(name),
            ]
        }
        IoOp::Delete { segment } => vec![Step::Unlink(seg_name(*segment)), Step::SyncDir],
    }
}

/// Replacing the log mark, as `write_mark` does: over the mark file the
/// disk shows now (`current`), the other slot in place (one sector, then
/// fdatasync); with none, the whole file through a temporary name.
fn mark_steps(mark: &LogMark, current: Option<&[u8]>) -> Vec<Step> {
    if let Some((at, slot)) = mark.encode_over(current) {
        return vec![
            Step::Pwrite("MARK".to_owned(), at as usize, slot),
            Step::Fsync("MARK".to_owned()),
        ];
    }
    let tmp = "MARK.tmp".to_owned();
    vec![
        Step::Create(tmp.clone()),
        Step::Pwrite(tmp.clone(), 0, mark.encode_file()),
        Step::Fsync(tmp.clone()),
        Step::Rename(tmp, "MARK".to_owned()),
        Step::SyncDir,
    ]
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

/// The mark file's bytes as a read sees them now.
fn mark_bytes(disk: &Disk) -> Option<Vec<u8>> {
    disk.inode("MARK")
        .and_then(|i| disk.files.get(&i))
        .map(|f| f.live.clone())
}

struct Faults {
    nospace: u64,
    short_write: u64,
    sync_eio: u64,
}

fn run_step(disk: &mut Disk, step: &Step, rng: &mut Rng, faults: &Faults) -> Result<(), IoError> {
    match step {
        Step::Create(name) => disk.create(name),
        Step::Fallocate(name, len) => {
            if rng.chance(faults.nospace) {
                return Err(IoError::NoSpace);
            }
            let f = disk.file(name);
            f.live.resize(*len, 0);
        }
        Step::Pwrite(name, offset, data) => {
            if rng.chance(faults.short_write) && data.len() > 1 {
                let cut = 1 + rng.below(data.len() as u64 - 1) as usize;
                disk.pwrite(name, *offset, &data[..cut]);
                return Err(IoError::Os(EIO));
            }
            disk.pwrite(name, *offset, data);
        }
        Step::Fsync(name) => {
            if rng.chance(faults.sync_eio) {
                disk.fsync_failed(name);
                return Err(IoError::Os(EIO));
            }
            disk.fsync(name);
        }
        Step::Rename(from, to) => {
            let ino = disk.live_dir.remove(from).expect("rename source");
            disk.live_dir.insert(to.clone(), ino);
        }
        Step::SyncDir => {
            if rng.chance(faults.sync_eio) {
                return Err(IoError::Os(EIO));
            }
            disk.sync_dir();
        }
        Step::Unlink(name) => {
            disk.live_dir.remove(name);
        }
    }
    Ok(())
}

/// Recovery as the server runs it; returns the starting state and every
/// record in the log, or a description of the corruption found.
fn recover(
    disk: &mut Disk,
) -> Result<(spool_core::commit::LogState, BTreeMap<u64, Vec<u8>>), String> {
    // Leftover temporary files from an interrupted creation are removed.
    disk.live_dir.retain(|name, _| !name.ends_with(".tmp"));
    let mut ids: Vec<SegmentId> = disk
        .live_dir
        .keys()
        .filter_map(|n| n.strip_suffix(".seg")?.parse().ok().map(SegmentId))
        .collect();
    ids.sort();
    let bytes_of = |disk: &Disk, id: SegmentId| -> Vec<u8> {
        disk.inode(&seg_name(id))
            .and_then(|i| disk.files.get(&i))
            .map(|f| f.live.clone())
            .unwrap_or_default()
    };
    let trailing = ids
        .iter()
        .rev()
        .take_while(|&&id| is_unwritten(&bytes_of(disk, id)))
        .count();
    let mark = match mark_bytes(disk) {
        None => Ok(None),
        Some(bytes) => LogMark::decode_file(&bytes).map(|(m, _, _)| Some(m)),
    };
    let gaps = match &mark {
        Ok(Some(m)) => m.gaps.clone(),
        _ => Vec::new(),
    };
    let mut log = LogScan::new(&ids, trailing)
        .map_err(|m| format!("missing segment {}", m.0))?
        .with_gaps(&gaps);
    let mut records = BTreeMap::new();
    let mut torn = Vec::new();
    while let Some(id) = log.next_segment() {
        let bytes = bytes_of(disk, id);
        let scan = log
            .push(&bytes, bytes.len() as u64, 0)
            .map_err(|c| c.to_string())?;
        let mut pos = SEGMENT_HEADER_LEN as usize;
        while (pos as u64) < scan.end {
            match decode_frame(&bytes[pos..], id, MAX_PAYLOAD_LEN) {
                Ok(Decoded::Record(f)) => {
                    records.insert(f.seq.0, f.payload.to_vec());
                    pos += 20 + f.payload.len();
                }
                other => return Err(format!("scan and decode disagree: {other:?}")),
            }
        }
        if let Some(t) = scan.torn {
            torn.push((id, t));
        }
    }
    // The log against its mark, before anything is cut.
    check(
        mark.as_ref().map(Option::as_ref).map_err(|e| *e),
        &log.found(),
    )
    .map_err(|p| format!("mark check: {p}"))?;
    for (id, t) in torn {
        TORN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Cut: zero and sync the torn range.
        let name = seg_name(id);
        let zeros = vec![0u8; (t.dirty_end - t.at) as usize];
        disk.pwrite(&name, t.at as usize, &zeros);
        disk.fsync(&name);
    }
    let mut state = log.finish();
    state.gaps = gaps;
    Ok((state, records))
}

/// Runs steps to completion with no fault (the server's synchronous mark
/// writes at open and at a clean shutdown).
fn apply(disk: &mut Disk, steps: &[Step], rng: &mut Rng) {
    let none = Faults {
        nospace: 0,
        short_write: 0,
        sync_eio: 0,
    };
    for step in steps {
        run_step(disk, step, rng, &none).expect("no fault injected");
    }
}

/// Damage done to a cleanly stopped log, which start-up must refuse.
fn damage_after_clean_stop(disk: &mut Disk, rng: &mut Rng) -> Option<String> {
    let mut segs: Vec<(String, u64)> = disk
        .live_dir
        .iter()
        .filter(|(n, _)| n.ends_with(".seg"))
        .map(|(n, i)| (n.clone(), *i))
        .collect();
    segs.sort();
    // The newest segment holding a record.
    let (name, ino) = segs
        .iter()
        .rev()
        .find(|(_, i)| disk.files.get(i).is_some_and(|f| !is_unwritten(&f.live)))?
        .clone();
    if rng.below(2) == 0 {
        // Delete the newest segment (whichever it is, written or prepared).
        let newest = segs.last()?.0.clone();
        disk.live_dir.remove(&newest);
        disk.sync_dir();
        return Some(format!("deleted {newest}"));
    }
    // Flip one bit in the last record.
    let id: SegmentId = SegmentId(name.strip_suffix(".seg")?.parse().ok()?);
    let bytes = disk.files.get(&ino)?.live.clone();
    let scan = spool_core::recover::scan_segment(
        id,
        &bytes,
        spool_core::recover::Role::Active,
        spool_core::record::Lsn(0),
        MAX_PAYLOAD_LEN,
    )
    .ok()?;
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let mut last_at = None;
    while (pos as u64) < scan.end {
        let Ok(Decoded::Record(f)) = decode_frame(&bytes[pos..], id, MAX_PAYLOAD_LEN) else {
            return None;
        };
        last_at = Some((pos, 20 + f.payload.len()));
        pos += 20 + f.payload.len();
    }
    let (at, len) = last_at?;
    let i = at + rng.below(len as u64) as usize;
    let bit = 1u8 << rng.below(8);
    let f = disk.files.get_mut(&ino)?;
    f.live[i] ^= bit;
    f.durable[i] ^= bit;
    Some(format!(
        "flipped a bit of the last record of {name} at byte {i}"
    ))
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
    rotations: u64,
    deletions: u64,
    clean_stops: u64,
    damage_refused: u64,
}

static TORN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs one seed; `Err` describes the violated invariant.
fn run(seed: u64, cov: &mut Coverage) -> Result<(), String> {
    let mut rng = Rng(seed);
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
        nospace: if quiet { 0 } else { rng.below(40) },
        short_write: if quiet { 0 } else { rng.below(8) },
        sync_eio: if quiet { 0 } else { rng.below(8) },
    };
    let mut disk = Disk::default();
    let mut sent: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut acked: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut now = 0u64;
    let mut segment_of: BTreeMap<u64, SegmentId> = BTreeMap::new();
    for life in 0..2 + rng.below(5) {
        let (state, on_disk) =
            recover(&mut disk).map_err(|e| format!("life {life}: recovery refused: {e}"))?;
        for (id, bytes) in &acked {
            if on_disk.get(id) != Some(bytes) {
                return Err(format!(
                    "life {life}: acknowledged record {id} lost or changed"
                ));
            }
        }
        for (id, bytes) in &on_disk {
            if sent.get(id) != Some(bytes) {
                return Err(format!(
                    "life {life}: record {id} on disk was never sent with these bytes"
                ));
            }
        }
        cov.acked_checks += acked.len() as u64;

        let mut gc = GroupCommit::new(cfg, state, Now::at(now));
        // As the server does at open, before any write.
        let on_disk = mark_bytes(&disk);
        apply(
            &mut disk,
            &mark_steps(&gc.open_mark(), on_disk.as_deref()),
            &mut rng,
        );
        let mut pending: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut in_flight: Vec<(IoOp, Vec<Step>, usize)> = Vec::new();
        let mut failed = false;
        let budget = rng.below(400);
        for _ in 0..budget {
            now += rng.below(4);
            for _ in 0..rng.below(4) {
                let n = 1 + rng.below(3) as usize;
                let bodies: Vec<Vec<u8>> = (0..n)
                    .map(|_| (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect())
                    .collect();
                match gc.submit(Now::at(now), bodies.iter().map(Vec::as_slice)) {
                    Ok((first, _)) => {
                        if failed {
                            return Err("submit accepted after a failure".into());
                        }
                        for (k, b) in bodies.into_iter().enumerate() {
                            sent.insert(first.0 + k as u64, b.clone());
                            pending.insert(first.0 + k as u64, b);
                        }
                    }
                    Err(SubmitError::Busy | SubmitError::DiskFull | SubmitError::Failed) => {}
                    Err(e) => return Err(format!("unexpected submit error {e:?}")),
                }
            }
            while let Some(op) = gc.poll_io(Now::at(now)) {
                note_issued(&op, &mut segment_of, &mut acked);
                let s = steps(&op, mark_bytes(&disk).as_deref());
                in_flight.push((op, s, 0));
            }
            if !in_flight.is_empty() {
                let i = rng.below(in_flight.len() as u64) as usize;
                let (_, ref s, cursor) = in_flight[i];
                let step = s[cursor].clone();
                let result = run_step(&mut disk, &step, &mut rng, &faults);
                if trace() {
                    let what = match &step {
                        Step::Pwrite(n, o, d) => format!("Pwrite({n}, {o}, {} bytes)", d.len()),
                        other => format!("{other:?}"),
                    };
                    eprintln!("t={now} {what} -> {result:?}");
                }
                in_flight[i].2 += 1;
                if result.is_err() || in_flight[i].2 == in_flight[i].1.len() {
                    let (op, _, _) = in_flight.swap_remove(i);
                    gc.complete(Now::at(now), op, result);
                }
            }
            gc.handle_timeout(Now::at(now));
            while let Some(ev) = gc.poll_event() {
                match ev {
                    Event::Durable(l) => {
                        if failed {
                            return Err(format!("durable {l} after a failure"));
                        }
                        let rest = pending.split_off(&(l.0 + 1));
                        acked.extend(std::mem::replace(&mut pending, rest));
                    }
                    Event::Rejected { first, last, .. } => {
                        cov.rejections += 1;
                        for id in first.0..=last.0 {
                            pending.remove(&id);
                        }
                    }
                    Event::Failed { .. } => {
                        cov.failures += 1;
                        failed = true;
                    }
                    Event::Rotated { .. } => cov.rotations += 1,
                    Event::Deleted { .. } => cov.deletions += 1,
                }
            }
        }
        if rng.below(3) == 0 && !failed {
            // A clean shutdown: finish everything queued, then record it.
            for _ in 0..100_000 {
                if in_flight.is_empty() && (gc.is_idle() || gc.is_failed()) {
                    break;
                }
                now += 1;
                gc.handle_timeout(Now::at(now));
                while let Some(op) = gc.poll_io(Now::at(now)) {
                    note_issued(&op, &mut segment_of, &mut acked);
                    let s = steps(&op, mark_bytes(&disk).as_deref());
                    in_flight.push((op, s, 0));
                }
                if let Some((op, s, cursor)) = in_flight.pop() {
                    let mut result = Ok(());
                    for step in &s[cursor..] {
                        result = run_step(&mut disk, step, &mut rng, &faults);
                        if result.is_err() {
                            break;
                        }
                    }
                    gc.complete(Now::at(now), op, result);
                }
                while let Some(ev) = gc.poll_event() {
                    match ev {
                        Event::Durable(l) => {
                            let rest = pending.split_off(&(l.0 + 1));
                            acked.extend(std::mem::replace(&mut pending, rest));
                        }
                        Event::Rejected { first, last, .. } => {
                            for id in first.0..=last.0 {
                                pending.remove(&id);
                            }
                        }
                        Event::Failed { .. } => cov.failures += 1,
                        _ => {}
                    }
                }
            }
            if let Some(mark) = gc.clean_mark() {
                let on_disk = mark_bytes(&disk);
                apply(&mut disk, &mark_steps(&mark, on_disk.as_deref()), &mut rng);
                cov.clean_stops += 1;
                if rng.below(4) == 0 {
                    // Damage after a clean stop must be refused, never cut.
                    let before_files = disk.files.clone();
                    let before_live = disk.live_dir.clone();
                    let before_durable = disk.durable_dir.clone();
                    if let Some(what) = damage_after_clean_stop(&mut disk, &mut rng) {
                        if recover(&mut disk).is_ok() {
                            return Err(format!(
                                "life {life}: {what} after a clean stop, and recovery accepted it"
                            ));
                        }
                        cov.damage_refused += 1;
                    }
                    disk.files = before_files;
                    disk.live_dir = before_live;
                    disk.durable_dir = before_durable;
                }
            }
        }
        let power = rng.below(2) == 0;
        if trace() {
            eprintln!(
                "--- crash ({}) with {} ops in flight",
                if power { "power loss" } else { "process kill" },
                in_flight.len()
            );
        }
        if power {
            cov.power_losses += 1;
            disk.power_loss(&mut rng);
        } else {
            disk.process_kill();
        }
    }
    cov.sent += sent.len() as u64;
    Ok(())
}

fn replay_hint(seed: u64) -> String {
    format!("replay: SPOOL_SIM_SEED={seed} cargo test -p spool-core --release --test simulation")
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
    cov.torn_cuts = TORN.load(std::sync::atomic::Ordering::Relaxed);
    println!("{seeds} seeds: {cov:?}");
    // Each fault class must actually have been reached.
    assert!(cov.acked_checks > seeds * 10, "{cov:?}");
    assert!(cov.torn_cuts > seeds / 20, "{cov:?}");
    assert!(cov.failures > seeds / 20, "{cov:?}");
    assert!(cov.rejections > seeds / 100, "{cov:?}");
    assert!(
        cov.rotations > seeds && cov.deletions > seeds / 10,
        "{cov:?}"
    );
    assert!(
        cov.clean_stops > seeds / 10 && cov.damage_refused > seeds / 100,
        "{cov:?}"
    );
}
