//! Reading one key at a time out of `.env`, each problem or warning placed at its line.

use super::report::{Problem, Report, Warning};
use crate::config::dotenv::EnvFile;

pub(super) struct Checker<'a> {
    pub(super) env: &'a EnvFile,
    pub(super) report: Report,
}

impl Checker<'_> {
    /// A warning about `key`, placed at its line.
    pub(super) fn warn(&mut self, key: &str, message: impl Into<String>) {
        let line = self.env.get(key).map(|e| e.line);
        self.report.warnings.push(Warning {
            line,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    pub(super) fn problem(
        &mut self,
        key: &str,
        expected: impl Into<String>,
        example: Option<String>,
    ) {
        let e = self.env.get(key);
        self.report.problems.push(Problem {
            line: e.map(|e| e.line),
            key: key.to_owned(),
            value: e.map(|e| e.value.clone()),
            expected: expected.into(),
            example,
        });
    }

    pub(super) fn value(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(|e| e.value.trim())
    }

    pub(super) fn required(&mut self, key: &str, example: &str) -> Option<String> {
        match self.value(key) {
            Some(v) if !v.is_empty() => Some(v.to_owned()),
            Some(_) => {
                self.problem(key, "a value, not an empty one", Some(example.to_owned()));
                None
            }
            None => {
                self.problem(key, "this required key to be set", Some(example.to_owned()));
                None
            }
        }
    }

    pub(super) fn optional(&self, key: &str) -> Option<String> {
        self.value(key).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    pub(super) fn whole_number(&mut self, key: &str, unit: &str, example: &str) -> Option<u64> {
        let v = self.required(key, example)?;
        match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let example = unit_hint(key, &v).unwrap_or_else(|| example.to_owned());
                self.problem(key, format!("a whole number of {unit}"), Some(example));
                None
            }
        }
    }
}

/// `MEMORY=4g` most likely meant `MEMORY=4096`: suggest the converted number.
fn unit_hint(key: &str, v: &str) -> Option<String> {
    let lower = v.to_ascii_lowercase();
    let digits: String = lower.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let suffix = lower[digits.len()..]
        .trim()
        .trim_end_matches("ib")
        .trim_end_matches('b');
    let converted = match (key, suffix) {
        ("MEMORY", "g") => n * 1024,
        ("MEMORY", "m") => n,
        ("DISK", "g") => n,
        ("DISK", "t") => n * 1024,
        ("DISK", "m") if n >= 1024 => n / 1024,
        _ => return None,
    };
    Some(format!("{key}={converted}"))
}
