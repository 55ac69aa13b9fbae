//! Benchmarks live in `benches/`; this library holds the measurement code the
//! `group_commit` criterion bench and the `commit_table` binary share.
//!
//! Both measurements write 200-byte records and count a record only once its
//! `fdatasync` returned:
//! - [`log_append`]: `threads` threads call [`Log::append`] concurrently, so
//!   the group commit can share one fdatasync among many records.
//! - [`FsyncPerRecord`]: the baseline, one thread doing `pwrite` +
//!   `fdatasync` per record into a preallocated file, as a naive durable log
//!   would.
//!
//! [`load`] holds the message format of the `spool-load` tool, which the
//! crash test checks the log against; [`wire`] the HTTP and WebSocket
//! client side the load tools share.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use spool_server::Log;

pub mod load;
pub mod wire;

/// Payload size of every benchmarked record.
pub const PAYLOAD_LEN: usize = 200;

/// The writer-thread counts measured.
pub const WRITERS: [usize; 4] = [1, 4, 16, 64];

/// A 200-byte payload of printable bytes.
pub fn payload() -> Vec<u8> {
    (0..PAYLOAD_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A fresh, empty directory `name` under `base` (removed first if present).
pub fn fresh_dir(base: &Path, name: &str) -> io::Result<PathBuf> {
    let dir = base.join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Splits `total` records over `threads` as evenly as possible.
fn share(total: u64, threads: usize, i: usize) -> u64 {
    let threads = threads as u64;
    let i = i as u64;
    total / threads + u64::from(i < total % threads)
}

/// Appends `total` records to `log` from `threads` threads (split evenly),
/// each call returning only once its record is durable. Returns the time
/// from the moment all threads are released until the last one finishes;
/// thread creation is not counted.
///
/// # Panics
/// If an append fails.
pub fn log_append(log: &Log, threads: usize, total: u64, payload: &[u8]) -> Duration {
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let n = share(total, threads, i);
                let start_line = &start_line;
                s.spawn(move || {
                    start_line.wait();
                    for _ in 0..n {
                        if let Err(e) = log.append(payload) {
                            panic!("append failed: {e}");
                        }
                    }
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        for w in workers {
            if w.join().is_err() {
                panic!("writer thread panicked");
            }
        }
        start.elapsed()
    })
}

/// The group commit's completed fdatasync count (one per append batch).
pub fn log_syncs(log: &Log) -> u64 {
    log.handoff().inspect(|gc| gc.stats().syncs)
}

/// The baseline: a preallocated file written one record at a time with
/// `pwrite` + `fdatasync`, wrapping to the start when full.
pub struct FsyncPerRecord {
    file: File,
    len: u64,
    pos: u64,
    frame: Vec<u8>,
}

impl FsyncPerRecord {
    /// Creates `path` preallocated to `len` bytes with `posix_fallocate`
    /// (as Spool preallocates its segments) and fsyncs it.
    pub fn create(path: &Path, len: u64) -> io::Result<FsyncPerRecord> {
        let file = create_empty(path)?;
        let off_len = libc::off_t::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large"))?;
        // SAFETY: the descriptor is open and owned by `file` for the call.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        file.sync_all()?;
        Ok(FsyncPerRecord {
            file,
            len,
            pos: 0,
            frame: Vec::new(),
        })
    }

    /// Creates `path` empty: every record then grows the file, as a naive
    /// append-only log does, so each fdatasync also flushes the new size.
    pub fn create_growing(path: &Path) -> io::Result<FsyncPerRecord> {
        let file = create_empty(path)?;
        file.sync_all()?;
        Ok(FsyncPerRecord {
            file,
            len: u64::MAX,
            pos: 0,
            frame: Vec::new(),
        })
    }

    /// Writes `n` records of `payload` (each framed with Spool's 20-byte
    /// header, so the bytes match the log's), each one `pwrite` then
    /// `fdatasync`. Returns the elapsed time.
    pub fn run(&mut self, n: u64, payload: &[u8]) -> io::Result<Duration> {
        let start = Instant::now();
        for _ in 0..n {
            self.frame.clear();
            spool_core::record::encode_frame(
                &mut self.frame,
                spool_core::record::SegmentId(1),
                spool_core::record::Lsn(self.pos + 1),
                spool_core::record::FLAG_BATCH_START,
                payload,
            );
            let frame_len = self.frame.len() as u64;
            if self.pos + frame_len > self.len {
                self.pos = 0;
            }
            self.file.write_all_at(&self.frame, self.pos)?;
            fdatasync(&self.file)?;
            self.pos += frame_len;
        }
        Ok(start.elapsed())
    }
}

/// Creates (or truncates) `path` for reading and writing.
fn create_empty(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

fn fdatasync(file: &File) -> io::Result<()> {
    // SAFETY: the descriptor is open and owned by `file` for the call.
    if unsafe { libc::fdatasync(file.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The median of `values` (sorted in place): the middle value, or the mean
/// of the two middle ones when their count is even; `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Records per second for `records` done in `elapsed`.
pub fn rate(records: u64, elapsed: Duration) -> f64 {
    records as f64 / elapsed.as_secs_f64()
}
