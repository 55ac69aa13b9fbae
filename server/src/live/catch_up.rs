//! A subscriber behind the window reads the log itself: a bounded chunk
//! per job, on a reader thread, never on the event loop.

use std::path::Path;

use spool_core::read::Start;
use spool_core::record::Lsn;

use super::subscription::Selection;
use super::{gap_frame, record_frame};
use crate::query::ReadSide;
use crate::reader::{time_start, DurableReader, Item};

/// One subscriber's reader and the frames its last job produced.
pub struct CatchUp {
    reader: DurableReader,
    dir: std::path::PathBuf,
    gaps: Vec<(Lsn, Lsn)>,
    /// Resolve the start from the indexes first (`from=` a time).
    time: Option<u64>,
    /// What the subscriber selects (handed back with the frames).
    pub selection: Option<Selection>,
    /// Frames produced by the last job, to queue on the socket.
    pub frames: Vec<u8>,
    /// The next id the subscriber wants after these frames.
    pub next: Lsn,
    /// Why reading stopped for good (damage, IO).
    pub error: Option<String>,
    json: Vec<u8>,
}

impl CatchUp {
    /// A reader of `dir` from `start` (or, with `time`, from the first
    /// record at or after it, found through the indexes when the job
    /// runs); `next` is the subscriber's cursor now.
    pub fn new(
        dir: &Path,
        gaps: &[(Lsn, Lsn)],
        start: Start,
        time: Option<u64>,
        next: Lsn,
    ) -> CatchUp {
        CatchUp {
            reader: DurableReader::new(dir, start, gaps),
            dir: dir.to_owned(),
            gaps: gaps.to_vec(),
            time,
            selection: None,
            frames: Vec::new(),
            next,
            error: None,
            json: Vec::new(),
        }
    }

    /// Drops the read buffers, keeping the place: for a subscriber that
    /// waits for its client, which then holds its position, not a few
    /// hundred KiB of buffers.
    pub fn release_buffers(&mut self) {
        self.reader.release_buffers();
        self.json = Vec::new();
    }

    /// Reads records with ids below `target` (the window's next id when
    /// the job was made) and at or below the durable id, appending the
    /// frames the selection wants to [`CatchUp::frames`] until it holds
    /// `budget` bytes. Afterwards [`CatchUp::next`] is the cursor: at
    /// `target` if everything below it was read.
    pub fn run(&mut self, rs: &ReadSide, target: Lsn, budget: usize) {
        if let Some(ns) = self.time.take() {
            let durable = rs.handoff.durable();
            let start = match rs.current_catalog() {
                Ok(mut catalog) => time_start(&catalog.snapshot(), ns, durable),
                Err(e) => {
                    self.error = Some(format!("finding where {ns} ns starts: {e}"));
                    return;
                }
            };
            self.reader = DurableReader::new(&self.dir, start, &self.gaps);
        }
        let cap = Lsn(target.0.saturating_sub(1)).min(rs.handoff.durable());
        let Some(selection) = self.selection.as_mut() else {
            return;
        };
        while self.frames.len() < budget {
            match self.reader.next(cap) {
                Ok(None) => {
                    // Everything up to the cap is read.
                    self.next = self.reader.next_id().unwrap_or(cap.next()).max(self.next);
                    return;
                }
                Ok(Some(Item::Gap { from, to })) => {
                    gap_frame(from, to, &mut self.frames);
                    self.next = to.next();
                }
                Ok(Some(Item::Record { id, payload })) => {
                    if selection.wants(&payload) {
                        let before = self.frames.len();
                        if !record_frame(id, &payload, &mut self.json, &mut self.frames) {
                            self.frames.truncate(before);
                        }
                    }
                    self.next = id.next();
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    return;
                }
            }
        }
    }
}
