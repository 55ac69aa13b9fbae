//! Prints the group-commit table the README quotes: durable 200-byte appends
//! per second through `spool_server::Log` with 1, 4, 16 and 64 writers,
//! against one thread doing `pwrite` + `fdatasync` per record.
//!
//! ```text
//! cargo run --release -p spool-benches --bin commit_table [-- [--writers 1,4,16,64] RECORDS [DIR]]
//! ```
//!
//! Each row is the median of 3 runs of RECORDS (default 2000) records split
//! across the writers; fsyncs are the group commit's completed
//! write+fdatasync count over those 3 runs. DIR (default `/var/tmp`, or
//! `SPOOL_BENCH_DIR`) must be on a real disk: on tmpfs fdatasync is free.

use std::path::PathBuf;
use std::time::Duration;

use spool_benches::{fresh_dir, log_append, log_syncs, payload, rate, FsyncPerRecord, WRITERS};
use spool_server::Log;

const REPS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    writers: String,
    rate: f64,
    syncs: u64,
    records: u64,
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut writers: Vec<usize> = WRITERS.to_vec();
    if let Some(i) = args.iter().position(|a| a == "--writers") {
        let list = args
            .get(i + 1)
            .expect("--writers needs a list, e.g. 1,4,16,64");
        writers = list
            .split(',')
            .map(|w| w.parse().expect("--writers: numbers separated by commas"))
            .collect();
        args.drain(i..i + 2);
    }
    let mut args = args.into_iter();
    let total: u64 = args
        .next()
        .map(|a| a.parse().expect("RECORDS must be a number"))
        .unwrap_or(2000);
    let base = args
        .next()
        .or_else(|| std::env::var("SPOOL_BENCH_DIR").ok())
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from)
        .join(format!("spool-commit-table-{}", std::process::id()));
    let payload = payload();
    let mut rows = Vec::new();

    // Baselines: one thread, pwrite + fdatasync per record, to a file
    // preallocated as Spool's segments are (the strict comparison: it isolates
    // the group commit), and to a growing file (what a naive log does).
    let dir = fresh_dir(&base, "fsync").expect("create bench dir");
    let baselines = [
        (
            "fsync per record, preallocated file",
            FsyncPerRecord::create(&dir.join("prealloc"), 64 << 20),
        ),
        (
            "fsync per record, growing file",
            FsyncPerRecord::create_growing(&dir.join("growing")),
        ),
    ];
    for (name, file) in baselines {
        let mut file = file.expect("create baseline file");
        file.run(total / 10, &payload).expect("warm-up"); // first touches of the file
        let rates = (0..REPS)
            .map(|_| rate(total, file.run(total, &payload).expect("fsync run")))
            .collect();
        rows.push(Row {
            writers: format!("{name} (1 thread)"),
            rate: median(rates),
            syncs: total * REPS as u64,
            records: total * REPS as u64,
        });
    }

    for threads in writers {
        let dir = fresh_dir(&base, &format!("log-{threads}")).expect("create bench dir");
        let log = Log::open(&dir).expect("open log");
        // Warm-up: threads, allocator, the segment's first pages.
        log_append(&log, threads, (total / 10).max(threads as u64), &payload);
        let before = log_syncs(&log);
        let times: Vec<Duration> = (0..REPS)
            .map(|_| log_append(&log, threads, total, &payload))
            .collect();
        let syncs = log_syncs(&log) - before;
        log.close();
        rows.push(Row {
            writers: threads.to_string(),
            rate: median(times.iter().map(|&t| rate(total, t)).collect()),
            syncs,
            records: total * REPS as u64,
        });
    }
    let _ = std::fs::remove_dir_all(&base);

    let (prealloc, growing) = (rows[0].rate, rows[1].rate);
    println!("{total} records of {} B per run, median of {REPS} runs; fsyncs summed over the {REPS} runs\n", payload.len());
    println!("| writers | records/s (median of {REPS}) | fsyncs | records per fsync | vs preallocated baseline | vs growing-file baseline |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {} | {:.1} | {:.2}× | {:.2}× |",
            r.writers,
            r.rate,
            r.syncs,
            r.records as f64 / r.syncs as f64,
            r.rate / prealloc,
            r.rate / growing
        );
    }
}
