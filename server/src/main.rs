//! The `spool` command: `serve` (default), `cat`, `verify`, `--help`.
//! Exit statuses are listed in [`spool_server::cli`].

use std::process::ExitCode;

use spool_server::cli::{self, EXIT_DAMAGED, EXIT_FAILURE, EXIT_USAGE};
use spool_server::config::{options_help, ServeConfig};
use spool_server::runtime::{Exit, Server, StartError};

const USAGE: &str = "spool: durable log ingestion and live distribution

usage:
  spool [serve] [options]     run the daemon (the default)
  spool cat [--data-dir DIR]  print every record as NDJSON, in id order (gaps on stderr)
  spool verify [--data-dir DIR]
                              check every record, the id sequence and the log mark
  spool --help                this text

exit status: 0 ok; 1 failure a restart may fix (IO error, write failure,
directory locked); 2 usage; 3 the log is damaged (corruption or missing
segments or records: an operator must look, see spool verify); 4 spool cat
reported gaps (records deleted before they were read).

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
            match cli::data_dir_arg(&mut args) {
                Ok(dir) => cli::cat::run(&dir),
                Err(code) => code,
            }
        }
        Some("verify") => {
            let _ = args.next();
            match cli::data_dir_arg(&mut args) {
                Ok(dir) => cli::verify::run(&dir),
                Err(code) => code,
            }
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
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let server = match Server::start(cfg.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spool: cannot start: {e}");
            let damaged = matches!(&e, StartError::Open(o) if o.is_damage());
            return ExitCode::from(if damaged { EXIT_DAMAGED } else { EXIT_FAILURE });
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
        Ok(Exit::WriteFailed) => ExitCode::from(EXIT_FAILURE),
        Err(e) => {
            eprintln!("spool: event loop failed: {e}");
            ExitCode::from(1)
        }
    }
}
