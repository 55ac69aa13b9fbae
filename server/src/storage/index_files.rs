//! Persisted indexes of sealed segments: `<segment>.idx` beside
//! `<segment>.seg`, in the format of [`spool_core::index::encode`] (magic,
//! version, segment id, covered length, CRC32 over everything).
//!
//! An index is derived data: it is never trusted, only checked. A missing,
//! torn or stale file (wrong segment, CRC, or ids that disagree with what
//! recovery found in the segment) is rebuilt from the segment, so it is
//! written without fsync (tmp file, then rename): a power cut can at worst
//! lose it, never make it lie.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use spool_core::index::{decode, encode, IndexError, SegmentIndex};
use spool_core::record::SegmentId;
use spool_core::record::SEGMENT_HEADER_LEN;
use spool_core::recover::check_header;

use super::files::segment_file_name;

/// The largest index file read: a 64 MiB segment's index is well under a
/// megabyte; anything larger is not one of ours.
pub const MAX_INDEX_BYTES: u64 = 64 << 20;

/// The index file's name for `segment`.
pub fn index_file_name(segment: SegmentId) -> String {
    let seg = segment_file_name(segment);
    format!("{}.idx", seg.trim_end_matches(".seg"))
}

fn path(dir: &Path, segment: SegmentId) -> PathBuf {
    dir.join(index_file_name(segment))
}

/// Why a persisted index was not used.
#[derive(Debug)]
pub enum IndexFileError {
    /// There is none (or it cannot be read).
    Missing(io::Error),
    /// It does not decode (torn, damaged, another version).
    Invalid(IndexError),
    /// It decodes but describes another segment or other records.
    Stale(String),
}

impl std::fmt::Display for IndexFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexFileError::Missing(e) => write!(f, "missing ({e})"),
            IndexFileError::Invalid(e) => write!(f, "invalid ({e:?})"),
            IndexFileError::Stale(why) => write!(f, "stale ({why})"),
        }
    }
}

/// Loads the index of `segment`, accepting it only if it covers exactly the
/// records `first..=last` that the segment holds (`None`: none).
pub fn load(
    dir: &Path,
    segment: SegmentId,
    ids: Option<(spool_core::record::Lsn, spool_core::record::Lsn)>,
) -> Result<SegmentIndex, IndexFileError> {
    let p = path(dir, segment);
    let meta = fs::symlink_metadata(&p).map_err(IndexFileError::Missing)?;
    if !meta.file_type().is_file() || meta.len() > MAX_INDEX_BYTES {
        return Err(IndexFileError::Stale(format!(
            "it is not a regular file of at most {MAX_INDEX_BYTES} bytes"
        )));
    }
    let bytes = fs::read(&p).map_err(IndexFileError::Missing)?;
    let index = decode(&bytes).map_err(IndexFileError::Invalid)?;
    if index.segment() != segment {
        return Err(IndexFileError::Stale(format!(
            "it indexes segment {}",
            index.segment()
        )));
    }
    let have = index.first_id().zip(index.last_id());
    if have != ids {
        return Err(IndexFileError::Stale(format!(
            "it covers ids {have:?}, the segment holds {ids:?}"
        )));
    }
    Ok(index)
}

/// Whether `index` describes the segment bytes `read` gives (`read(offset,
/// buf)` fills `buf` from that offset, `false` if it cannot): the segment's
/// header valid for its id, every block with its CRC, and the first and
/// last blocks exactly those bytes (CRC, ids, frames). What is checked
/// before an index is used in place of reading its segment: an index
/// copied from another log, or left from other contents, fails it. Three
/// small reads.
pub fn matches_segment(index: &SegmentIndex, mut read: impl FnMut(u64, &mut [u8]) -> bool) -> bool {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    if !read(0, &mut header) || check_header(index.segment(), &header).is_err() {
        return false;
    }
    if index.blocks().iter().any(|b| b.crc().is_none()) {
        return false;
    }
    let ends = [index.blocks().first(), index.blocks().last()];
    ends.into_iter().flatten().all(|block| {
        let mut buf = vec![0u8; usize::try_from(block.byte_len()).unwrap_or(0)];
        read(block.offset(), &mut buf) && block.describes(index.segment(), &buf)
    })
}

/// Writes the index of a sealed segment (tmp file, rename; no fsync: see
/// the module docs).
pub fn store(dir: &Path, index: &SegmentIndex) -> io::Result<()> {
    let final_path = path(dir, index.segment());
    let tmp = final_path.with_extension("idx.tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&encode(index))?;
    drop(f);
    fs::rename(&tmp, &final_path)
}

/// Removes the index of a deleted segment (absent is fine).
pub fn remove(dir: &Path, segment: SegmentId) {
    let _ = fs::remove_file(path(dir, segment));
}
