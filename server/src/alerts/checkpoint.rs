//! The alert windows saved as they are: each rule's arrival times (as
//! wall-clock times), its cooldown, the last id evaluated, the selected
//! records not yet durable (their arrival and rules), and the alerts
//! fired but not yet stored. Written to the data directory's
//! [`FILE`] about once a second while something changed (a temporary
//! file, then a rename) and at shutdown (then synced), so a restart puts
//! the windows back exactly as they were, by arrival time, and only the
//! records after the last id evaluated (none after a clean stop; about a
//! second's after a crash) are placed by their own timestamps.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};
use spool_core::alert::Rule;
use spool_core::record::Lsn;

use super::rules;

/// The file, in the data directory.
pub const FILE: &str = "alert-state.json";
const VERSION: u64 = 3;

/// One rule's window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedWindow {
    /// The rule, every field (a window is restored only to an equal rule).
    pub rule: Rule,
    /// (arrival, wall clock ns; id), oldest first.
    pub arrivals: Vec<(u64, Lsn)>,
    /// When its cooldown ends (wall clock ns), if one runs.
    pub quiet_until_ns: Option<u64>,
}

/// The saved state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Saved {
    /// When it was written (wall clock ns).
    pub written_ns: u64,
    /// Every record up to this id was evaluated.
    pub through: Lsn,
    /// Every record up to this id had arrived and was matched against the
    /// rules: those of them not in `pending` count for no rule.
    pub submitted: Lsn,
    /// Each rule's window.
    pub windows: Vec<SavedWindow>,
    /// Alerts fired whose record was not yet durable: their payloads.
    pub unstored: Vec<Vec<u8>>,
    /// Records submitted but not yet durable that rules selected: (id,
    /// arrival (wall clock ns), indexes into `windows` of those rules).
    pub pending: Vec<(Lsn, u64, Vec<u16>)>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The state as the file's text (written directly: it can hold 256 × 1,024
/// arrivals).
pub fn to_json(saved: &Saved) -> Vec<u8> {
    use std::fmt::Write as _;
    let rule_json: Vec<Rule> = saved.windows.iter().map(|w| w.rule.clone()).collect();
    let rule_values = match serde_json::from_slice::<Value>(&rules::to_json(&rule_json)) {
        Ok(Value::Object(mut m)) => match m.remove("rules") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let arrivals: usize = saved.windows.iter().map(|w| w.arrivals.len()).sum();
    let mut out = String::with_capacity(256 + arrivals * 32);
    let _ = write!(
        out,
        "{{\"version\":{VERSION},\"written_ns\":{},\"through\":{},\"submitted\":{},\"windows\":[",
        saved.written_ns, saved.through.0, saved.submitted.0
    );
    for (i, (w, rule)) in saved.windows.iter().zip(&rule_values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"rule\":{rule},\"arrivals\":[");
        for (k, (t, id)) in w.arrivals.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            let _ = write!(out, "[{t},{}]", id.0);
        }
        match w.quiet_until_ns {
            Some(q) => {
                let _ = write!(out, "],\"quiet_until_ns\":{q}}}");
            }
            None => out.push_str("],\"quiet_until_ns\":null}"),
        }
    }
    out.push_str("],\"pending\":[");
    for (i, (id, at, rules)) in saved.pending.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},{at},[", id.0);
        for (k, r) in rules.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            let _ = write!(out, "{r}");
        }
        out.push_str("]]");
    }
    out.push_str("],\"unstored\":[");
    for (i, p) in saved.unstored.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\"", hex(p));
    }
    out.push_str("]}");
    out.into_bytes()
}

/// The state in the file's text; `None` if it is not one this build
/// wrote whole (a torn or foreign file: the rebuild then works from the
/// log alone).
pub fn from_json(text: &[u8]) -> Option<Saved> {
    let Value::Object(doc) = serde_json::from_slice(text).ok()? else {
        return None;
    };
    if doc.get("version")?.as_u64()? != VERSION {
        return None;
    }
    let written_ns = doc.get("written_ns")?.as_u64()?;
    let through = Lsn(doc.get("through")?.as_u64()?);
    let submitted = Lsn(doc.get("submitted")?.as_u64()?);
    let mut windows = Vec::new();
    for w in doc.get("windows")?.as_array()? {
        let mut one = Map::new();
        one.insert("rules".into(), Value::Array(vec![w.get("rule")?.clone()]));
        let rule = rules::from_json(&serde_json::to_vec(&Value::Object(one)).ok()?)
            .ok()?
            .pop()?;
        let arrivals = w
            .get("arrivals")?
            .as_array()?
            .iter()
            .map(|a| Some((a.get(0)?.as_u64()?, Lsn(a.get(1)?.as_u64()?))))
            .collect::<Option<Vec<_>>>()?;
        let quiet_until_ns = match w.get("quiet_until_ns")? {
            Value::Null => None,
            v => Some(v.as_u64()?),
        };
        windows.push(SavedWindow {
            rule,
            arrivals,
            quiet_until_ns,
        });
    }
    let pending = doc
        .get("pending")?
        .as_array()?
        .iter()
        .map(|p| {
            let rules = p
                .get(2)?
                .as_array()?
                .iter()
                .map(|r| u16::try_from(r.as_u64()?).ok())
                .collect::<Option<Vec<u16>>>()?;
            Some((Lsn(p.get(0)?.as_u64()?), p.get(1)?.as_u64()?, rules))
        })
        .collect::<Option<Vec<_>>>()?;
    let unstored = doc
        .get("unstored")?
        .as_array()?
        .iter()
        .map(|p| unhex(p.as_str()?))
        .collect::<Option<Vec<_>>>()?;
    Some(Saved {
        written_ns,
        through,
        submitted,
        windows,
        unstored,
        pending,
    })
}

/// Writes the state: a temporary file renamed over [`FILE`]; with `sync`,
/// both synced (at shutdown).
pub fn save(dir: &Path, saved: &Saved, sync: bool) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(&to_json(saved))?;
    if sync {
        f.sync_all()?;
    }
    drop(f);
    std::fs::rename(&tmp, dir.join(FILE))?;
    if sync {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes checkpoints on a thread of its own, so the event loop only
/// copies the state (the text of 256 full windows takes milliseconds to
/// make). The newest state handed over replaces one not yet written.
pub struct Writer {
    shared: std::sync::Arc<(std::sync::Mutex<Slot>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: std::path::PathBuf,
}

#[derive(Default)]
struct Slot {
    next: Option<(Saved, bool)>,
    closing: bool,
}

impl Writer {
    /// A writer of `dir`/[`FILE`]. A failed write is reported on stderr
    /// (once until one succeeds); the next start then uses the last file
    /// written, and counts the records after it by their own timestamps.
    pub fn start(dir: &Path) -> std::io::Result<Writer> {
        let shared = std::sync::Arc::new((
            std::sync::Mutex::new(Slot::default()),
            std::sync::Condvar::new(),
        ));
        let theirs = shared.clone();
        let mine = dir.to_owned();
        let dir = dir.to_owned();
        let thread = std::thread::Builder::new()
            .name("spool-alert-state".into())
            .spawn(move || {
                let (lock, wake) = &*theirs;
                let mut failed = false;
                loop {
                    // The lock is held while writing, so a write made at
                    // once (`Writer::write_now`) never races this one.
                    let mut slot = match lock.lock() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                    let (saved, sync) = loop {
                        if let Some(next) = slot.next.take() {
                            break next;
                        }
                        if slot.closing {
                            return;
                        }
                        slot = match wake.wait(slot) {
                            Ok(g) => g,
                            Err(p) => p.into_inner(),
                        };
                    };
                    let result = save(&dir, &saved, sync);
                    drop(slot);
                    match result {
                        Ok(()) => failed = false,
                        Err(e) if !failed => {
                            failed = true;
                            eprintln!("spool: could not save the alert windows in {FILE}: {e}; a restart uses the last one written and counts the records after it by their own timestamps");
                        }
                        Err(_) => {}
                    }
                }
            })?;
        Ok(Writer {
            shared,
            thread: Some(thread),
            dir: mine,
        })
    }

    /// Writes `saved` now, on the calling thread (a new rule set: a crash
    /// right after must not bring back the old rules' windows); anything
    /// handed over before and not yet written is dropped.
    pub fn write_now(&self, saved: &Saved) -> std::io::Result<()> {
        let (lock, _) = &*self.shared;
        let mut slot = match lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        slot.next = None;
        save(&self.dir, saved, false)
    }

    /// Hands `saved` over to be written (replacing one not yet written).
    pub fn write(&self, saved: Saved) {
        let (lock, wake) = &*self.shared;
        let mut slot = match lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        slot.next = Some((saved, false));
        wake.notify_one();
    }

    /// Writes `saved` synced, after anything handed over before, and
    /// returns once it is on disk (shutdown).
    pub fn finish(mut self, saved: Saved) {
        {
            let (lock, wake) = &*self.shared;
            let mut slot = match lock.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            slot.next = Some((saved, true));
            slot.closing = true;
            wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        if let Ok(mut slot) = lock.lock() {
            slot.closing = true;
        }
        wake.notify_one();
    }
}

/// The saved state, if the file is there and whole.
pub fn load(dir: &Path) -> Option<Saved> {
    from_json(&std::fs::read(dir.join(FILE)).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_core::alert::default_rules;

    #[test]
    fn the_state_reads_back_as_written_and_a_torn_file_reads_as_none() {
        let mut rules = default_rules();
        rules[0].pattern = Some("a \"quoted\" pattern".into());
        rules[0].ignore_case = true;
        let saved = Saved {
            written_ns: 7,
            through: Lsn(42),
            submitted: Lsn(46),
            windows: vec![
                SavedWindow {
                    rule: rules[0].clone(),
                    arrivals: vec![(1_000, Lsn(3)), (2_000, Lsn(9))],
                    quiet_until_ns: Some(5_000),
                },
                SavedWindow {
                    rule: rules[1].clone(),
                    arrivals: Vec::new(),
                    quiet_until_ns: None,
                },
            ],
            unstored: vec![vec![0, 1, 254, 255]],
            pending: vec![(Lsn(43), 3_000, vec![0, 1]), (Lsn(45), 3_500, vec![1])],
        };
        let text = to_json(&saved);
        assert_eq!(from_json(&text), Some(saved));
        for cut in [0, 1, text.len() / 2, text.len() - 1] {
            assert_eq!(from_json(&text[..cut]), None, "cut at {cut}");
        }
    }
}
