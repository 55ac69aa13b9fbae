//! The catalog: one index per segment, kept current with the durable log.
//!
//! Sealed segments have a finished [`SegmentIndex`], loaded from its
//! `.idx` file when that checks out, else rebuilt from the segment (and the
//! file written). The active segment has an [`IndexBuilder`] fed from the
//! segment file up to the durable id: the catalog reads the files as any
//! reader does, so an index never describes a record that is not durable,
//! and ingest pays nothing for it. [`Catalog::refresh`] brings it up to a
//! [`LogView`] (called before each query, and when the log rotates);
//! [`Catalog::snapshot`] hands out the indexes, newest first, for
//! [`spool_core::query::plan`].

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spool_core::index::{Fields, IndexBuilder, SegmentIndex};
use spool_core::record::{
    decode_frame_unchecked, frame_is_intact, Decoded, FrameError, Lsn, SegmentId, MAX_PAYLOAD_LEN,
};

use crate::storage::files::segment_file_name;
use crate::storage::index_files;

/// Bytes read per `pread` while indexing a segment.
const READ: usize = 1 << 20;

/// What the log holds now, as the group commit says.
#[derive(Clone, Debug, Default)]
pub struct LogView {
    /// Highest durable id.
    pub durable: Lsn,
    /// The segment being written.
    pub active: SegmentId,
    /// Every segment with records: id, first id, last id (oldest first).
    pub segments: Vec<(SegmentId, Lsn, Lsn)>,
}

impl LogView {
    /// The view of a group commit's state.
    pub fn of(gc: &spool_core::commit::GroupCommit) -> LogView {
        LogView {
            durable: gc.durable(),
            active: gc.active(),
            segments: gc
                .segments()
                .iter()
                .filter(|s| s.first.0 != 0)
                .map(|s| (s.id, s.first, s.last))
                .collect(),
        }
    }
}

/// A segment the catalog could not index: it is damaged there.
#[derive(Debug)]
pub struct Damaged {
    /// The segment.
    pub segment: SegmentId,
    /// Offset of the bad frame.
    pub offset: u64,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} offset {}: {}",
            segment_file_name(self.segment),
            self.offset,
            self.what
        )
    }
}

/// Why the catalog could not be brought up to date.
#[derive(Debug)]
pub enum CatalogError {
    /// A segment holds something that is not a valid record where a
    /// durable record must be.
    Damaged(Damaged),
    /// Reading a segment failed.
    Io(SegmentId, io::Error),
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogError::Damaged(d) => write!(f, "the log is damaged at {d}; run spool verify"),
            CatalogError::Io(s, e) => write!(f, "reading {}: {e}", segment_file_name(*s)),
        }
    }
}

struct Active {
    builder: IndexBuilder,
    /// The builder's index as last handed out, until it grows.
    snapshot: Option<Arc<SegmentIndex>>,
}

/// The indexes of every segment. See the module docs.
pub struct Catalog {
    dir: PathBuf,
    sealed: BTreeMap<SegmentId, Arc<SegmentIndex>>,
    active: Option<Active>,
    files: HashMap<SegmentId, Arc<File>>,
    /// Indexes rebuilt because their file did not check out (damaged,
    /// stale); a missing one is built without counting.
    pub rebuilt: u64,
}

impl Catalog {
    /// An empty catalog over `dir`; [`Catalog::refresh`] fills it.
    pub fn new(dir: &Path) -> Catalog {
        Catalog {
            dir: dir.to_path_buf(),
            sealed: BTreeMap::new(),
            active: None,
            files: HashMap::new(),
            rebuilt: 0,
        }
    }

    /// Starts from the indexes recovery already took and checked (sealed
    /// segments), so they are not read and checked again.
    pub fn adopt(&mut self, indexes: Vec<SegmentIndex>) {
        for index in indexes {
            self.sealed.insert(index.segment(), Arc::new(index));
        }
    }

    /// The segment file, opened once and kept while the segment exists
    /// (`None`: it is gone).
    pub fn file(&mut self, segment: SegmentId) -> io::Result<Option<Arc<File>>> {
        if let Some(f) = self.files.get(&segment) {
            return Ok(Some(f.clone()));
        }
        match File::open(self.dir.join(segment_file_name(segment))) {
            Ok(f) => {
                let f = Arc::new(f);
                self.files.insert(segment, f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Brings the indexes up to `view`: forgets deleted segments (and their
    /// `.idx`), finishes and persists segments no longer active, indexes
    /// the active segment's records up to `view.durable`.
    pub fn refresh(&mut self, view: &LogView) -> Result<(), CatalogError> {
        let present: Vec<SegmentId> = view.segments.iter().map(|s| s.0).collect();
        let gone: Vec<SegmentId> = self
            .sealed
            .keys()
            .copied()
            .filter(|s| !present.contains(s))
            .collect();
        for s in gone {
            self.sealed.remove(&s);
            self.files.remove(&s);
            index_files::remove(&self.dir, s);
        }
        for &(segment, first, last) in &view.segments {
            if segment >= view.active || self.sealed.contains_key(&segment) {
                continue;
            }
            let index = match self.active.take() {
                Some(mut a) if a.builder.index().segment() == segment => {
                    if !self.feed(&mut a.builder, last)? {
                        continue; // deleted by retention meanwhile
                    }
                    a.builder.finish()
                }
                other => {
                    self.active = other;
                    let loaded = index_files::load(&self.dir, segment, Some((first, last)))
                        .and_then(|index| self.check_ends(&index).map(|()| index));
                    match loaded {
                        Ok(index) => index,
                        Err(e) => {
                            if !matches!(e, index_files::IndexFileError::Missing(_)) {
                                self.rebuilt += 1;
                                eprintln!(
                                    "spool: the index of {} is {e}; rebuilding it from the segment",
                                    segment_file_name(segment)
                                );
                            }
                            let mut b = IndexBuilder::new(segment);
                            if !self.feed(&mut b, last)? {
                                continue; // deleted by retention meanwhile
                            }
                            b.finish()
                        }
                    }
                }
            };
            if index.last_id() != Some(last) {
                if self.file(segment).ok().flatten().is_none() {
                    continue; // deleted by retention while it was read
                }
                return Err(CatalogError::Damaged(Damaged {
                    segment,
                    offset: index.covered_len(),
                    what: format!(
                        "records end at id {:?}, the log holds up to {last}",
                        index.last_id()
                    ),
                }));
            }
            // Best effort: without the file the next start rebuilds it.
            let _ = index_files::store(&self.dir, &index);
            self.sealed.insert(segment, Arc::new(index));
        }
        let holds_active = view.segments.iter().any(|s| s.0 == view.active);
        if !holds_active {
            self.active = None;
            return Ok(());
        }
        let mut a = match self.active.take() {
            Some(a) if a.builder.index().segment() == view.active => a,
            _ => Active {
                builder: IndexBuilder::new(view.active),
                snapshot: None,
            },
        };
        let before = a.builder.index().covered_len();
        let fed = self.feed(&mut a.builder, view.durable);
        if a.builder.index().covered_len() != before {
            a.snapshot = None;
        }
        self.active = Some(a);
        fed.map(|_| ())
    }

    /// Whether a loaded index describes this segment's bytes
    /// ([`index_files::matches_segment`]): an index copied from another
    /// log, or written without block CRCs, is not used.
    fn check_ends(&mut self, index: &SegmentIndex) -> Result<(), index_files::IndexFileError> {
        let file = match self.file(index.segment()) {
            Ok(Some(f)) => f,
            _ => {
                return Err(index_files::IndexFileError::Stale(
                    "its segment cannot be read".to_owned(),
                ))
            }
        };
        let matches = index_files::matches_segment(index, |offset, buf| {
            read_at(&file, buf, offset).is_ok_and(|n| n == buf.len())
        });
        if matches {
            Ok(())
        } else {
            Err(index_files::IndexFileError::Stale(
                "it does not describe the segment's bytes (header, block checksums, or its first and last blocks)".to_owned(),
            ))
        }
    }

    /// Pushes the frames of the builder's segment from where it stopped,
    /// up to and including id `upto`. Stops early at the end of what is
    /// written; a frame that does not decode before `upto` is reached is
    /// damage.
    ///
    /// Every frame's CRC is checked on the way, so an index never describes
    /// damaged bytes as good ones (a block's CRC is of bytes that were
    /// intact when indexed). `Ok(false)`: the segment's file is gone
    /// (retention deleted it).
    fn feed(&mut self, builder: &mut IndexBuilder, upto: Lsn) -> Result<bool, CatalogError> {
        let segment = builder.index().segment();
        if builder.index().last_id().is_some_and(|l| l >= upto) {
            return Ok(true);
        }
        let Some(file) = self
            .file(segment)
            .map_err(|e| CatalogError::Io(segment, e))?
        else {
            return Ok(false); // deleted by retention meanwhile
        };
        let mut buf = vec![0u8; READ];
        loop {
            let at = builder.index().covered_len();
            let n = read_at(&file, &mut buf, at).map_err(|e| CatalogError::Io(segment, e))?;
            let bytes = &buf[..n];
            let mut pos = 0usize;
            loop {
                if builder.index().last_id().is_some_and(|l| l >= upto) {
                    return Ok(true);
                }
                let offset = at + pos as u64;
                let damaged = |what: String| {
                    CatalogError::Damaged(Damaged {
                        segment,
                        offset,
                        what,
                    })
                };
                let rest = &bytes[pos..];
                // Structure first; the CRC once the frame is whole (below).
                let frame = match decode_frame_unchecked(rest, MAX_PAYLOAD_LEN) {
                    Ok(Decoded::Record(frame)) => frame,
                    Ok(Decoded::NeedMore { .. }) if n == buf.len() && pos > 0 => break,
                    Ok(Decoded::NeedMore { needed }) if n == buf.len() => {
                        // A frame larger than the read: read it whole.
                        let want = rest.len() + usize::try_from(needed).unwrap_or(usize::MAX);
                        buf.resize(want.min(MAX_PAYLOAD_LEN as usize + 64), 0);
                        break;
                    }
                    Ok(Decoded::NeedMore { .. }) | Err(FrameError::Zero) => {
                        // The end of what is written, before the last
                        // record that must be here.
                        return Err(damaged(format!(
                            "the records end before id {upto}, which is durable"
                        )));
                    }
                    Err(e) => return Err(damaged(e.to_string())),
                };
                if frame.seq > upto {
                    return Ok(true);
                }
                // A payload that is not an entry (a raw payload appended
                // through the library) is indexed as one no query selects.
                let fields = Fields::peek(frame.payload);
                let len = frame.encoded_len() as usize;
                let frame_bytes = rest.get(..len).unwrap_or_default();
                if !frame_is_intact(frame_bytes, segment) {
                    return Err(damaged(FrameError::BadCrc.to_string()));
                }
                builder
                    .push_frame(frame.seq, offset, frame_bytes, &fields)
                    .map_err(|e| damaged(e.to_string()))?;
                pos += len;
            }
        }
    }

    /// Drops the index of `segment` (and its `.idx` file) after a query
    /// found that it does not describe the segment's bytes, which are
    /// intact: the next [`Catalog::refresh`] rebuilds it from the segment,
    /// every record CRC-checked, and counts it in [`Catalog::rebuilt`].
    pub fn forget(&mut self, segment: SegmentId) {
        if self.sealed.remove(&segment).is_some() {
            index_files::remove(&self.dir, segment);
            self.rebuilt += 1;
            eprintln!(
                "spool: the index of {} does not describe its segment; rebuilding it",
                segment_file_name(segment)
            );
        }
        if self
            .active
            .as_ref()
            .is_some_and(|a| a.builder.index().segment() == segment)
        {
            self.active = None;
            self.rebuilt += 1;
        }
    }

    /// Every index, newest segment first: the input of a query plan.
    pub fn snapshot(&mut self) -> Vec<Arc<SegmentIndex>> {
        let mut out = Vec::with_capacity(self.sealed.len() + 1);
        if let Some(a) = &mut self.active {
            let snap = a
                .snapshot
                .get_or_insert_with(|| Arc::new(a.builder.index().clone()))
                .clone();
            out.push(snap);
        }
        out.extend(self.sealed.values().rev().cloned());
        out
    }

    /// Records indexed, their frame bytes, and the index bytes held in
    /// memory.
    pub fn totals(&self) -> (u64, u64, usize) {
        let header = spool_core::record::SEGMENT_HEADER_LEN;
        let mut records = 0;
        let mut record_bytes = 0;
        let mut bytes = 0;
        let active = self.active.as_ref().map(|a| a.builder.index());
        for i in self.sealed.values().map(|i| i.as_ref()).chain(active) {
            records += i.records();
            record_bytes += i.covered_len().saturating_sub(header);
            bytes += i.memory_bytes();
        }
        (records, record_bytes, bytes)
    }
}

/// `pread` until `buf` is full or the file ends; returns the bytes read.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
