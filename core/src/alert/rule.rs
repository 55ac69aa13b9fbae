//! What a rule is, and the checks a rule set must pass as a whole.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::entry::{EntryRef, Level};
use crate::query::text::TextMatcher;

/// Most records a rule may count (its window's fixed size).
pub const MAX_THRESHOLD: u32 = 1024;
/// Most rules in a set.
pub const MAX_RULES: usize = 256;
/// Longest rule name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest service or pattern, in bytes.
const MAX_TEXT: usize = 1024;
/// Longest window or cooldown: a day.
const MAX_SPAN_NS: u64 = 86_400 * 1_000_000_000;

/// A threshold rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Unique within the set; names the alert.
    pub name: String,
    /// Records at this level or above are counted.
    pub min_level: Level,
    /// Only records of this service (exactly), if given.
    pub service: Option<String>,
    /// Only records whose message or metadata contains this, if given.
    pub pattern: Option<String>,
    /// Compare `pattern` ignoring ASCII case.
    pub ignore_case: bool,
    /// This many selected records ...
    pub threshold: u32,
    /// ... arriving within this many nanoseconds (the oldest at most this
    /// long before the newest) fire the alert.
    pub window_ns: u64,
    /// After firing, no alert for this long.
    pub cooldown_ns: u64,
}

/// Which field of a rule is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleField {
    /// `name`.
    Name,
    /// `service`.
    Service,
    /// `pattern`.
    Pattern,
    /// `threshold`.
    Threshold,
    /// `window`.
    Window,
    /// `cooldown`.
    Cooldown,
    /// The set as a whole (too many rules).
    Rules,
}

impl RuleField {
    /// The field's name as users write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleField::Name => "name",
            RuleField::Service => "service",
            RuleField::Pattern => "pattern",
            RuleField::Threshold => "threshold",
            RuleField::Window => "window",
            RuleField::Cooldown => "cooldown",
            RuleField::Rules => "rules",
        }
    }
}

/// Why a rule set is refused: which rule, which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's position in the set (0-based).
    pub index: usize,
    /// The rule's name as given.
    pub name: String,
    /// The field at fault.
    pub field: RuleField,
    /// What is wrong, and what is accepted.
    pub why: &'static str,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule {} ({:?}): {}: {}",
            self.index + 1,
            self.name,
            self.field.as_str(),
            self.why
        )
    }
}

impl Rule {
    /// Checks the rule alone: the field at fault and why.
    pub fn check(&self) -> Result<(), (RuleField, &'static str)> {
        let name = self.name.as_str();
        if name.trim().is_empty() {
            return Err((RuleField::Name, "is empty; give every rule a name"));
        }
        if name.len() > MAX_NAME {
            return Err((RuleField::Name, "is longer than 64 bytes"));
        }
        if name.chars().any(char::is_control) {
            return Err((RuleField::Name, "holds a control character"));
        }
        // Bidirectional controls can make a name read as another one on
        // a terminal or in a chat message.
        if name
            .chars()
            .any(|c| matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        {
            return Err((RuleField::Name, "holds a bidirectional control character"));
        }
        if let Some(s) = &self.service {
            if s.is_empty() || s.len() > MAX_TEXT {
                return Err((
                    RuleField::Service,
                    "must be 1 to 1024 bytes (leave it out for every service)",
                ));
            }
        }
        if let Some(p) = &self.pattern {
            if p.is_empty() || p.len() > MAX_TEXT {
                return Err((
                    RuleField::Pattern,
                    "must be 1 to 1024 bytes (leave it out to match every message)",
                ));
            }
        }
        if self.threshold == 0 || self.threshold > MAX_THRESHOLD {
            return Err((RuleField::Threshold, "must be from 1 to 1024 records"));
        }
        if self.window_ns < 1_000_000 || self.window_ns > MAX_SPAN_NS {
            return Err((RuleField::Window, "must be from 1 ms to 24 h"));
        }
        if self.cooldown_ns > MAX_SPAN_NS {
            return Err((RuleField::Cooldown, "must be at most 24 h (0: none)"));
        }
        Ok(())
    }

    /// Whether the rule counts `entry`.
    pub fn selects(&self, entry: &EntryRef<'_>) -> bool {
        entry.level >= self.min_level
            && self.service.as_deref().is_none_or(|s| s == entry.service)
            && self.pattern.as_deref().is_none_or(|p| {
                TextMatcher::new(p.as_bytes(), self.ignore_case).matches_entry(entry)
            })
    }
}

/// Checks a rule set as a whole: every rule, unique names, at most
/// [`MAX_RULES`]. The first fault found, naming the rule and the field.
pub fn validate_rules(rules: &[Rule]) -> Result<(), RuleError> {
    let error = |index: usize, field, why| RuleError {
        index,
        name: rules.get(index).map(|r| r.name.clone()).unwrap_or_default(),
        field,
        why,
    };
    if rules.len() > MAX_RULES {
        return Err(error(MAX_RULES, RuleField::Rules, "at most 256 rules"));
    }
    for (i, rule) in rules.iter().enumerate() {
        rule.check().map_err(|(field, why)| error(i, field, why))?;
        if rules[..i].iter().any(|r| r.name == rule.name) {
            return Err(error(i, RuleField::Name, "another rule has this name"));
        }
    }
    Ok(())
}

/// The two rules LogStream users know, on unless configured otherwise:
/// "High Error Rate", 10 ERROR (or worse) within 1 minute, and "Critical
/// Errors", 3 CRITICAL within 30 s; each quiet for its window after firing.
pub fn default_rules() -> Vec<Rule> {
    const S: u64 = 1_000_000_000;
    alloc::vec![
        Rule {
            name: "High Error Rate".into(),
            min_level: Level::Error,
            service: None,
            pattern: None,
            ignore_case: false,
            threshold: 10,
            window_ns: 60 * S,
            cooldown_ns: 60 * S,
        },
        Rule {
            name: "Critical Errors".into(),
            min_level: Level::Critical,
            service: None,
            pattern: None,
            ignore_case: false,
            threshold: 3,
            window_ns: 30 * S,
            cooldown_ns: 30 * S,
        },
    ]
}
