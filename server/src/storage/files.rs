//! The segment files: what each of the group commit's [`IoOp`]s does to a
//! data directory, as calls on a [`Storage`] backend (the operating
//! system's on the IO thread, the simulated machine in the deterministic
//! simulation: the same code for both).
//!
//! Guarantees: `Append` returns `Ok` only when the whole buffer was written
//! and `fdatasync` returned 0 on the descriptor that wrote it; a short write
//! or any error is returned as is, never retried. A new segment becomes
//! visible under its final name only complete (header written, preallocated,
//! synced), and the directory is synced after every create and delete.
//!
//! Zeros written ahead: a segment is preallocated with `posix_fallocate`,
//! which on ext4 and XFS leaves *unwritten* extents, and the first write
//! into an unwritten block changes the file's extent map, so the
//! `fdatasync` that follows must also make that metadata durable (a
//! journal commit; on this machine's ext4, which runs without a journal, a
//! synchronous write of the inode's metadata before the cache flush): here
//! 180 µs instead of 90 µs per sync (fio, 4 KiB
//! appends into a fallocated file against overwrites of a written one;
//! README, "Write path at the limit").
//! So a small append (under [`ZERO_AHEAD_BELOW`]) that reaches past what
//! was written of its segment also writes zeros over the next
//! [`ZERO_AHEAD`] bytes, under the same `fdatasync`; the appends that land
//! there later only overwrite written blocks, and their syncs flush data
//! alone (PostgreSQL's `wal_init_zero` for the same reason). A large append
//! does not: the next one would reach past the zeros anyway, and they would
//! only double the bytes written. The zeros go only past the end of the
//! append, where the segment holds zeros already (the log's bytes past its
//! end are zeros, see the recovery), and never past the file's length.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use spool_core::commit::{IoError, IoOp};
use spool_core::mark::LogMark;
use spool_core::record::{SegmentHeader, SegmentId, SEGMENT_HEADER_LEN};

use super::backend::{Access, Storage, StorageError};

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

/// The temporary name a segment is created under.
pub fn segment_tmp_name(id: SegmentId) -> String {
    format!("{}.tmp", segment_file_name(id))
}

/// How far past the end of a small append its segment's bytes are written
/// out with zeros when the append reaches past what was written before (see
/// the module doc): one write of zeros per 256 KiB of small appends, at
/// least 8 appends apart.
pub const ZERO_AHEAD: u64 = 256 << 10;

/// Appends of this many bytes or more write no zeros ahead. Zeros pay off
/// where a sync's metadata write (about 50–90 µs on this machine) outweighs
/// writing the bytes twice (about 1.2 ns per byte, page cache and device),
/// below about 40 KB per append.
pub const ZERO_AHEAD_BELOW: u64 = 32 << 10;

/// The name of the log mark file in a data directory.
pub const MARK_FILE: &str = "MARK";

/// The temporary name a new log mark file is created under.
const MARK_TMP: &str = "MARK.tmp";

/// Replaces the data directory's log mark. Over an existing mark file, in
/// place: the slot not holding the newest valid mark is overwritten with
/// one sector-sized `pwrite` and `fsync`, which allocates nothing (so
/// it works on a full disk) and, failed or torn, leaves the newest valid
/// mark readable (see [`spool_core::mark`]). Otherwise the whole file is
/// created through a temporary name (`MARK.tmp` written, synced, renamed
/// over `MARK`, directory synced).
pub fn write_mark<S: Storage>(storage: &S, mark: &LogMark) -> Result<(), StorageError> {
    let current = storage.read(MARK_FILE).ok().map(|(bytes, _)| bytes);
    if let Some((offset, slot)) = mark.encode_over(current.as_deref()) {
        let file = storage.open(MARK_FILE, Access::Write)?;
        storage.pwrite(&file, &slot, offset)?;
        // A full fsync (the mark is rare: once per segment), keeping
        // fdatasync for appends alone.
        return storage.fsync(&file);
    }
    let file = storage.create(MARK_TMP)?;
    storage.pwrite(&file, &mark.encode_file(), 0)?;
    storage.fsync(&file)?;
    storage.rename(MARK_TMP, MARK_FILE)?;
    storage.sync_dir()
}

/// The segment files of one data directory, shared by the IO threads.
///
/// Each segment's descriptor stays open from its creation (or first write
/// after a restart) until a later segment is written or it is deleted;
/// every append is written and synced through the same descriptor. The map
/// is locked only to look a descriptor up, never across IO.
pub struct SegmentFiles<S: Storage> {
    storage: S,
    open: Mutex<BTreeMap<SegmentId, Arc<OpenSegment<S::File>>>>,
}

/// A segment's descriptor and how much of the file was written through it.
struct OpenSegment<F> {
    file: F,
    /// The file's length: zeros are never written past it.
    len: u64,
    /// Every byte before this offset was written (data, header or zeros)
    /// since the descriptor was opened. Changed only by the one append
    /// running at a time (the group commit has at most one in flight), and
    /// the IO thread and a leading appender take turns through the
    /// hand-off's lock, which orders their accesses: relaxed loads and
    /// stores suffice.
    written_to: AtomicU64,
}

impl<S: Storage> SegmentFiles<S> {
    /// The segment files of the directory `storage` stands for.
    pub fn new(storage: S) -> SegmentFiles<S> {
        SegmentFiles {
            storage,
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// The backend the files live on.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    fn descriptors(&self) -> MutexGuard<'_, BTreeMap<SegmentId, Arc<OpenSegment<S::File>>>> {
        // The map holds only descriptors; a panic elsewhere cannot leave it
        // half-changed, so a poisoned lock is still safe to use.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The descriptor for appending to `id`, opened if needed. Segments
    /// before `id` are sealed: their last append was synced through their
    /// own descriptor, which closes once no IO thread still holds it.
    /// A segment opened here (after a restart) starts with nothing known
    /// written, so its first append writes zeros ahead.
    fn for_append(&self, id: SegmentId) -> Result<Arc<OpenSegment<S::File>>, StorageError> {
        let mut open = self.descriptors();
        let keep = open.split_off(&id);
        *open = keep;
        if let Some(f) = open.get(&id) {
            return Ok(f.clone());
        }
        let file = self
            .storage
            .open(&segment_file_name(id), Access::ReadWrite)?;
        let len = self.storage.stat(&file)?.len;
        let f = Arc::new(OpenSegment {
            file,
            len,
            written_to: AtomicU64::new(0),
        });
        open.insert(id, f.clone());
        Ok(f)
    }

    /// After an append of `[offset, end)` to `segment`: if `end` is past
    /// what was written of the file and the append is small (under
    /// [`ZERO_AHEAD_BELOW`]), writes zeros over `[end, end + ZERO_AHEAD)`
    /// (clipped to the file's length), so the blocks the next appends land
    /// in are already written ones.
    fn zero_ahead(
        &self,
        segment: &OpenSegment<S::File>,
        offset: u64,
        end: u64,
    ) -> Result<(), StorageError> {
        if end <= segment.written_to.load(Ordering::Relaxed) {
            return Ok(());
        }
        if end - offset >= ZERO_AHEAD_BELOW {
            segment.written_to.store(end, Ordering::Relaxed);
            return Ok(());
        }
        let to = end.saturating_add(ZERO_AHEAD).min(segment.len).max(end);
        if to > end {
            // `to - end` is at most ZERO_AHEAD, 256 KiB.
            let zeros = vec![0u8; (to - end) as usize];
            self.storage.pwrite(&segment.file, &zeros, end)?;
        }
        segment.written_to.store(to, Ordering::Relaxed);
        Ok(())
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
                Ok(write_mark(&self.storage, mark)?)
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
                        return Err(e.into());
                    }
                };
                let written = self.storage.pwrite(&file.file, data, *offset);
                between();
                written?;
                // A failed write of zeros fails the append like its own
                // write would: nothing is retried.
                self.zero_ahead(&file, *offset, *offset + data.len() as u64)?;
                self.storage.fdatasync(&file.file)?;
                // A segment deleted under the log (by hand, or with its
                // directory) still takes writes and syncs; they are lost
                // with the file. Costs one statx (the link count only) next to the fdatasync.
                if self.storage.links(&file.file)? == 0 {
                    return Err(IoError::SegmentDeleted);
                }
                Ok(())
            }
            IoOp::Delete { segment } => {
                between();
                self.descriptors().remove(segment);
                match self.storage.unlink(&segment_file_name(*segment)) {
                    Ok(()) | Err(StorageError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(self.storage.sync_dir()?)
            }
        }
    }

    /// Replaces the log mark ([`write_mark`]).
    pub fn write_mark(&self, mark: &LogMark) -> Result<(), IoError> {
        Ok(write_mark(&self.storage, mark)?)
    }

    fn prepare(&self, id: SegmentId, file_bytes: u64) -> Result<(), StorageError> {
        let tmp = segment_tmp_name(id);
        let result = (|| {
            let file = self.storage.create(&tmp)?;
            self.storage.fallocate(&file, file_bytes)?;
            self.storage
                .pwrite(&file, &SegmentHeader { id }.encode(), 0)?;
            // The size and allocation changed: a full fsync, not fdatasync.
            self.storage.fsync(&file)?;
            self.storage.rename(&tmp, &segment_file_name(id))?;
            self.storage.sync_dir()?;
            Ok(file)
        })();
        match result {
            Ok(file) => {
                let segment = OpenSegment {
                    file,
                    len: file_bytes,
                    written_to: AtomicU64::new(SEGMENT_HEADER_LEN),
                };
                self.descriptors().insert(id, Arc::new(segment));
                Ok(())
            }
            Err(e) => {
                // Best effort: a leftover temporary file is also removed at start.
                let _ = self.storage.unlink(&tmp);
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
