//! Messages to the user: everything here goes to stderr (stdout is for data). Colour only on a
//! terminal and never when `NO_COLOR` is set; `--quiet` silences progress but not warnings or
//! errors.

use console::Style;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static QUIET: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn init(quiet: bool, verbose: bool) {
    START.get_or_init(Instant::now);
    QUIET.store(quiet, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
static TTY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// `[  42s] ` on a terminal, so a long `up` shows it is alive and how long it has taken;
/// nothing when stderr is a file or a pipe (logs stay plain and diffable).
pub fn elapsed_prefix() -> String {
    let tty = *TTY.get_or_init(|| std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if !tty {
        return String::new();
    }
    let secs = START.get_or_init(Instant::now).elapsed().as_secs();
    Ui.dim(&format!("[{secs:>4}s] "))
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Styling for stderr.
pub struct Ui;

impl Ui {
    pub fn stderr() -> Ui {
        Ui
    }
    fn paint(&self, s: &str, style: Style) -> String {
        style.for_stderr().apply_to(s).to_string()
    }
    pub fn red_bold(&self, s: &str) -> String {
        self.paint(s, Style::new().red().bold())
    }
    pub fn yellow_bold(&self, s: &str) -> String {
        self.paint(s, Style::new().yellow().bold())
    }
    pub fn cyan_bold(&self, s: &str) -> String {
        self.paint(s, Style::new().cyan().bold())
    }
    pub fn green(&self, s: &str) -> String {
        self.paint(s, Style::new().green())
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(s, Style::new().bold())
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(s, Style::new().dim())
    }
}

/// Can tmpl ask the person a question: are both stdin and stderr a terminal?
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question [y/N]` on the terminal; anything but yes (or no terminal) is no.
pub fn confirm(question: &str) -> bool {
    if !interactive() {
        return false;
    }
    let term = console::Term::stderr();
    term.write_str(&format!("{question} [y/N] "))
        .and_then(|_| term.read_line())
        .map(|a| matches!(a.trim(), "y" | "Y" | "yes" | "Yes"))
        .unwrap_or(false)
}

pub fn warn(msg: impl AsRef<str>) {
    eprintln!("{} {}", Ui.yellow_bold("warning:"), msg.as_ref());
}

pub fn info(msg: impl AsRef<str>) {
    if !quiet() {
        eprintln!("{}", msg.as_ref());
    }
}

/// Text that must reach the person even under `-q` (an error report, what they are asked to
/// approve), written as it is: the caller ends its lines.
pub fn raw(text: impl AsRef<str>) {
    eprint!("{}", text.as_ref());
}

/// A line that must reach the person even under `-q`.
pub fn raw_line(line: impl AsRef<str>) {
    eprintln!("{}", line.as_ref());
}

/// `+ vagrant up`, dimmed, for `--verbose`: the command tmpl is about to run.
pub fn command(display: impl AsRef<str>) {
    if verbose() {
        eprintln!("{}", Ui.dim(&format!("+ {}", display.as_ref())));
    }
}

/// A line a child printed, indented under the step that runs it.
pub fn child_line(line: impl AsRef<str>) {
    if !quiet() {
        clear_progress();
        eprintln!("{}    {}", elapsed_prefix(), line.as_ref());
    }
}

/// Whether a progress state is painted on the line now, to be cleared before the next line.
static PAINTED: AtomicBool = AtomicBool::new(false);

/// A state of a child's progress bar, painted over the last one on a terminal. Elsewhere
/// nothing: a log keeps only the final state, which comes as a line of its own.
pub fn progress(text: impl AsRef<str>) {
    let term = console::Term::stderr();
    if quiet() || !term.is_term() {
        return;
    }
    if term.clear_line().is_ok() && term.write_str(&format!("    {}", text.as_ref())).is_ok() {
        PAINTED.store(true, Ordering::Relaxed);
    }
}

/// Wipes a painted progress state, so the next line starts clean.
pub fn clear_progress() {
    if PAINTED.swap(false, Ordering::Relaxed) {
        let _ = console::Term::stderr().clear_line();
    }
}

/// A step of a long operation: `==> creating ... (12.3s)` when it ends. On a terminal the
/// start line is shown too, so a user sees what tmpl is waiting for.
pub struct Step {
    label: String,
    start: Instant,
}

impl Step {
    pub fn start(label: impl Into<String>) -> Step {
        let label = label.into();
        if !quiet() {
            eprintln!("{}{} {label}", elapsed_prefix(), Ui.cyan_bold("==>"));
        }
        Step {
            label,
            start: Instant::now(),
        }
    }
    pub fn elapsed(&self) -> std::time::Duration {
        self.start.elapsed()
    }
    pub fn done(self) -> std::time::Duration {
        let d = self.start.elapsed();
        if verbose() && !quiet() {
            eprintln!(
                "    {} {} ({:.1}s)",
                Ui.green("done"),
                self.label,
                d.as_secs_f64()
            );
        }
        d
    }
}
