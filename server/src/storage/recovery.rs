//! Opening a data directory: list the segments, scan every one with the
//! core's recovery scan, cut a torn tail, and hand the group commit the
//! state it starts from.
//!
//! Guarantees: `recover` either returns a log whose every record before the
//! write position is valid, with ids that are consecutive but for declared
//! gaps, and that holds everything its log mark (`MARK`, see
//! [`spool_core::mark`]) says it held; or an error naming what is wrong
//! (the segment and offset of the corruption, or the segments or records
//! missing). It never skips bad bytes and never cuts anything before the
//! checks passed. With `repair`, a torn tail of the active segment is
//! zeroed and synced before it returns, and stale temporary files from an
//! interrupted segment creation are removed.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use spool_core::commit::LogState;
use spool_core::mark::{add_gap, check, LogMark, MarkError, MarkProblem};
use spool_core::record::{Lsn, SegmentId};
use spool_core::recover::{is_unwritten, Corruption, LogScan, SegmentScan};

use super::files::{fdatasync, parse_segment_file_name, pwrite_all, segment_file_name, MARK_FILE};

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
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |e| OpenError::Io(path.to_path_buf(), e)
}

/// The segment ids in `dir`, oldest first; with `repair`, removes leftover
/// `*.seg.tmp` files (segment creations a crash interrupted).
pub fn list_segments(dir: &Path, repair: bool) -> Result<Vec<SegmentId>, OpenError> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = parse_segment_file_name(name) {
            ids.push(id);
        } else if repair && name.ends_with(".seg.tmp") {
            fs::remove_file(entry.path()).map_err(io_err(&entry.path()))?;
        }
    }
    ids.sort();
    Ok(ids)
}

/// How many of the newest segments `ids` (of `dir`, oldest first) are
/// prepared and never written: which segment is active depends on it. With
/// `repair`, each is settled first (see `settle`).
pub fn trailing_unwritten(dir: &Path, ids: &[SegmentId], repair: bool) -> Result<usize, OpenError> {
    let mut trailing = 0;
    for &id in ids.iter().rev() {
        let path = dir.join(segment_file_name(id));
        if repair {
            settle(&path)?;
        }
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        if !is_unwritten(&bytes) {
            break;
        }
        trailing += 1;
    }
    Ok(trailing)
}

/// Reads the data directory's log mark: `Ok(None)` when there is none,
/// `Err` inside when it is damaged.
pub fn read_mark(dir: &Path) -> Result<Result<Option<LogMark>, MarkError>, OpenError> {
    let path = dir.join(MARK_FILE);
    match fs::read(&path) {
        Ok(bytes) => Ok(LogMark::decode_file(&bytes).map(|(m, _, _)| Some(m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ok(None)),
        Err(e) => Err(OpenError::Io(path, e)),
    }
}

/// Scans every segment of `dir` in order with the core's [`LogScan`]
/// (`gaps`: id ranges declared lost), calling `visit` with each file's
/// bytes, its scan and its metadata. Stops at the first corruption.
/// Returns the scan for [`LogScan::found`] and [`LogScan::finish`].
pub fn scan_dir(
    dir: &Path,
    repair: bool,
    gaps: &[(Lsn, Lsn)],
    mut visit: impl FnMut(SegmentId, &[u8], &SegmentScan, &fs::Metadata) -> Result<(), OpenError>,
) -> Result<LogScan, OpenError> {
    let ids = list_segments(dir, repair)?;
    let trailing = trailing_unwritten(dir, &ids, repair)?;
    let mut log = LogScan::new(&ids, trailing)
        .map_err(|m| OpenError::Missing(m.0))?
        .with_gaps(gaps);
    while let Some(id) = log.next_segment() {
        let path = dir.join(segment_file_name(id));
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        let sealed_at = u64::try_from(meta.mtime())
            .unwrap_or(0)
            .saturating_mul(1_000_000_000);
        let scan = log
            .push(&bytes, meta.len(), sealed_at)
            .map_err(OpenError::Corrupt)?;
        visit(id, &bytes, &scan, &meta)?;
    }
    Ok(log)
}

/// Opens `dir` for writing: scans it, checks it against its log mark, cuts
/// a torn tail (with `repair`, and only once the checks passed), and
/// returns the starting state.
///
/// With `accept_loss`, a log that falls short of its mark is opened anyway:
/// ids continue after the mark's `id_bound` (every id that could have been
/// handed out), the ids in between are declared lost (kept in every later
/// mark, reported by readers as a gap), and the next record starts a new
/// segment. Corruption inside the log is never accepted.
pub fn recover(dir: &Path, repair: bool, accept_loss: bool) -> Result<Recovered, OpenError> {
    let mark = read_mark(dir)?;
    let mut gaps = match &mark {
        Ok(Some(m)) => m.gaps.clone(),
        _ => Vec::new(),
    };
    let mut torn = Vec::new();
    let log = scan_dir(dir, repair, &gaps, |id, _bytes, scan, _meta| {
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
            zero_range(&dir.join(segment_file_name(id)), at, at + len)?;
        }
    }
    Ok(Recovered {
        state,
        records,
        torn,
        accepted,
    })
}

/// Makes the next read of `path` return what the disk holds: `fdatasync`
/// writes back pages a killed process left dirty (valid writes that were
/// never synced), then `POSIX_FADV_DONTNEED` drops the clean cached pages.
/// After a failed fsync Linux may have marked never-written pages clean
/// (PostgreSQL "fsyncgate"); dropping them means recovery cannot mistake
/// cached-but-lost bytes for durable records.
fn settle(path: &Path) -> Result<(), OpenError> {
    use std::os::fd::AsRawFd;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    fdatasync(&file).map_err(|e| {
        OpenError::Io(
            path.to_path_buf(),
            io::Error::other(format!("fdatasync: {e}")),
        )
    })?;
    // SAFETY: plain syscall on a descriptor owned by `file`; advisory only.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
    Ok(())
}

/// Overwrites `[from, to)` with zeros and syncs, so the cut bytes can never
/// be read as records again.
fn zero_range(path: &Path, from: u64, to: u64) -> Result<(), OpenError> {
    let to_open_error = |e: spool_core::commit::IoError| {
        OpenError::Io(
            path.to_path_buf(),
            io::Error::other(format!("cutting torn tail: {e}")),
        )
    };
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    let zeros = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        pwrite_all(&file, &zeros[..n], at).map_err(to_open_error)?;
        at += n as u64;
    }
    fdatasync(&file).map_err(to_open_error)
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
