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

/// A unit of read work: runs on a reader thread, returns the answer.
pub type Job = Box<dyn FnOnce(&ReadSide) -> Reply + Send>;

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
}

/// Jobs of [`JobKind::Monitor`] queued or running at most.
pub const MAX_MONITOR_JOBS: usize = 16;

struct Done {
    answers: Mutex<Vec<(u64, Reply)>>,
    wake: Box<dyn Fn() + Send + Sync>,
}

/// The reader threads. See the module docs.
pub struct Pool {
    queue: Option<mpsc::Sender<(u64, Job)>>,
    monitor_queue: Option<mpsc::Sender<(u64, Job)>>,
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
        let (tx, rx) = mpsc::channel::<(u64, Job)>();
        let rx = Arc::new(Mutex::new(rx));
        let done = Arc::new(Done {
            answers: Mutex::new(Vec::new()),
            wake,
        });
        let mut handles = Vec::new();
        let (monitor_tx, monitor_rx) = mpsc::channel::<(u64, Job)>();
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
        let cap = match kind {
            JobKind::Query => self.max_jobs,
            JobKind::Monitor => MAX_MONITOR_JOBS,
            JobKind::Long => 1,
        };
        if self.kinds.values().filter(|k| **k == kind).count() >= cap {
            return Err(kind);
        }
        let started = match kind {
            JobKind::Query => self
                .queue
                .as_ref()
                .is_some_and(|q| q.send((id, job)).is_ok()),
            JobKind::Monitor => self
                .monitor_queue
                .as_ref()
                .is_some_and(|q| q.send((id, job)).is_ok()),
            JobKind::Long => {
                let (read, done) = (self.read.clone(), self.done.clone());
                std::thread::Builder::new()
                    .name("spool-long-job".to_owned())
                    .spawn(move || {
                        let answer = job(&read);
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
    pub fn take_answers(&mut self, out: &mut Vec<(u64, Reply)>) {
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

fn finish(done: &Done, id: u64, answer: Reply) {
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
