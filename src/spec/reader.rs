//! Typed, located reads out of one parsed TOML table.
//!
//! Owns the "raw TOML → typed value" step: every read either yields the value with its byte
//! range, or records a diagnostic (wrong type, unknown key, missing key) and yields nothing, so
//! the caller keeps going and every problem of a file is reported in one pass.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

use super::suggest::did_you_mean;
use crate::diag::{Diagnostic, Diagnostics, LineIndex, Span};

/// One spec file: its path as the user gave it (joined to the folder), its text, and where
/// its lines start, indexed once for the thousands of spans a big spec points into it.
#[derive(Debug)]
pub(super) struct SourceFile {
    pub path: Arc<Path>,
    pub text: Arc<str>,
    lines: LineIndex,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: Arc<str>) -> SourceFile {
        let lines = LineIndex::new(&text);
        SourceFile {
            path: Arc::from(path),
            text,
            lines,
        }
    }

    pub fn span(&self, range: Range<usize>) -> Span {
        Span::with_lines(self.path.clone(), self.text.clone(), &self.lines, range)
    }
}

pub(super) type Key<'i> = Spanned<DeString<'i>>;
pub(super) type Item<'i> = Spanned<DeValue<'i>>;

/// A table's entries in the order they are written, so diagnostics come out in source order
/// whatever order the map keeps its keys in.
pub(super) fn entries_in_order<'a, 'i>(table: &'a DeTable<'i>) -> Vec<(&'a Key<'i>, &'a Item<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// "an integer", "a string": how a TOML type reads in a sentence.
pub(super) fn with_article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

/// One TOML table being read: a resource, the provider, a rule or the quotas.
pub(super) struct Table<'a, 'i> {
    pub file: &'a SourceFile,
    pub table: &'a DeTable<'i>,
    /// How messages name the table: `network.demo-net`, `[provider]`, `this rule`.
    pub what: String,
    /// Where the table starts; missing fields are reported here.
    pub header: Range<usize>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub fn span(&self, range: Range<usize>) -> Span {
        self.file.span(range)
    }

    pub fn header_span(&self) -> Span {
        self.span(self.header.clone())
    }

    /// Reports every key not in `allowed`, naming the allowed ones and the closest match.
    pub fn reject_unknown(&self, allowed: &[&str], diags: &mut Diagnostics) {
        for (key, _) in entries_in_order(self.table) {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let mut help = String::new();
            if let Some(close) = did_you_mean(name, allowed.iter().copied()) {
                help.push_str(&format!("did you mean `{close}`? "));
            }
            help.push_str(&format!("{} takes: {}", self.what, allowed.join(", ")));
            diags.push(
                Diagnostic::error(format!("unknown field `{name}` in {}", self.what))
                    .at(self.span(key.span()))
                    .help(help),
            );
        }
    }

    pub fn get(&self, key: &str) -> Option<(&'a Key<'i>, &'a Item<'i>)> {
        self.table.get_key_value(key)
    }

    fn wrong_type(&self, key: &str, item: &Item<'_>, expected: &str, diags: &mut Diagnostics) {
        diags.push(wrong_type(key, item, expected, self.file));
    }

    pub fn missing(&self, key: &str, example: &str, diags: &mut Diagnostics) {
        diags.push(
            Diagnostic::error(format!("missing required field `{key}` in {}", self.what))
                .at(self.header_span())
                .help(format!("add `{key} = {example}`")),
        );
    }

    pub fn string(&self, key: &str, diags: &mut Diagnostics) -> Option<Spanned<&'a str>> {
        let (_, item) = self.get(key)?;
        match item.get_ref() {
            DeValue::String(s) => Some(Spanned::new(item.span(), s.as_ref())),
            _ => {
                self.wrong_type(key, item, "a string", diags);
                None
            }
        }
    }

    pub fn bool(&self, key: &str, diags: &mut Diagnostics) -> Option<Spanned<bool>> {
        let (_, item) = self.get(key)?;
        match item.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(item.span(), *b)),
            _ => {
                self.wrong_type(key, item, "a boolean (true or false)", diags);
                None
            }
        }
    }

    pub fn integer(&self, key: &str, diags: &mut Diagnostics) -> Option<Spanned<i64>> {
        let (_, item) = self.get(key)?;
        let value = integer_value(key, item, self.file, diags)?;
        Some(Spanned::new(item.span(), value))
    }

    pub fn array(&self, key: &str, diags: &mut Diagnostics) -> Option<Spanned<&'a DeArray<'i>>> {
        self.array_of(key, "an array", diags)
    }

    /// An array whose entries are tables (rules): a wrong type's help then shows tables, not
    /// the value written inside brackets.
    pub fn array_of_tables(
        &self,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Option<Spanned<&'a DeArray<'i>>> {
        self.array_of(key, "an array of tables", diags)
    }

    fn array_of(
        &self,
        key: &str,
        expected: &str,
        diags: &mut Diagnostics,
    ) -> Option<Spanned<&'a DeArray<'i>>> {
        let (_, item) = self.get(key)?;
        match item.get_ref() {
            DeValue::Array(a) => Some(Spanned::new(item.span(), a)),
            _ => {
                self.wrong_type(key, item, expected, diags);
                None
            }
        }
    }

    pub fn table(&self, key: &str, diags: &mut Diagnostics) -> Option<Spanned<&'a DeTable<'i>>> {
        let (_, item) = self.get(key)?;
        match item.get_ref() {
            DeValue::Table(t) => Some(Spanned::new(item.span(), t)),
            _ => {
                self.wrong_type(key, item, "a table", diags);
                None
            }
        }
    }

    /// An array of strings, each with its own range; a non-string element is reported and
    /// skipped.
    pub fn strings(&self, key: &str, diags: &mut Diagnostics) -> Option<Vec<Spanned<&'a str>>> {
        let array = self.array(key, diags)?;
        let mut out = Vec::new();
        for element in array.get_ref().iter() {
            match element.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(element.span(), s.as_ref())),
                other => diags.push(
                    Diagnostic::error(format!(
                        "`{key}` must be an array of strings, found {} in it",
                        with_article(other.type_str())
                    ))
                    .at(self.span(element.span()))
                    .help(format!(
                        "write each entry in double quotes: `{key} = [\"a\", \"b\"]`"
                    )),
                ),
            }
        }
        Some(out)
    }
}

/// A TOML integer as i64, reporting wrong types and values beyond i64.
pub(super) fn integer_value(
    key: &str,
    item: &Item<'_>,
    file: &SourceFile,
    diags: &mut Diagnostics,
) -> Option<i64> {
    match item.get_ref() {
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => Some(v),
            Err(_) => {
                diags.push(
                    Diagnostic::error(format!("`{key}` is too large"))
                        .at(file.span(item.span()))
                        .help("the largest number accepted is 9223372036854775807"),
                );
                None
            }
        },
        _ => {
            diags.push(wrong_type(key, item, "an integer", file));
            None
        }
    }
}

/// "`mtu` must be an integer, found string", with a help that fixes the common slips:
/// a number or boolean in quotes, a single string where a list is expected.
pub(super) fn wrong_type(
    key: &str,
    item: &Item<'_>,
    expected: &str,
    file: &SourceFile,
) -> Diagnostic {
    let found = item.get_ref();
    let written = file.text.get(item.span()).unwrap_or_default();
    let help = match (expected, found) {
        ("an integer", DeValue::String(s)) if s.trim().parse::<i64>().is_ok() => {
            format!("remove the quotes: `{key} = {}`", s.trim())
        }
        (e, DeValue::String(s))
            if e.starts_with("a boolean") && matches!(s.as_ref(), "true" | "false") =>
        {
            format!("remove the quotes: `{key} = {s}`")
        }
        ("an array", DeValue::String(_)) => format!("write a list: `{key} = [{written}]`"),
        ("a string", DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_)) => {
            format!("put the value in double quotes: `{key} = \"{written}\"`")
        }
        ("an integer", _) => "write a whole number, without quotes".to_string(),
        ("a string", _) => "write text in double quotes".to_string(),
        ("an array", _) => format!("write a list in brackets: `{key} = [...]`"),
        ("an array of tables", _) => format!("write a list of tables: `{key} = [ {{ ... }} ]`"),
        ("a table", _) => format!("write a table: `{key} = {{ ... }}`"),
        _ => "write `true` or `false`, without quotes".to_string(),
    };
    Diagnostic::error(format!(
        "`{key}` must be {expected}, found {}",
        found.type_str()
    ))
    .at(file.span(item.span()))
    .help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new(PathBuf::from("t.toml"), Arc::from(text))
    }

    #[test]
    fn reads_typed_values_with_their_ranges() {
        let f = file("a = \"x\"\nb = 0x10\nc = true\nd = [\"p\", \"q\"]\n");
        let parsed = DeTable::parse(&f.text).unwrap();
        let t = Table {
            file: &f,
            table: parsed.get_ref(),
            what: "t".into(),
            header: 0..0,
        };
        let mut diags = Diagnostics::default();
        let a = t.string("a", &mut diags).unwrap();
        assert_eq!((*a.get_ref(), a.span()), ("x", 4..7));
        assert_eq!(*t.integer("b", &mut diags).unwrap().get_ref(), 16);
        assert!(*t.bool("c", &mut diags).unwrap().get_ref());
        let d: Vec<_> = t
            .strings("d", &mut diags)
            .unwrap()
            .into_iter()
            .map(|s| (*s.get_ref(), s.span()))
            .collect();
        assert_eq!(d, vec![("p", 31..34), ("q", 36..39)]);
        assert_eq!(diags, Diagnostics::default());
    }

    #[test]
    fn wrong_types_are_reported_at_the_value() {
        let f = file("mtu = \"big\"\n");
        let parsed = DeTable::parse(&f.text).unwrap();
        let t = Table {
            file: &f,
            table: parsed.get_ref(),
            what: "network.n".into(),
            header: 0..0,
        };
        let mut diags = Diagnostics::default();
        assert_eq!(t.integer("mtu", &mut diags), None);
        assert_eq!(diags.0.len(), 1);
        assert_eq!(diags.0[0].message, "`mtu` must be an integer, found string");
        assert_eq!(
            diags.0[0].span.as_ref().map(|s| s.range.clone()),
            Some(6..11)
        );
    }

    #[test]
    fn non_strings_in_a_string_array_are_reported_one_by_one() {
        let f = file("subnets = [\"a\", 5, \"b\"]\nbig = 9223372036854775808\n");
        let parsed = DeTable::parse(&f.text).unwrap();
        let t = Table {
            file: &f,
            table: parsed.get_ref(),
            what: "router.r".into(),
            header: 0..0,
        };
        let mut diags = Diagnostics::default();
        let names: Vec<&str> = t
            .strings("subnets", &mut diags)
            .unwrap_or_default()
            .into_iter()
            .map(|s| *s.get_ref())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(t.integer("big", &mut diags), None);
        let rendered: Vec<String> = diags
            .iter()
            .map(|d| {
                format!(
                    "{} @ {:?}",
                    d.message,
                    d.span.as_ref().map(|s| s.to_string())
                )
            })
            .collect();
        assert_eq!(
            rendered,
            [
                "`subnets` must be an array of strings, found an integer in it @ Some(\"t.toml:1:17\")",
                "`big` is too large @ Some(\"t.toml:2:7\")",
            ]
        );
    }

    #[test]
    fn articles_follow_the_sound() {
        assert_eq!(with_article("integer"), "an integer");
        assert_eq!(with_article("array"), "an array");
        assert_eq!(with_article("string"), "a string");
    }
}
