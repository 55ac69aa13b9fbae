//! Alert rules as users write them: a TOML file of `[[rule]]` tables, or
//! a JSON body `{"rules": [...]}` with the same fields. Both become
//! `spool_core::alert::Rule`s, checked as a set.
//!
//! ```toml
//! [[rule]]
//! name = "Payment timeouts"   # unique
//! level = "WARN"              # this level or above
//! service = "payments"        # optional: only this service
//! pattern = "timeout"         # optional: a substring of message or metadata
//! ignore_case = true          # optional (false)
//! threshold = 5               # this many records ...
//! window = "1m"               # ... within this long
//! cooldown = "5m"             # optional: quiet after firing (the window)
//! ```

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use spool_core::alert::{default_rules, validate_rules, Rule};
use spool_core::entry::Level;

use super::record::span_text;
use crate::config::parse_duration;

/// Why a rule set is refused: which rule (1-based, and its name when it
/// has one), which field, and what is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesError {
    /// 1-based position of the rule; 0 for the document as a whole.
    pub rule: usize,
    /// The rule's name, when it has one.
    pub name: Option<String>,
    /// The field at fault (`""` for the document).
    pub field: String,
    /// What is wrong, and what is accepted.
    pub why: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rule, &self.name) {
            (0, _) => write!(f, "{}", self.why),
            (n, _) if self.field.is_empty() => write!(f, "rule {n}: {}", self.why),
            (n, Some(name)) => write!(f, "rule {n} ({name:?}): {}: {}", self.field, self.why),
            (n, None) => write!(f, "rule {n}: {}: {}", self.field, self.why),
        }
    }
}

const FIELDS: &str = "name, level, service, pattern, ignore_case, threshold, window, cooldown";

/// Parses a TOML rules file: `[[rule]]` tables.
pub fn from_toml(text: &str) -> Result<Vec<Rule>, RulesError> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| document(format!("not TOML: {}", e.message())))?;
    let doc = serde_json::to_value(doc).map_err(|e| document(e.to_string()))?;
    let Value::Object(mut doc) = doc else {
        return Err(document("not a table".into()));
    };
    let rules = doc.remove("rule").unwrap_or(Value::Array(Vec::new()));
    if let Some(other) = doc.keys().next() {
        return Err(document(format!(
            "unknown key {other:?}: a rules file holds [[rule]] tables only"
        )));
    }
    from_list(rules, "[[rule]] tables")
}

/// Parses a JSON body `{"rules": [...]}`.
pub fn from_json(body: &[u8]) -> Result<Vec<Rule>, RulesError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| document(format!("not JSON: {e}")))?;
    // serde_json keeps the last of a repeated key: a repeated "rules" or
    // "name" would silently win. Refuse it, naming it.
    if let Some(key) = repeated_key(body) {
        return Err(document(format!(
            "the key {key:?} is given twice in one object; give each once"
        )));
    }
    let Value::Object(mut doc) = doc else {
        return Err(document(r#"give {"rules": [ ... ]}"#.into()));
    };
    let rules = doc
        .remove("rules")
        .ok_or_else(|| document(r#"no "rules": give {"rules": [ ... ]}"#.into()))?;
    if let Some(other) = doc.keys().next() {
        return Err(document(format!(
            r#"unknown key {other:?}: give {{"rules": [ ... ]}}"#
        )));
    }
    from_list(rules, r#"a "rules" array"#)
}

/// The first key given twice in one object of `text` (valid JSON).
fn repeated_key(text: &[u8]) -> Option<String> {
    // Per open container: the keys seen, for objects.
    let mut stack: Vec<Option<Vec<String>>> = Vec::new();
    // Whether the next string in the innermost object is a key.
    let mut expect_key = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'{' => {
                stack.push(Some(Vec::new()));
                expect_key = true;
            }
            b'[' => {
                stack.push(None);
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = matches!(stack.last(), Some(Some(_))),
            b':' => expect_key = false,
            b'"' => {
                let start = i;
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    if text[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if expect_key {
                    let key: String = serde_json::from_slice(text.get(start..=i)?).ok()?;
                    if let Some(Some(keys)) = stack.last_mut() {
                        if keys.contains(&key) {
                            return Some(key);
                        }
                        keys.push(key);
                    }
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A rule's name as errors show it: one too long to be valid is cut.
fn shown(name: &str) -> String {
    if name.len() <= 80 {
        return name.to_owned();
    }
    let mut end = 64;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}

fn document(why: String) -> RulesError {
    RulesError {
        rule: 0,
        name: None,
        field: String::new(),
        why,
    }
}

/// The rule set as `GET /alerts/rules` answers and `PUT` takes: a JSON
/// object `{"rules": [...]}` that [`from_json`] reads back to the same
/// rules.
pub fn to_json(rules: &[Rule]) -> Vec<u8> {
    let list: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("name".into(), r.name.clone().into());
            m.insert("level".into(), r.min_level.as_str().into());
            if let Some(s) = &r.service {
                m.insert("service".into(), s.clone().into());
            }
            if let Some(p) = &r.pattern {
                m.insert("pattern".into(), p.clone().into());
                m.insert("ignore_case".into(), r.ignore_case.into());
            }
            m.insert("threshold".into(), r.threshold.into());
            m.insert("window".into(), span_text(r.window_ns).into());
            m.insert("cooldown".into(), span_text(r.cooldown_ns).into());
            Value::Object(m)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("rules".into(), Value::Array(list));
    serde_json::to_vec_pretty(&Value::Object(doc)).unwrap_or_default()
}

/// Name of the file, in the data directory, that holds the rules set by
/// `PUT /alerts/rules`.
pub const SAVED_RULES: &str = "alert-rules.json";

/// When each rule was put in force (wall clock, ns since the Unix epoch),
/// by name: start-up's rebuild counts no older record for it.
pub type Since = HashMap<String, u64>;

/// Writes `rules` (and when each was put in force) to
/// `dir`/[`SAVED_RULES`] so that a crash leaves either the old file or the
/// new one, whole: a temporary file, fsync, rename, fsync of the directory.
pub fn save(dir: &Path, rules: &[Rule], since: &Since) -> std::io::Result<()> {
    let tmp = dir.join(format!("{SAVED_RULES}.tmp"));
    let mut doc: Map<String, Value> = match serde_json::from_slice(&to_json(rules)) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut times = Map::new();
    for r in rules {
        if let Some(&ns) = since.get(&r.name) {
            times.insert(r.name.clone(), ns.into());
        }
    }
    doc.insert(SINCE_KEY.into(), Value::Object(times));
    let text = serde_json::to_vec_pretty(&Value::Object(doc)).map_err(std::io::Error::other)?;
    let mut f = File::create(&tmp)?;
    f.write_all(&text)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(SAVED_RULES))?;
    File::open(dir)?.sync_all()
}

/// `--alert-rules none`: no rules (alerting off until `PUT /alerts/rules`).
pub const NO_RULES: &str = "none";

/// Where the rules in force came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// LogStream's two defaults: no rules were given.
    Defaults,
    /// `--alert-rules none`.
    None,
    /// `--alert-rules FILE`.
    File(PathBuf),
    /// Set by `PUT /alerts/rules` (the data directory's [`SAVED_RULES`]).
    Saved(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Defaults => f.write_str("the defaults"),
            Source::None => f.write_str("--alert-rules none"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Saved(p) => write!(f, "{} (set by PUT /alerts/rules)", p.display()),
        }
    }
}

/// The key of the saved file that holds [`Since`].
const SINCE_KEY: &str = "in_force_since_ns";

/// Reads the saved file: its rules and when each was put in force.
fn from_saved(bytes: &[u8]) -> Result<(Vec<Rule>, Since), RulesError> {
    let mut doc: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(document(r#"give {"rules": [ ... ]}"#.into())),
        Err(e) => return Err(document(format!("not JSON: {e}"))),
    };
    let mut since = Since::new();
    if let Some(Value::Object(times)) = doc.remove(SINCE_KEY) {
        for (name, ns) in times {
            if let Some(ns) = ns.as_u64() {
                since.insert(name, ns);
            }
        }
    }
    let rest = serde_json::to_vec(&Value::Object(doc)).map_err(|e| document(e.to_string()))?;
    Ok((from_json(&rest)?, since))
}

/// The rules to start with: those last set by `PUT /alerts/rules` (the
/// data directory's [`SAVED_RULES`]) if any, else `--alert-rules FILE`
/// (none for `--alert-rules none`), else the defaults. An unreadable or invalid file is an error naming
/// it: the daemon does not start on rules it cannot read.
pub fn load(data_dir: &Path, file: Option<&Path>) -> Result<(Vec<Rule>, Source, Since), String> {
    let saved = data_dir.join(SAVED_RULES);
    match std::fs::read(&saved) {
        Ok(bytes) => {
            return from_saved(&bytes)
                .map(|(r, since)| (r, Source::Saved(saved.clone()), since))
                .map_err(|e| format!("{}: {e}; fix it or delete it (it holds the rules last set by PUT /alerts/rules)", saved.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", saved.display())),
    }
    let Some(file) = file else {
        return Ok((default_rules(), Source::Defaults, Since::new()));
    };
    if file == Path::new(NO_RULES) {
        return Ok((Vec::new(), Source::None, Since::new()));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("--alert-rules {}: {e}", file.display()))?;
    from_toml(&text)
        .map(|r| (r, Source::File(file.to_owned()), Since::new()))
        .map_err(|e| format!("--alert-rules {}: {e}", file.display()))
}

fn from_list(rules: Value, what: &str) -> Result<Vec<Rule>, RulesError> {
    let Value::Array(rules) = rules else {
        return Err(document(format!("rules must be {what}")));
    };
    let mut out = Vec::with_capacity(rules.len());
    for (i, rule) in rules.into_iter().enumerate() {
        out.push(one(i + 1, rule)?);
    }
    validate_rules(&out).map_err(|e| RulesError {
        rule: e.index + 1,
        name: Some(shown(&e.name)),
        field: e.field.as_str().to_owned(),
        why: e.why.to_owned(),
    })?;
    Ok(out)
}

fn one(n: usize, rule: Value) -> Result<Rule, RulesError> {
    let Value::Object(mut m) = rule else {
        return Err(RulesError {
            rule: n,
            name: None,
            field: String::new(),
            why: "a rule is a table of fields".into(),
        });
    };
    let name = m.get("name").and_then(Value::as_str).map(shown);
    let err = |field: &str, why: String| RulesError {
        rule: n,
        name: name.clone(),
        field: field.to_owned(),
        why,
    };
    let text = |m: &mut Map<String, Value>, field: &str, required: bool| match m.remove(field) {
        None if required => Err(err(field, "is missing".into())),
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(err(field, format!("{other} is not text"))),
    };
    let span = |m: &mut Map<String, Value>,
                field: &str,
                required: bool|
     -> Result<Option<Duration>, RulesError> {
        match text(m, field, required)? {
            None => Ok(None),
            Some(s) => parse_duration(&s).map(Some).map_err(|e| err(field, e)),
        }
    };
    let name_text = text(&mut m, "name", true)?.unwrap_or_default();
    let level_text = text(&mut m, "level", true)?.unwrap_or_default();
    let min_level = Level::parse(&level_text).ok_or_else(|| {
        err(
            "level",
            format!("{level_text:?} is not a level (TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL)"),
        )
    })?;
    let service = text(&mut m, "service", false)?;
    let pattern = text(&mut m, "pattern", false)?;
    let ignore_case = match m.remove("ignore_case") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(err("ignore_case", format!("{other} is not true or false"))),
    };
    let threshold = match m.remove("threshold") {
        None => return Err(err("threshold", "is missing".into())),
        Some(v) => v
            .as_u64()
            .and_then(|t| u32::try_from(t).ok())
            .ok_or_else(|| err("threshold", format!("{v} is not a whole number of records")))?,
    };
    let window = span(&mut m, "window", true)?.unwrap_or_default();
    let cooldown = span(&mut m, "cooldown", false)?.unwrap_or(window);
    if let Some(other) = m.keys().next() {
        return Err(err(
            other,
            format!("is not a rule field; a rule has {FIELDS}"),
        ));
    }
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Ok(Rule {
        name: name_text,
        min_level,
        service,
        pattern,
        ignore_case,
        threshold,
        window_ns: ns(window),
        cooldown_ns: ns(cooldown),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[rule]]
name = "Payment timeouts"
level = "warn"
service = "payments"
pattern = "timeout"
ignore_case = true
threshold = 5
window = "1m"
cooldown = "5m"

[[rule]]
name = "Any critical"
level = "CRITICAL"
threshold = 1
window = "1s"
"#;

    #[test]
    fn a_toml_file_and_a_json_body_give_the_same_rules() {
        let rules = from_toml(FILE).unwrap();
        assert_eq!(rules.len(), 2);
        let r = &rules[0];
        assert_eq!(
            (
                r.name.as_str(),
                r.min_level,
                r.service.as_deref(),
                r.pattern.as_deref()
            ),
            (
                "Payment timeouts",
                Level::Warn,
                Some("payments"),
                Some("timeout")
            )
        );
        assert!(r.ignore_case);
        assert_eq!(
            (r.threshold, r.window_ns, r.cooldown_ns),
            (5, 60_000_000_000, 300_000_000_000)
        );
        // The cooldown defaults to the window.
        assert_eq!(rules[1].cooldown_ns, 1_000_000_000);
        let json = r#"{"rules":[
            {"name":"Payment timeouts","level":"warn","service":"payments","pattern":"timeout",
             "ignore_case":true,"threshold":5,"window":"1m","cooldown":"5m"},
            {"name":"Any critical","level":"CRITICAL","threshold":1,"window":"1s"}]}"#;
        assert_eq!(from_json(json.as_bytes()).unwrap(), rules);
        assert_eq!(from_toml("").unwrap(), Vec::new());
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        for body in [
            r#"{"rules":[{"name":"a","level":"ERROR","threshold":5,"window":"1m"}],"rules":[]}"#,
            r#"{"rules":[{"name":"a","level":"ERROR","threshold":5,"window":"1m","name":"b"}]}"#,
            r#"{"rules":[{"name":"a","level":"ERROR","threshold":5,"window":"1m","n\u0061me":"b"}]}"#,
        ] {
            let e = from_json(body.as_bytes()).expect_err(body);
            assert!(e.why.contains("twice"), "{e}");
        }
        // The same key in different objects, and keys as values, are fine.
        let ok = r#"{"rules":[{"name":"name","level":"ERROR","threshold":5,"window":"1m","pattern":"\"name\":"},{"name":"b","level":"ERROR","threshold":5,"window":"1m"}]}"#;
        assert_eq!(from_json(ok.as_bytes()).map(|r| r.len()), Ok(2));
    }

    #[test]
    fn a_bad_rule_is_named_with_its_field() {
        let bad = |text: &str| from_toml(text).unwrap_err().to_string();
        let rule = |fields: &str| format!("[[rule]]\nname = \"r\"\n{fields}");
        let base = "level = \"ERROR\"\nthreshold = 3\nwindow = \"10s\"\n";
        assert_eq!(
            bad(&rule("level = \"LOUD\"\nthreshold = 3\nwindow = \"10s\"")),
            "rule 1 (\"r\"): level: \"LOUD\" is not a level (TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL)"
        );
        assert!(bad(&rule("level = \"ERROR\"\nwindow = \"10s\""))
            .starts_with("rule 1 (\"r\"): threshold: is missing"));
        assert!(
            bad(&rule("level = \"ERROR\"\nthreshold = -1\nwindow = \"10s\""))
                .contains("threshold: -1 is not a whole number")
        );
        assert!(
            bad(&rule("level = \"ERROR\"\nthreshold = 3\nwindow = \"10x\""))
                .contains("window: \"10x\": unknown unit")
        );
        assert!(
            bad(&rule(&format!("{base}treshold = 4"))).contains("treshold: is not a rule field")
        );
        assert!(
            bad(&rule("level = \"ERROR\"\nthreshold = 0\nwindow = \"10s\""))
                .contains("threshold: must be from 1 to 1024")
        );
        assert!(bad(&rule(&format!("{base}ignore_case = \"yes\"")))
            .contains("ignore_case: \"yes\" is not true or false"));
        // The second of two rules with one name.
        let twice = format!("{}\n{}", rule(base), rule(base));
        assert!(
            bad(&twice).starts_with("rule 2 (\"r\"): name: another rule has this name"),
            "{}",
            bad(&twice)
        );
        assert!(bad("rules = 1").contains("unknown key \"rules\""));
        assert!(bad("[[rule]\n").starts_with("not TOML"));
        assert!(from_json(b"[]")
            .unwrap_err()
            .to_string()
            .contains(r#"give {"rules""#));
        assert!(from_json(b"{\"rules\":[{\"name\":\"x\"}]}")
            .unwrap_err()
            .to_string()
            .starts_with("rule 1 (\"x\"): level: is missing"));
    }
}
