//! Opening a data directory: list the segments, scan every one with the
//! core's recovery scan, cut a torn tail, and hand the group commit the
//! state it starts from.
//!
//! Guarantees: `recover` either returns a log whose every record before the
//! write position is valid, or an error naming the segment and offset of the
//! corruption; it never skips bad bytes. With `repair`, a torn tail of the
//! active segment is zeroed and synced before it returns, and stale
//! temporary files from an interrupted segment creation are removed.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use spool_core::commit::LogState;
use spool_core::record::{
    decode_frame, Decoded, Lsn, SegmentId, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN,
};
use spool_core::recover::{is_unwritten, Corruption, LogScan, SegmentScan};

use super::files::{fdatasync, parse_segment_file_name, pwrite_all, segment_file_name};

/// Why a data directory cannot be opened.
#[derive(Debug)]
pub enum OpenError {
    /// A filesystem call failed.
    Io(PathBuf, io::Error),
    /// Corrupt bytes that are not a torn tail.
    Corrupt(Corruption),
    /// Segment ids are not contiguous: a segment in the middle is missing.
    Missing(SegmentId),
    /// Another process holds the directory's lock.
    Locked(PathBuf),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            OpenError::Corrupt(c) => write!(
                f,
                "corruption in {}: {c}; refusing to start (run `spool verify`; the bad range is never served)",
                segment_file_name(c.segment)
            ),
            OpenError::Missing(id) => write!(
                f,
                "segment {} is missing between older and newer segments; refusing to start",
                segment_file_name(*id)
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

/// Scans every segment of `dir` in order with the core's [`LogScan`],
/// calling `visit` with each file's bytes, its scan and its metadata. Stops
/// at the first corruption. Returns the scan for [`LogScan::finish`].
pub fn scan_dir(
    dir: &Path,
    repair: bool,
    mut visit: impl FnMut(SegmentId, &[u8], &SegmentScan, &fs::Metadata) -> Result<(), OpenError>,
) -> Result<LogScan, OpenError> {
    let ids = list_segments(dir, repair)?;
    // Which one is active depends on how many of the newest are unwritten.
    let mut trailing_unwritten = 0;
    for &id in ids.iter().rev() {
        let path = dir.join(segment_file_name(id));
        if repair {
            settle(&path)?;
        }
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        if !is_unwritten(&bytes) {
            break;
        }
        trailing_unwritten += 1;
    }
    let mut log = LogScan::new(&ids, trailing_unwritten).map_err(|m| OpenError::Missing(m.0))?;
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

/// Calls `f` with every valid record of a scanned segment, in order.
pub fn for_each_record(
    id: SegmentId,
    bytes: &[u8],
    scan: &SegmentScan,
    mut f: impl FnMut(Lsn, &[u8]),
) {
    let mut pos = SEGMENT_HEADER_LEN as usize;
    while (pos as u64) < scan.end {
        let Some(rest) = bytes.get(pos..) else { return };
        match decode_frame(rest, id, MAX_PAYLOAD_LEN) {
            Ok(Decoded::Record(frame)) => {
                f(frame.seq, frame.payload);
                pos += FRAME_HEADER_LEN + frame.payload.len();
            }
            // The scan validated every frame before `end`.
            _ => return,
        }
    }
}

/// Opens `dir` for writing: scans it, cuts a torn tail (with `repair`), and
/// returns the starting state.
pub fn recover(dir: &Path, repair: bool) -> Result<Recovered, OpenError> {
    let mut torn = Vec::new();
    let log = scan_dir(dir, repair, |id, _bytes, scan, _meta| {
        if let Some(t) = scan.torn {
            torn.push((id, t.at, t.dirty_end - t.at));
            if repair {
                zero_range(&dir.join(segment_file_name(id)), t.at, t.dirty_end)?;
            }
        }
        Ok(())
    })?;
    let records = log.records();
    Ok(Recovered {
        state: log.finish(),
        records,
        torn,
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
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Creates `dir` if needed and takes its lock, or fails if another
    /// process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, OpenError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join("LOCK");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        use std::os::fd::AsRawFd;
        // SAFETY: plain syscall on a descriptor owned by `file`.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(OpenError::Locked(dir.to_path_buf()));
        }
        Ok(DirLock { _file: file })
    }
}
