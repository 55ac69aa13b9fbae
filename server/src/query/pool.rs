//! Reader threads: jobs run here, off the event loop, and their answers
//! are handed back to it.
//!
//! A job is a closure over the [`ReadSide`] that returns the answer. At
//! most `max_jobs` are queued or running at once ([`Pool::try_submit`]
//! refuses beyond, and the caller answers 503). Finished answers wait in
//! a list the event loop takes after the pool wakes it.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::ReadSide;
use crate::app::reply::Reply;
use crate::live::catch_up::CatchUp;

/// A unit of read work: runs on a reader thread, returns the answer.
pub type Job = Box<dyn FnOnce(&ReadSide) -> Reply + Send>;

/// What a finished job hands back.
pub enum Answer {
    /// The HTTP answer of a [`Job`].
    Reply(Reply),
    /// A WebSocket subscriber's reader, with the frames it read.
    CatchUp(Box<CatchUp>),
}

type Work = Box<dyn FnOnce(&ReadSide) -> Answer + Send>;

/// How a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// On one of the pool's threads (queries: short, bounded in time), at
    /// most `max_jobs` queued or running.
    Query,
    /// On the monitoring thread (`/stats`, `/metrics`), with its own cap,
    /// so query load never blacks out monitoring.
    Monitor,
    /// On a thread of its own (`/simulate`: long; the pool stays free), one
    /// at a time.
    Long,
    /// A WebSocket subscriber reading a chunk of the log to catch up, on
    /// the pool's threads, at most [`MAX_CATCH_UP_JOBS`] at once (the
    /// others wait their turn; they are never refused).
    CatchUp,
}

/// Jobs of [`JobKind::CatchUp`] queued or running at most.
pub const MAX_CATCH_UP_JOBS: usize = 4;

/// Jobs of [`JobKind::Monitor`] queued or running at most.
pub const MAX_MONITOR_JOBS: usize = 16;

struct Done {
    answers: Mutex<Vec<(u64, Answer)>>,
    wake: Box<dyn Fn() + Send + Sync>,
}

/// The reader threads. See the module docs.
pub struct Pool {
    queue: Option<mpsc::Sender<(u64, Work)>>,
    monitor_queue: Option<mpsc::Sender<(u64, Work)>>,
    /// Ids of the jobs queued or running, by kind (what each kind's cap
    /// counts).
    kinds: std::collections::HashMap<u64, JobKind>,
    threads: Vec<std::thread::JoinHandle<()>>,
    read: Arc<ReadSide>,
    done: Arc<Done>,
    max_jobs: usize,
}

impl Pool {
    /// Starts `threads` reader threads; `wake` is called after each answer.
    pub fn new(
        read: Arc<ReadSide>,
        threads: usize,
        max_jobs: usize,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> std::io::Result<Pool> {
        let (tx, rx) = mpsc::channel::<(u64, Work)>();
        let rx = Arc::new(Mutex::new(rx));
        let done = Arc::new(Done {
            answers: Mutex::new(Vec::new()),
            wake,
        });
        let mut handles = Vec::new();
        let (monitor_tx, monitor_rx) = mpsc::channel::<(u64, Work)>();
        {
            let (read, done) = (read.clone(), done.clone());
            handles.push(
                std::thread::Builder::new()
                    .name("spool-monitor".to_owned())
                    .spawn(move || {
                        while let Ok((id, job)) = monitor_rx.recv() {
                            let answer = job(&read);
                            finish(&done, id, answer);
                        }
                    })?,
            );
        }
        for i in 0..threads.max(1) {
            let (rx, read, done) = (rx.clone(), read.clone(), done.clone());
            handles.push(
                std::thread::Builder::new()
                    .name(format!("spool-read-{i}"))
                    .spawn(move || loop {
                        let next = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((id, job)) = next else { return };
                        let answer = job(&read);
                        finish(&done, id, answer);
                    })?,
            );
        }
        Ok(Pool {
            queue: Some(tx),
            monitor_queue: Some(monitor_tx),
            kinds: std::collections::HashMap::new(),
            threads: handles,
            read,
            done,
            max_jobs,
        })
    }

    /// Queues job `id` of `kind`; `Err(kind)` (nothing queued) when that
    /// kind's cap is reached.
    pub fn try_submit(&mut self, id: u64, kind: JobKind, job: Job) -> Result<(), JobKind> {
        self.try_submit_work(id, kind, Box::new(move |rs| Answer::Reply(job(rs))))
    }

    /// Queues a catch-up read for a subscriber: `target` and `budget` as
    /// in [`CatchUp::run`]. `Err(Some(reader))`: [`MAX_CATCH_UP_JOBS`] are
    /// queued or running, try again after one answers; `Err(None)`: the
    /// pool is shutting down (the reader is dropped).
    pub fn try_catch_up(
        &mut self,
        id: u64,
        mut c: Box<CatchUp>,
        target: spool_core::record::Lsn,
        budget: usize,
    ) -> Result<(), Option<Box<CatchUp>>> {
        if self.running(JobKind::CatchUp) >= MAX_CATCH_UP_JOBS {
            return Err(Some(c));
        }
        let work: Work = Box::new(move |rs| {
            c.run(rs, target, budget);
            Answer::CatchUp(c)
        });
        self.try_submit_work(id, JobKind::CatchUp, work)
            .map_err(|_| None)
    }

    fn running(&self, kind: JobKind) -> usize {
        self.kinds.values().filter(|k| **k == kind).count()
    }

    fn try_submit_work(&mut self, id: u64, kind: JobKind, work: Work) -> Result<(), JobKind> {
        let cap = match kind {
            JobKind::Query => self.max_jobs,
            JobKind::Monitor => MAX_MONITOR_JOBS,
            JobKind::Long => 1,
            JobKind::CatchUp => MAX_CATCH_UP_JOBS,
        };
        if self.running(kind) >= cap {
            return Err(kind);
        }
        let started = match kind {
            JobKind::Query | JobKind::CatchUp => self
                .queue
                .as_ref()
                .is_some_and(|q| q.send((id, work)).is_ok()),
            JobKind::Monitor => self
                .monitor_queue
                .as_ref()
                .is_some_and(|q| q.send((id, work)).is_ok()),
            JobKind::Long => {
                let (read, done) = (self.read.clone(), self.done.clone());
                std::thread::Builder::new()
                    .name("spool-long-job".to_owned())
                    .spawn(move || {
                        let answer = work(&read);
                        finish(&done, id, answer);
                    })
                    .is_ok()
            }
        };
        if !started {
            return Err(kind);
        }
        self.kinds.insert(id, kind);
        Ok(())
    }

    /// Moves the finished answers into `out`.
    pub fn take_answers(&mut self, out: &mut Vec<(u64, Answer)>) {
        let Ok(mut answers) = self.done.answers.lock() else {
            return;
        };
        for (id, reply) in answers.drain(..) {
            self.kinds.remove(&id);
            out.push((id, reply));
        }
    }

    /// The state every job reads.
    pub fn read_side(&self) -> &Arc<ReadSide> {
        &self.read
    }
}

fn finish(done: &Done, id: u64, answer: Answer) {
    if let Ok(mut answers) = done.answers.lock() {
        answers.push((id, answer));
    }
    (done.wake)();
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue = None;
        self.monitor_queue = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
