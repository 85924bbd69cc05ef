//! Where keys and values sit in JSON text (serde_json keeps no positions). Run only on text
//! serde_json accepted; on anything else it records less and never panics. Nesting is bounded
//! by serde_json's own limit on the text it accepted (and by `MAX_JSON_DEPTH` here).

use flowctl_lang::diagnostic::Span;
use flowctl_protocol::MAX_JSON_DEPTH;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Node {
    pub span: Span,
    /// An object's entries in text order (duplicates kept; the last one is the value).
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// Stands in for a place the scanner did not record.
static NOWHERE: Node = Node {
    span: Span { start: 0, end: 0 },
    entries: Vec::new(),
};

impl Node {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    /// The value under `key`; this node itself when not recorded (a diagnostic then points
    /// at the enclosing object).
    pub fn child(&self, key: &str) -> &Node {
        match self.entry(key) {
            Some(e) => &e.value,
            None if self.span == NOWHERE.span => &NOWHERE,
            None => self,
        }
    }

    /// The span of `key` (quotes included), or this node's.
    pub fn key_span(&self, key: &str) -> Span {
        self.entry(key).map_or(self.span, |e| e.key_span)
    }
}

pub(super) fn tree(text: &str) -> Node {
    let mut scanner = Scanner {
        text: text.as_bytes(),
        source: text,
        at: 0,
    };
    scanner.value(0)
}

struct Scanner<'a> {
    text: &'a [u8],
    source: &'a str,
    at: usize,
}

impl Scanner<'_> {
    fn skip_space(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Node {
        self.skip_space();
        let start = self.at;
        let mut node = Node::default();
        match self.text.get(self.at) {
            Some(b'{') if depth < MAX_JSON_DEPTH => {
                self.at += 1;
                loop {
                    self.skip_space();
                    match self.text.get(self.at) {
                        Some(b'"') => {}
                        Some(b'}') | None => break,
                        Some(_) => {
                            self.at += 1;
                            continue;
                        }
                    }
                    let key_start = self.at;
                    self.string();
                    let key_span = Span::new(key_start, self.at);
                    let key = self
                        .source
                        .get(key_start..self.at)
                        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                        .unwrap_or_default();
                    self.skip_space();
                    if self.text.get(self.at) == Some(&b':') {
                        self.at += 1;
                    }
                    let value = self.value(depth + 1);
                    node.entries.push(Entry {
                        key,
                        key_span,
                        value,
                    });
                    self.skip_space();
                    if self.text.get(self.at) == Some(&b',') {
                        self.at += 1;
                    }
                }
                self.at = (self.at + 1).min(self.text.len());
            }
            Some(b'[') if depth < MAX_JSON_DEPTH => {
                self.at += 1;
                loop {
                    self.skip_space();
                    match self.text.get(self.at) {
                        Some(b']') | None => break,
                        Some(b',') => self.at += 1,
                        Some(_) => {
                            let before = self.at;
                            self.value(depth + 1);
                            if self.at == before {
                                self.at += 1;
                            }
                        }
                    }
                }
                self.at = (self.at + 1).min(self.text.len());
            }
            Some(b'"') => self.string(),
            Some(b'{' | b'[') => self.skip_nested(),
            Some(_) => {
                while self
                    .text
                    .get(self.at)
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
            }
            None => {}
        }
        node.span = Span::new(start, self.at);
        node
    }

    /// Past a string starting at `"`.
    fn string(&mut self) {
        self.at += 1;
        while let Some(&b) = self.text.get(self.at) {
            self.at += 1;
            match b {
                b'\\' => self.at += 1,
                b'"' => break,
                _ => {}
            }
        }
        self.at = self.at.min(self.text.len());
    }

    /// Past a value nested too deep to record, without recursion.
    fn skip_nested(&mut self) {
        let mut depth = 0usize;
        while let Some(&b) = self.text.get(self.at) {
            match b {
                b'"' => {
                    self.string();
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.at += 1;
                        return;
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_values() {
        let text = r#"{ "a": {"b\"c": [1, {"d": 2}], "e": "x,}"}, "f": null }"#;
        let root = tree(text);
        let a = root.child("a");
        assert_eq!(
            &text[a.span.range()],
            r#"{"b\"c": [1, {"d": 2}], "e": "x,}"}"#
        );
        assert_eq!(&text[a.key_span("b\"c").range()], r#""b\"c""#);
        assert_eq!(&text[a.child("e").span.range()], r#""x,}""#);
        assert_eq!(&text[root.child("f").span.range()], "null");
        // Not recorded: the enclosing place.
        assert_eq!(root.child("zz").span, root.span);
        assert_eq!(tree("").child("a").span, Span::default());
        for odd in ["{", "{\"a\"", "[[[", "\"", "{\"a\":}", "}", "{\"a\" 1 2}"] {
            let _ = tree(odd);
        }
    }
}
