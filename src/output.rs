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

/// A value as pretty JSON, always. Keys come in alphabetical order whatever a struct's field
/// order (a `serde_json::Value` keeps them sorted), as tmpl has always printed them: output
/// that scripts compare or diff stays the same.
pub fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let sorted = serde_json::to_value(v)?;
    write(format!("{}\n", serde_json::to_string_pretty(&sorted)?).as_bytes());
    Ok(())
}

/// Generated text or bytes (a Vagrantfile, a completion script), always, as they are.
pub fn raw(bytes: impl AsRef<[u8]>) {
    write(bytes.as_ref());
}

/// A human table: columns as wide as their widest cell, two spaces apart, no borders, and
/// nothing but the text (no colour, no terminal width), so it reads the same in a pipe.
pub struct Table {
    inner: comfy_table::Table,
    right: Vec<usize>,
}

impl Table {
    /// A table with these column titles; none for a list without a header.
    pub fn new(header: &[&str]) -> Table {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING);
        if !header.is_empty() {
            t.set_header(header.to_vec());
        }
        Table {
            inner: t,
            right: Vec::new(),
        }
    }

    /// Numbers are set flush right in these columns.
    pub fn right(mut self, columns: &[usize]) -> Table {
        self.right = columns.to_vec();
        self
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Table {
        self.inner
            .add_row(cells.into_iter().map(Into::into).collect::<Vec<String>>());
        self
    }

    /// The lines, one a row (a cell never wraps), without trailing blanks.
    pub fn lines(&mut self) -> Vec<String> {
        for (i, c) in self.inner.column_iter_mut().enumerate() {
            c.set_padding((0, 2));
            if self.right.contains(&i) {
                c.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        self.inner
            .lines()
            .map(|l| l.trim_end().to_owned())
            .collect()
    }

    /// Prints it through `line`: silent under `-q`.
    pub fn print(mut self) {
        for l in self.lines() {
            line(l);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn a_table_is_plain_aligned_text() {
        let mut t = Table::new(&["NAME", "COUNT", "WHERE"]).right(&[1]);
        t.row(["a", "7", "/x"]).row(["longer-name", "12", "-"]);
        assert_eq!(
            t.lines(),
            [
                "NAME         COUNT  WHERE",
                "a                7  /x",
                "longer-name     12  -",
            ]
        );
        let mut bare = Table::new(&[]);
        bare.row(["VM", "x"]);
        assert_eq!(bare.lines(), ["VM  x"]);
    }
}
