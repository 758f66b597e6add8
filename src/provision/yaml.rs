//! The two YAML files tmpl hands to `ansible-playbook`: the inventory and the project's values.
//!
//! Ansible templates every string it is given: a `.env` value such as
//! `{{ lookup('pipe', 'rm -rf ~') }}` would run on the host if it reached a playbook as plain
//! text. Every string here is therefore tagged `!unsafe`, which Ansible's YAML loader turns
//! into text it never templates (JSON has no way to carry that mark, so the files are YAML).
//! Strings are written as double-quoted scalars with everything outside printable ASCII
//! escaped, so no value can end its scalar early, start a new key or be rejected by the YAML
//! reader (which refuses raw control characters).

use std::fmt::Write as _;

/// `s` as a double-quoted YAML scalar that contains only printable ASCII.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        let n = c as u32;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ if n <= 0xff => {
                let _ = write!(out, "\\x{n:02x}");
            }
            _ if n <= 0xffff => {
                let _ = write!(out, "\\u{n:04x}");
            }
            _ => {
                let _ = write!(out, "\\U{n:08x}");
            }
        }
    }
    out.push('"');
    out
}

/// `s` as a scalar Ansible keeps as text: never templated, never evaluated.
pub fn unsafe_str(s: &str) -> String {
    format!("!unsafe {}", quote(s))
}

/// A YAML mapping written line by line, with its values already rendered.
#[derive(Default)]
pub struct Map {
    text: String,
}

impl Map {
    /// `key: value` at `indent` levels (two spaces each).
    pub fn entry(&mut self, indent: usize, key: &str, value: &str) -> &mut Map {
        let _ = writeln!(self.text, "{}{}: {value}", "  ".repeat(indent), quote(key));
        self
    }
    /// `key:` opening a nested mapping.
    pub fn open(&mut self, indent: usize, key: &str) -> &mut Map {
        let _ = writeln!(self.text, "{}{}:", "  ".repeat(indent), quote(key));
        self
    }
    pub fn finish(&self, header: &str) -> String {
        format!("{header}{}", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_only_printable_ascii() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("tab\there\n"), r#""tab\x09here\x0a""#);
        assert_eq!(quote("café 😀"), r#""caf\xe9 \U0001f600""#);
        assert_eq!(quote("\u{2028}"), r#""\u2028""#);
        assert_eq!(
            unsafe_str("{{ lookup('pipe', 'id') }}"),
            r#"!unsafe "{{ lookup('pipe', 'id') }}""#
        );
        for s in ["x\ny: 1", "\"\n- evil", "\u{7f}\u{85}\u{feff}"] {
            assert!(quote(s).chars().all(|c| (' '..='~').contains(&c)), "{s:?}");
        }
    }

    #[test]
    fn maps_nest_by_indent() {
        let mut m = Map::default();
        m.open(0, "all").entry(1, "k", "\"v\"");
        assert_eq!(m.finish("# h\n"), "# h\n\"all\":\n  \"k\": \"v\"\n");
    }
}
