//! Where each editable site item sits in a config file's text, so an edit can replace the
//! few items it changes and copy the rest of the file as it is (linear, and no whole-file
//! `toml_edit` document; see [`super::splice`]).
//!
//! The text is cut into consecutive segments at every table header. A header's segment
//! starts with the blank and comment lines above it (as `toml_edit` keeps them with the
//! table), and a `[[subnet]]` segment holds its `[[subnet.reservation]]` and other child
//! tables. Segments of `[[record]]`, `[[list]]` and `[[subnet]]` tables carry their record
//! key; all others (`[node]`, `[dns]`, `[[group]]`...) are copied untouched.
//!
//! Headers are found with the TOML lexer and parser events of `toml_parser` (the parser
//! under `toml`), so a `[` inside a string or an array is never taken for a header.

use std::collections::HashSet;

use toml::Table;
use toml_parser::parser::{EventReceiver, parse_document};
use toml_parser::{ErrorSink, ParseError, Raw, Source, Span};

use super::{key, name, record_id, tables};

/// The kinds of items a [`Layout`] locates: each is a top-level array of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Record,
    List,
    Subnet,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Record, Kind::List, Kind::Subnet];

    pub(crate) fn section(self) -> &'static str {
        match self {
            Kind::Record => "record",
            Kind::List => "list",
            Kind::Subnet => "subnet",
        }
    }

    fn of(section: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.section() == section)
    }
}

/// One piece of the text: it ends at `end` and starts where the previous one ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub end: usize,
    /// The item the segment holds, with its record key (`record/...`, `list/...`,
    /// `subnet/...`); `None` for text that is copied as it is.
    pub item: Option<(Kind, String)>,
}

/// The segments of a text, in order; they cover all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub(crate) segments: Vec<Segment>,
}

/// A table header as the scan met it.
struct Header {
    /// Where its segment starts: after the last line with content before it.
    start: usize,
    path: Vec<String>,
    array: bool,
}

impl Layout {
    /// The layout of `text`, whose parsed form is `table`. `None` when the file has a shape
    /// the splicer does not handle (an item written inline, a child table away from its
    /// subnet, an item twice): the caller then rewrites the whole document instead.
    pub(crate) fn scan(text: &str, table: &Table) -> Option<Layout> {
        let (headers, trailing) = headers(text)?;
        // Each top-level header ends the segment before it; its own segment is the next one.
        let mut segments: Vec<Segment> = Vec::with_capacity(headers.len() + 2);
        let mut found: Vec<(Kind, usize)> = Vec::new();
        // The kind of the item whose segment is open, for its child tables.
        let mut open: Option<Kind> = None;
        for h in headers {
            let kind = h.path.first().and_then(|s| Kind::of(s));
            match (kind, h.path.len(), h.array) {
                // A child table of the subnet just opened stays in its segment.
                (Some(Kind::Subnet), 2.., _) if open == Some(Kind::Subnet) => continue,
                (Some(_), 2.., _) | (Some(_), _, false) => return None,
                _ => {}
            }
            segments.push(Segment { end: h.start, item: None });
            open = kind;
            if let Some(k) = kind {
                found.push((k, segments.len()));
            }
        }
        segments.push(Segment { end: trailing, item: None });
        segments.push(Segment { end: text.len(), item: None });
        let mut seen = HashSet::new();
        for kind in Kind::ALL {
            let items = tables(table, kind.section()).ok()?;
            let at: Vec<usize> = found.iter().filter(|(k, _)| *k == kind).map(|(_, i)| *i).collect();
            if items.len() != at.len() {
                return None;
            }
            for (t, i) in items.into_iter().zip(at) {
                let id = match kind {
                    Kind::Record => record_id(t).ok()?,
                    Kind::List => name(t, "list").ok()?,
                    Kind::Subnet => name(t, "subnet").ok()?,
                };
                let k = key(kind.section(), &id);
                if !seen.insert(k.clone()) {
                    return None;
                }
                segments[i].item = Some((kind, k));
            }
        }
        Some(Layout { segments })
    }

    /// The segments with their start offsets.
    pub(crate) fn spans(&self) -> impl Iterator<Item = (std::ops::Range<usize>, &Segment)> {
        let mut start = 0;
        self.segments.iter().map(move |s| {
            let r = start..s.end;
            start = s.end;
            (r, s)
        })
    }
}

/// Every table header of `text` with the start of its segment, and where the trailing
/// blank and comment lines begin. `None` if the text does not parse.
fn headers(text: &str) -> Option<(Vec<Header>, usize)> {
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut scan = Scan { text, headers: Vec::new(), content: false, content_end: 0, header: None };
    let mut errors: Vec<ParseError> = Vec::new();
    parse_document(&tokens, &mut scan, &mut errors);
    if !errors.is_empty() || scan.header.is_some() {
        return None;
    }
    // A last line without a newline still belongs to the item above it.
    let trailing = if scan.content { text.len() } else { scan.content_end };
    Some((scan.headers, trailing))
}

/// Parser events → headers. A line "has content" when it holds anything but whitespace and
/// a comment; the blank and comment lines right above a header go with the header.
struct Scan<'t> {
    text: &'t str,
    headers: Vec<Header>,
    /// The current line has content.
    content: bool,
    /// The end of the last line with content (after its newline).
    content_end: usize,
    /// The header being read.
    header: Option<Header>,
}

impl Scan<'_> {
    fn open(&mut self, array: bool) {
        self.header = Some(Header { start: self.content_end, path: Vec::new(), array });
        self.content = true;
    }

    fn close(&mut self) {
        self.content = true;
        if let Some(h) = self.header.take() {
            self.headers.push(h);
        }
    }
}

impl EventReceiver for Scan<'_> {
    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.open(false);
    }
    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.close();
    }
    fn array_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.open(true);
    }
    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.close();
    }
    fn simple_key(&mut self, span: Span, kind: Option<toml_parser::decoder::Encoding>, error: &mut dyn ErrorSink) {
        self.content = true;
        if let Some(h) = &mut self.header {
            let mut k = String::new();
            Raw::new_unchecked(&self.text[span.start()..span.end()], kind, span).decode_key(&mut k, error);
            h.path.push(k);
        }
    }
    fn whitespace(&mut self, _span: Span, _error: &mut dyn ErrorSink) {}
    fn comment(&mut self, _span: Span, _error: &mut dyn ErrorSink) {}
    fn newline(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        if self.content {
            self.content_end = span.end();
            self.content = false;
        }
    }
    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.content = true;
        true
    }
    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.content = true;
        true
    }
    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
    fn key_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
    fn scalar(&mut self, _span: Span, _kind: Option<toml_parser::decoder::Encoding>, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
    fn value_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
    fn error(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.content = true;
    }
}
