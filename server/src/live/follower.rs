//! The daemon's follower at the head of the log: reads new durable records
//! from the segment files into the [`Window`].

use std::io;
use std::path::{Path, PathBuf};

use spool_core::read::Start;
use spool_core::record::Lsn;

use super::catch_up::CatchUp;
use super::window::{LiveItem, Window};
use super::{gap_frame, record_frame};
use crate::reader::{DurableReader, Item, ReaderError};
use crate::storage::watch::DirWatch;

/// What one [`Follower::read`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Items were added to the window.
    pub grew: bool,
    /// It stopped at its budget with durable records left to read.
    pub more: bool,
}

/// The follower. See the module docs.
pub struct Follower {
    dir: PathBuf,
    gaps: Vec<(Lsn, Lsn)>,
    reader: DurableReader,
    window: Window,
    watch: DirWatch,
    json: Vec<u8>,
    /// Why it stopped (the log is damaged, or unreadable); nothing more is
    /// read or sent.
    failed: Option<String>,
}

impl Follower {
    /// A follower of `dir` starting after `durable` (the newest durable
    /// record when the daemon starts), keeping about `window_bytes`;
    /// `gaps` are the ids declared lost. The inotify watch starts before
    /// anything is read, so no change is missed.
    pub fn new(
        dir: &Path,
        durable: Lsn,
        gaps: &[(Lsn, Lsn)],
        window_bytes: usize,
    ) -> io::Result<Follower> {
        let watch = DirWatch::new(dir)?;
        Ok(Follower {
            dir: dir.to_owned(),
            gaps: gaps.to_vec(),
            reader: DurableReader::new(dir, start_after(durable), gaps),
            window: Window::new(durable.next(), window_bytes),
            watch,
            json: Vec::new(),
            failed: None,
        })
    }

    /// The inotify descriptor, for the event loop.
    pub fn watch(&self) -> &DirWatch {
        &self.watch
    }

    /// The window subscribers copy from.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// A subscriber's own reader of the same log (it is behind the
    /// window): from `start`, or with `time` from the first record at or
    /// after it; `next` is the subscriber's cursor now.
    pub fn catch_up(&self, start: Start, time: Option<u64>, next: Lsn) -> Box<CatchUp> {
        Box::new(CatchUp::new(&self.dir, &self.gaps, start, time, next))
    }

    /// Why it stopped, if it did.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Reads durable records (ids up to `durable`) into the window, about
    /// `budget` bytes of payload at most.
    pub fn read(&mut self, durable: Lsn, budget: usize) -> Progress {
        let mut progress = Progress::default();
        if self.failed.is_some() {
            return progress;
        }
        let mut read = 0;
        while self.window.next() <= durable {
            if read >= budget {
                progress.more = true;
                break;
            }
            let item = match self.reader.next(durable) {
                Ok(None) => break,
                Ok(Some(item)) => item,
                Err(e) => {
                    self.fail(&e);
                    break;
                }
            };
            let live = match item {
                Item::Record { id, payload } => {
                    let mut frame = Vec::with_capacity(payload.len() + 160);
                    if !record_frame(id, &payload, &mut self.json, &mut frame) {
                        frame = Vec::new();
                    }
                    read += payload.len();
                    LiveItem {
                        first: id,
                        last: id,
                        payload: payload.into_boxed_slice(),
                        frame: frame.into_boxed_slice(),
                        gap: false,
                    }
                }
                Item::Gap { from, to } => {
                    let mut frame = Vec::new();
                    gap_frame(from, to, &mut frame);
                    LiveItem {
                        first: from,
                        last: to,
                        payload: Box::new([]),
                        frame: frame.into_boxed_slice(),
                        gap: true,
                    }
                }
            };
            if live.first > self.window.next() && self.window.oldest() == self.window.next() {
                // Started from the oldest record of a log whose ids do not
                // begin at the window's first (an empty window): begin there.
                self.window.reset(live.first);
            }
            if live.first != self.window.next() {
                self.failed = Some(format!(
                    "the live follower read id {} where it expected {}; run spool verify",
                    live.first,
                    self.window.next()
                ));
                eprintln!("spool: {}", self.failed.as_deref().unwrap_or_default());
                break;
            }
            self.window.push(live);
            progress.grew = true;
        }
        progress
    }

    /// Leaves what it has not read behind: the window restarts empty after
    /// `durable`. For when the only subscribers waiting for the follower
    /// are far behind (they read the log themselves, off the event loop,
    /// rather than the follower reading a long way on it).
    pub fn jump(&mut self, durable: Lsn) {
        if self.failed.is_some() || durable < self.window.next() {
            return;
        }
        self.reader = DurableReader::new(&self.dir, start_after(durable), &self.gaps);
        self.window.reset(durable.next());
    }

    fn fail(&mut self, e: &ReaderError) {
        eprintln!("spool: the live follower stopped: {e}");
        self.failed = Some(e.to_string());
    }
}

fn start_after(id: Lsn) -> Start {
    if id.0 == 0 {
        Start::Oldest
    } else {
        Start::After(id)
    }
}
