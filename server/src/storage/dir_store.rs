//! A data directory as a [`SegmentStore`], for the log reader.
//!
//! Reads go through `pread` on a descriptor opened by name and kept while
//! the reader stays on that segment. A segment that retention deletes while
//! its descriptor is open stays readable through it (the records were
//! written; reading them is no gap); once the reader moves on, a later open
//! by name finds the file gone, which the reader reports as a gap. Any
//! [`Storage`] backend serves: the operating system's, or the simulated
//! machine, whose recovered logs the simulation reads back this way.

use std::io;
use std::path::Path;

use spool_core::read::SegmentStore;
use spool_core::record::SegmentId;

use super::backend::{Access, OsStorage, Storage, StorageError};
use super::files::segment_file_name;
use super::recovery::{list_segments_in, OpenError};

/// A data directory read by a [`spool_core::read::LogReader`].
pub struct DirStore<S: Storage = OsStorage> {
    storage: S,
    open: Option<(SegmentId, S::File)>,
}

impl DirStore {
    /// A store over `dir` (read only; never changes anything in it).
    pub fn new(dir: &Path) -> DirStore {
        DirStore::over(OsStorage::new(dir))
    }
}

impl<S: Storage> DirStore<S> {
    /// A store over the directory `storage` stands for (read only).
    pub fn over(storage: S) -> DirStore<S> {
        DirStore {
            storage,
            open: None,
        }
    }
}

impl<S: Storage> SegmentStore for DirStore<S> {
    type Error = io::Error;

    fn list(&mut self, out: &mut Vec<SegmentId>) -> io::Result<()> {
        *out = list_segments_in(&self.storage, false).map_err(|e| match e {
            OpenError::Io(_, e) => e,
            other => io::Error::other(other.to_string()),
        })?;
        Ok(())
    }

    fn read_at(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.open.as_ref().map(|(s, _)| *s) != Some(id) {
            self.open = None;
            match self.storage.open(&segment_file_name(id), Access::Read) {
                Ok(f) => self.open = Some((id, f)),
                Err(StorageError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let Some((_, file)) = &self.open else {
            return Ok(None);
        };
        Ok(Some(self.storage.pread(file, buf, offset)?))
    }
}
