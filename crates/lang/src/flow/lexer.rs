//! Flow source text → tokens with spans. Comments are tokens too; the parser sets them aside.

use crate::diagnostic::{Diagnostic, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    /// The number as written; the parser turns it into a JSON number.
    Num(String),
    Comment(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Dot,
    Eq,
    Eof,
}

impl Tok {
    /// How the token is named in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Num(n) => format!("the number `{n}`"),
            Tok::Comment(_) => "a comment".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Eof => "the end of the file".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Splits `src` into tokens, always ending with `Eof`. Bad characters and unterminated
/// strings become diagnostics and are skipped, so the parser still sees the rest.
pub fn lex(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
        diagnostics: Vec::new(),
    };
    lexer.run();
    (lexer.tokens, lexer.diagnostics)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut chars = self.src[self.pos..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.tokens.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                c if c.is_whitespace() => {
                    self.bump();
                }
                '/' if self.peek2() == Some('/') => {
                    let end = self.src[start..]
                        .find('\n')
                        .map_or(self.src.len(), |i| start + i);
                    let text = self.src[start + 2..end].trim_end_matches('\r').to_string();
                    self.pos = end;
                    self.push(Tok::Comment(text), start);
                }
                '{' | '}' | '(' | ')' | '[' | ']' | ',' | ':' | '.' | '=' => {
                    self.bump();
                    let tok = match c {
                        '{' => Tok::LBrace,
                        '}' => Tok::RBrace,
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        '[' => Tok::LBracket,
                        ']' => Tok::RBracket,
                        ',' => Tok::Comma,
                        ':' => Tok::Colon,
                        '.' => Tok::Dot,
                        _ => Tok::Eq,
                    };
                    self.push(tok, start);
                }
                '"' => self.string(start),
                c if c.is_ascii_digit() => self.number(start),
                '-' if self.peek2().is_some_and(|d| d.is_ascii_digit()) => self.number(start),
                c if c.is_ascii_alphabetic() || c == '_' => {
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        self.bump();
                    }
                    let name = self.src[start..self.pos].to_string();
                    self.push(Tok::Ident(name), start);
                }
                _ => {
                    self.bump();
                    let hint = match c {
                        '\'' => "strings use double quotes: \"text\"",
                        '#' => "comments start with //",
                        '=' | '!' | '<' | '>' => "compare with eq, ne, lt, le, gt, ge: `eq(a, b)`",
                        '&' | '|' => "combine conditions with and(p, q) and or(p, q)",
                        ';' => "statements end at the end of the line; remove the `;`",
                        _ => "remove this character",
                    };
                    self.diagnostics.push(
                        Diagnostic::error(
                            "F001",
                            format!("unexpected character `{c}`"),
                            Span::new(start, self.pos),
                        )
                        .text("not part of the flow language")
                        .hint(hint),
                    );
                }
            }
        }
        let end = self.src.len();
        self.tokens.push(Token {
            tok: Tok::Eof,
            span: Span::new(end, end),
        });
    }

    /// A JSON string literal: the escapes JSON allows, no raw line breaks.
    fn string(&mut self, start: usize) {
        self.bump();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "F002",
                            "unterminated string",
                            Span::new(start, self.pos),
                        )
                        .text("this string has no closing quote")
                        .hint("add `\"` at the end of the string; write a line break as \\n"),
                    );
                    let raw = &self.src[start + 1..self.pos];
                    self.push(Tok::Str(raw.to_string()), start);
                    return;
                }
                Some('\\') => {
                    self.bump();
                    self.bump();
                }
                Some('"') => {
                    self.bump();
                    break;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let raw = &self.src[start..self.pos];
        match serde_json::from_str::<String>(raw) {
            Ok(value) => self.push(Tok::Str(value), start),
            Err(err) => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "F003",
                        "invalid escape in string",
                        Span::new(start, self.pos),
                    )
                    .text(format!("not a valid JSON string: {err}"))
                    .hint("strings use JSON escapes: \\\" \\\\ \\n \\t \\uXXXX"),
                );
                self.push(Tok::Str(raw[1..raw.len() - 1].to_string()), start);
            }
        }
    }

    /// A JSON number: `-`? digits (`.` digits)? (`e` `-`? digits)?
    fn number(&mut self, start: usize) {
        if self.peek() == Some('-') {
            self.bump();
        }
        let digits = |l: &mut Self| {
            while l.peek().is_some_and(|c| c.is_ascii_digit()) {
                l.bump();
            }
        };
        digits(self);
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            digits(self);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                digits(self);
            } else {
                self.pos = save;
            }
        }
        let text = self.src[start..self.pos].to_string();
        self.push(Tok::Num(text), start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).0.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_a_call_with_comment() {
        assert_eq!(
            toks("x = F({\"a\": -1.5e2}) // done"),
            vec![
                Tok::Ident("x".into()),
                Tok::Eq,
                Tok::Ident("F".into()),
                Tok::LParen,
                Tok::LBrace,
                Tok::Str("a".into()),
                Tok::Colon,
                Tok::Num("-1.5e2".into()),
                Tok::RBrace,
                Tok::RParen,
                Tok::Comment(" done".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn string_escapes_are_json() {
        assert_eq!(toks(r#""a\"b\n""#)[0], Tok::Str("a\"b\n".into()));
    }

    #[test]
    fn bad_characters_are_reported_and_skipped() {
        let (tokens, diags) = lex("a ; b");
        assert_eq!(tokens.len(), 3);
        assert_eq!(diags[0].code, "F001");
    }

    #[test]
    fn unterminated_string_does_not_swallow_the_file() {
        let (tokens, diags) = lex("\"abc\nx");
        assert_eq!(diags[0].code, "F002");
        assert!(tokens.iter().any(|t| t.tok == Tok::Ident("x".into())));
    }
}
