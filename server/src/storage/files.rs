//! The IO executor: carries out the group commit's [`IoOp`]s on real files
//! with `pwrite`, `fdatasync`, `posix_fallocate`, `rename` and directory
//! `fsync`, through libc. It runs on the IO thread only.
//!
//! Guarantees: `Append` returns `Ok` only when the whole buffer was written
//! and `fdatasync` returned 0 on the descriptor that wrote it; a short write
//! or any error is returned as is, never retried. A new segment becomes
//! visible under its final name only complete (header written, preallocated,
//! synced), and the directory is synced after every create and delete.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use spool_core::commit::{IoError, IoOp};
use spool_core::mark::LogMark;
use spool_core::record::{SegmentHeader, SegmentId};

/// The file name of a segment: its id, zero-padded so names sort in order.
pub fn segment_file_name(id: SegmentId) -> String {
    format!("{id}.seg")
}

/// The id in a segment file name, if `name` is one.
pub fn parse_segment_file_name(name: &str) -> Option<SegmentId> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SegmentId)
}

/// Maps an OS error to the core's error, ENOSPC and EDQUOT as "no space".
pub fn io_error(e: &io::Error) -> IoError {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => IoError::NoSpace,
        Some(errno) => IoError::Os(errno),
        None => IoError::Os(libc::EIO),
    }
}

fn last_os_error() -> IoError {
    io_error(&io::Error::last_os_error())
}

/// Writes all of `buf` at `offset` with one `pwrite`; a short write is EIO.
pub fn pwrite_all(file: &File, buf: &[u8], offset: u64) -> Result<(), IoError> {
    let off = libc::off_t::try_from(offset).map_err(|_| IoError::Os(libc::EFBIG))?;
    // SAFETY: `buf` is a live slice of `buf.len()` readable bytes and the
    // descriptor is owned by `file` for the duration of the call.
    let n = unsafe { libc::pwrite(file.as_raw_fd(), buf.as_ptr().cast(), buf.len(), off) };
    if n < 0 {
        return Err(last_os_error());
    }
    if n as usize != buf.len() {
        return Err(IoError::Os(libc::EIO));
    }
    Ok(())
}

/// `fdatasync` on the file's descriptor.
pub fn fdatasync(file: &File) -> Result<(), IoError> {
    // SAFETY: plain syscall on a descriptor owned by `file`.
    if unsafe { libc::fdatasync(file.as_raw_fd()) } != 0 {
        return Err(last_os_error());
    }
    Ok(())
}

/// `fsync` of a file: data and metadata (size, allocation, times).
pub fn fsync(file: &File) -> Result<(), IoError> {
    // SAFETY: plain syscall on a descriptor owned by `file`.
    if unsafe { libc::fsync(file.as_raw_fd()) } != 0 {
        return Err(last_os_error());
    }
    Ok(())
}

/// Creates (or truncates) `path` for writing a new file under a temporary
/// name.
fn create_tmp(path: &Path) -> Result<File, IoError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_error(&e))
}

/// `fsync` of a directory, so entries created, renamed or removed in it last.
pub fn sync_dir(dir: &File) -> Result<(), IoError> {
    // SAFETY: plain syscall on a descriptor owned by `dir`.
    if unsafe { libc::fsync(dir.as_raw_fd()) } != 0 {
        return Err(last_os_error());
    }
    Ok(())
}

/// The number of directory entries naming `file` (0 once it was deleted).
pub fn link_count(file: &File) -> Result<u64, IoError> {
    // SAFETY: `st` is a local, fully written by a successful fstat before
    // it is read; the descriptor is owned by `file`.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(file.as_raw_fd(), &mut st) != 0 {
            return Err(last_os_error());
        }
        Ok(st.st_nlink as u64)
    }
}

/// The name of the log mark file in a data directory.
pub const MARK_FILE: &str = "MARK";

/// Replaces the data directory's log mark. Over an existing mark file, in
/// place: the slot not holding the newest valid mark is overwritten with
/// one sector-sized `pwrite` and `fsync`, which allocates nothing (so
/// it works on a full disk) and, failed or torn, leaves the newest valid
/// mark readable (see [`spool_core::mark`]). Otherwise the whole file is
/// created through a temporary name (`MARK.tmp` written, synced, renamed
/// over `MARK`, directory synced).
pub fn write_mark(dir: &Path, dir_file: &File, mark: &LogMark) -> Result<(), IoError> {
    let path = dir.join(MARK_FILE);
    let current = fs::read(&path).ok();
    if let Some((offset, slot)) = mark.encode_over(current.as_deref()) {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| io_error(&e))?;
        pwrite_all(&file, &slot, offset)?;
        // A full fsync (the mark is rare: once per segment), keeping
        // fdatasync for appends alone.
        return fsync(&file);
    }
    let tmp = dir.join(format!("{MARK_FILE}.tmp"));
    let file = create_tmp(&tmp)?;
    pwrite_all(&file, &mark.encode_file(), 0)?;
    fsync(&file)?;
    fs::rename(&tmp, &path).map_err(|e| io_error(&e))?;
    sync_dir(dir_file)
}

fn fallocate(file: &File, len: u64) -> Result<(), IoError> {
    let len = libc::off_t::try_from(len).map_err(|_| IoError::Os(libc::EFBIG))?;
    // SAFETY: plain syscall on a descriptor owned by `file`; it returns the
    // error number rather than setting errno.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match rc {
        0 => Ok(()),
        libc::ENOSPC | libc::EDQUOT => Err(IoError::NoSpace),
        errno => Err(IoError::Os(errno)),
    }
}

/// The segment files of one data directory, shared by the IO threads.
///
/// Each segment's descriptor stays open from its creation (or first write
/// after a restart) until a later segment is written or it is deleted;
/// every append is written and synced through the same descriptor. The map
/// is locked only to look a descriptor up, never across IO.
pub struct SegmentFiles {
    dir: PathBuf,
    dir_file: File,
    open: Mutex<BTreeMap<SegmentId, Arc<File>>>,
}

impl SegmentFiles {
    /// Opens the directory (which must exist) for executing operations.
    pub fn new(dir: &Path) -> io::Result<SegmentFiles> {
        Ok(SegmentFiles {
            dir: dir.to_path_buf(),
            dir_file: File::open(dir)?,
            open: Mutex::new(BTreeMap::new()),
        })
    }

    fn path(&self, id: SegmentId) -> PathBuf {
        self.dir.join(segment_file_name(id))
    }

    fn descriptors(&self) -> std::sync::MutexGuard<'_, BTreeMap<SegmentId, Arc<File>>> {
        // The map holds only descriptors; a panic elsewhere cannot leave it
        // half-changed, so a poisoned lock is still safe to use.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The descriptor for appending to `id`, opened if needed. Segments
    /// before `id` are sealed: their last append was synced through their
    /// own descriptor, which closes once no IO thread still holds it.
    fn for_append(&self, id: SegmentId) -> Result<Arc<File>, IoError> {
        let mut open = self.descriptors();
        let keep = open.split_off(&id);
        *open = keep;
        if let Some(f) = open.get(&id) {
            return Ok(f.clone());
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(self.path(id))
            .map_err(|e| io_error(&e))?;
        let f = Arc::new(f);
        open.insert(id, f.clone());
        Ok(f)
    }

    /// Carries out one operation. Errors are returned, never retried.
    /// `between` runs once: for an append after its `pwrite` and before its
    /// `fdatasync` (so the caller's other work overlaps the device's), for
    /// other operations first.
    pub fn execute(&self, op: &IoOp, between: impl FnOnce()) -> Result<(), IoError> {
        match op {
            IoOp::Prepare {
                segment,
                file_bytes,
                mark,
            } => {
                between();
                self.prepare(*segment, *file_bytes)?;
                write_mark(&self.dir, &self.dir_file, mark)
            }
            IoOp::Append {
                segment,
                offset,
                data,
                ..
            } => {
                let file = match self.for_append(*segment) {
                    Ok(f) => f,
                    Err(e) => {
                        between();
                        return Err(e);
                    }
                };
                let written = pwrite_all(&file, data, *offset);
                between();
                written?;
                fdatasync(&file)?;
                // A segment deleted under the log (by hand, or with its
                // directory) still takes writes and syncs; they are lost
                // with the file. Costs one fstat next to the fdatasync.
                if link_count(&file)? == 0 {
                    return Err(IoError::SegmentDeleted);
                }
                Ok(())
            }
            IoOp::Delete { segment } => {
                between();
                self.descriptors().remove(segment);
                match fs::remove_file(self.path(*segment)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(&e)),
                }
                sync_dir(&self.dir_file)
            }
        }
    }

    /// Replaces the log mark ([`write_mark`]).
    pub fn write_mark(&self, mark: &LogMark) -> Result<(), IoError> {
        write_mark(&self.dir, &self.dir_file, mark)
    }

    fn prepare(&self, id: SegmentId, file_bytes: u64) -> Result<(), IoError> {
        let tmp = self.dir.join(format!("{}.tmp", segment_file_name(id)));
        let result = (|| {
            let file = create_tmp(&tmp)?;
            fallocate(&file, file_bytes)?;
            pwrite_all(&file, &SegmentHeader { id }.encode(), 0)?;
            // The size and allocation changed: a full fsync, not fdatasync.
            fsync(&file)?;
            fs::rename(&tmp, self.path(id)).map_err(|e| io_error(&e))?;
            sync_dir(&self.dir_file)?;
            Ok(file)
        })();
        match result {
            Ok(file) => {
                self.descriptors().insert(id, Arc::new(file));
                Ok(())
            }
            Err(e) => {
                // Best effort: a leftover temporary file is also removed at start.
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_others() {
        let id = SegmentId(42);
        assert_eq!(parse_segment_file_name(&segment_file_name(id)), Some(id));
        assert_eq!(parse_segment_file_name("42.seg"), None);
        assert_eq!(
            parse_segment_file_name("00000000000000000042.seg.tmp"),
            None
        );
        assert_eq!(parse_segment_file_name("0000000000000000004x.seg"), None);
    }
}
