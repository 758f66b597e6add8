//! What a command printed, kept for its error: the last lines (`Tail`), the whole output in a
//! log file, and the cause of a Ruby crash read out of its backtrace (`compact_trace`).

use anyhow::Result;
use std::collections::VecDeque;
use std::path::Path;

/// How many lines of a failed command's output an error shows.
pub const TAIL: usize = 15;

pub(super) fn tail_of(text: &str) -> Vec<String> {
    let mut tail = Tail::new(TAIL);
    text.lines().for_each(|l| tail.push(l));
    tail.lines()
}

/// The last `n` lines of some output, for an error.
#[derive(Debug)]
pub struct Tail {
    n: usize,
    lines: VecDeque<String>,
}

impl Tail {
    pub fn new(n: usize) -> Tail {
        Tail {
            n,
            lines: VecDeque::with_capacity(n),
        }
    }
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == self.n {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }
}

pub(super) fn open_log(p: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))
}

/// `ESC [ K` (erase to end of line), which progress bars print after `\r`.
pub(super) fn strip_erase(s: &str) -> String {
    s.replace("\x1b[K", "")
}

/// A frame of a Ruby backtrace: `\tfrom /usr/share/.../machine.rb:217:in `block in action'`,
/// or of a script without `.rb` (`from /usr/bin/vagrant:25:in `load'`).
pub(super) fn is_trace_frame(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("from /") else {
        return false;
    };
    rest.split_once(":in ").is_some_and(|(path, _)| {
        path.rsplit_once(':')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The lines that explain a failure. An uncaught Ruby exception (Vagrant's plugins raise
/// them for libvirt's errors) is reduced to its message and what followed it: the header
/// `/usr/lib/ruby/.../vm_action.rb:7:in `create': Call to ... failed: ... (Libvirt::Error)`
/// becomes `Call to ... failed: ...`, the progress before it and the frames below it go.
/// Without one, the lines are kept as they are, frames excepted.
pub fn compact_trace(lines: &[String]) -> Vec<String> {
    let header = |l: &str| -> Option<String> {
        let t = l.trim_start();
        let (_, rest) = t.split_once(".rb:")?;
        if !t.starts_with('/') || !rest.contains(":in `") {
            return None;
        }
        let msg = &rest[rest.find("': ")? + 3..];
        Some(match msg.rfind(" (") {
            Some(i) if msg.ends_with(')') => msg[..i].to_owned(),
            _ => msg.to_owned(),
        })
    };
    let kept: Vec<&String> = lines.iter().filter(|l| !is_trace_frame(l)).collect();
    match kept.iter().rposition(|l| header(l).is_some()) {
        Some(i) => std::iter::once(header(kept[i]).unwrap_or_default())
            .chain(kept[i + 1..].iter().map(|l| l.trim().to_owned()))
            .collect(),
        None => kept.into_iter().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_scripts_without_rb_are_frames_too() {
        assert!(is_trace_frame("\tfrom /usr/bin/tool:25:in `load'"));
        assert!(is_trace_frame(
            "  from /usr/share/rubygems-integration/all/gems/tool-2.3.4/bin/tool:211:in `new'"
        ));
        assert!(is_trace_frame("\tfrom /usr/lib/ruby/x.rb:7:in `create'"));
        assert!(!is_trace_frame("from /etc/hosts we read the name"));
        assert!(!is_trace_frame("copying from /tmp:in progress"));
    }
    use crate::error::Failure;
    use crate::process::Cmd;

    #[test]
    fn a_ruby_crash_is_its_message_and_what_followed() {
        let out: Vec<String> = [
            "==> m: Starting domain.",
            "/usr/lib/ruby/vendor_ruby/fog/lib/requests/compute/vm_action.rb:7:in `create': Call to virDomainCreateWithFlags failed: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 (Fog::Error)",
            "qemu-system-x86_64: kvm.c:3183: kvm_buf_set_msrs: Assertion failed.",
            "\tfrom /usr/share/rubygems-integration/all/gems/tool-2.3.4/lib/tool/machine.rb:217:in `block in action'",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            compact_trace(&out),
            [
                "Call to virDomainCreateWithFlags failed: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69",
                "qemu-system-x86_64: kvm.c:3183: kvm_buf_set_msrs: Assertion failed."
            ]
        );
        let plain: Vec<String> = vec!["one".into(), "two".into()];
        assert_eq!(compact_trace(&plain), plain);
    }

    #[test]
    fn a_streamed_failure_shows_its_cause_and_names_its_log() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("logs/run.log");
        let mut printed = String::from("progress\n/x/a.rb:1:in `f': boom (E)\n");
        for i in 0..30 {
            printed.push_str(&format!("\tfrom /x/b.rb:{i}:in `g'\n"));
        }
        std::fs::write(d.path().join("out"), printed).unwrap();
        let err = Cmd::new("sh")
            .arg("-c")
            .arg(format!("cat {}/out; exit 1", d.path().display()))
            .log_to(&log)
            .stream()
            .unwrap_err();
        let f = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(
            f.details,
            [
                "| boom",
                &format!("--> the whole output: {}", log.display())
            ]
        );
        let whole = std::fs::read_to_string(&log).unwrap();
        assert!(whole.contains("progress") && whole.matches("from /x/b.rb").count() == 30);
    }
}
