//! Every external command tmpl runs goes through here: echoed as `+ cmd args` with `-v`,
//! given the environment Vagrant needs, and on failure turned into an error that shows the
//! command and the last lines it printed.
//!
//! Children not attached to the terminal run in a process group of their own, so a Ctrl+C
//! reaches them once, through tmpl (see `interrupt`). A streamed command can keep its whole
//! output in a log file (`log_to`): the terminal then shows progress without Ruby
//! backtraces or repainted progress bars, and a failure names the log.
//!
//! Values from `.env` never go into argument lists (they reach Vagrant through the rendered
//! Vagrantfile and Ansible through a vars file), so echoing arguments leaks no settings.

use crate::error::{ExitStatus, Failure};
use crate::ui;
use anyhow::Result;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

mod attached;
mod seal;
mod tail;

pub use tail::{compact_trace, Tail};
use tail::{is_trace_frame, open_log, strip_erase, tail_of};

/// How many trailing lines of output a failure shows.

#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    /// A file to read stdin from; stdin is null otherwise (never the user's terminal).
    stdin: Option<PathBuf>,
    /// Where `stream` keeps the whole output.
    log: Option<PathBuf>,
    /// A folder the command must not follow links in (see `seal`).
    sealed: Option<PathBuf>,
}

/// A finished command's captured output.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            stdin: None,
            log: None,
            sealed: None,
        }
    }
    /// This command run by `prefix` (`["podman", "unshare", "--rootless-netns"]`): the
    /// prefix's words first, then this program and its arguments.
    pub fn wrapped_in(self, prefix: &[&str]) -> Cmd {
        let (first, rest) = prefix.split_first().expect("a prefix names a program");
        let mut args: Vec<OsString> = rest.iter().map(OsString::from).collect();
        args.push(self.program);
        args.extend(self.args);
        Cmd {
            program: OsString::from(first),
            args,
            ..self
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }
    pub fn dir(mut self, d: impl AsRef<Path>) -> Cmd {
        self.dir = Some(d.as_ref().to_owned());
        self
    }
    /// Feeds this file to the command's stdin (`output` and `stream`; `interactive` keeps the
    /// terminal's).
    pub fn stdin_file(mut self, p: impl AsRef<Path>) -> Cmd {
        self.stdin = Some(p.as_ref().to_owned());
        self
    }
    /// The command sees `dir` as a mount that follows no symlink, in a namespace of its own
    /// (see `seal`): what it writes under `dir` lands there or fails.
    pub fn without_symlinks_in(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.sealed = Some(dir.as_ref().to_owned());
        self
    }

    /// `stream` writes everything the command prints to this file (created mode 0600,
    /// replaced each run), and a failure names it.
    pub fn log_to(mut self, p: impl AsRef<Path>) -> Cmd {
        self.log = Some(p.as_ref().to_owned());
        self
    }
    pub fn program(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// `vagrant up --provider=libvirt`, for messages.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expression(&self) -> duct::Expression {
        ui::command(self.display());
        let mut e = duct::cmd(&self.program, &self.args);
        for (k, v) in &self.env {
            e = e.env(k, v);
        }
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        if let Some(dir) = &self.sealed {
            // made before the fork: the child only makes system calls on it
            let seal = seal::Seal::new(dir, self.dir.as_deref()).map_err(|e| e.to_string());
            let seal = std::sync::Arc::new(seal);
            e = e.before_spawn(move |c| {
                if let Err(why) = seal.as_ref() {
                    return Err(std::io::Error::other(format!(
                        "cannot keep links in the project folder from being followed: {why}"
                    )));
                }
                let seal = std::sync::Arc::clone(&seal);
                use std::os::unix::process::CommandExt;
                // SAFETY: `apply` makes system calls on buffers made before the fork
                unsafe {
                    c.pre_exec(move || match seal.as_ref() {
                        Ok(s) => s.apply(),
                        Err(_) => Err(std::io::Error::from(std::io::ErrorKind::Other)),
                    });
                }
                Ok(())
            });
        }
        e
    }

    /// Detached from the terminal: stdin from a file or null, and a process group of its own
    /// (see `interrupt`).
    fn detached(&self) -> duct::Expression {
        let e = self.grouped();
        match &self.stdin {
            Some(p) => e.stdin_path(p),
            None => e.stdin_null(),
        }
    }

    /// In a process group of its own (see `interrupt`), stdin left to the caller (duct's
    /// innermost redirection wins, so `detached` sets it on this).
    fn grouped(&self) -> duct::Expression {
        self.expression().before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
    }

    /// Runs to completion, capturing both streams; a non-zero exit is not an error here.
    pub fn output(&self) -> Result<Output> {
        let handle = self
            .detached()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        let _registered = handle
            .pids()
            .first()
            .map(|p| crate::interrupt::register(*p, &self.program()));
        let out = handle.into_output()?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Like `output`, with `input` on the command's stdin through a pipe: for what must never
    /// be on a command line or in a file (the credential broker's values). The bytes are
    /// not part of the command, so `-v` never echoes them.
    pub fn output_with_input(&self, input: &[u8]) -> Result<Output> {
        let handle = self
            .grouped()
            .stdin_bytes(input.to_vec())
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        let out = handle.into_output()?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs to completion; a non-zero exit becomes an error with the end of stderr.
    pub fn read(&self) -> Result<String> {
        let out = self.output()?;
        if out.success() {
            Ok(out.stdout)
        } else {
            let text = if out.stderr.trim().is_empty() {
                &out.stdout
            } else {
                &out.stderr
            };
            Err(self.failed(out.code, &tail_of(text)).into())
        }
    }

    /// Runs with its output shown as indented progress lines on stderr (hidden by `-q`),
    /// keeping the last lines for the error if it fails.
    pub fn stream(&self) -> Result<()> {
        let mut tail = Tail::new(tail::TAIL);
        let status = self.stream_with(|line| {
            if !is_trace_frame(line) {
                tail.push(line)
            }
        })?;
        if crate::interrupt::interrupted() {
            return Err(crate::interrupt::failure(&format!("`{}` ran", self.program())).into());
        }
        match status {
            Some(0) => Ok(()),
            s => {
                let mut f = self.failed(s, &compact_trace(&tail.lines()));
                if let Some(log) = &self.log {
                    f = f.detail(format!("--> the whole output: {}", log.display()));
                }
                Err(f.into())
            }
        }
    }

    /// Like `stream`, but hands every line (stdout and stderr merged, as printed) to `each`
    /// and returns the exit code (`None`: killed by a signal) instead of failing on a
    /// non-zero one, for callers that explain failures themselves (provisioning).
    pub fn stream_with(&self, mut each: impl FnMut(&str)) -> Result<Option<i32>> {
        let mut log = match &self.log {
            Some(p) => Some(open_log(p)?),
            None => None,
        };
        let reader = self
            .detached()
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .map_err(|e| self.spawn_error(e))?;
        let _registered = reader
            .pids()
            .first()
            .map(|p| crate::interrupt::register(*p, &self.program()));
        let mut lines = BufReader::new(&reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    if let Some(f) = log.as_mut() {
                        let _ = std::io::Write::write_all(f, &buf);
                    }
                    let text = String::from_utf8_lossy(&buf);
                    // `\r` repaints a progress bar in place: on a terminal show each state
                    // over the last, elsewhere only the final one
                    // and the guest's output never drives the terminal: colour is all it keeps
                    let mut parts: Vec<String> = text
                        .trim_end_matches(['\n', '\r'])
                        .split('\r')
                        .map(|p| crate::text::terminal_safe(&strip_erase(p)))
                        .collect();
                    let line = parts.pop().unwrap_or_default();
                    for p in &parts {
                        ui::progress(p);
                    }
                    let line = line.trim_end();
                    if !(self.log.is_some() && is_trace_frame(line)) {
                        ui::child_line(line);
                    }
                    each(line);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(reader.try_wait()?.and_then(|o| o.status.code()))
    }

    fn spawn_error(&self, e: std::io::Error) -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::new(
                ExitStatus::Unavailable,
                format!("`{}` is not installed (not found on PATH)", self.program()),
            )
            .hint("`tmpl doctor` lists what is missing; `make setup` installs it on Debian/Ubuntu")
            .into()
        } else {
            Failure::new(
                ExitStatus::Failure,
                format!("cannot run `{}`: {e}", self.program()),
            )
            .into()
        }
    }

    fn failed(&self, exit: Option<i32>, tail: &[String]) -> Failure {
        let how = exit
            .map(|c| format!("exit {c}"))
            .unwrap_or_else(|| "killed by a signal".into());
        let mut f = Failure::new(
            ExitStatus::Failure,
            format!("`{}` failed ({how})", self.display()),
        );
        for l in tail {
            f = f.detail(format!("| {l}"));
        }
        f
    }
}

/// Quotes an argument for a POSIX shell: bare when it is plainly safe, single-quoted otherwise.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Is `program` on PATH?
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Is `program` on PATH, or in sbin (a person's PATH often lacks it: `nft`, `ip`)?
pub fn which_sbin(program: &str) -> Option<PathBuf> {
    which(program).or_else(|| {
        ["/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(program))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_shell() {
        for s in ["plain", "with space", "it's", "$((6*7))", "", "a\nb", "*"] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }

    #[test]
    fn failures_show_the_command_and_its_last_lines() {
        let err = Cmd::new("sh")
            .args(["-c", "echo one >&2; echo two >&2; exit 3"])
            .read()
            .unwrap_err();
        let f = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(
            f.message,
            "`sh -c 'echo one >&2; echo two >&2; exit 3'` failed (exit 3)"
        );
        assert_eq!(f.details, vec!["| one", "| two"]);
    }

    #[test]
    fn a_missing_program_is_unavailable() {
        let err = Cmd::new("tmpl-no-such-program").read().unwrap_err();
        assert_eq!(
            err.downcast_ref::<Failure>().unwrap().code,
            ExitStatus::Unavailable
        );
    }
}
