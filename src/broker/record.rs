//! The broker's log: one JSON line per request it looked into or refused, in the guest's
//! state folder (`broker/log.jsonl`), never a value. `tmpl secrets log` prints it.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the broker did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Sent on with the values of `names` in place of their placeholders.
    Sent,
    /// Sent on unchanged: the placeholders of `names` were going to a host that does not own
    /// their secrets.
    Withheld,
    /// Not sent: the fence does not let the guest reach that address.
    Refused,
    /// Not sent: the server could not be reached, or did not prove it is that host.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub time: jiff::Timestamp,
    /// The secrets concerned (none: a request to a secret's host that carried none).
    pub names: Vec<String>,
    pub host: String,
    pub method: String,
    /// The path without its query, which may carry anything.
    pub path: String,
    /// The answer's status (for a refusal, the broker's own).
    pub status: Option<u16>,
    pub action: Action,
}

impl Entry {
    pub fn new(
        names: Vec<String>,
        host: &str,
        method: &str,
        path_and_query: &str,
        action: Action,
    ) -> Entry {
        Entry {
            time: crate::lock::now_utc(),
            names,
            host: host.to_owned(),
            method: method.to_owned(),
            path: path_and_query.split('?').next().unwrap_or("").to_owned(),
            status: None,
            action,
        }
    }
}

/// A log bigger than this is moved to `log.jsonl.1` (replacing the one before).
const MAX_BYTES: u64 = 4 << 20;

pub fn path(broker_dir: &Path) -> PathBuf {
    broker_dir.join("log.jsonl")
}

/// Appends one entry. A log that cannot be written is not worth failing a request for.
pub fn append(file: &Path, e: &Entry) {
    if std::fs::metadata(file).is_ok_and(|m| m.len() > MAX_BYTES) {
        let _ = std::fs::rename(file, file.with_extension("jsonl.1"));
    }
    let Ok(mut line) = serde_json::to_vec(e) else {
        return;
    };
    line.push(b'\n');
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
    {
        // one write per line: appends from concurrent requests never interleave
        let _ = f.write_all(&line);
    }
}

/// The log, oldest first (the rotated part first).
pub fn read(broker_dir: &Path) -> Vec<Entry> {
    let file = path(broker_dir);
    [file.with_extension("jsonl.1"), file]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<Entry>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_no_query_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        let mut e = Entry::new(
            vec!["GITHUB_TOKEN".into()],
            "github.com",
            "GET",
            "/o/r.git/info/refs?service=git-upload-pack",
            Action::Sent,
        );
        e.status = Some(200);
        append(&file, &e);
        append(
            &file,
            &Entry::new(vec![], "lan.example", "CONNECT", "", Action::Refused),
        );
        let back = read(dir.path());
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].path, "/o/r.git/info/refs");
        assert_eq!(back[0].status, Some(200));
        assert_eq!(back[1].action, Action::Refused);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
