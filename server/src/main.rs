//! The `spool` command: `serve` (default), `cat`, `--help`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use spool_core::entry::EntryRef;
use spool_server::config::{options_help, ServeConfig};
use spool_server::event_loop::{Exit, Server};
use spool_server::storage::recovery::{for_each_record, scan_dir};

const USAGE: &str = "spool: durable log ingestion and live distribution

usage:
  spool [serve] [options]     run the daemon (the default)
  spool cat [--data-dir DIR]  print every record as NDJSON, in log order
  spool --help                this text

serve options (each also from its SPOOL_* environment variable; flags win):
";

fn main() -> ExitCode {
    let mut args = lexopt::Parser::from_env();
    let raw: Vec<String> = std::env::args().skip(1).collect();
    match raw.first().map(String::as_str) {
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}{}", options_help());
            ExitCode::SUCCESS
        }
        Some("cat") => {
            let _ = args.next();
            cat(&mut args)
        }
        Some("serve") => {
            let _ = args.next();
            serve(&mut args)
        }
        _ => serve(&mut args),
    }
}

fn serve(args: &mut lexopt::Parser) -> ExitCode {
    let cfg = match ServeConfig::from_sources(|k| std::env::var_os(k), args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spool: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::start(cfg.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spool: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    if cfg.web.hosts.allows_any() {
        eprintln!("spool: --allow-host *: every Host is answered, so a web page on a DNS name pointed at this machine (DNS rebinding) can use spool");
    }
    if cfg.web.origins.allows_any() {
        eprintln!(
            "spool: --allow-origin *: every web page the user opens can send requests to spool"
        );
    }
    match server.local_addr() {
        Ok(addr) => eprintln!(
            "spool: listening on http://{addr} (data in {})",
            cfg.data_dir.display()
        ),
        Err(e) => eprintln!("spool: {e}"),
    }
    match server.run() {
        Ok(Exit::Signal) => {
            eprintln!("spool: stopped; every acknowledged record is durable");
            ExitCode::SUCCESS
        }
        Ok(Exit::WriteFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spool: event loop failed: {e}");
            ExitCode::from(1)
        }
    }
}

fn cat(args: &mut lexopt::Parser) -> ExitCode {
    let mut dir = std::env::var_os("SPOOL_DATA_DIR")
        .map_or_else(|| PathBuf::from("./spool-data"), PathBuf::from);
    loop {
        match args.next() {
            Ok(Some(lexopt::Arg::Long("data-dir"))) => match args.value() {
                Ok(v) => dir = PathBuf::from(v),
                Err(e) => return usage_error(&e.to_string()),
            },
            Ok(None) => break,
            Ok(Some(other)) => return usage_error(&format!("unexpected argument {other:?}")),
            Err(e) => return usage_error(&e.to_string()),
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = Vec::with_capacity(512);
    let mut write_failed = false;
    let result = scan_dir(&dir, false, |id, bytes, scan, _| {
        for_each_record(id, bytes, scan, |lsn, payload| {
            line.clear();
            match EntryRef::decode(payload) {
                Ok(e) => spool_proto::decode::entry_to_json(lsn.0, &e, &mut line),
                Err(err) => {
                    eprintln!("spool: record {lsn}: payload not readable: {err}");
                    return;
                }
            }
            line.push(b'\n');
            if !write_failed && out.write_all(&line).is_err() {
                write_failed = true;
            }
        });
        if let Some(t) = scan.torn {
            eprintln!(
                "spool: {} ends in an incomplete record at offset {} (a torn tail; the daemon cuts it on start)",
                spool_server::storage::files::segment_file_name(id),
                t.at
            );
        }
        Ok(())
    });
    let _ = out.flush();
    match result {
        Ok(_) if !write_failed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spool: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("spool: {msg} (see spool --help)");
    ExitCode::from(2)
}
