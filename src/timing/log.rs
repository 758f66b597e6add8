//! The log of operations: one JSON line per `up`, `stop`, `rm` or `provision` in
//! `$XDG_STATE_HOME/tmpl/timings.jsonl`, appended as each ends, read back by `tmpl stats`.

use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Serialize)]
struct Record<'a> {
    ts: u64,
    op: &'a str,
    project: &'a str,
    infra_type: &'a str,
    outcome: &'a str,
    total_ms: u64,
    phases: serde_json::Map<String, serde_json::Value>,
}

pub fn path(state_root: &Path) -> PathBuf {
    state_root.join("timings.jsonl")
}

/// Appends one operation; a failure to record never fails the operation.
pub fn append(
    state_root: &Path,
    op: &str,
    project: &str,
    infra_type: &str,
    outcome: &str,
    total: Duration,
    phases: &[(&str, Duration)],
) {
    let rec = Record {
        ts: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        op,
        project,
        infra_type,
        outcome,
        total_ms: total.as_millis() as u64,
        phases: phases
            .iter()
            .map(|(n, d)| {
                (
                    format!("{n}_ms"),
                    serde_json::Value::from(d.as_millis() as u64),
                )
            })
            .collect(),
    };
    let Ok(line) = serde_json::to_string(&rec) else {
        return;
    };
    let _ = std::fs::create_dir_all(state_root);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(state_root))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The log's text (empty when there is none yet).
pub fn read(state_root: &Path) -> String {
    std::fs::read_to_string(path(state_root)).unwrap_or_default()
}
