//! Every external command tmpl runs goes through here: echoed as `+ cmd args` with `-v`,
//! given the environment Vagrant needs, and on failure turned into an error that shows the
//! command and the last lines it printed.
//!
//! Values from `.env` never go into argument lists (they reach Vagrant through the rendered
//! Vagrantfile and Ansible through a vars file), so echoing arguments leaks no settings.

use crate::error::{code, Failure};
use crate::ui;
use anyhow::Result;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// How many trailing lines of output a failure shows.
const TAIL: usize = 15;

#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    /// A file to read stdin from; stdin is null otherwise (never the user's terminal).
    stdin: Option<PathBuf>,
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
        if ui::verbose() {
            eprintln!("{}", ui::Ui::stderr().dim(&format!("+ {}", self.display())));
        }
        let mut e = duct::cmd(&self.program, &self.args);
        for (k, v) in &self.env {
            e = e.env(k, v);
        }
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        e
    }

    fn with_stdin(&self, e: duct::Expression) -> duct::Expression {
        match &self.stdin {
            Some(p) => e.stdin_path(p),
            None => e.stdin_null(),
        }
    }

    /// Runs to completion, capturing both streams; a non-zero exit is not an error here.
    pub fn output(&self) -> Result<Output> {
        let out = self
            .with_stdin(self.expression())
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
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
        let mut tail: VecDeque<String> = VecDeque::new();
        let status = self.stream_with(|line| {
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        })?;
        if crate::interrupt::interrupted() {
            return Err(crate::interrupt::failure(&format!("`{}` ran", self.program())).into());
        }
        match status {
            Some(0) => Ok(()),
            s => Err(self.failed(s, &Vec::from(tail)).into()),
        }
    }

    /// Like `stream`, but hands every line (stdout and stderr merged, as printed) to `each`
    /// and returns the exit code (`None`: killed by a signal) instead of failing on a
    /// non-zero one, for callers that explain failures themselves (provisioning).
    pub fn stream_with(&self, mut each: impl FnMut(&str)) -> Result<Option<i32>> {
        let reader = self
            .with_stdin(self.expression())
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .map_err(|e| self.spawn_error(e))?;
        let _forward = crate::interrupt::forward_while(reader.pids());
        let mut lines = BufReader::new(&reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end();
                    if !ui::quiet() {
                        eprintln!("{}    {line}", ui::elapsed_prefix());
                    }
                    each(line);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(reader.try_wait()?.and_then(|o| o.status.code()))
    }

    /// Replaces tmpl with the command (attached to tmpl's terminal); returns only on failure.
    pub fn exec(&self) -> anyhow::Error {
        use std::os::unix::process::CommandExt;
        if ui::verbose() {
            eprintln!("{}", ui::Ui::stderr().dim(&format!("+ {}", self.display())));
        }
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.dir {
            c.current_dir(d);
        }
        self.spawn_error(c.exec())
    }

    /// Runs attached to the terminal (stdin, stdout and stderr are tmpl's) and returns its
    /// exit code.
    pub fn interactive(&self) -> Result<i32> {
        let out = self
            .expression()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
        Ok(out.status.code().unwrap_or(128 + 9))
    }

    fn spawn_error(&self, e: std::io::Error) -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::new(
                code::UNAVAILABLE,
                format!("`{}` is not installed (not found on PATH)", self.program()),
            )
            .hint("`tmpl doctor` lists what is missing; `make setup` installs it on Debian/Ubuntu")
            .into()
        } else {
            Failure::new(
                code::FAILURE,
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
            code::FAILURE,
            format!("`{}` failed ({how})", self.display()),
        );
        for l in tail {
            f = f.detail(format!("| {l}"));
        }
        f
    }
}

fn tail_of(text: &str) -> Vec<String> {
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[lines.len().saturating_sub(TAIL)..].to_vec()
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
            code::UNAVAILABLE
        );
    }
}
