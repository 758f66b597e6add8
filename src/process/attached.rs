//! Commands that are not run to completion under tmpl's pipes: one that replaces tmpl, one
//! that outlives it (a daemon), and one attached to tmpl's terminal.

use super::Cmd;
use crate::ui;
use anyhow::Result;

impl Cmd {
    /// Replaces tmpl with the command (attached to tmpl's terminal); returns only on failure.
    pub fn exec(&self) -> anyhow::Error {
        use std::os::unix::process::CommandExt;
        ui::command(self.display());
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

    /// Starts the command in a session of its own, in `/`, with no pipes of tmpl's, and
    /// does not wait: it outlives tmpl and never holds its terminal or locks. Best effort.
    pub fn spawn_daemon(&self) {
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args).current_dir("/").stdin(Stdio::null());
        // what a daemon says goes to its log, when it has one (see `log_to`), else nowhere
        let log = self.log.as_ref().and_then(|p| {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(p)
                .ok()
        });
        match log
            .as_ref()
            .and_then(|f| Some((f.try_clone().ok()?, f.try_clone().ok()?)))
        {
            Some((out, err)) => c.stdout(out).stderr(err),
            None => c.stdout(Stdio::null()).stderr(Stdio::null()),
        };
        for (k, v) in &self.env {
            c.env(k, v);
        }
        // SAFETY: setsid is async-signal-safe and touches nothing of the parent's
        unsafe {
            c.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        ui::command(format!("{} &", self.display()));
        let _ = c.spawn();
    }

    /// Runs attached to the terminal (stdin, stdout and stderr are tmpl's) and returns its
    /// exit code.
    pub fn interactive(&self) -> Result<i32> {
        // the child gets the terminal's signals itself; tmpl must only outlive them
        crate::interrupt::install();
        let out = self
            .expression()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
        Ok(out.status.code().unwrap_or(128 + 9))
    }
}
