//! What an approval shows, truthfully: every line escaped (no byte of the folder reaches the
//! terminal as a control, see `text::visible`), one line each, and every file of the set that
//! is new or changed by name and content: a new file's lines, a changed one's unified diff
//! against the approved copy, a binary one's size and hash. A file not shown is not approved.
//!
//! Past a screen a file's lines are cut, saying how many were left out; `tmpl trust --diff`
//! shows them all. Values of keys that are not tmpl's (often an application's secrets) are
//! never shown, only what happened to them.

use super::beneath::{File, Files};
use super::copy::sha256;
use super::record::Approval;
use super::survey::Survey;
use crate::config::{keys, EnvFile};
use crate::text::{redact_url, visible, visible_bytes};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Lines of one file shown before the rest is summed up: about a screen.
const SCREEN: usize = 30;

/// How much of each file to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Screen,
    Full,
}

/// One line of the list, and what is shown under it (a diff, a new file's content).
pub struct Change {
    head: String,
    body: Vec<String>,
}

impl Change {
    fn new(head: &str) -> Change {
        Change {
            head: visible(head),
            body: Vec::new(),
        }
    }
}

/// The list as lines: `- what`, and under it, indented, what it shows.
pub fn lines(changes: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        out.push(format!("- {}", c.head));
        out.extend(c.body.iter().map(|b| format!("    {b}")));
    }
    out
}

/// What changed from `old` (none: a new folder) to the survey. `old_files`: the approved
/// copy, to diff against.
pub fn changes(
    old: Option<&Approval>,
    now: &Survey,
    env: &EnvFile,
    old_files: Option<&Files>,
    length: Length,
) -> Vec<Change> {
    let mut out = Vec::new();
    match old {
        None => out.push(Change::new(
            "a new project folder: nothing of it has been approved on this host",
        )),
        Some(old) => settings(old, now, env, &mut out),
    }
    if let (Some(set), Some(files)) = (&now.provision, &now.files) {
        let before = old.and_then(|o| o.provision.as_ref());
        let same_set = before.is_some_and(|o| o.script == set.script && o.root == set.root);
        match before {
            Some(o) if !same_set => out.push(Change::new(&format!(
                "PROVISION_SCRIPT: {} -> {}",
                o.script.display(),
                set.script.display()
            ))),
            None if old.is_some() => out.push(Change::new(&format!(
                "provisioning with {} (not approved before)",
                set.script.display()
            ))),
            _ => {}
        }
        let old_files = old_files.filter(|_| same_set);
        // a script's set is the file itself: its name is the set's root, not root/name
        let named = |rel: &Path| {
            if set.root == set.script {
                path(&set.root)
            } else {
                path(&set.root.join(rel))
            }
        };
        let approved = before.filter(|_| same_set).map(|o| &o.manifest);
        for (rel, file) in files {
            let name = named(rel);
            let was = approved.and_then(|m| m.get(rel));
            match was {
                Some(h) if *h == set.manifest[rel] => {}
                Some(_) => {
                    // `name` is escaped already, and escaping twice changes nothing
                    let mut c = Change::new(&format!("{name} (changed)"));
                    c.body = match old_files.and_then(|f| f.get(rel)) {
                        Some(o) => diff(o, file, length),
                        None => vec!["(the approved copy is gone: no diff to show)".into()],
                    };
                    c.body
                        .extend(mode_change(old_files.and_then(|f| f.get(rel)), file));
                    out.push(c);
                }
                None => {
                    let mut c = Change::new(&format!("{name} (new)"));
                    c.body = content(file, length);
                    out.push(c);
                }
            }
        }
        for rel in approved.into_iter().flat_map(|m| m.keys()) {
            if !files.contains_key(rel) {
                let name = named(rel);
                out.push(Change::new(&format!("{name} (removed)")));
            }
        }
    }
    out
}

/// The `.env` lines that changed. tmpl's settings with their values; other keys by name.
fn settings(old: &Approval, now: &Survey, env: &EnvFile, out: &mut Vec<Change>) {
    let at = |k: &str| {
        env.get(k)
            .map(|e| format!(" (.env:{})", e.line))
            .unwrap_or_default()
    };
    for (k, v) in &now.settings {
        let tmpl = keys::is_tmpl_key(k);
        let line = match old.settings.get(k) {
            None if tmpl => format!(".env: {k}={} (new)", redact_url(v)),
            None => format!(
                ".env: {k}{}: a new key; its value is not shown (not a tmpl setting: it may be a secret)",
                at(k)
            ),
            Some(o) if o != v && tmpl => {
                format!(".env: {k}: {} -> {}", redact_url(o), redact_url(v))
            }
            Some(o) if o != v => format!(
                ".env: {k}{}: its value changed (not shown: not a tmpl setting)",
                at(k)
            ),
            _ => continue,
        };
        out.push(Change::new(&line));
    }
    for k in old
        .settings
        .keys()
        .filter(|k| !now.settings.contains_key(*k))
    {
        out.push(Change::new(&format!(".env: {k} (removed)")));
    }
    // what the file asks, granted or not: a variable the guest adds is a change either way
    let asked = env.asked();
    for (k, vars) in &asked {
        let before = old.environment.get(k);
        for v in vars
            .iter()
            .filter(|v| !before.is_some_and(|b| b.contains(*v)))
        {
            out.push(Change::new(&format!(
                ".env: {k}{} now takes ${v} from tmpl's environment",
                at(k)
            )));
        }
    }
    for (k, vars) in &old.environment {
        let now = asked.get(k);
        for v in vars.iter().filter(|v| !now.is_some_and(|n| n.contains(*v))) {
            out.push(Change::new(&format!(
                ".env: {k} no longer takes ${v} from tmpl's environment"
            )));
        }
    }
}

/// A path of the set as the person reads it: escaped, bytes that are not UTF-8 included.
fn path(p: &Path) -> String {
    visible_bytes(p.as_os_str().as_bytes())
}

/// Text that a terminal shows as lines; `None` for what only a hash describes.
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.contains('\0'))
}

fn binary(f: &File) -> String {
    format!(
        "binary: {} bytes, sha256:{}",
        f.bytes.len(),
        sha256(&f.bytes)
    )
}

/// A new file: its lines, each as `+line`, or what it is when it is not text.
fn content(f: &File, length: Length) -> Vec<String> {
    let mut out = match text(&f.bytes) {
        Some(t) => t.lines().map(|l| format!("+{}", visible(l))).collect(),
        None => vec![binary(f)],
    };
    if f.exec {
        out.insert(0, "(executable)".into());
    }
    shorten(out, length)
}

/// A changed file: the unified diff of the approved copy against it, as `git diff` shows it.
fn diff(old: &File, new: &File, length: Length) -> Vec<String> {
    let (Some(a), Some(b)) = (text(&old.bytes), text(&new.bytes)) else {
        return vec![
            format!("was {}", binary(old)),
            format!("now {}", binary(new)),
        ];
    };
    let diff = similar::TextDiff::from_lines(a, b);
    let mut out = Vec::new();
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push(hunk.header().to_string());
        for c in hunk.iter_changes() {
            let sign = match c.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let v = c.value();
            let v = v.strip_suffix('\n').unwrap_or(v);
            out.push(format!("{sign}{}", visible(v)));
            if c.missing_newline() {
                out.push("\\ No newline at end of file".into());
            }
        }
    }
    shorten(out, length)
}

fn mode_change(old: Option<&File>, new: &File) -> Option<String> {
    match old {
        Some(o) if o.exec != new.exec && new.exec => Some("(now executable)".into()),
        Some(o) if o.exec != new.exec => Some("(no longer executable)".into()),
        _ => None,
    }
}

fn shorten(mut lines: Vec<String>, length: Length) -> Vec<String> {
    if length == Length::Screen && lines.len() > SCREEN {
        let left = lines.len() - SCREEN;
        lines.truncate(SCREEN);
        lines.push(format!(
            "... {left} more line{} not shown here: `tmpl trust --diff` shows them all",
            if left == 1 { "" } else { "s" }
        ));
    }
    lines
}
