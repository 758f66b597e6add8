//! Reading a project's `.env` into ordered entries that remember their line.
//!
//! `dotenv_syntax` parses the syntax (quotes, `export`, comments, escapes, `$VAR`) but does not
//! say where an entry came from, and it stops at the first bad line. Errors must name
//! `.env:LINE` and report every problem at once, so this module:
//! - normalises the text first (UTF-8 BOM, CRLF), because a file saved on Windows is common and
//!   dotenvy would keep the `\r` in values;
//! - blanks a line that fails to parse and parses again, collecting each bad line;
//! - finds each entry's line by scanning for its key in the text.
//!
//! Only this file is read: never a parent's `.env`, and nothing goes into the process
//! environment. Nothing comes out of it either unless granted: a `$VAR` the file does not set
//! itself takes tmpl's environment only where `Grants` allow that key that variable (the
//! approval records them, see `trust`); otherwise it expands to nothing, and the entry says
//! what it asked for.

use super::dotenv_syntax::{self, Env};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One `KEY=value` assignment, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// 1-based line of the assignment.
    pub line: usize,
    /// The assignment as written (trimmed), for messages.
    pub raw: String,
    /// The variables the value asked of tmpl's environment (not set on an earlier line), each
    /// with whether the grants let it take it.
    pub from_env: Vec<(String, bool)>,
}

/// Which variables of tmpl's environment a `.env` may take, key by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grants {
    /// These, and no others (none: nothing from the environment).
    Only(BTreeMap<String, BTreeSet<String>>),
    /// Whatever the file asks: only to show a person what approving would mean.
    All,
}

impl Grants {
    pub fn none() -> Grants {
        Grants::Only(BTreeMap::new())
    }

    fn allows(&self, key: &str, var: &str) -> bool {
        match self {
            Grants::All => true,
            Grants::Only(m) => m.get(key).is_some_and(|vars| vars.contains(var)),
        }
    }
}

/// A line dotenvy could not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct EnvFile {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    pub bad_lines: Vec<BadLine>,
    /// The text as read (normalised), to read it again with other grants, never the file.
    pub text: String,
}

impl EnvFile {
    /// The last assignment of `key` (dotenv semantics: the last one wins).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    /// Reads the file, taking nothing from the environment (see `granting`).
    pub fn read(path: &Path) -> std::io::Result<EnvFile> {
        let bytes = std::fs::read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(Self::parse(path, &text))
    }

    /// Reads `dir/.env` without leaving `dir`: a `.env` the guest replaced with a link to a
    /// host file (`~/.aws/credentials`) would hand that file's lines to the approval as
    /// settings, and their values to the guest. A link that stays inside the folder is
    /// followed (the kernel checks it at the open, `RESOLVE_BENEATH`); anything but a regular
    /// file is refused before it is opened for reading (a fifo blocks, a device acts).
    pub fn read_in(dir: &Path) -> std::io::Result<EnvFile> {
        use rustix::fs::{openat, openat2, FileType, Mode, OFlags, ResolveFlags, CWD};
        use std::io::Read as _;
        use std::os::fd::AsRawFd as _;
        let top = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let fd = openat2(
            &top,
            ".env",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )?;
        let st = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(std::io::Error::other("`.env` is not a regular file"));
        }
        // the same inode, opened for reading through the kernel's link to it
        let f = openat(
            CWD,
            format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )?;
        let mut bytes = Vec::new();
        std::fs::File::from(f)
            .take(1 << 20)
            .read_to_end(&mut bytes)?;
        Ok(Self::parse(
            &dir.join(".env"),
            &String::from_utf8_lossy(&bytes),
        ))
    }

    /// Parses `text`, taking nothing from the environment.
    pub fn parse(path: &Path, text: &str) -> EnvFile {
        Self::parse_with(path, text, &|_, _| None)
    }

    /// The same text read again, its `$VAR`s taking from tmpl's environment what `grants`
    /// allow.
    pub fn granting(&self, grants: &Grants) -> EnvFile {
        let env = |key: &str, var: &str| {
            if grants.allows(key, var) {
                std::env::var(var).ok()
            } else {
                None
            }
        };
        Self::parse_with(&self.path, &self.text, &env)
    }

    /// Every key's variables it asks of the environment, granted or not.
    pub fn asked(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in self.entries.iter().filter(|e| !e.from_env.is_empty()) {
            let vars = out.entry(e.key.clone()).or_default();
            vars.extend(e.from_env.iter().map(|(v, _)| v.clone()));
        }
        out
    }

    pub fn parse_with(path: &Path, text: &str, env: Env) -> EnvFile {
        let text = normalise(text);
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let mut bad_lines = Vec::new();
        // Each round either succeeds or blanks one more line, so this ends.
        let pairs = loop {
            match dotenv_syntax::parse_all(&lines.join("\n"), env) {
                Ok(pairs) => break pairs,
                Err(bad) => {
                    let idx = find_bad_line(&lines, &bad);
                    match idx {
                        Some(i) => {
                            bad_lines.push(BadLine {
                                line: i + 1,
                                text: lines[i].trim().to_owned(),
                            });
                            lines[i] = String::new();
                        }
                        // dotenvy reported something we cannot place (an unterminated quote
                        // spanning to the end): blame the first line that opens one.
                        None => {
                            let i = first_unbalanced_quote(&lines).unwrap_or(0);
                            bad_lines.push(BadLine {
                                line: i + 1,
                                text: lines[i].trim().to_owned(),
                            });
                            for l in lines.iter_mut().skip(i) {
                                l.clear();
                            }
                        }
                    }
                }
            }
        };
        bad_lines.sort_by_key(|b| b.line);
        let entries = locate(&lines, pairs);
        EnvFile {
            path: path.to_owned(),
            entries,
            bad_lines,
            text,
        }
    }
}

fn normalise(text: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
}

fn find_bad_line(lines: &[String], bad: &str) -> Option<usize> {
    let first = bad.lines().next().unwrap_or(bad).trim();
    if first.is_empty() {
        return None;
    }
    lines
        .iter()
        .position(|l| !l.trim().is_empty() && l.trim() == first)
        .or_else(|| lines.iter().position(|l| l.contains(first)))
}

fn first_unbalanced_quote(lines: &[String]) -> Option<usize> {
    lines.iter().position(|l| {
        let v = l.split_once('=').map(|x| x.1).unwrap_or("");
        let v = v.trim_start();
        (v.starts_with('"') && v.matches('"').count() % 2 == 1)
            || (v.starts_with('\'') && v.matches('\'').count() % 2 == 1)
    })
}

/// The key an assignment line starts with, if any: `[export ]KEY=` .
pub fn line_key(line: &str) -> Option<&str> {
    let l = line.trim_start();
    if l.starts_with('#') {
        return None;
    }
    let l = l.strip_prefix("export ").map(str::trim_start).unwrap_or(l);
    let (k, _) = l.split_once('=')?;
    let k = k.trim_end();
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then_some(k)
}

fn locate(lines: &[String], pairs: Vec<dotenv_syntax::Parsed>) -> Vec<Entry> {
    let mut cursor = 0;
    pairs
        .into_iter()
        .map(
            |dotenv_syntax::Parsed {
                 key,
                 value,
                 from_env,
             }| {
                // Entries come in file order, so search forward from the previous one; a value
                // spanning lines never starts with `KEY=` of the next entry.
                let found =
                    (cursor..lines.len()).find(|&i| line_key(&lines[i]) == Some(key.as_str()));
                let i = found.unwrap_or(cursor.min(lines.len().saturating_sub(1)));
                cursor = i + 1;
                Entry {
                    raw: lines
                        .get(i)
                        .map(|l| l.trim().to_owned())
                        .unwrap_or_default(),
                    key,
                    value,
                    line: i + 1,
                    from_env,
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> EnvFile {
        EnvFile::parse(Path::new(".env"), text)
    }

    #[test]
    fn keeps_line_numbers_through_comments_and_blanks() {
        let f = parse("# comment\n\nINFRA_TYPE=vm\nexport MEMORY=2048\n");
        assert_eq!(f.get("INFRA_TYPE").unwrap().line, 3);
        assert_eq!(f.get("MEMORY").unwrap().line, 4);
        assert_eq!(f.get("MEMORY").unwrap().value, "2048");
    }

    #[test]
    fn accepts_bom_crlf_and_quotes() {
        let f = parse("\u{feff}INFRA_TYPE=vm\r\nIMAGE=\"a b\"\r\nNAME='x'\r\n");
        assert_eq!(f.get("INFRA_TYPE").unwrap().value, "vm");
        assert_eq!(f.get("IMAGE").unwrap().value, "a b");
        assert_eq!(f.get("NAME").unwrap().value, "x");
        assert!(f.bad_lines.is_empty());
    }

    #[test]
    fn inline_comments_are_not_values() {
        let f = parse("CPUS=2 # two cores\n");
        assert_eq!(f.get("CPUS").unwrap().value, "2");
    }

    #[test]
    fn reports_every_bad_line_and_keeps_the_rest() {
        let f = parse("INFRA_TYPE=vm\nthis is not an assignment\nCPUS=2\nalso bad\nDISK=10\n");
        let lines: Vec<usize> = f.bad_lines.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![2, 4]);
        assert_eq!(f.get("DISK").unwrap().line, 5);
        assert_eq!(f.get("CPUS").unwrap().value, "2");
    }

    #[test]
    fn last_assignment_wins_and_both_are_kept() {
        let f = parse("CPUS=1\nCPUS=4\n");
        assert_eq!(f.get("CPUS").unwrap().value, "4");
        assert_eq!(f.get("CPUS").unwrap().line, 2);
        assert_eq!(f.entries.len(), 2);
    }

    #[test]
    fn single_quotes_are_literal() {
        let f = parse("IMAGE='$HOME/x'\n");
        assert_eq!(f.get("IMAGE").unwrap().value, "$HOME/x");
    }

    #[test]
    fn the_environment_gives_only_what_is_granted() {
        std::env::set_var("TMPL_DOTENV_TEST_VAR", "secret");
        let f = parse("A=x${TMPL_DOTENV_TEST_VAR}\nB=$TMPL_DOTENV_TEST_VAR\n");
        assert_eq!(f.get("A").unwrap().value, "x");
        let asked = vec![("TMPL_DOTENV_TEST_VAR".to_owned(), false)];
        assert_eq!(f.get("A").unwrap().from_env, asked);
        let only_a = BTreeMap::from([(
            "A".to_owned(),
            BTreeSet::from(["TMPL_DOTENV_TEST_VAR".to_owned()]),
        )]);
        let g = f.granting(&Grants::Only(only_a));
        assert_eq!(g.get("A").unwrap().value, "xsecret");
        assert_eq!(g.get("B").unwrap().value, "", "granted to A, not to B");
        assert_eq!(f.granting(&Grants::All).get("B").unwrap().value, "secret");
        assert_eq!(f.asked().len(), 2);
    }

    #[test]
    fn a_env_that_leads_out_of_its_folder_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("app");
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(d.path().join("credentials"), "aws_secret=host\n").unwrap();
        std::os::unix::fs::symlink("../credentials", dir.join(".env")).unwrap();
        assert!(EnvFile::read_in(&dir).is_err());
        std::fs::remove_file(dir.join(".env")).unwrap();
        std::fs::write(dir.join("conf/env"), "CPUS=2\n").unwrap();
        std::os::unix::fs::symlink("conf/env", dir.join(".env")).unwrap();
        assert_eq!(
            EnvFile::read_in(&dir).unwrap().get("CPUS").unwrap().value,
            "2"
        );
    }
}
