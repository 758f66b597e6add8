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

/// `s` as a person should read it in an approval: every character shown as itself except
/// those that would act on the terminal or hide from the eye, which are written out as an
/// escape. Unlike `terminal_safe` (the guest's output, where colour is welcome) nothing is
/// kept: a colour code from a folder can conceal the lines after it, a newline can forge a
/// line of the list, and a bidi override (U+202E) makes the eye read text in another order
/// than the bytes run. `\n`, `\r`, `\t` and `\0` by name, other C0 controls and DEL as
/// `\xNN`, C1 controls and invisible format characters as `\u{NNNN}`.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_visible(&mut out, c);
    }
    out
}

/// Bytes as `visible` shows text; a byte that is not UTF-8 is written `\xNN`.
pub fn visible_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_visible(&mut out, c);
        }
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() || invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Characters that draw nothing yet change what is read: Unicode's format characters (Cf:
/// bidi embeddings, overrides and isolates, zero-width spaces and joiners, the byte-order
/// mark, tags), the line and paragraph separators, variation selectors and fillers that
/// render as blanks. The tags and selectors can carry a whole hidden text.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00ad | 0x034f | 0x0600..=0x0605 | 0x061c | 0x06dd | 0x070f | 0x0890..=0x0891
        | 0x08e2 | 0x115f..=0x1160 | 0x17b4..=0x17b5 | 0x180b..=0x180f | 0x200b..=0x200f
        | 0x2028..=0x202e | 0x2060..=0x206f | 0x3164 | 0xfe00..=0xfe0f | 0xfeff | 0xffa0
        | 0xfff0..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0000..=0xe0fff)
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
    fn visible_escapes_what_acts_or_hides_and_keeps_the_rest() {
        assert_eq!(visible("\u{1b}[8mgone"), "\\x1b[8mgone");
        assert_eq!(visible("a\r\nb\tc\0"), "a\\r\\nb\\tc\\0");
        assert_eq!(visible("del\u{7f} csi\u{9b}"), "del\\x7f csi\\u{9b}");
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(visible("zw\u{200b}j\u{2066}"), "zw\\u{200b}j\\u{2066}");
        assert_eq!(visible("tag\u{e0041}"), "tag\\u{e0041}");
        assert_eq!(visible("ünïcödé ✓ \\x"), "ünïcödé ✓ \\x");
        assert_eq!(visible_bytes(b"ok\xff\xc3(\x1b"), "ok\\xff\\xc3(\\x1b");
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            assert!(!visible(&c.to_string()).contains(c), "{c:?}");
        }
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
