//! One escaping layer per output format, for every string that came from
//! the input under review (object and container names, paths, suppression
//! reasons, messages, the render programs' error text).
//!
//! The repository under review is hostile (docs/security.md): its strings
//! must not become HTML, links, mentions, issue references, GitLab quick
//! actions, kpsa's own `<!-- kpsa:` markers, terminal escape sequences or
//! GitHub workflow commands in anything kpsa prints or posts.

use std::borrow::Cow;

/// Whether `c` is removed from every text output: C0 controls except tab
/// and newline, DEL, C1 controls (ESC and CR among them), and the
/// bidirectional controls that can reorder what a reviewer sees
/// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C).
pub fn is_removed_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `s` without the characters of [`is_removed_control`].
pub fn strip_controls(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_removed_control) {
        Cow::Owned(s.chars().filter(|c| !is_removed_control(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// A line that a CI system would read as a command: GitHub's workflow
/// commands (`::error …::`, `::add-mask::`, `::stop-commands::`) and Azure
/// Pipelines' logging commands (`##[…]`, `##vso[…]`), after leading blanks.
fn is_command_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("::") || t.starts_with("##[") || t.starts_with("##vso[")
}

/// Text for a terminal or a CI log: controls removed and command lines
/// neutralised by a leading `\` (the line still reads the same to a person).
pub fn log(s: &str) -> Cow<'_, str> {
    let clean = strip_controls(s);
    if !clean.lines().any(is_command_line) {
        return clean;
    }
    let mut out = String::with_capacity(clean.len() + 8);
    for (i, line) in clean.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if is_command_line(line) {
            out.push('\\');
        }
        out.push_str(line);
    }
    Cow::Owned(out)
}

/// Like [`log`], for a text report that may hold kpsa's own colour codes
/// (`ESC [ digits m`): those survive, every other control goes.
pub fn log_keeping_colour(s: &str) -> String {
    // U+E000 stands for kpsa's ESC below: none may come from the input.
    let s: String = s.chars().filter(|c| *c != '\u{E000}').collect();
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let sgr_len = after.strip_prefix('[').and_then(|a| {
            let n = a.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            (n <= 8 && a[n..].starts_with('m')).then_some(n + 2)
        });
        match sgr_len {
            Some(n) => {
                out.push('\u{E000}');
                out.push_str(&after[1..n]);
                rest = &after[n..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    log(&out).replace('\u{E000}', "\x1b[")
}

/// Zero-width space: put after a character that would start a mention or
/// reference, so that none forms, while the text reads the same.
const ZWSP: &str = "&#8203;";

/// Markdown (GitHub- and GitLab-flavoured) for one value from the input,
/// safe wherever a template puts it: in text, in a table cell, between
/// `<code>` tags, at the start of a line. `multiline` keeps newlines (for a
/// `<pre>` block); otherwise they become spaces, so a value never starts a
/// line of its own.
///
/// - HTML and Markdown punctuation become character references, so no tag,
///   comment (`<!--`), link, image, code span, table cell or emphasis can
///   form; inside `<code>` they still read as the characters.
/// - `@`, `#`, `!`, `~`, `%`, `$` and `&` are followed by a zero-width
///   space: no mention (`@org/team`), issue or merge-request reference
///   (`#12`, `!12`), label or milestone reference forms.
/// - `://` and `www.` are broken the same way: no autolink.
/// - A `/` that starts a line is a character reference: no GitLab quick
///   action (`/approve`).
/// - Control characters are removed ([`is_removed_control`]).
pub fn markdown(s: &str, multiline: bool) -> String {
    let s = strip_controls(s);
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    let mut line_start = true;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = |k: usize| chars.get(i + k).copied();
        match c {
            '\n' if multiline => {
                out.push('\n');
                line_start = true;
                continue;
            }
            '\n' | '\t' => out.push(' '),
            '&' => {
                out.push_str("&amp;");
                if next(1).is_some_and(|n| n.is_alphanumeric()) {
                    out.push_str(ZWSP);
                }
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '|' => out.push_str("&#124;"),
            '\\' => out.push_str("&#92;"),
            '@' | '#' | '!' | '~' | '%' | '$' => {
                out.push(c);
                // A reference needs a name or number right after it.
                if next(1).is_some_and(|n| n.is_alphanumeric() || n == '"' || n == '_') {
                    out.push_str(ZWSP);
                }
            }
            ':' if next(1) == Some('/') && next(2) == Some('/') => {
                out.push(':');
                out.push_str(ZWSP);
            }
            'w' | 'W' if starts_www(&chars, i) => {
                out.push(c);
                out.push_str(ZWSP);
            }
            '/' | '-' | '+' | '=' | '.' if line_start => {
                out.push_str(&format!("&#{};", c as u32));
            }
            ' ' if line_start && multiline => out.push_str("&#32;"),
            c => out.push(c),
        }
        line_start = false;
    }
    out
}

/// Whether `www.` starts at `i`, not inside a word.
fn starts_www(chars: &[char], i: usize) -> bool {
    let word_before = i > 0 && chars[i - 1].is_alphanumeric();
    let lower: String = chars[i..]
        .iter()
        .take(4)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    !word_before && lower == "www."
}

/// XML text or attribute content: controls removed (XML 1.0 forbids most of
/// them anyway), command lines neutralised, `& < > " '` as references.
pub fn xml(s: &str) -> String {
    let clean = log(s);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_removed() {
        assert_eq!(
            strip_controls("a\x1b[2Jb\r\u{202E}c\u{85}d\te\n"),
            "a[2Jbcd\te\n"
        );
    }

    #[test]
    fn workflow_commands_are_neutralised() {
        assert_eq!(
            log("ok\n  ::add-mask::x\n##[error]y"),
            "ok\n\\  ::add-mask::x\n\\##[error]y"
        );
        assert_eq!(log("a :: b"), "a :: b");
    }

    #[test]
    fn colour_codes_survive_and_nothing_else() {
        let s = "\x1b[1;31merror\x1b[0m: \x1b]0;title\x07x\u{E000}[31my";
        assert_eq!(
            log_keeping_colour(s),
            "\x1b[1;31merror\x1b[0m: ]0;titlex[31my"
        );
    }

    #[test]
    fn markdown_values_cannot_form_markup() {
        let m = markdown(
            "@org/team #12 !3 <!-- kpsa:summary --> `x` [a](javascript:alert(1)) https://e.com www.e.com",
            false,
        );
        for bad in ["@org", "#12", "!3", "<!--", "`", "](", "https://", "www."] {
            assert!(!m.contains(bad), "{bad} in {m}");
        }
        assert_eq!(markdown("/approve", false), "&#47;approve");
        assert_eq!(markdown("a\n/approve", false), "a /approve");
        assert_eq!(markdown("a\n/approve", true), "a\n&#47;approve");
        assert_eq!(markdown("plain-name.v2", false), "plain-name.v2");
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml("<a b=\"c\">&\u{1b}"), "&lt;a b=&quot;c&quot;&gt;&amp;");
    }
}
