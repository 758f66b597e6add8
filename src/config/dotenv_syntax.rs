//! The dotenv syntax, as dotenvy 0.15 reads it, with one difference that is the reason this
//! file exists: where a `$VAR` takes its value.
//!
//! dotenvy looks every `$VAR` up in the process environment first, and only then in the lines
//! above; it has no way to say otherwise. A `.env` the guest can write would then copy any
//! variable of the person's (a token, a password) into a value that tmpl hands the guest.
//! Here a `$VAR` takes the value of an earlier line of the same file, and only a variable the
//! file does not set is asked of tmpl's environment, through the caller's `env(key, var)`,
//! which answers only what the approval granted. Each value records what it asked.
//!
//! Everything else follows dotenvy 0.15.7 (MIT), so files read the same: logical lines that
//! continue inside quotes, `export`, comments, `\` escapes, the same errors. Where dotenvy
//! surprised, this reads as a shell would: an unbraced `$NAME` is letters, digits and `_`
//! (dotenvy stopped at `_`, so `$SOME_TOKEN` was `$SOME` then `_TOKEN`), the character after
//! it is read as itself (dotenvy copied a closing `"` into the value), and a `$` with no name
//! after it stays a `$` (dotenvy dropped it).

use std::collections::HashMap;

/// One assignment: its key, its value, and the variables it asked of tmpl's environment
/// (name, and whether the environment gave it).
pub struct Parsed {
    pub key: String,
    pub value: String,
    pub from_env: Vec<(String, bool)>,
}

/// What the environment gives a key for a variable (`None`: nothing, it expands to "").
pub type Env<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// Every assignment of `text`, or the text of the first line that does not parse (as
/// dotenvy's `LineParse` carries it).
pub fn parse_all(text: &str, env: Env) -> Result<Vec<Parsed>, String> {
    let mut set: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for line in logical_lines(text) {
        let line = line?;
        if let Some(p) = parse_line(&line, &set, env)? {
            set.insert(p.key.clone(), p.value.clone());
            out.push(p);
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum State {
    Complete,
    Escape,
    StrongOpen,
    StrongOpenEscape,
    WeakOpen,
    WeakOpenEscape,
    Comment,
    WhiteSpace,
}

/// Where a chunk of text leaves the quoting, and where a comment starts in it.
fn end_state(prev: State, buf: &str) -> (usize, State) {
    let mut state = prev;
    let mut at = 0;
    for (pos, c) in buf.char_indices() {
        at = pos;
        state = match state {
            State::WhiteSpace => match c {
                '#' => return (at, State::Comment),
                '\\' => State::Escape,
                '"' => State::WeakOpen,
                '\'' => State::StrongOpen,
                _ => State::Complete,
            },
            State::Escape => State::Complete,
            State::Complete => match c {
                c if c.is_whitespace() && c != '\n' && c != '\r' => State::WhiteSpace,
                '\\' => State::Escape,
                '"' => State::WeakOpen,
                '\'' => State::StrongOpen,
                _ => State::Complete,
            },
            State::WeakOpen => match c {
                '\\' => State::WeakOpenEscape,
                '"' => State::Complete,
                _ => State::WeakOpen,
            },
            State::WeakOpenEscape => State::WeakOpen,
            State::StrongOpen => match c {
                '\\' => State::StrongOpenEscape,
                '\'' => State::Complete,
                _ => State::StrongOpen,
            },
            State::StrongOpenEscape => State::StrongOpen,
            State::Comment => unreachable!("returned when it started"),
        };
    }
    (at, state)
}

/// The text's lines, a line inside an open quote joined with the next.
fn logical_lines(text: &str) -> impl Iterator<Item = Result<String, String>> + '_ {
    let mut lines = text.split_inclusive('\n');
    std::iter::from_fn(move || {
        let mut buf = String::new();
        let mut state = State::Complete;
        loop {
            let start = buf.len();
            let Some(line) = lines.next() else {
                return match state {
                    State::Complete => None,
                    _ => Some(Err(buf)),
                };
            };
            buf.push_str(line);
            if buf.trim_start().starts_with('#') {
                return Some(Ok(String::new()));
            }
            let (at, next) = end_state(state, &buf[start..]);
            state = next;
            match state {
                State::Complete => {
                    if buf.ends_with('\n') {
                        buf.pop();
                        if buf.ends_with('\r') {
                            buf.pop();
                        }
                    }
                    return Some(Ok(buf));
                }
                State::Comment => {
                    buf.truncate(start + at);
                    return Some(Ok(buf));
                }
                _ => {}
            }
        }
    })
}

fn parse_line(
    original: &str,
    set: &HashMap<String, String>,
    env: Env,
) -> Result<Option<Parsed>, String> {
    let bad = || original.to_owned();
    let mut line = original.trim_end().trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut key = take_key(&mut line).ok_or_else(bad)?;
    line = line.trim_start();
    if key == "export" {
        // `export` is a prefix, or a key of its own
        if let Some(rest) = line.strip_prefix('=') {
            line = rest;
        } else {
            key = take_key(&mut line).ok_or_else(bad)?;
            line = line.trim_start().strip_prefix('=').ok_or_else(bad)?;
        }
    } else {
        line = line.strip_prefix('=').ok_or_else(bad)?;
    }
    line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Some(Parsed {
            key,
            value: String::new(),
            from_env: Vec::new(),
        }));
    }
    let mut from_env = Vec::new();
    let value = parse_value(line, &mut |name: &str, out: &mut String| {
        if name.is_empty() {
            return;
        }
        if let Some(v) = set.get(name) {
            out.push_str(v);
            return;
        }
        let got = env(&key, name);
        if !from_env.iter().any(|(n, _)| n == name) {
            from_env.push((name.to_owned(), got.is_some()));
        }
        out.push_str(&got.unwrap_or_default());
    })?;
    Ok(Some(Parsed {
        key,
        value,
        from_env,
    }))
}

fn take_key(line: &mut &str) -> Option<String> {
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let key = line[..end].to_owned();
    *line = &line[end..];
    Some(key)
}

#[derive(PartialEq, Eq)]
enum Sub {
    None,
    Block,
    Braced,
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A value after `=`: quotes, escapes, `$VAR` through `substitute(name, out)`.
fn parse_value(
    input: &str,
    substitute: &mut dyn FnMut(&str, &mut String),
) -> Result<String, String> {
    let mut strong = false;
    let mut weak = false;
    let mut escaped = false;
    let mut expecting_end = false;
    let mut out = String::new();
    let mut sub = Sub::None;
    let mut name = String::new();
    for c in input.chars() {
        match sub {
            Sub::Braced => {
                if c == '}' {
                    sub = Sub::None;
                    substitute(&std::mem::take(&mut name), &mut out);
                } else {
                    name.push(c);
                }
                continue;
            }
            Sub::Block if name_char(c) => {
                name.push(c);
                continue;
            }
            Sub::Block if c == '{' && name.is_empty() => {
                sub = Sub::Braced;
                continue;
            }
            // the name ended: the character that ended it is read as itself (dotenvy
            // copied it, so `"$HOME"` never closed its quote)
            Sub::Block => {
                sub = Sub::None;
                end_name(&mut name, &mut out, substitute);
            }
            Sub::None => {}
        }
        if expecting_end {
            // `k=v #comment` is a comment; `k=v w` is an error
            if c == ' ' || c == '\t' {
                continue;
            } else if c == '#' {
                break;
            }
            return Err(input.to_owned());
        } else if escaped {
            match c {
                '\\' | '\'' | '"' | '$' | ' ' => out.push(c),
                'n' => out.push('\n'),
                _ => return Err(input.to_owned()),
            }
            escaped = false;
        } else if strong {
            if c == '\'' {
                strong = false;
            } else {
                out.push(c);
            }
        } else if c == '$' {
            sub = Sub::Block;
        } else if weak {
            if c == '"' {
                weak = false;
            } else if c == '\\' {
                escaped = true;
            } else {
                out.push(c);
            }
        } else if c == '\'' {
            strong = true;
        } else if c == '"' {
            weak = true;
        } else if c == '\\' {
            escaped = true;
        } else if c == ' ' || c == '\t' {
            expecting_end = true;
        } else {
            out.push(c);
        }
    }
    if sub == Sub::Braced || strong || weak {
        return Err(input.to_owned());
    }
    if sub == Sub::Block {
        end_name(&mut name, &mut out, substitute);
    }
    Ok(out)
}

/// An unbraced `$NAME` ended; a `$` with no name after it is a `$` (dotenvy dropped it).
fn end_name(name: &mut String, out: &mut String, substitute: &mut dyn FnMut(&str, &mut String)) {
    if name.is_empty() {
        out.push('$');
    } else {
        substitute(&std::mem::take(name), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<(String, String)> {
        let env = |_: &str, v: &str| (v == "FROM_ENV").then(|| "env".to_owned());
        parse_all(text, &env)
            .unwrap()
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect()
    }

    #[test]
    fn reads_what_dotenvy_reads() {
        let text = "KEY=1\nKEY2=\"2\"\nKEY3='3'\nKEY4='fo ur'\nKEY5=\"fi ve\"\nKEY6=s\\ ix\nKEY7=\nKEY8=     \nKEY9=   # foo\nKEY10  =\"whitespace before =\"\nKEY11=    \"whitespace after =\"\nexport=\"export as key\"\nexport   SHELL_LOVER=1\nML=\"a\nb\"\nC=v # comment\n";
        let want = [
            ("KEY", "1"),
            ("KEY2", "2"),
            ("KEY3", "3"),
            ("KEY4", "fo ur"),
            ("KEY5", "fi ve"),
            ("KEY6", "s ix"),
            ("KEY7", ""),
            ("KEY8", ""),
            ("KEY9", ""),
            ("KEY10", "whitespace before ="),
            ("KEY11", "whitespace after ="),
            ("export", "export as key"),
            ("SHELL_LOVER", "1"),
            ("ML", "a\nb"),
            ("C", "v"),
        ];
        let got = parse(text);
        assert_eq!(
            got,
            want.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        for bad in [
            "not an assignment\n",
            "K=\"open\n",
            "K=a b\n",
            "K=${X\n",
            "K=\\q\n",
        ] {
            assert!(parse_all(bad, &|_, _| None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_variable_comes_from_the_file_first_and_the_environment_asks() {
        let env = |k: &str, v: &str| (k == "B" && v == "FROM_ENV").then(|| "env".to_owned());
        let p = parse_all(
            "FROM_ENV=file\nA=$FROM_ENV\nB=${OTHER}x$FROM_ENV\nC='$FROM_ENV'\nD=\\$X\n",
            &env,
        )
        .unwrap();
        assert_eq!(
            p[1].value, "file",
            "an earlier line wins over the environment"
        );
        assert!(p[1].from_env.is_empty());
        assert_eq!(p[2].value, "xfile");
        assert_eq!(p[2].from_env, [("OTHER".to_owned(), false)]);
        assert_eq!(p[3].value, "$FROM_ENV");
        assert_eq!(p[4].value, "$X");
        let p = parse_all("B=\"$FROM_ENV\"/$SOME_TOKEN'.'5$\n", &env).unwrap();
        assert_eq!(p[0].value, "env/.5$");
        assert_eq!(
            p[0].from_env,
            [
                ("FROM_ENV".to_owned(), true),
                ("SOME_TOKEN".to_owned(), false)
            ]
        );
    }
}
