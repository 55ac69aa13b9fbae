//! The dashboard (`GET /`) in a real browser: headless Chromium driven by
//! chromedriver through Python Selenium (`tests/browser/dashboard.py`, which
//! holds the checks). This test owns the daemon: it starts it, restarts it
//! on the same port and data directory when the script asks (`CTL stop`,
//! `CTL wipe` (empty the data directory of the stopped daemon),
//! `CTL start [more serve flags]` on the script's stdout, answered `ok` on
//! its stdin), and stops it at the end. Screenshots are kept in
//! `<target>/test-artifacts/dashboard.png` and `dashboard-phone.png`.
//!
//! Without Chromium, chromedriver or Selenium the test says so and passes,
//! except under CI (`CI` set), where it fails: `.ci/run` installs them.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Small segments, so that the script can have retention delete records
/// the page has not read yet (with `CTL start --retention-bytes ...`).
const SERVE_ARGS: &[&str] = &["--segment-size", "64KiB", "--max-record", "1KiB"];

/// The whole browser session; each of the script's own waits is at most 10 s.
const SCRIPT_LIMIT: Duration = Duration::from_secs(240);

/// `name` found in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A Python that imports selenium: Debian's (`python3-selenium`) first,
/// since `python3` on PATH may be another installation.
fn python_with_selenium() -> Option<PathBuf> {
    ["/usr/bin/python3"]
        .into_iter()
        .map(PathBuf::from)
        .chain(on_path("python3"))
        .find(|py| {
            Command::new(py)
                .args(["-c", "import selenium"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

struct Browser {
    python: PathBuf,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// What the script needs, or why it cannot run.
fn browser() -> Result<Browser, String> {
    let chromium = on_path("chromium")
        .or_else(|| on_path("chromium-browser"))
        .ok_or("no chromium on PATH (apt-get install chromium)")?;
    let chromedriver = on_path("chromedriver")
        .ok_or("no chromedriver on PATH (apt-get install chromium-driver)")?;
    let python = python_with_selenium()
        .ok_or("no python3 that imports selenium (apt-get install python3-selenium)")?;
    Ok(Browser {
        python,
        chromium,
        chromedriver,
    })
}

/// `<target>/test-artifacts`, created.
fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create the test-artifacts directory");
    dir
}

/// The script's process group (it, chromedriver and Chromium), killed on
/// drop so a failing test leaves no browser behind. Chromium's helpers
/// outlive their parent; this process adopts them (a child subreaper) and
/// reaps them here, so none is left a zombie under an init that does not
/// reap.
struct ProcessGroup(Child);

impl ProcessGroup {
    fn spawn(cmd: &mut Command) -> ProcessGroup {
        // SAFETY: prctl(2) with integer arguments only; it affects this
        // process (the test binary holds only this test).
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        ProcessGroup(
            cmd.process_group(0)
                .spawn()
                .expect("spawn the browser script"),
        )
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = self.0.id() as i32;
        // SAFETY: kill(2) on the process group this test created
        // (process_group(0) made the script's pid its id).
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.0.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let orphans = browser_orphans(group);
            if orphans.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in orphans {
                // SAFETY: kill(2) and waitpid(2) on a child of this process
                // (adopted as subreaper) that belongs to the browser.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// This process's children that belong to the browser session: in the
/// script's process group, or Chromium helpers that left it (crashpad).
fn browser_orphans(group: i32) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid pgrp ...": comm may hold spaces.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let comm = &stat[open + 1..close];
            let mut rest = stat[close + 1..].split_whitespace().skip(1);
            let ppid = rest.next().and_then(|v| v.parse::<i32>().ok());
            let pgrp = rest.next().and_then(|v| v.parse::<i32>().ok());
            ppid == Some(me) && (pgrp == Some(group) || comm.starts_with("chrom"))
        })
        .collect()
}

#[test]
fn dashboard_in_a_real_browser() {
    let tools = match browser() {
        Ok(t) => t,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the browser test: {why}")
        }
        Err(why) => {
            println!("skipped dashboard_in_a_real_browser: {why}");
            return;
        }
    };
    let dir = TempDir::new("dashboard");
    let data = dir.path().join("data");
    // Chromium's profile and chromedriver's files: removed with `dir`.
    let scratch = dir.path().join("browser");
    std::fs::create_dir_all(&scratch).expect("create the browser scratch directory");
    // No alert rules until the script sets some (PUT /alerts/rules), so
    // that the records it sends fire only the alerts it expects.
    let rules = dir.path().join("no-rules.toml");
    std::fs::write(&rules, "# no [[rule]] tables: no alert rules\n").expect("write the rules file");
    let rules = rules.to_string_lossy().into_owned();
    let mut serve_args = SERVE_ARGS.to_vec();
    serve_args.extend(["--alert-rules", rules.as_str()]);
    let mut spool = start(&data, &serve_args);
    let port = spool.addr.port();
    let artifacts = artifacts_dir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/dashboard.py");

    let mut script_proc = ProcessGroup::spawn(
        Command::new(&tools.python)
            .arg(&script)
            .arg("--base")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--artifacts")
            .arg(&artifacts)
            .arg("--chromium")
            .arg(&tools.chromium)
            .arg("--chromedriver")
            .arg(&tools.chromedriver)
            .env("TMPDIR", &scratch)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    let mut answers = script_proc.0.stdin.take().expect("script stdin");
    let stdout = script_proc.0.stdout.take().expect("script stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + SCRIPT_LIMIT;
    let status = loop {
        if let Ok(Some(status)) = script_proc.0.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the browser script did not finish within {SCRIPT_LIMIT:?}"
        );
        let line = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => line,
            Err(_) => continue,
        };
        if line == "CTL stop" {
            stop(&mut spool);
            writeln!(answers, "ok").expect("answer the script");
        } else if line == "CTL wipe" {
            // The daemon is stopped: its data directory is replaced by an
            // empty one.
            std::fs::remove_dir_all(&data).expect("remove the data directory");
            std::fs::create_dir_all(&data).expect("an empty data directory");
            writeln!(answers, "ok").expect("answer the script");
        } else if let Some(extra) = line.strip_prefix("CTL start") {
            let listen = format!("127.0.0.1:{port}");
            let mut args = serve_args.clone();
            args.extend(["--listen", &listen]);
            args.extend(extra.split_whitespace());
            spool = start(&data, &args);
            assert_eq!(spool.addr.port(), port, "restarted on the same port");
            writeln!(answers, "ok").expect("answer the script");
        } else {
            println!("dashboard.py: {line}");
        }
    };
    assert!(
        status.success(),
        "the browser checks failed ({status}); the script's FAIL line above says which.\nspool's stderr:\n{}",
        spool.stderr()
    );
    stop(&mut spool);
    for name in ["dashboard.png", "dashboard-phone.png"] {
        let png = std::fs::read(artifacts.join(name)).expect("the screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
            "{name} is a PNG of a rendered page"
        );
    }
}
