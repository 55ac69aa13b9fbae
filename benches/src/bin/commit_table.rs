//! Prints the group-commit table the README quotes: durable 200-byte appends
//! per second through `spool_server::Log` with 1, 4, 16 and 64 writers,
//! against one thread doing `pwrite` + `fdatasync` per record.
//!
//! ```text
//! cargo run --release -p spool-benches --bin commit_table [-- [--writers 1,4,16,64] [--csv FILE] RECORDS [DIR]]
//! ```
//!
//! Each row is the median of 3 runs of RECORDS (default 2000) records split
//! across the writers; fsyncs are the group commit's completed
//! write+fdatasync count over those 3 runs. DIR (default `/var/tmp`, or
//! `SPOOL_BENCH_DIR`) must be on a real disk: on tmpfs fdatasync is free.
//!
//! `--csv FILE` also appends one row per measured run (warm-ups excluded) to
//! FILE, under the header `system,writers,rep,records_per_s,fsyncs,records`
//! when FILE is new or empty: system `spool` for the log, `fsync-prealloc` and
//! `fsync-growing` for the two baselines (writers 1); rep counts 1 to 3 within
//! one invocation. `benches/writers.sh` collects these.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use spool_benches::{
    fresh_dir, log_append, log_syncs, median, payload, rate, FsyncPerRecord, WRITERS,
};
use spool_server::Log;

const REPS: usize = 3;

/// The header of `--csv` files.
const CSV_HEADER: &str = "system,writers,rep,records_per_s,fsyncs,records";

/// The median of the `REPS` rates of a row.
fn median_rate(mut rates: Vec<f64>) -> f64 {
    median(&mut rates).expect("REPS is not zero")
}

/// One line of the markdown table.
struct Row {
    writers: String,
    rate: f64,
    syncs: u64,
    records: u64,
}

/// One measured run: a `--csv` row.
struct Run {
    system: &'static str,
    writers: usize,
    rep: usize,
    rate: f64,
    fsyncs: u64,
    records: u64,
}

/// Appends `runs` to the CSV file `path`, with the header first when the
/// file is new or empty.
fn append_csv(path: &Path, runs: &[Run]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let mut out = String::new();
    if file.metadata()?.len() == 0 {
        out.push_str(CSV_HEADER);
        out.push('\n');
    }
    for r in runs {
        let _ = writeln!(
            out,
            "{},{},{},{:.1},{},{}",
            r.system, r.writers, r.rep, r.rate, r.fsyncs, r.records
        );
    }
    file.write_all(out.as_bytes())
}

/// Removes `NAME VALUE` from `args` and returns VALUE, if NAME is there.
fn take_option(args: &mut Vec<String>, name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    let Some(value) = args.get(i + 1).cloned() else {
        usage(&format!("{name} needs a value"));
    };
    args.drain(i..i + 2);
    Some(value)
}

/// Prints what is wrong and the usage, and exits with status 2.
fn usage(problem: &str) -> ! {
    eprintln!("commit_table: {problem}");
    eprintln!("usage: commit_table [--writers 1,4,16,64] [--csv FILE] [RECORDS [DIR]]");
    eprintln!("  RECORDS (default 2000) and every writer count are whole numbers above 0");
    std::process::exit(2)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        usage("durable appends per second through spool_server::Log");
    }
    let writers: Vec<usize> =
        take_option(&mut args, "--writers").map_or(WRITERS.to_vec(), |list| {
            list.split(',')
                .map(|w| match w.trim().parse() {
                    Ok(n) if n > 0 => n,
                    _ => usage(&format!(
                        "--writers {list:?}: numbers above 0 separated by commas, e.g. 1,4,16,64"
                    )),
                })
                .collect()
        });
    let csv = take_option(&mut args, "--csv").map(PathBuf::from);
    let mut args = args.into_iter();
    let total: u64 = match args.next().map(|a| a.parse()) {
        None => 2000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => usage("RECORDS must be a whole number above 0"),
    };
    let base = args
        .next()
        .or_else(|| std::env::var("SPOOL_BENCH_DIR").ok())
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from)
        .join(format!("spool-commit-table-{}", std::process::id()));
    let payload = payload();
    let mut rows = Vec::new();
    let mut runs = Vec::new();

    // Baselines: one thread, pwrite + fdatasync per record, to a file
    // preallocated as Spool's segments are (the strict comparison: it isolates
    // the group commit), and to a growing file (what a naive log does).
    let dir = fresh_dir(&base, "fsync").expect("create bench dir");
    let baselines = [
        (
            "fsync per record, preallocated file",
            "fsync-prealloc",
            FsyncPerRecord::create(&dir.join("prealloc"), 64 << 20),
        ),
        (
            "fsync per record, growing file",
            "fsync-growing",
            FsyncPerRecord::create_growing(&dir.join("growing")),
        ),
    ];
    for (name, system, file) in baselines {
        let mut file = file.expect("create baseline file");
        file.run(total / 10, &payload).expect("warm-up"); // first touches of the file
        let rates: Vec<f64> = (0..REPS)
            .map(|_| rate(total, file.run(total, &payload).expect("fsync run")))
            .collect();
        runs.extend(rates.iter().enumerate().map(|(i, &rate)| Run {
            system,
            writers: 1,
            rep: i + 1,
            rate,
            fsyncs: total,
            records: total,
        }));
        rows.push(Row {
            writers: format!("{name} (1 thread)"),
            rate: median_rate(rates),
            syncs: total * REPS as u64,
            records: total * REPS as u64,
        });
    }

    for threads in writers {
        let dir = fresh_dir(&base, &format!("log-{threads}")).expect("create bench dir");
        let log = Log::open(&dir).expect("open log");
        // Warm-up: threads, allocator, the segment's first pages.
        log_append(&log, threads, (total / 10).max(threads as u64), &payload);
        let measured: Vec<(Duration, u64)> = (0..REPS)
            .map(|_| {
                let before = log_syncs(&log);
                let time = log_append(&log, threads, total, &payload);
                (time, log_syncs(&log) - before)
            })
            .collect();
        log.close();
        runs.extend(measured.iter().enumerate().map(|(i, &(time, fsyncs))| Run {
            system: "spool",
            writers: threads,
            rep: i + 1,
            rate: rate(total, time),
            fsyncs,
            records: total,
        }));
        rows.push(Row {
            writers: threads.to_string(),
            rate: median_rate(measured.iter().map(|&(t, _)| rate(total, t)).collect()),
            syncs: measured.iter().map(|&(_, s)| s).sum(),
            records: total * REPS as u64,
        });
    }
    let _ = std::fs::remove_dir_all(&base);
    if let Some(path) = &csv {
        append_csv(path, &runs)
            .unwrap_or_else(|e| panic!("--csv: cannot append to {}: {e}", path.display()));
    }

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
