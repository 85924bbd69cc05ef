//! Where keys and values sit in the manifest text. serde_yaml reports no positions for values
//! it accepted, so this is a small, forgiving scanner of YAML's block style (`key: value`,
//! `- item`) and flow style (`{ a: b }`, `[a, b]`) that records spans only.
//!
//! It never fails and never panics: on text it does not understand it records less, and callers
//! fall back to the nearest enclosing place it did record. Values are always taken from
//! serde_yaml; this module only answers "where".

use crate::diagnostic::Span;

/// A node of the located tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LNode {
    /// The value's text (empty at the place it would start when the value is missing).
    pub span: Span,
    pub kind: LKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LKind {
    /// Entries in document order, duplicates kept.
    Map(Vec<LEntry>),
    Seq(Vec<LNode>),
    Scalar,
}

/// One `key: value` entry of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LEntry {
    /// The key as YAML reads it (quotes removed).
    pub key: String,
    pub key_span: Span,
    pub value: LNode,
}

/// The place of one key and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub key: Span,
    pub value: Span,
}

impl LNode {
    /// Entries if this node is a mapping.
    pub fn entries(&self) -> &[LEntry] {
        match &self.kind {
            LKind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The entry YAML loaders keep for `key`: the last one written.
    pub fn get(&self, key: &str) -> Option<&LEntry> {
        self.entries().iter().rev().find(|e| e.key == key)
    }

    /// The entry at `index` if it has this key (the usual case: the tree mirrors the document),
    /// else the entry kept for `key`.
    pub fn entry(&self, index: usize, key: &str) -> Option<&LEntry> {
        match self.entries().get(index) {
            Some(e) if e.key == key => Some(e),
            _ => self.get(key),
        }
    }
}

/// Scans `text` into a located tree (the first document only).
pub fn tree(text: &str) -> LNode {
    let mut scanner = Scanner {
        b: text.as_bytes(),
        s: text,
        pos: 0,
        depth: 0,
    };
    scanner.skip_blank();
    if scanner.pos >= scanner.b.len() {
        let end = scanner.b.len();
        return LNode {
            span: Span::new(end, end),
            kind: LKind::Scalar,
        };
    }
    scanner.block_node(-1)
}

/// The key and value spans of the entry at `path` (mapping keys from the document root).
pub fn find(text: &str, path: &[&str]) -> Option<Located> {
    find_in(&tree(text), path)
}

/// [`find`] over an already scanned tree.
pub fn find_in(root: &LNode, path: &[&str]) -> Option<Located> {
    let (last, parents) = path.split_last()?;
    let mut node = root;
    for key in parents {
        node = &node.get(key)?.value;
    }
    node.get(last).map(|e| Located {
        key: e.key_span,
        value: e.value.span,
    })
}

/// The best place to point at for `path`: its value if found, else the key of the deepest
/// enclosing entry that exists, else the start of the document.
pub fn value_span(root: &LNode, path: &[&str]) -> Span {
    if let Some(found) = find_in(root, path) {
        return found.value;
    }
    key_span(root, path)
}

/// Like [`value_span`] but prefers the key (for "this entry is wrong" messages).
pub fn key_span(root: &LNode, path: &[&str]) -> Span {
    for len in (1..=path.len()).rev() {
        if let Some(found) = find_in(root, &path[..len]) {
            return found.key;
        }
    }
    Span::new(root.span.start as usize, root.span.start as usize)
}

struct Scanner<'a> {
    b: &'a [u8],
    s: &'a str,
    pos: usize,
    depth: usize,
}

/// Deeper than serde_yaml's own recursion limit: text nested deeper never reaches the locator
/// from `parse`, and direct callers get a flat answer instead of a stack overflow.
const MAX_DEPTH: usize = 160;

fn is_eol(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

impl<'a> Scanner<'a> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.byte(self.pos)
    }

    /// Is `i` at a blank, a line end or the end of the text?
    fn blank_at(&self, i: usize) -> bool {
        self.byte(i).is_none_or(|c| is_space(c) || is_eol(c))
    }

    fn line_start(&self, pos: usize) -> usize {
        let pos = pos.min(self.b.len());
        self.b[..pos]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1)
    }

    fn col(&self, pos: usize) -> isize {
        (pos - self.line_start(pos)) as isize
    }

    /// Only spaces between the start of the line and `pos`.
    fn first_on_line(&self, pos: usize) -> bool {
        let start = self.line_start(pos);
        self.b[start..pos.min(self.b.len())]
            .iter()
            .all(|&c| c == b' ')
    }

    fn skip_inline_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn skip_to_eol(&mut self) {
        while self.peek().is_some_and(|c| !is_eol(c)) {
            self.pos += 1;
        }
    }

    fn at_comment(&self) -> bool {
        self.peek() == Some(b'#')
            && (self.pos == 0
                || self
                    .byte(self.pos - 1)
                    .is_some_and(|c| is_space(c) || is_eol(c)))
    }

    /// Nothing left on this line but blanks and a comment?
    fn at_line_end(&mut self) -> bool {
        self.skip_inline_space();
        if self.at_comment() {
            self.skip_to_eol();
        }
        self.peek().is_none_or(is_eol)
    }

    /// Skips blanks, comments, line ends, directives and document markers.
    fn skip_blank(&mut self) {
        loop {
            let before = self.pos;
            self.skip_inline_space();
            if self.at_comment() {
                self.skip_to_eol();
            }
            while self.peek().is_some_and(is_eol) {
                self.pos += 1;
            }
            if self.col(self.pos) == 0 {
                let rest = &self.b[self.pos..];
                let marker = (rest.starts_with(b"---") || rest.starts_with(b"..."))
                    && self.blank_at(self.pos + 3);
                if marker {
                    self.pos += 3;
                } else if rest.first() == Some(&b'%') {
                    self.skip_to_eol();
                }
            }
            if self.pos == before {
                return;
            }
        }
    }

    fn scalar(&self, start: usize, end: usize) -> LNode {
        LNode {
            span: Span::new(start, end.max(start)),
            kind: LKind::Scalar,
        }
    }

    fn empty(&self, at: usize) -> LNode {
        self.scalar(at, at)
    }

    /// A node in block context; `parent` is the indentation of the enclosing collection.
    fn block_node(&mut self, parent: isize) -> LNode {
        if self.depth >= MAX_DEPTH {
            let start = self.pos;
            self.pos = self.b.len();
            return self.scalar(start, self.pos);
        }
        self.depth += 1;
        let node = self.block_node_inner(parent);
        self.depth -= 1;
        node
    }

    fn block_node_inner(&mut self, parent: isize) -> LNode {
        // Anchors and tags before the value: `&base`, `!Tag`.
        while matches!(self.peek(), Some(b'&' | b'!')) {
            while self.peek().is_some_and(|c| !is_space(c) && !is_eol(c)) {
                self.pos += 1;
            }
            if self.at_line_end() {
                let save = self.pos;
                self.skip_blank();
                if self.pos >= self.b.len() || self.col(self.pos) <= parent {
                    self.pos = save;
                    return self.empty(save);
                }
            }
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return self.empty(start);
        };
        let col = self.col(start);
        match c {
            b'-' if self.blank_at(start + 1) => self.block_seq(col),
            b'[' | b'{' => self.flow_node(),
            b'|' | b'>' => self.block_scalar(parent),
            _ => {
                if self.key_here().is_some() {
                    self.block_map(col)
                } else if c == b'"' || c == b'\'' {
                    let (end, _) = self.quoted(start);
                    self.pos = end;
                    self.scalar(start, end)
                } else {
                    self.plain_block_scalar(parent)
                }
            }
        }
    }

    /// If an implicit key (`key:` followed by a blank or the line end) starts here, its text,
    /// span and the position of its colon.
    fn key_here(&self) -> Option<(String, Span, usize)> {
        let start = self.pos;
        let first = self.byte(start)?;
        if first == b'"' || first == b'\'' {
            let (end, key) = self.quoted(start);
            // Implicit keys are on one line.
            if self.b[start..end].iter().any(|&c| is_eol(c)) {
                return None;
            }
            let mut i = end;
            while self.byte(i).is_some_and(is_space) {
                i += 1;
            }
            return (self.byte(i) == Some(b':') && self.blank_at(i + 1))
                .then(|| (key, Span::new(start, end), i));
        }
        if matches!(
            first,
            b'[' | b'{'
                | b']'
                | b'}'
                | b','
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'%'
                | b'@'
                | b'`'
                | b'?'
        ) {
            return None;
        }
        if first == b'-' && self.blank_at(start + 1) {
            return None;
        }
        let mut i = start;
        while let Some(c) = self.byte(i) {
            if is_eol(c) {
                return None;
            }
            if c == b'#' && i > start && self.byte(i - 1).is_some_and(is_space) {
                return None;
            }
            if c == b':' && i > start && self.blank_at(i + 1) {
                let raw = &self.s[start..i];
                let key = raw.trim_end_matches([' ', '\t']);
                return Some((key.to_string(), Span::new(start, start + key.len()), i));
            }
            i += 1;
        }
        None
    }

    fn block_map(&mut self, col: isize) -> LNode {
        let start = self.pos;
        let mut entries = Vec::new();
        let mut end = start;
        while let Some((key, key_span, colon)) = self.key_here() {
            self.pos = colon + 1;
            let value = self.block_value(col);
            end = end.max(value.span.end as usize).max(key_span.end as usize);
            entries.push(LEntry {
                key,
                key_span,
                value,
            });
            let save = self.pos;
            self.skip_blank();
            let next_entry = self.pos > save
                && self.pos < self.b.len()
                && self.col(self.pos) == col
                && self.first_on_line(self.pos)
                && self.key_here().is_some();
            if !next_entry {
                self.pos = save;
                break;
            }
        }
        LNode {
            span: Span::new(start, end),
            kind: LKind::Map(entries),
        }
    }

    /// The value after `key:` of a block mapping indented by `col`.
    fn block_value(&mut self, col: isize) -> LNode {
        self.skip_inline_space();
        if !self.at_line_end() {
            let c = self.peek();
            if c == Some(b'-') && self.blank_at(self.pos + 1) {
                // Not valid YAML (`key: - a`); read it as a plain scalar.
                return self.plain_block_scalar(col);
            }
            return self.block_node(col);
        }
        let save = self.pos;
        self.skip_blank();
        if self.pos >= self.b.len() {
            self.pos = save;
            return self.empty(save);
        }
        let next = self.col(self.pos);
        let dash = self.peek() == Some(b'-') && self.blank_at(self.pos + 1);
        if next > col || (next == col && dash) {
            self.block_node(col)
        } else {
            self.pos = save;
            self.empty(save)
        }
    }

    fn block_seq(&mut self, col: isize) -> LNode {
        let start = self.pos;
        let mut items = Vec::new();
        let mut end = start;
        loop {
            self.pos += 1; // the `-`
            let item = if self.at_line_end() {
                let save = self.pos;
                self.skip_blank();
                if self.pos < self.b.len() && self.col(self.pos) > col {
                    self.block_node(col)
                } else {
                    self.pos = save;
                    self.empty(save)
                }
            } else {
                self.block_node(col)
            };
            end = end.max(item.span.end as usize).max(start + 1);
            items.push(item);
            let save = self.pos;
            self.skip_blank();
            let next_item = self.pos > save
                && self.col(self.pos) == col
                && self.first_on_line(self.pos)
                && self.peek() == Some(b'-')
                && self.blank_at(self.pos + 1);
            if !next_item {
                self.pos = save;
                break;
            }
        }
        LNode {
            span: Span::new(start, end),
            kind: LKind::Seq(items),
        }
    }

    /// `|` or `>`: the header line, then every blank or more indented line.
    fn block_scalar(&mut self, parent: isize) -> LNode {
        let start = self.pos;
        self.skip_to_eol();
        let mut end = self.pos;
        loop {
            let line = self.pos;
            // Past the line end.
            while self.peek().is_some_and(is_eol) {
                self.pos += 1;
            }
            if self.pos == line {
                break;
            }
            self.skip_inline_space();
            if self.peek().is_some_and(is_eol) {
                continue; // blank line
            }
            if self.pos >= self.b.len() || self.col(self.pos) <= parent {
                self.pos = line;
                break;
            }
            self.skip_to_eol();
            end = self.pos;
        }
        self.pos = end;
        self.scalar(start, end)
    }

    /// A plain scalar in block context, with its continuation lines (indented past `parent`).
    fn plain_block_scalar(&mut self, parent: isize) -> LNode {
        let start = self.pos;
        let mut end = self.plain_line_end();
        self.pos = end;
        loop {
            let save = self.pos;
            if self.at_line_end() && self.peek().is_some() {
                self.skip_blank();
                let continues = self.pos < self.b.len()
                    && self.col(self.pos) > parent
                    && !self.at_comment()
                    && self.key_here().is_none()
                    && !(self.peek() == Some(b'-') && self.blank_at(self.pos + 1));
                if continues {
                    end = self.plain_line_end();
                    self.pos = end;
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        self.scalar(start, end)
    }

    /// The end of a plain scalar's text on this line (before a comment and trailing blanks).
    fn plain_line_end(&self) -> usize {
        let mut i = self.pos;
        let mut end = i;
        while let Some(c) = self.byte(i) {
            if is_eol(c) || (c == b'#' && i > self.pos && self.byte(i - 1).is_some_and(is_space)) {
                break;
            }
            i += 1;
            if !is_space(c) {
                end = i;
            }
        }
        end
    }

    /// A quoted scalar starting at `start`: the position after its closing quote and its text.
    fn quoted(&self, start: usize) -> (usize, String) {
        let Some(quote) = self.byte(start) else {
            return (start, String::new());
        };
        let mut i = start + 1;
        let mut text = String::new();
        let mut chunk = i;
        while let Some(c) = self.byte(i) {
            if quote == b'\'' && c == b'\'' {
                if self.byte(i + 1) == Some(b'\'') {
                    text.push_str(&self.s[chunk..i + 1]);
                    i += 2;
                    chunk = i;
                    continue;
                }
                text.push_str(&self.s[chunk..i]);
                return (i + 1, text);
            }
            if quote == b'"' && c == b'\\' {
                text.push_str(&self.s[chunk..i]);
                match self.byte(i + 1) {
                    Some(b'n') => text.push('\n'),
                    Some(b't') => text.push('\t'),
                    Some(b'"') => text.push('"'),
                    Some(b'\\') => text.push('\\'),
                    Some(b'/') => text.push('/'),
                    _ => {}
                }
                i += 2;
                // Skip the rest of a multi-byte escape target safely.
                while i < self.b.len() && !self.s.is_char_boundary(i) {
                    i += 1;
                }
                chunk = i.min(self.b.len());
                continue;
            }
            if quote == b'"' && c == b'"' {
                text.push_str(&self.s[chunk..i]);
                return (i + 1, text);
            }
            i += 1;
        }
        let end = self.b.len();
        text.push_str(&self.s[chunk.min(end)..end]);
        (end, text)
    }

    /// Blanks, line ends and comments inside `[…]`/`{…}`.
    fn skip_flow_blank(&mut self) {
        loop {
            let before = self.pos;
            while self.peek().is_some_and(|c| is_space(c) || is_eol(c)) {
                self.pos += 1;
            }
            if self.at_comment() {
                self.skip_to_eol();
            }
            if self.pos == before {
                return;
            }
        }
    }

    fn flow_node(&mut self) -> LNode {
        if self.depth >= MAX_DEPTH {
            let start = self.pos;
            self.pos = self.b.len();
            return self.scalar(start, self.pos);
        }
        self.depth += 1;
        let node = self.flow_node_inner();
        self.depth -= 1;
        node
    }

    fn flow_node_inner(&mut self) -> LNode {
        while matches!(self.peek(), Some(b'&' | b'!')) {
            while self
                .peek()
                .is_some_and(|c| !is_space(c) && !is_eol(c) && !matches!(c, b',' | b']' | b'}'))
            {
                self.pos += 1;
            }
            self.skip_flow_blank();
        }
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.flow_collection(b'}'),
            Some(b'[') => self.flow_collection(b']'),
            Some(b'"' | b'\'') => {
                let (end, _) = self.quoted(start);
                self.pos = end;
                self.scalar(start, end)
            }
            _ => {
                let end = self.flow_plain_end();
                self.pos = end;
                self.scalar(start, end)
            }
        }
    }

    /// The end of a plain scalar inside a flow collection.
    fn flow_plain_end(&self) -> usize {
        let mut i = self.pos;
        let mut end = i;
        while let Some(c) = self.byte(i) {
            let stop = is_eol(c)
                || matches!(c, b',' | b'[' | b']' | b'{' | b'}')
                || (c == b':'
                    && (self.blank_at(i + 1)
                        || matches!(self.byte(i + 1), Some(b',' | b']' | b'}'))))
                || (c == b'#' && i > self.pos && self.byte(i - 1).is_some_and(is_space));
            if stop {
                break;
            }
            i += 1;
            if !is_space(c) {
                end = i;
            }
        }
        end
    }

    /// `{ k: v, … }` (close = `}`) or `[ a, b, … ]` (close = `]`).
    fn flow_collection(&mut self, close: u8) -> LNode {
        let start = self.pos;
        self.pos += 1;
        let mut entries = Vec::new();
        let mut items = Vec::new();
        loop {
            self.skip_flow_blank();
            let before = self.pos;
            match self.peek() {
                None => break,
                Some(c) if c == close => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(b']' | b'}') => {
                    // A mismatched bracket: stop here, the YAML parser has the real story.
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            let key_start = self.pos;
            let quoted_key = matches!(self.peek(), Some(b'"' | b'\''));
            let first = self.flow_node();
            let key_text = if quoted_key {
                Some(self.quoted(key_start).1)
            } else if first.kind == LKind::Scalar {
                Some(self.s[first.span.range()].to_string())
            } else {
                None
            };
            self.skip_flow_blank();
            let value = if self.peek() == Some(b':') {
                self.pos += 1;
                self.skip_flow_blank();
                if matches!(self.peek(), Some(b',' | b']' | b'}') | None) {
                    Some(self.empty(self.pos))
                } else {
                    Some(self.flow_node())
                }
            } else {
                None
            };
            if close == b'}' {
                if let Some(key) = key_text {
                    let value = value.unwrap_or_else(|| self.empty(first.span.end as usize));
                    entries.push(LEntry {
                        key,
                        key_span: first.span,
                        value,
                    });
                }
            } else {
                items.push(first);
            }
            if self.pos == before {
                // No progress on something unexpected: step over it.
                self.pos += 1;
            }
        }
        let span = Span::new(start, self.pos);
        let kind = if close == b'}' {
            LKind::Map(entries)
        } else {
            LKind::Seq(items)
        };
        LNode { span, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::line_col;

    fn at(text: &str, span: Span) -> (usize, usize, &str) {
        let (l, c) = line_col(text, span.start as usize);
        (l, c, &text[span.range()])
    }

    const BLOCK: &str = "\
# a comment
project: booking   # trailing
functions:
  ReserveAvailability:
    package: booking-functions
    memory: 256
    env: { TABLE: bookings, 'MODE': \"x, y\" }
  ProcessPayment: { package: booking-functions, idempotent: false }
  \"payments.Charge\":
    package: p
flows:
  Booking:
    source: flows/booking.flow
list:
  - a
  - b: 1
    c: 2
deploy:
  region: eu-west-1
";

    #[test]
    fn finds_block_and_flow_entries() {
        let f = find(BLOCK, &["project"]).unwrap();
        assert_eq!(at(BLOCK, f.key), (2, 1, "project"));
        assert_eq!(at(BLOCK, f.value), (2, 10, "booking"));
        let f = find(BLOCK, &["functions", "ReserveAvailability", "memory"]).unwrap();
        assert_eq!(at(BLOCK, f.value), (6, 13, "256"));
        let f = find(BLOCK, &["functions", "ReserveAvailability", "env", "TABLE"]).unwrap();
        assert_eq!(at(BLOCK, f.value), (7, 19, "bookings"));
        let f = find(BLOCK, &["functions", "ReserveAvailability", "env", "MODE"]).unwrap();
        assert_eq!(at(BLOCK, f.key), (7, 29, "'MODE'"));
        assert_eq!(at(BLOCK, f.value), (7, 37, "\"x, y\""));
        let f = find(BLOCK, &["functions", "ProcessPayment", "idempotent"]).unwrap();
        assert_eq!(at(BLOCK, f.value), (8, 61, "false"));
        let f = find(BLOCK, &["functions", "payments.Charge", "package"]).unwrap();
        assert_eq!(at(BLOCK, f.value), (10, 14, "p"));
        let f = find(BLOCK, &["flows", "Booking", "source"]).unwrap();
        assert_eq!(at(BLOCK, f.value), (13, 13, "flows/booking.flow"));
        let f = find(BLOCK, &["deploy", "region"]).unwrap();
        assert_eq!(at(BLOCK, f.value), (19, 11, "eu-west-1"));
    }

    #[test]
    fn falls_back_to_the_nearest_parent() {
        let root = tree(BLOCK);
        assert!(find_in(&root, &["functions", "Nope", "memory"]).is_none());
        assert_eq!(
            at(BLOCK, key_span(&root, &["functions", "Nope", "memory"])),
            (3, 1, "functions")
        );
        assert_eq!(
            at(
                BLOCK,
                key_span(&root, &["functions", "ProcessPayment", "memory"])
            )
            .2,
            "ProcessPayment"
        );
        assert_eq!(at(BLOCK, value_span(&root, &["nothing"])), (2, 1, ""));
    }

    #[test]
    fn keeps_duplicates_in_order() {
        let text = "functions:\n  A: {package: x}\n  B: {}\n  A:\n    package: y\n";
        let root = tree(text);
        let functions = &root.get("functions").unwrap().value;
        let keys: Vec<_> = functions
            .entries()
            .iter()
            .map(|e| (e.key.as_str(), line_col(text, e.key_span.start as usize).0))
            .collect();
        assert_eq!(keys, [("A", 2), ("B", 3), ("A", 4)]);
        // The last one wins, as in YAML loaders.
        assert_eq!(
            at(
                text,
                find(text, &["functions", "A", "package"]).unwrap().value
            ),
            (5, 14, "y")
        );
    }

    #[test]
    fn handles_sequences_block_scalars_anchors_and_crlf() {
        let text = "a: &x\n  b: |\n    line one\n\n    line two\n  c: [1, {d: 2}]\n- weird\ne: >-\n  folded\nf: *x\r\ng: 'it''s'\r\n";
        let root = tree(text);
        let f = find_in(&root, &["a", "c"]).unwrap();
        assert_eq!(at(text, f.value).2, "[1, {d: 2}]");
        assert_eq!(
            at(text, find_in(&root, &["a", "b"]).unwrap().value).2,
            "|\n    line one\n\n    line two"
        );
        let text = "e: >-\n  folded\nf: *x\r\ng: 'it''s'\r\n";
        let root = tree(text);
        assert_eq!(
            at(text, find_in(&root, &["e"]).unwrap().value).2,
            ">-\n  folded"
        );
        assert_eq!(
            at(text, find_in(&root, &["f"]).unwrap().value),
            (3, 4, "*x")
        );
        assert_eq!(
            at(text, find_in(&root, &["g"]).unwrap().value),
            (4, 4, "'it''s'")
        );
        let text = "k:\n- a\n- b\nnext: 1\n";
        assert_eq!(at(text, find(text, &["next"]).unwrap().value), (4, 7, "1"));
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "",
            ":",
            "- - -",
            "{",
            "[",
            "{a: [",
            "'",
            "\"\\",
            "a: 'x",
            "a:\n\t- b",
            "? a\n: b",
            "a: b: c",
            "---\n---",
            "é: ü\n  ö",
            "a: \"\\é\"",
            "{]",
            "[}",
            "&",
            "!",
            "- &a\n",
            "k: |",
            "%YAML 1.2\n---\na: 1",
        ] {
            let _ = tree(text);
            let _ = find(text, &["a", "b"]);
        }
        let deep = "[".repeat(10_000);
        let _ = tree(&deep);
        let deep: String = (0..500)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let _ = tree(&deep);
    }
}
