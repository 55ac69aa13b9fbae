//! Replays the committed corpus and regression inputs through the same target
//! bodies the fuzzers run, on the stable toolchain (no libFuzzer needed):
//!
//! ```text
//! cargo test --release --manifest-path fuzz/Cargo.toml
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// Every file under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
/// (recursively; dot files such as `.gitkeep` are skipped).
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        collect(&root.join(dir).join(target), &mut files);
    }
    files.sort();
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read_dir entry").path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| run(&data));
        if let Err(panic) = outcome {
            eprintln!("{target}: input {} failed", path.display());
            std::panic::resume_unwind(panic);
        }
    }
    eprintln!("{target}: replayed {} inputs", files.len());
}

#[test]
fn record_decode() {
    replay("record_decode", spool_fuzz::record_decode);
}

#[test]
fn recovery_scan() {
    replay("recovery_scan", spool_fuzz::recovery_scan);
}

#[test]
fn http_request() {
    replay("http_request", spool_fuzz::http_request);
}

#[test]
fn entry_decoders() {
    replay("entry_decoders", spool_fuzz::entry_decoders);
}

#[test]
fn json_text() {
    replay("json_text", spool_fuzz::json_text);
}

#[test]
fn index_decode() {
    replay("index_decode", spool_fuzz::index_decode);
}

#[test]
fn ws_frames() {
    replay("ws_frames", spool_fuzz::ws_frames);
}

#[test]
fn http_response() {
    replay("http_response", spool_fuzz::http_response);
}
