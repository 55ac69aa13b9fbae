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
pub enum JobKind {
    /// On one of the pool's threads (queries: short, bounded in time).
    Query,
    /// On a thread of its own (`/simulate`: long; the pool stays free).
    Long,
}

struct Done {
    answers: Mutex<Vec<(u64, Reply)>>,
    wake: Box<dyn Fn() + Send + Sync>,
}

/// The reader threads. See the module docs.
pub struct Pool {
    queue: Option<mpsc::Sender<(u64, Job)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    read: Arc<ReadSide>,
    done: Arc<Done>,
    in_flight: usize,
    long_in_flight: usize,
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
            threads: handles,
            read,
            done,
            in_flight: 0,
            long_in_flight: 0,
            max_jobs,
        })
    }

    /// Queues job `id`; `false` (nothing queued) when `max_jobs` are
    /// already queued or running, or a long job already runs.
    pub fn try_submit(&mut self, id: u64, kind: JobKind, job: Job) -> bool {
        match kind {
            JobKind::Query => {
                if self.in_flight >= self.max_jobs {
                    return false;
                }
                let Some(queue) = &self.queue else {
                    return false;
                };
                if queue.send((id, job)).is_err() {
                    return false;
                }
                self.in_flight += 1;
            }
            JobKind::Long => {
                if self.long_in_flight >= 1 {
                    return false;
                }
                let (read, done) = (self.read.clone(), self.done.clone());
                let spawned = std::thread::Builder::new()
                    .name("spool-long-job".to_owned())
                    .spawn(move || {
                        let answer = job(&read);
                        finish(&done, id, answer);
                    });
                if spawned.is_err() {
                    return false;
                }
                self.long_in_flight += 1;
            }
        }
        true
    }

    /// Moves the finished answers into `out`; `long` tells which ids were
    /// long jobs (so their slot frees).
    pub fn take_answers(&mut self, out: &mut Vec<(u64, Reply)>, is_long: impl Fn(u64) -> bool) {
        if let Ok(mut answers) = self.done.answers.lock() {
            for (id, reply) in answers.drain(..) {
                if is_long(id) {
                    self.long_in_flight -= 1;
                } else {
                    self.in_flight -= 1;
                }
                out.push((id, reply));
            }
        }
    }

    /// Jobs queued or running.
    pub fn busy(&self) -> bool {
        self.in_flight + self.long_in_flight > 0
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
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
