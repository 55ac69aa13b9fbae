//! The `spool` command: picks the command (`serve`, the default; `cat`,
//! `stats`, `verify`) and answers `--help` and `--version`.
//! Exit statuses are listed in [`spool_server::cli`].

use std::ffi::OsString;
use std::process::ExitCode;

use spool_server::cli::args::ArgError;
use spool_server::cli::{self, EXIT_DAMAGED, EXIT_FAILURE, EXIT_USAGE};
use spool_server::config::{options_help, ServeConfig};
use spool_server::runtime::{Exit, Server, StartError};

const USAGE: &str = "spool: durable log ingestion and live distribution

usage:
  spool [serve] [options]     run the daemon (the default)
  spool cat [options]         print records in id order: NDJSON, or a readable line
                              each on a terminal; gaps on stderr. Filters as GET /logs:
                              --level, --service, --since, --until, --grep [-i];
                              --limit N, --reverse
  spool tail [-f] [options]   records from --from oldest|now|ID (default now); with -f,
                              follow the directory as a daemon writes it. Same filters
  spool stats [--data-dir DIR]
                              count records by level and service; time span, segments,
                              bytes, gaps
  spool verify [--data-dir DIR]
                              check every record, the id sequence and the log mark
  spool <command> --help      the options of cat, tail, stats, verify
  spool --version             the version
  spool --help                this text

exit status: 0 ok; 1 failure a restart may fix (IO error, write failure,
directory locked); 2 usage (also alert rules that cannot be used); 3 the log is damaged (corruption or missing
segments or records: an operator must look, see spool verify); 4 spool cat
or tail reported gaps (records deleted before they were read).

serve options (each also from its SPOOL_* environment variable; flags win):
";

fn main() -> ExitCode {
    // Words, not `std::env::args`: that panics on an argument that is not UTF-8.
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut args = lexopt::Parser::from_env();
    let first = raw.first().map(|a| a.to_string_lossy());
    match first.as_deref() {
        Some("--help" | "-h") => help(None),
        Some("help") => help(raw.get(1).and_then(|a| a.to_str())),
        Some("--version" | "-V") => {
            println!("spool {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(command @ ("cat" | "tail" | "stats" | "verify" | "serve")) => {
            let _ = args.next();
            match command {
                "cat" => cli::cat::main(&mut args),
                "tail" => cli::tail::main(&mut args),
                "stats" => cli::stats::main(&mut args),
                "verify" => cli::verify::main(&mut args),
                _ => serve(&raw[1..], &mut args),
            }
        }
        None => serve(&raw, &mut args),
        Some(flag) if flag.starts_with('-') => serve(&raw, &mut args),
        Some(word) => cli::usage_exit(&cli::Usage {
            command: "",
            error: ArgError::UnknownCommand(word.to_owned()),
        }),
    }
}

/// `spool --help`, or `spool help <command>`.
fn help(command: Option<&str>) -> ExitCode {
    match command {
        Some("cat") => print!("{}", cli::cat::SPEC.help()),
        Some("tail") => print!("{}", cli::tail::SPEC.help()),
        Some("stats") => print!("{}", cli::stats::SPEC.help()),
        Some("verify") => print!("{}", cli::verify::SPEC.help()),
        None | Some("serve") => print!("{USAGE}{}", options_help()),
        Some(word) => {
            return cli::usage_exit(&cli::Usage {
                command: "",
                error: ArgError::UnknownCommand(word.to_owned()),
            })
        }
    }
    ExitCode::SUCCESS
}

/// `spool serve`; `raw` are its arguments, for `--help` anywhere among them.
fn serve(raw: &[OsString], args: &mut lexopt::Parser) -> ExitCode {
    if raw.iter().any(|a| a == "--help" || a == "-h") {
        return help(None);
    }
    let cfg = match ServeConfig::from_sources(|k| std::env::var_os(k), args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spool: {e} (see spool --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let server = match Server::start(cfg.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spool: cannot start: {e}");
            return ExitCode::from(match &e {
                StartError::Open(o) if o.is_damage() => EXIT_DAMAGED,
                StartError::Rules(_) => EXIT_USAGE,
                _ => EXIT_FAILURE,
            });
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
