//! The errors tmpl expects, and the exit codes they map to.
//!
//! Anything can fail with `anyhow`; a `Failure` in the chain carries what the user should see:
//! the exit code, where it happened and what to do next. `report` prints it as
//!
//! ```text
//! error: <what failed>
//!   --> <where>
//! caused by: <underlying error>
//! hint: <what to do>
//! ```

use std::fmt;

/// How tmpl ends: the one list of exit codes, documented in the README, that scripts branch
/// on. A command returns the ones that are not failures (`status` says stopped or not
/// created, `ssh` passes its child's code on); a `Failure` carries the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    /// An operation failed (an external command, the guest, the host).
    Failure,
    /// Bad command line (clap's own code).
    Usage,
    /// `status`: the guest exists but is stopped.
    Stopped,
    /// `status`: the project has no guest.
    NotCreated,
    /// Provisioning failed; the guest is left running.
    ProvisionFailed,
    /// A host dependency is missing or unreachable (`tmpl doctor` says which).
    Unavailable,
    /// Another tmpl holds the project's lock.
    Locked,
    /// The project folder is new or changed since it was approved.
    Untrusted,
    /// Invalid or missing settings.
    Config,
    /// Interrupted by Ctrl+C, SIGTERM or SIGHUP.
    Interrupted,
    /// The exit code of the command tmpl ran for the person (`tmpl ssh -- CMD`).
    Child(i32),
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Stopped => 3,
            ExitStatus::NotCreated => 4,
            ExitStatus::ProvisionFailed => 10,
            ExitStatus::Unavailable => 69,
            ExitStatus::Locked => 75,
            ExitStatus::Untrusted => 77,
            ExitStatus::Config => 78,
            // 128 + SIGINT, as shells report it
            ExitStatus::Interrupted => 130,
            // a signal's death (or anything out of range) as a shell reports it
            ExitStatus::Child(c) => u8::try_from(c).unwrap_or(1),
        }
    }
}

#[derive(Debug)]
pub struct Failure {
    pub code: ExitStatus,
    pub message: String,
    /// Indented lines under the message: places (`--> .env:4`) and details.
    pub details: Vec<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: ExitStatus, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            details: Vec::new(),
            hint: None,
        }
    }
    /// A failure that was already told in full (as JSON on stdout, say): only its exit code.
    pub fn told(code: ExitStatus) -> Failure {
        Failure::new(code, "")
    }
    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(ExitStatus::Config, message)
    }
    pub fn detail(mut self, line: impl Into<String>) -> Failure {
        self.details.push(line.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The kind of the `Failure` in the chain.
pub fn code_of(err: &anyhow::Error) -> Option<ExitStatus> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map(|f| f.code)
}

/// Prints an error to stderr and returns the exit code.
pub fn report(err: &anyhow::Error) -> u8 {
    let failure = err.chain().find_map(|e| e.downcast_ref::<Failure>());
    let ui = crate::ui::Ui::stderr();
    match failure {
        Some(f) if f.message.is_empty() && f.details.is_empty() && f.hint.is_none() => {
            f.code.code()
        }
        Some(f) => {
            // what failed may quote a guest or an external command: no terminal controls
            let safe = crate::text::terminal_safe;
            let mut out = format!("{} {}\n", ui.red_bold("error:"), safe(&f.message));
            for d in &f.details {
                out.push_str(&format!("  {}\n", safe(d)));
            }
            // Causes below the Failure (and wrappers above it) are context worth showing.
            for cause in err
                .chain()
                .filter(|e| e.downcast_ref::<Failure>().is_none())
            {
                let text = cause.to_string();
                if !text.is_empty() && text != f.message {
                    out.push_str(&format!("{} {}\n", ui.bold("caused by:"), safe(&text)));
                }
            }
            if let Some(h) = &f.hint {
                out.push_str(&format!("{} {h}\n", ui.cyan_bold("hint:")));
            }
            crate::ui::raw(out);
            f.code.code()
        }
        None => {
            let mut chain = err.chain();
            let safe = |e: &dyn std::error::Error| crate::text::terminal_safe(&e.to_string());
            let mut out = format!(
                "{} {}\n",
                ui.red_bold("error:"),
                chain.next().map(safe).unwrap_or_default()
            );
            for cause in chain {
                out.push_str(&format!("{} {}\n", ui.bold("caused by:"), safe(cause)));
            }
            crate::ui::raw(out);
            ExitStatus::Failure.code()
        }
    }
}
