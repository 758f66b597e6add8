//! Text that tmpl did not write itself, on its way to the terminal or into a file: what a
//! guest prints (provisioning, container logs, Vagrant relaying the guest), folder names, URLs.
//!
//! The guest is not trusted, and neither is anything it can name. A terminal obeys escape
//! sequences: a line from the guest could retitle the window, rewrite what was printed above
//! it, or (OSC 52) put text into the person's clipboard. Colour is kept, everything else goes.
//! A newline in a folder name must not start a new line in a config file tmpl writes, and a
//! password in a URL must not reach an argument list or a message.

/// `s` with every terminal control removed except colour (SGR: `ESC [ digits;... m`) and tab.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    let mut seq = String::new();
                    let mut fin = None;
                    for d in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            fin = Some(d);
                            break;
                        }
                        seq.push(d);
                    }
                    let colour =
                        fin == Some('m') && seq.chars().all(|d| d.is_ascii_digit() || d == ';');
                    if colour {
                        out.push_str("\u{1b}[");
                        out.push_str(&seq);
                        out.push('m');
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (`ESC \`)
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' || d == '\u{9c}' {
                            break;
                        }
                        if d == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // any other escape is two characters (or three for a charset choice)
                Some('(' | ')' | '*' | '+' | '#' | '%') => {
                    chars.next();
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` with control characters shown as `?`: safe inside one line of a file tmpl writes.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A URL with its credentials (`user:password@`) replaced by `***@`, for messages.
pub fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_owned();
    };
    let rest = &s[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..scheme_end + 3], &rest[at..]),
        None => s.to_owned(),
    }
}

/// The URL without its credentials, and the credentials (`user:password`), percent-decoded
/// as curl's `--user` wants them.
pub fn split_credentials(url: &str) -> (String, Option<String>) {
    let redacted = redact_url(url);
    if redacted == url {
        return (url.to_owned(), None);
    }
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@').unwrap_or(0);
    let bare = format!("{}{}", &url[..scheme_end], &rest[at + 1..]);
    (bare, Some(percent_decode(&rest[..at])))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_stays_and_every_other_control_goes() {
        let red = "\u{1b}[31mred\u{1b}[0m";
        assert_eq!(terminal_safe(red), red);
        assert_eq!(
            terminal_safe("a\u{1b}]0;pwned title\u{7}b"),
            "ab",
            "window title"
        );
        assert_eq!(
            terminal_safe("x\u{1b}]52;c;Y3VybCBldmlsfHNo\u{1b}\\y"),
            "xy",
            "clipboard write"
        );
        assert_eq!(terminal_safe("\u{1b}[2J\u{1b}[Hclear"), "clear");
        assert_eq!(
            terminal_safe("\u{1b}[1A\u{1b}[Kover"),
            "over",
            "rewriting lines above"
        );
        assert_eq!(
            terminal_safe("bell\u{7} back\u{8}space\r"),
            "bell backspace"
        );
        assert_eq!(terminal_safe("c1 \u{9b}31m csi"), "c1 31m csi");
        assert_eq!(terminal_safe("tab\tkept"), "tab\tkept");
        assert_eq!(terminal_safe("\u{1b}(Bcharset"), "charset");
        assert_eq!(terminal_safe("ünïcödé ✓"), "ünïcödé ✓");
    }

    #[test]
    fn one_line_means_one_line() {
        assert_eq!(one_line("a\nMatch exec \"x\"\rb"), "a?Match exec \"x\"?b");
    }

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redact_url("https://me:s3cret@example.org/a@b/x.qcow2"),
            "https://***@example.org/a@b/x.qcow2"
        );
        assert_eq!(
            redact_url("https://example.org/x.qcow2"),
            "https://example.org/x.qcow2"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        let (bare, user) = split_credentials("https://me:s%40cret@example.org/x.qcow2");
        assert_eq!(bare, "https://example.org/x.qcow2");
        assert_eq!(user.as_deref(), Some("me:s@cret"));
        assert_eq!(split_credentials("http://h/x").1, None);
    }
}
