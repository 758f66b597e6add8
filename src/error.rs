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

/// Exit codes, documented in the README. Scripts branch on these.
pub mod code {
    pub const OK: u8 = 0;
    /// An operation failed (an external command, the guest, the host).
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// `status`: the guest exists but is stopped.
    pub const STOPPED: u8 = 3;
    /// `status`: the project has no guest.
    pub const NOT_CREATED: u8 = 4;
    /// Provisioning failed; the guest is left running.
    pub const PROVISION_FAILED: u8 = 10;
    /// A host dependency is missing or unreachable (`tmpl doctor` says which).
    pub const UNAVAILABLE: u8 = 69;
    /// Interrupted by Ctrl+C or SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
    /// The project's `.env` or provisioning file changed since it was trusted (`EX_NOPERM`).
    pub const UNTRUSTED: u8 = 77;
    /// Another tmpl holds the project's lock.
    pub const LOCKED: u8 = 75;
    /// Invalid or missing settings (`EX_CONFIG`).
    pub const CONFIG: u8 = 78;
}

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    /// Indented lines under the message: places (`--> .env:4`) and details.
    pub details: Vec<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            details: Vec::new(),
            hint: None,
        }
    }
    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(code::CONFIG, message)
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

/// Shorthand: `bail(Failure::config(..))`.
pub fn fail<T>(f: Failure) -> anyhow::Result<T> {
    Err(f.into())
}

/// The exit code a `Failure` in the chain asks for.
pub fn code_of(err: &anyhow::Error) -> Option<u8> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map(|f| f.code)
}

/// Prints an error to stderr and returns the exit code.
pub fn report(err: &anyhow::Error) -> u8 {
    let failure = err.chain().find_map(|e| e.downcast_ref::<Failure>());
    let ui = crate::ui::Ui::stderr();
    match failure {
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
            eprint!("{out}");
            f.code
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
            eprint!("{out}");
            code::FAILURE
        }
    }
}
