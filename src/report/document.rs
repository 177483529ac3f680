//! A report as a list of titled sections (paragraphs, one table, notes), laid out as plain
//! text, Markdown or HTML. Reports, diffs and trends build their sections once, so the three
//! layouts can never say different things, and the table code exists once.

use super::table::Table;
use std::fmt::Write;

pub struct Section {
    pub title: String,
    pub paragraphs: Vec<String>,
    /// Lines after the table.
    pub notes: Vec<String>,
    pub headers: Vec<String>,
    /// Columns aligned right (numbers).
    pub right: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

impl Section {
    pub fn new(title: impl Into<String>) -> Self {
        Section {
            title: title.into(),
            paragraphs: Vec::new(),
            notes: Vec::new(),
            headers: Vec::new(),
            right: Vec::new(),
            rows: Vec::new(),
        }
    }

    pub fn table(mut self, headers: &[&str], right: &[bool]) -> Self {
        self.headers = headers.iter().map(|h| h.to_string()).collect();
        self.right = right.to_vec();
        self
    }
}

/// The section's table as aligned text; empty when it has none.
pub fn text_table(section: &Section) -> String {
    if section.headers.is_empty() {
        return String::new();
    }
    let headers: Vec<&str> = section.headers.iter().map(String::as_str).collect();
    let mut table = Table::new(&headers, &section.right);
    for row in &section.rows {
        table.row(row.iter().map(|c| terminal(c).into_owned()).collect());
    }
    table.render()
}

/// Sections as terminal text: every title, paragraph, cell and note through [`terminal`].
pub fn text(sections: &[Section]) -> String {
    let mut out = String::new();
    for section in sections {
        let title = terminal(&section.title);
        out.push_str(&title);
        out.push('\n');
        out.push_str(&"=".repeat(title.chars().count()));
        out.push('\n');
        for p in &section.paragraphs {
            out.push_str(&terminal(p));
            out.push('\n');
        }
        out.push_str(&text_table(section));
        for note in &section.notes {
            out.push_str(&terminal(note));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Characters that make a terminal do something rather than show something: C0 and C1 control
/// characters (escape sequences that clear the screen or paint a fake verdict, a newline that
/// forges a line), DEL, and the invisible bidirectional controls that reorder what is shown.
fn moves_the_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether a byte can begin a character that [`moves_the_terminal`], a newline apart: the
/// controls are single bytes below 0x20 and DEL, C1 controls are encoded from 0xC2, and the
/// bidirectional marks (U+200E-U+2069) from 0xE2. A filter, so that text without any of those
/// bytes is passed on without decoding it character by character. Inlined even in this crate
/// built for size: it runs once per byte of every report.
#[inline(always)]
fn may_start_a_mover(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\n') || byte == 0x7f || byte == 0xc2 || byte == 0xe2
}

/// Text for a terminal (the text format, messages on stderr): every character that
/// [`moves_the_terminal`] is shown as a Rust-style escape (`\u{1b}`), and a backslash as `\\`
/// so that an escape shown can always be told from the same characters typed.
pub fn terminal(text: &str) -> std::borrow::Cow<'_, str> {
    let plain = !text
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || may_start_a_mover(b));
    if plain || !text.chars().any(|c| c == '\\' || moves_the_terminal(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if moves_the_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Serialized JSON made terminal-safe (`cat report.json`): serde_json already writes C0
/// controls as `\u001b`; the other characters that [`moves_the_terminal`] (DEL, C1, the
/// bidirectional controls) are written as `\uXXXX` too. They can only occur inside strings
/// (JSON's own syntax is ASCII), and all are in the BMP, so the value read back is unchanged.
pub fn json_text(json: String) -> String {
    // Pretty JSON is mostly newlines and ASCII: a byte scan clears it without decoding (a
    // report of 2,000 processes was rebuilt character by character because of its newlines).
    if !json.bytes().any(may_start_a_mover) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if moves_the_terminal(c) && c != '\n' {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// A Markdown table cell or paragraph, shown as the literal text it is: terminal-safe (a
/// Markdown file is read with `cat` too), then every character Markdown or the HTML it allows
/// would act on backslash-escaped (`|` ends a cell, `<` opens markup, `[x](url)` and
/// `![](url)` link and fetch, `` ` `` and `*` format), and `@` followed by a zero-width space
/// so that `@all` in a process name notifies nobody on GitLab or GitHub.
pub fn markdown_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in terminal(text).chars() {
        match c {
            '\\' | '|' | '<' | '&' | '`' | '*' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

/// Sections as Markdown: the first title is the document's heading, the others are `##`.
pub fn markdown(sections: &[Section]) -> String {
    let mut out = String::new();
    for (index, section) in sections.iter().enumerate() {
        let level = if index == 0 { "#" } else { "##" };
        let _ = write!(out, "{level} {}\n\n", markdown_cell(&section.title));
        for p in &section.paragraphs {
            out.push_str(&markdown_cell(p));
            out.push_str("\n\n");
        }
        if !section.headers.is_empty() {
            let cells = |row: &[String]| {
                let escaped: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
                format!("| {} |\n", escaped.join(" | "))
            };
            out.push_str(&cells(&section.headers));
            let rule: Vec<&str> = section
                .right
                .iter()
                .map(|&r| if r { "---:" } else { "---" })
                .collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
            for row in &section.rows {
                out.push_str(&cells(row));
            }
            out.push('\n');
        }
        for note in &section.notes {
            out.push_str(&markdown_cell(note));
            out.push_str("\n\n");
        }
    }
    out
}

/// Text for HTML element content and attribute values: process names and command lines can
/// hold anything, `<script>` included. Terminal-safe first, as the page is text too (`cat`,
/// `less`, a CI log).
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in terminal(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One section as HTML: `<h2>`, paragraphs, a table, notes. `figure` (inline SVG, already
/// escaped) goes between the paragraphs and the table.
pub fn html_section(section: &Section, figure: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<section>\n<h2>{}</h2>", html_escape(&section.title));
    for p in &section.paragraphs {
        let _ = writeln!(out, "<p>{}</p>", html_escape(p));
    }
    out.push_str(figure);
    if !section.headers.is_empty() {
        out.push_str("<table>\n<thead><tr>");
        for (i, h) in section.headers.iter().enumerate() {
            let _ = write!(out, "<th{}>{}</th>", align(section, i), html_escape(h));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &section.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let _ = write!(out, "<td{}>{}</td>", align(section, i), html_escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    for note in &section.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", html_escape(note));
    }
    out.push_str("</section>\n");
    out
}

fn align(section: &Section, column: usize) -> &'static str {
    if section.right.get(column).copied().unwrap_or(false) {
        " class=\"num\""
    } else {
        ""
    }
}

/// A whole self-contained page (inline style, no external asset, nothing fetched).
pub fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        html_escape(title)
    )
}

const STYLE: &str = "body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.2em; margin-top: 1.5em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
p.note { color: #555; font-size: 0.9em; }
.verdict { font-size: 1.2em; font-weight: bold; padding: 0.5em; }
.pass { background: #e3f6e3; color: #145214; }
.fail { background: #fbe3e3; color: #8a1010; }
.inconclusive { background: #fdf3d8; color: #7a5200; }
.banner { font-weight: bold; padding: 0.5em; background: #fdf3d8; color: #7a5200; border: 1px solid #e0c060; }
svg text { font-family: sans-serif; font-size: 12px; fill: #222; }
svg { max-width: 100%; height: auto; }
header .facts { color: #555; margin: 0.2em 0; }
figure { margin: 0.5em 0; }
@media print {
  @page { size: A4; margin: 12mm; }
  body { margin: 0; max-width: none; font-size: 8.5pt; }
  h1 { font-size: 14pt; margin: 0; }
  h2 { font-size: 11pt; margin-top: 0.8em; break-after: avoid; page-break-after: avoid; }
  p { margin: 0.3em 0; }
  th, td { padding: 0 6px; }
  tr, svg, figure, .verdict { break-inside: avoid; page-break-inside: avoid; }
  .verdict, svg, th { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_pipes_newlines_markup_and_mentions() {
        assert_eq!(markdown_cell("a|b\nc"), "a\\|b\\\\u{a}c");
        assert_eq!(
            markdown_cell("<script>@all ![x](http://h/)"),
            "\\<script>@\u{200b}all !\\[x\\](http://h/)"
        );
    }

    #[test]
    fn terminal_text_shows_escapes_instead_of_obeying_them() {
        assert_eq!(
            terminal("\u{1b}[2J\u{1b}[32mOK\n\u{9b}\u{202e}a\\b"),
            "\\u{1b}[2J\\u{1b}[32mOK\\u{a}\\u{9b}\\u{202e}a\\\\b"
        );
        assert!(matches!(terminal("plain ü"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_terminal_controls() {
        let value = serde_json::json!({"name": "a\u{9b}2J\u{202e}\u{7f}\u{1b}b"});
        let text = json_text(serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !text.chars().any(|c| moves_the_terminal(c) && c != '\n'),
            "{text}"
        );
        assert!(text.contains(r"a\u009b2J\u202e\u007f\u001bb"), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }

    #[test]
    fn the_byte_filter_lets_no_mover_through() {
        // Every character the precise test catches starts with a byte the filter catches.
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            if moves_the_terminal(c) && c != '\n' {
                let mut utf8 = [0; 4];
                let first = c.encode_utf8(&mut utf8).as_bytes()[0];
                assert!(may_start_a_mover(first), "{c:?}");
            }
        }
        let pretty = serde_json::to_string_pretty(&serde_json::json!({"a": [1, "b ü"]})).unwrap();
        assert_eq!(json_text(pretty.clone()), pretty);
    }

    #[test]
    fn html_escapes_markup() {
        assert_eq!(
            html_escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
