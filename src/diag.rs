//! Diagnostics: what went wrong, where (file:line:col), and what to do about it.
//!
//! Owns the diagnostic type and its rendering. Knows nothing of the domain: the spec loader,
//! the planner and the CLI create diagnostics; this module only carries and prints them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a spec file. `line` and `col` are 1-based; `range` is a byte range into `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Shared by every span into the file: a big spec has tens of thousands of spans.
    pub file: Arc<Path>,
    pub line: usize,
    pub col: usize,
    pub range: std::ops::Range<usize>,
    /// The whole file, shared by every span into it, so a diagnostic can show the line.
    pub source: Arc<str>,
}

impl Span {
    /// Builds a span from a byte range, computing line and column. Indexes the whole source:
    /// when many spans point into one file, build its [`LineIndex`] once and use
    /// [`Span::with_lines`].
    pub fn new(file: impl AsRef<Path>, source: Arc<str>, range: std::ops::Range<usize>) -> Span {
        let lines = LineIndex::new(&source);
        Span::with_lines(Arc::from(file.as_ref()), source, &lines, range)
    }

    /// Builds a span from a byte range, locating it with `lines`, the index of `source`.
    pub fn with_lines(
        file: Arc<Path>,
        source: Arc<str>,
        lines: &LineIndex,
        range: std::ops::Range<usize>,
    ) -> Span {
        let (line, col) = lines.line_col(&source, range.start);
        Span {
            file,
            line,
            col,
            range,
            source,
        }
    }
}

/// Where each line of a text starts. Built once per file, it turns locating a span into a
/// binary search: counting newlines from the file's start for every span made loading a spec
/// quadratic in its size (1.4 s for 2,800 resources).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineIndex {
    /// Byte offset of the first byte of every line; the first line starts at 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        #[cfg(test)]
        index_meter::count(text.len());
        let newlines = text.bytes().enumerate().filter(|(_, b)| *b == b'\n');
        let starts = std::iter::once(0)
            .chain(newlines.map(|(at, _)| at + 1))
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line and column of byte offset `at` in `text`, the text this index was
    /// built from. Columns count characters, not bytes (a `é` is one column); a `\r` before
    /// the newline belongs to its line, so CRLF files number lines as LF files do. Offsets
    /// past the end are located at the end.
    pub fn line_col(&self, text: &str, at: usize) -> (usize, usize) {
        let at = at.min(text.len());
        // The number of lines starting at or before `at` is the 1-based line of `at`.
        let line = self.starts.partition_point(|&start| start <= at).max(1);
        let line_start = self.starts.get(line - 1).copied().unwrap_or(0).min(at);
        // Characters are counted by their first byte, so an offset inside a multi-byte
        // character (never produced by the TOML parser) still gets a column, not a panic.
        let chars = text.as_bytes()[line_start..at]
            .iter()
            .filter(|&&b| !is_utf8_continuation(b))
            .count();
        (line, chars + 1)
    }
}

fn is_utf8_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

impl fmt::Display for Span {
    /// `file:line:col`, the form editors and terminals turn into links.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// What the user can do about it.
    pub help: Option<String>,
    pub span: Option<Span>,
    /// Further places that explain the problem (e.g. the first definition of a duplicate).
    pub notes: Vec<(String, Span)>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            help: None,
            span: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, message: impl Into<String>, span: Span) -> Diagnostic {
        self.notes.push((message.into(), span));
        self
    }
}

/// Every problem found in one pass; loading collects them all rather than stopping at the first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl Diagnostics {
    /// Renders every diagnostic like rustc and cargo do: `error: message`, `--> file:line:col`,
    /// the source line with the span underlined, then notes and `= help:`. ANSI colours only
    /// when `color` is set, so the plain form is stable enough for snapshot tests.
    pub fn render(&self, color: bool) -> String {
        let blocks: Vec<String> = self.0.iter().map(|d| d.render(color)).collect();
        blocks.join("\n")
    }
}

impl Diagnostic {
    /// One diagnostic, rendered as [`Diagnostics::render`] does.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut main = Group::with_title(level.primary_title(self.message.as_str()));
        // Notes in the primary span's file become labels on the same snippet (one excerpt, as
        // rustc does); notes in other files get their own `note:` block after it.
        let mut elsewhere = Vec::new();
        match &self.span {
            Some(span) => {
                let mut snippet = Snippet::source(&*span.source)
                    .path(path_text(span))
                    .annotation(AnnotationKind::Primary.span(clamp(span)));
                for (note, at) in &self.notes {
                    if at.file == span.file && at.source == span.source {
                        snippet = snippet.annotation(
                            AnnotationKind::Context.span(clamp(at)).label(note.as_str()),
                        );
                    } else {
                        elsewhere.push((note, at));
                    }
                }
                main = main.element(snippet);
            }
            None => elsewhere.extend(self.notes.iter().map(|(n, at)| (n, at))),
        }
        if let Some(help) = &self.help {
            main = main.element(Level::HELP.message(help.as_str()));
        }
        let mut report = vec![main];
        for (note, at) in elsewhere {
            report.push(
                Group::with_title(Level::NOTE.secondary_title(note.as_str())).element(
                    Snippet::source(&*at.source)
                        .path(path_text(at))
                        .annotation(AnnotationKind::Context.span(clamp(at))),
                ),
            );
        }
        let mut out = renderer.render(&report);
        out.push('\n');
        out
    }
}

fn path_text(span: &Span) -> String {
    span.file.display().to_string()
}

/// A span the renderer can always draw: inside the source, and at least one character wide
/// where the source allows (an empty span at the end of a file still gets a caret).
fn clamp(span: &Span) -> std::ops::Range<usize> {
    let len = span.source.len();
    let start = span.range.start.min(len);
    let end = span.range.end.clamp(start, len);
    start..end
}

impl std::error::Error for Diagnostics {}

impl fmt::Display for Diagnostics {
    /// Plain rendering (no colour), one block per diagnostic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Counts the bytes [`LineIndex`]es scan, per thread: how tests see that a spec's text is
/// indexed once, not once per span.
#[cfg(test)]
pub(crate) mod index_meter {
    thread_local! {
        static INDEXED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    pub(crate) fn count(bytes: usize) {
        INDEXED.with(|n| n.set(n.get() + bytes));
    }

    /// Bytes indexed by this thread so far.
    pub(crate) fn indexed_bytes() -> usize {
        INDEXED.with(|n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Arc<str> {
        Arc::from("[network.a]\ntenant = \"demo\"\nmtu = \"big\"\n")
    }

    fn at(text: &str, offset: usize) -> (usize, usize) {
        LineIndex::new(text).line_col(text, offset)
    }

    #[test]
    fn line_index_locates_first_and_last_lines() {
        let text = "ab\ncd\nef";
        assert_eq!(at(text, 0), (1, 1));
        assert_eq!(at(text, 1), (1, 2));
        assert_eq!(at(text, 2), (1, 3), "the newline itself ends line 1");
        assert_eq!(at(text, 3), (2, 1));
        assert_eq!(at(text, 6), (3, 1));
        assert_eq!(
            at(text, 8),
            (3, 3),
            "the end of a last line without newline"
        );
        assert_eq!(at(text, 99), (3, 3), "past the end is the end");
        assert_eq!(at("a\n", 2), (2, 1), "the end after a final newline");
        assert_eq!(at("", 0), (1, 1));
        assert_eq!(at("\n\n", 1), (2, 1));
    }

    #[test]
    fn line_index_numbers_crlf_lines_as_lf_ones() {
        let text = "a = 1\r\nbb = 2\r\n";
        assert_eq!(at(text, 5), (1, 6), "the \\r is the end of line 1");
        assert_eq!(at(text, 7), (2, 1));
        assert_eq!(at(text, 12), (2, 6));
    }

    #[test]
    fn line_index_counts_columns_in_characters() {
        let text = "# café ☕\nname = \"é\" # x";
        let cup = text.find('☕').unwrap();
        assert_eq!(at(text, cup), (1, 8));
        let x = text.find('x').unwrap();
        assert_eq!(at(text, x), (2, 14));
        // Inside a multi-byte character: its column, no panic.
        assert_eq!(at(text, cup + 1), (1, 9));
    }

    #[test]
    fn line_index_agrees_with_counting_from_the_start() {
        let text = "[a]\r\nx = \"ü€𝄞\"\n\n  y = 2\nlast";
        let lines = LineIndex::new(text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let col = text[line_start..offset].chars().count() + 1;
            assert_eq!(lines.line_col(text, offset), (line, col), "offset {offset}");
        }
    }

    #[test]
    fn spans_know_their_line_and_column() {
        let span = Span::new("specs/a.toml", source(), 34..39);
        assert_eq!(span.to_string(), "specs/a.toml:3:7");
    }

    #[test]
    fn renders_like_rustc_with_caret_notes_and_help() {
        let d = Diagnostic::error("`mtu` must be an integer, found string")
            .at(Span::new("specs/a.toml", source(), 34..39))
            .note(
                "network.a starts here",
                Span::new("specs/a.toml", source(), 0..11),
            )
            .help("write a whole number, without quotes");
        let expected = "\
error: `mtu` must be an integer, found string
 --> specs/a.toml:3:7
  |
1 | [network.a]
  | ----------- network.a starts here
2 | tenant = \"demo\"
3 | mtu = \"big\"
  |       ^^^^^
  |
  = help: write a whole number, without quotes
";
        assert_eq!(d.to_string(), expected);
    }

    #[test]
    fn notes_in_other_files_get_their_own_block() {
        let other: Arc<str> = Arc::from("[network.a]\n");
        let d = Diagnostic::error("network.a is defined twice")
            .at(Span::new("specs/b.toml", source(), 1..10))
            .note(
                "first defined here",
                Span::new("specs/a.toml", other, 1..10),
            );
        let expected = "\
error: network.a is defined twice
 --> specs/b.toml:1:2
  |
1 | [network.a]
  |  ^^^^^^^^^
  |
note: first defined here
 --> specs/a.toml:1:2
  |
1 | [network.a]
  |  ---------
";
        assert_eq!(d.to_string(), expected);
    }

    #[test]
    fn diagnostics_without_a_place_still_show_their_help() {
        let d = Diagnostic::warning("spec folder `x` is empty").help("add a .toml file");
        assert_eq!(
            d.to_string(),
            "warning: spec folder `x` is empty\n |\n = help: add a .toml file\n"
        );
    }

    #[test]
    fn several_diagnostics_are_separated_by_a_blank_line() {
        let all = Diagnostics(vec![Diagnostic::error("one"), Diagnostic::error("two")]);
        assert_eq!(all.to_string(), "error: one\n\nerror: two\n");
        assert!(!all.render(false).contains('\u{1b}'));
        assert!(all.render(true).contains('\u{1b}'));
    }

    #[test]
    fn spans_past_the_end_are_clamped() {
        let d = Diagnostic::error("unexpected end of file").at(Span::new(
            "specs/a.toml",
            Arc::from("a = "),
            4..9,
        ));
        assert_eq!(
            d.to_string(),
            "error: unexpected end of file\n --> specs/a.toml:1:5\n  |\n1 | a = \n  |     ^\n"
        );
    }
}
