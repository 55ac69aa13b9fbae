//! Opening a data directory: list the segments, scan them with the core's
//! recovery scan (a sealed segment with a valid persisted index is taken
//! from its index, unread), cut a torn tail, and hand the group commit the
//! state it starts from.
//!
//! Guarantees: `recover` either returns a log with ids that are consecutive
//! but for declared gaps, every record of the segments it read valid, that
//! holds everything its log mark (`MARK`, see [`spool_core::mark`]) says it
//! held; or an error naming what is wrong (the segment and offset of the
//! corruption, or the segments or records missing). The records of sealed
//! segments taken from their indexes are not read, so start-up time does
//! not grow with the log: checking their CRCs is `spool verify`'s job, and
//! every record a query or reader serves is checked as it is read. It
//! never skips bad bytes it reads and never cuts anything before the
//! checks passed. With `repair`, a torn tail of the active segment is
//! zeroed and synced before it returns, and stale temporary files from an
//! interrupted segment creation are removed.
//!
//! Every file is read and written through a [`Storage`] backend, so the
//! deterministic simulation runs this same recovery on its simulated
//! machine. The `_in` functions take the backend; `list_segments`,
//! `trailing_unwritten` and `read_mark` run them on a directory of the
//! operating system's.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use spool_core::commit::{CommitConfig, IoError, LogState};
use spool_core::index::SegmentIndex;
use spool_core::mark::{add_gap, check, LogMark, MarkError, MarkProblem};
use spool_core::record::{frame_len, Lsn, SegmentId, SEGMENT_HEADER_LEN};
use spool_core::recover::{is_unwritten, Corruption, LogScan, SegmentScan};

use super::backend::{Access, OsStorage, Storage, StorageError};
use super::files::{parse_segment_file_name, segment_file_name, MARK_FILE};
use super::index_files::{self, index_file_name, MAX_INDEX_BYTES};

/// Why a data directory cannot be opened.
#[derive(Debug)]
pub enum OpenError {
    /// A filesystem call failed.
    Io(PathBuf, io::Error),
    /// Corrupt bytes that are not a torn tail.
    Corrupt(Corruption),
    /// Segment ids are not contiguous: a segment in the middle is missing.
    Missing(SegmentId),
    /// The log holds less than its mark says it held (newest segments or
    /// acknowledged records missing, damage after a clean stop, no mark).
    Damaged(MarkProblem),
    /// Another process holds the directory's lock.
    Locked(PathBuf),
}

impl OpenError {
    /// Whether this is damage to the log (an operator must look; a restart
    /// cannot fix it), as opposed to an IO error or a lock held.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            OpenError::Corrupt(_) | OpenError::Missing(_) | OpenError::Damaged(_)
        )
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            OpenError::Corrupt(c) => write!(
                f,
                "corruption in {}: {c}; refusing to start (run `spool verify --data-dir DIR` for a full report; the bad range is never served)",
                segment_file_name(c.segment)
            ),
            OpenError::Missing(id) => write!(
                f,
                "segment {} is missing between older and newer segments; refusing to start (restore it, or run `spool verify --data-dir DIR` for a full report)",
                segment_file_name(*id)
            ),
            OpenError::Damaged(p @ (MarkProblem::NoMark | MarkProblem::BadMark(_))) => write!(
                f,
                "{p}; refusing to start. `spool verify --data-dir DIR` reports what is there. If no segment was lost (the MARK file alone was removed or damaged), start with --accept-data-loss: ids then continue after the last record present, so if newer segments were lost too, their ids would be given again"
            ),
            OpenError::Damaged(p) => write!(
                f,
                "{p}; refusing to start. Restore the missing files if you can; `spool verify --data-dir DIR` reports what is there. To start anyway, accepting the loss, use --accept-data-loss: ids then continue after every id that could have been acknowledged, and readers report the lost ids as a gap"
            ),
            OpenError::Locked(p) => write!(f, "{} is in use by another spool process", p.display()),
        }
    }
}

impl std::error::Error for OpenError {}

/// What recovery found.
#[derive(Debug)]
pub struct Recovered {
    /// The state the group commit starts from.
    pub state: LogState,
    /// Valid records in the log.
    pub records: u64,
    /// Torn tails found (and cut, with `repair`): segment, offset, bytes.
    pub torn: Vec<(SegmentId, u64, u64)>,
    /// Damage accepted with `accept_loss`: what was wrong, and the ids
    /// declared lost (none when no id that was handed out is missing).
    pub accepted: Option<(MarkProblem, Option<(Lsn, Lsn)>)>,
    /// The indexes of the sealed segments taken from their files (checked
    /// as [`scan_segments`] says), so the daemon's catalog starts from them
    /// instead of reading and checking them again.
    pub indexes: Vec<SegmentIndex>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |e| OpenError::Io(path.to_path_buf(), e)
}

/// `OpenError::Io` for a failed call on `name` in `storage`.
fn storage_err<'a, S: Storage>(
    storage: &'a S,
    name: &'a str,
) -> impl FnOnce(StorageError) -> OpenError + 'a {
    move |e| OpenError::Io(storage.dir().join(name), e.into())
}

/// Makes every segment that holds no record yet (one an earlier run
/// prepared ahead, or an empty active one) big enough for the largest
/// record `cfg` allows, extending it to `cfg`'s segment size with
/// `posix_fallocate` and an fsync, and updates its size in `state`. Without
/// this, a record larger than such a segment (`--max-record` raised since)
/// would be written into it and extend the file past its preallocation.
/// The segment holds its header and zeros only, so either size a crash
/// leaves is a valid empty segment.
pub fn fit_empty_segments<S: Storage>(
    storage: &S,
    state: &mut LogState,
    cfg: &CommitConfig,
) -> Result<(), OpenError> {
    let needed = SEGMENT_HEADER_LEN + frame_len(cfg.max_payload);
    for s in &mut state.segments {
        if s.first != Lsn(0) || s.file_bytes >= needed {
            continue;
        }
        let name = segment_file_name(s.id);
        let file = storage
            .open(&name, Access::ReadWrite)
            .map_err(storage_err(storage, &name))?;
        let size = cfg.policy.segment_bytes.max(needed);
        storage
            .fallocate(&file, size)
            .map_err(storage_err(storage, &name))?;
        storage.fsync(&file).map_err(storage_err(storage, &name))?;
        s.file_bytes = size;
    }
    Ok(())
}

/// The segment ids in `storage`, oldest first; with `repair`, removes
/// leftover `*.seg.tmp` files (segment creations a crash interrupted).
pub fn list_segments_in<S: Storage>(
    storage: &S,
    repair: bool,
) -> Result<Vec<SegmentId>, OpenError> {
    let mut ids = Vec::new();
    let names = storage
        .list()
        .map_err(|e| OpenError::Io(storage.dir().to_path_buf(), e.into()))?;
    for name in names {
        if let Some(id) = parse_segment_file_name(&name) {
            ids.push(id);
        } else if repair && name.ends_with(".seg.tmp") {
            storage.unlink(&name).map_err(storage_err(storage, &name))?;
        }
    }
    ids.sort();
    Ok(ids)
}

/// [`list_segments_in`] the directory `dir`.
pub fn list_segments(dir: &Path, repair: bool) -> Result<Vec<SegmentId>, OpenError> {
    list_segments_in(&OsStorage::new(dir), repair)
}

/// How many of the newest segments `ids` (of `storage`, oldest first) are
/// prepared and never written: which segment is active depends on it. With
/// `repair`, each is settled first (see `settle`).
pub fn trailing_unwritten_in<S: Storage>(
    storage: &S,
    ids: &[SegmentId],
    repair: bool,
) -> Result<usize, OpenError> {
    let mut trailing = 0;
    for &id in ids.iter().rev() {
        let name = segment_file_name(id);
        if repair {
            settle(storage, &name)?;
        }
        let (bytes, _) = storage.read(&name).map_err(storage_err(storage, &name))?;
        if !is_unwritten(&bytes) {
            break;
        }
        trailing += 1;
    }
    Ok(trailing)
}

/// [`trailing_unwritten_in`] the directory `dir`.
pub fn trailing_unwritten(dir: &Path, ids: &[SegmentId], repair: bool) -> Result<usize, OpenError> {
    trailing_unwritten_in(&OsStorage::new(dir), ids, repair)
}

/// Reads the log mark of `storage`: `Ok(None)` when there is none, `Err`
/// inside when it is damaged.
pub fn read_mark_in<S: Storage>(
    storage: &S,
) -> Result<Result<Option<LogMark>, MarkError>, OpenError> {
    match storage.read(MARK_FILE) {
        Ok((bytes, _)) => Ok(LogMark::decode_file(&bytes).map(|(m, _, _)| Some(m))),
        Err(StorageError::NotFound) => Ok(Ok(None)),
        Err(e) => Err(storage_err(storage, MARK_FILE)(e)),
    }
}

/// [`read_mark_in`] the directory `dir`.
pub fn read_mark(dir: &Path) -> Result<Result<Option<LogMark>, MarkError>, OpenError> {
    read_mark_in(&OsStorage::new(dir))
}

/// Scans the segments of `storage` in order with the core's [`LogScan`]
/// (`gaps`: id ranges declared lost), calling `visit` with each file's
/// bytes and its scan. A sealed segment with a persisted index that checks
/// out is taken from the index, unread (see [`take_from_index`]); the
/// newest segments are always read. Stops at the first corruption. Returns the scan for
/// [`LogScan::found`] and [`LogScan::finish`], and the indexes it took.
pub fn scan_segments<S: Storage>(
    storage: &S,
    repair: bool,
    gaps: &[(Lsn, Lsn)],
    mut visit: impl FnMut(SegmentId, &[u8], &SegmentScan) -> Result<(), OpenError>,
) -> Result<(LogScan, Vec<SegmentIndex>), OpenError> {
    let ids = list_segments_in(storage, repair)?;
    let trailing = trailing_unwritten_in(storage, &ids, repair)?;
    let mut log = LogScan::new(&ids, trailing)
        .map_err(|m| OpenError::Missing(m.0))?
        .with_gaps(gaps);
    let mut taken = Vec::new();
    while let Some(id) = log.next_segment() {
        let name = segment_file_name(id);
        if log.next_is_sealed() {
            if let Some(index) = take_from_index(storage, &mut log, id)? {
                taken.push(index);
                continue;
            }
        }
        let (bytes, stat) = storage.read(&name).map_err(storage_err(storage, &name))?;
        let sealed_at = stat.modified_secs.saturating_mul(1_000_000_000);
        let scan = log
            .push(&bytes, stat.len, sealed_at)
            .map_err(OpenError::Corrupt)?;
        visit(id, &bytes, &scan)?;
    }
    Ok((log, taken))
}

/// Takes sealed segment `id` from its persisted index instead of its
/// bytes, if the index decodes (magic, version, CRC), names this segment,
/// covers no more than the file holds, and its ids continue the log; the
/// index when it was taken, `None` (read the segment instead) otherwise: an index is never
/// trusted further than that, and start-up does not read old segments
/// whole (that is `spool verify`'s job; a query checks every record it
/// serves).
fn take_from_index<S: Storage>(
    storage: &S,
    log: &mut LogScan,
    id: SegmentId,
) -> Result<Option<SegmentIndex>, OpenError> {
    let idx_name = index_file_name(id);
    let Ok(idx) = storage.open(&idx_name, Access::Read) else {
        return Ok(None);
    };
    let Ok(idx_stat) = storage.stat(&idx) else {
        return Ok(None);
    };
    if idx_stat.len > MAX_INDEX_BYTES {
        return Ok(None);
    }
    let mut bytes = vec![0u8; usize::try_from(idx_stat.len).unwrap_or(0)];
    if !pread_full(storage, &idx, &mut bytes, 0) {
        return Ok(None);
    }
    let Ok(index) = spool_core::index::decode(&bytes) else {
        return Ok(None);
    };
    let (Some(first), Some(last)) = (index.first_id(), index.last_id()) else {
        return Ok(None);
    };
    if index.segment() != id || !log.continues(first, last) {
        return Ok(None);
    }
    let name = segment_file_name(id);
    let file = storage
        .open(&name, Access::Read)
        .map_err(storage_err(storage, &name))?;
    let stat = storage.stat(&file).map_err(storage_err(storage, &name))?;
    if index.covered_len() > stat.len {
        return Ok(None);
    }
    if !index_files::matches_segment(&index, |offset, buf| {
        pread_full(storage, &file, buf, offset)
    }) {
        return Ok(None);
    }
    let sealed_at = stat.modified_secs.saturating_mul(1_000_000_000);
    Ok(log
        .push_indexed(first, last, index.covered_len(), stat.len, sealed_at)
        .ok()
        .map(|()| index))
}

/// Fills `buf` from `offset` of `file`; `false` if the file ends first or
/// a read fails.
fn pread_full<S: Storage>(storage: &S, file: &S::File, buf: &mut [u8], offset: u64) -> bool {
    let mut done = 0;
    while done < buf.len() {
        match storage.pread(file, &mut buf[done..], offset + done as u64) {
            Ok(0) | Err(_) => return false,
            Ok(n) => done += n,
        }
    }
    true
}

/// Opens the log in `storage` for writing: scans it, checks it against its
/// log mark, cuts a torn tail (with `repair`, and only once the checks
/// passed), and returns the starting state.
///
/// With `accept_loss`, a log that falls short of its mark is opened anyway:
/// ids continue after the mark's `id_bound` (every id that could have been
/// handed out), the ids in between are declared lost (kept in every later
/// mark, reported by readers as a gap), and the next record starts a new
/// segment. Corruption inside the log is never accepted.
pub fn recover<S: Storage>(
    storage: &S,
    repair: bool,
    accept_loss: bool,
) -> Result<Recovered, OpenError> {
    let mark = read_mark_in(storage)?;
    let mut gaps = match &mark {
        Ok(Some(m)) => m.gaps.clone(),
        _ => Vec::new(),
    };
    let mut torn = Vec::new();
    let (log, indexes) = scan_segments(storage, repair, &gaps, |id, _bytes, scan| {
        if let Some(t) = scan.torn {
            torn.push((id, t.at, t.dirty_end - t.at));
        }
        Ok(())
    })?;
    let found = log.found();
    let problem = check(mark.as_ref().map(Option::as_ref).map_err(|e| *e), &found).err();
    let records = log.records();
    let mut state = log.finish();
    let mut accepted = None;
    if let Some(problem) = problem {
        if !accept_loss {
            return Err(OpenError::Damaged(problem));
        }
        let bound = match &mark {
            Ok(Some(m)) => m.id_bound.max(m.durable),
            _ => Lsn(0),
        };
        let mut lost = None;
        if bound > state.last_lsn {
            lost = Some((state.last_lsn.next(), bound));
            add_gap(&mut gaps, state.last_lsn.next(), bound);
            state.last_lsn = bound;
            state.seal_active = true;
        }
        accepted = Some((problem, lost));
    }
    // Gaps wholly before the oldest record left are history.
    if let Some(oldest) = state.segments.iter().map(|s| s.first).find(|f| f.0 != 0) {
        gaps.retain(|&(_, to)| to >= oldest);
    }
    state.gaps = gaps;
    if repair {
        for &(id, at, len) in &torn {
            zero_range(storage, &segment_file_name(id), at, at + len)?;
        }
    }
    Ok(Recovered {
        state,
        records,
        torn,
        accepted,
        indexes,
    })
}

/// Makes the next read of `name` return what the disk holds: `fdatasync`
/// writes back pages a killed process left dirty (valid writes that were
/// never synced), then `POSIX_FADV_DONTNEED` drops the clean cached pages.
/// After a failed fsync Linux may have marked never-written pages clean
/// (PostgreSQL "fsyncgate"); dropping them means recovery cannot mistake
/// cached-but-lost bytes for durable records.
fn settle<S: Storage>(storage: &S, name: &str) -> Result<(), OpenError> {
    let file = storage
        .open(name, Access::ReadWrite)
        .map_err(storage_err(storage, name))?;
    storage.fdatasync(&file).map_err(|e| {
        OpenError::Io(
            storage.dir().join(name),
            io::Error::other(format!("fdatasync: {}", IoError::from(e))),
        )
    })?;
    // Advisory: if the kernel keeps the pages, there is nothing more to do.
    let _ = storage.drop_cache(&file);
    Ok(())
}

/// Overwrites `[from, to)` of `name` with zeros and syncs, so the cut bytes
/// can never be read as records again.
fn zero_range<S: Storage>(storage: &S, name: &str, from: u64, to: u64) -> Result<(), OpenError> {
    let to_open_error = |e: StorageError| {
        OpenError::Io(
            storage.dir().join(name),
            io::Error::other(format!("cutting torn tail: {}", IoError::from(e))),
        )
    };
    let file = storage
        .open(name, Access::Write)
        .map_err(storage_err(storage, name))?;
    let zeros = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        storage
            .pwrite(&file, &zeros[..n], at)
            .map_err(to_open_error)?;
        at += n as u64;
    }
    storage.fdatasync(&file).map_err(to_open_error)
}

/// An exclusive lock on a data directory, held for the life of the value.
///
/// The lock is taken on the directory itself (`flock` on a descriptor of
/// the directory), not on a file in it: a lock file can be deleted while a
/// daemon runs, letting a second one start on the same log. The `LOCK`
/// file that earlier versions of Spool locked is locked too, so an older
/// binary cannot write the directory beside this one.
pub struct DirLock {
    _dir: File,
    _legacy: File,
}

impl DirLock {
    /// Creates `dir` if needed and takes its lock, or fails if another
    /// process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, OpenError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let file = File::open(dir).map_err(io_err(dir))?;
        lock(&file, dir)?;
        let path = dir.join("LOCK");
        let legacy = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        lock(&legacy, dir)?;
        Ok(DirLock {
            _dir: file,
            _legacy: legacy,
        })
    }
}

/// Takes an exclusive `flock` on `file` without waiting; `Locked(dir)` when
/// another process holds it.
fn lock(file: &File, dir: &Path) -> Result<(), OpenError> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall on a descriptor owned by `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(OpenError::Locked(dir.to_path_buf()));
    }
    Ok(())
}
