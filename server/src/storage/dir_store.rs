//! A data directory as a [`SegmentStore`], for the log reader.
//!
//! Reads go through `pread` on a descriptor opened by name and kept while
//! the reader stays on that segment. A segment that retention deletes while
//! its descriptor is open stays readable through it (the records were
//! written; reading them is no gap); once the reader moves on, a later open
//! by name finds the file gone, which the reader reports as a gap.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use spool_core::read::SegmentStore;
use spool_core::record::SegmentId;

use super::files::segment_file_name;
use super::recovery::{list_segments, OpenError};

/// A data directory read by a [`spool_core::read::LogReader`].
pub struct DirStore {
    dir: PathBuf,
    open: Option<(SegmentId, File)>,
}

impl DirStore {
    /// A store over `dir` (read only; never changes anything in it).
    pub fn new(dir: &Path) -> DirStore {
        DirStore {
            dir: dir.to_path_buf(),
            open: None,
        }
    }
}

impl SegmentStore for DirStore {
    type Error = io::Error;

    fn list(&mut self, out: &mut Vec<SegmentId>) -> io::Result<()> {
        *out = list_segments(&self.dir, false).map_err(|e| match e {
            OpenError::Io(_, e) => e,
            other => io::Error::other(other.to_string()),
        })?;
        Ok(())
    }

    fn read_at(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.open.as_ref().map(|(s, _)| *s) != Some(id) {
            self.open = None;
            match File::open(self.dir.join(segment_file_name(id))) {
                Ok(f) => self.open = Some((id, f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let Some((_, file)) = &self.open else {
            return Ok(None);
        };
        loop {
            match file.read_at(buf, offset) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
