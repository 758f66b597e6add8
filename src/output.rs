//! Data on stdout, through one printer: the tables of `status`, `ls`, `stats`, `doctor`,
//! `gc`; JSON for `--json`; what `render`, `ssh-config`, `completions` and `man` produce.
//! Messages go to stderr (`ui`), so `tmpl ls | head` and `out=$(tmpl render)` get data only.
//!
//! - `-q` silences the human tables; JSON and generated artifacts are always printed, since
//!   asking for them is the point of the command.
//! - Styling is decided by stdout's own terminal (and `NO_COLOR`), never stderr's.
//! - A reader that goes away (`| head`) ends tmpl quietly: Rust ignores SIGPIPE, so a write
//!   fails with EPIPE, and this is the one place that turns it into a clean exit.
//! - Whoever runs tmpl's commands in-process (`run_with`) can take the data instead.

use console::Style;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

static SINK: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);

/// Sends the data to `w` instead of stdout.
pub fn capture(w: Box<dyn Write + Send>) {
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
}

fn write(bytes: &[u8]) {
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let result = match sink.as_mut() {
        Some(w) => w.write_all(bytes).and_then(|()| w.flush()),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
    };
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// A line of a human table or report; silent under `-q`.
pub fn line(s: impl AsRef<str>) {
    if !crate::ui::quiet() {
        write(format!("{}\n", s.as_ref()).as_bytes());
    }
}

/// A value as pretty JSON, always.
pub fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    write(format!("{}\n", serde_json::to_string_pretty(v)?).as_bytes());
    Ok(())
}

/// Generated text or bytes (a Vagrantfile, a completion script), always, as they are.
pub fn raw(bytes: impl AsRef<[u8]>) {
    write(bytes.as_ref());
}

/// Styling for stdout: colour only when stdout is a terminal (and `NO_COLOR` is unset).
pub struct Styled;

impl Styled {
    fn paint(&self, s: &str, style: Style) -> String {
        let captured = SINK.lock().map(|s| s.is_some()).unwrap_or(false);
        if captured || !std::io::stdout().is_terminal() {
            return s.to_owned();
        }
        style.for_stdout().apply_to(s).to_string()
    }
    pub fn green(&self, s: &str) -> String {
        self.paint(s, Style::new().green())
    }
    pub fn red_bold(&self, s: &str) -> String {
        self.paint(s, Style::new().red().bold())
    }
    pub fn yellow_bold(&self, s: &str) -> String {
        self.paint(s, Style::new().yellow().bold())
    }
}
