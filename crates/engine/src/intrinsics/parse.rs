//! The hand-written parser of intrinsic expressions: a call is `States.Name(arg, …)`, an
//! argument is a single-quoted string, a JSON number, `true`/`false`/`null`, a path (`$…`,
//! `$$…`) or a nested call. Works on bytes (every delimiter is ASCII), never panics, and
//! reports the byte offset of the first problem.

use super::{Arg, Call, Function, Piece, SyntaxError, Template, MAX_NESTING};
use serde_json::Value;

pub(super) fn parse(expr: &str) -> Result<Call, SyntaxError> {
    let mut parser = Parser { src: expr, pos: 0 };
    parser.skip_whitespace();
    let call = parser.call(1)?;
    parser.skip_whitespace();
    if parser.pos < expr.len() {
        return Err(parser.error_here("unexpected text after the intrinsic function call"));
    }
    Ok(call)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

/// Where the first argument sits in the source, to re-read a literal `States.Format` template
/// with its escapes and to point errors into it.
struct Span {
    start: usize,
    end: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            offset,
        }
    }

    fn error_here(&self, message: impl Into<String>) -> SyntaxError {
        self.error_at(self.pos, message)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// `States.Name` (letters, digits, `_` and `.`), as a slice of the source.
    fn name(&mut self) -> &'a str {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    fn call(&mut self, depth: usize) -> Result<Call, SyntaxError> {
        let start = self.pos;
        let name = self.name();
        if name.is_empty() {
            return Err(
                self.error_here("expected an intrinsic function call such as `States.Format(…)`")
            );
        }
        let function = Function::from_name(name).ok_or_else(|| {
            // Compared without the shared `States.` prefix, which would make every name look close.
            let short = |name: &'a str| name.strip_prefix("States.").unwrap_or(name);
            let known = Function::ALL.iter().map(|f| short(f.name()));
            let message = match flowctl_protocol::did_you_mean(short(name), known) {
                Some(suggestion) => {
                    format!(
                        "unknown intrinsic function `{name}`; did you mean `States.{suggestion}`?"
                    )
                }
                None => format!("unknown intrinsic function `{name}`"),
            };
            self.error_at(start, message)
        })?;
        if depth > MAX_NESTING {
            return Err(self.error_at(
                start,
                format!("intrinsic functions nest at most {MAX_NESTING} deep"),
            ));
        }
        self.skip_whitespace();
        if self.peek() != Some(b'(') {
            return Err(self.error_here(format!("expected `(` after `{name}`")));
        }
        self.pos += 1;

        let mut args = Vec::new();
        let mut first_span = None;
        self.skip_whitespace();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                let arg_start = self.pos;
                args.push(self.argument(depth)?);
                first_span.get_or_insert(Span {
                    start: arg_start,
                    end: self.pos,
                });
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(_) => return Err(self.error_here("expected `,` or `)` after an argument")),
                    None => {
                        return Err(self.error_here(format!("`{name}(` is not closed with `)`")))
                    }
                }
            }
        }

        check_arity(function, args.len()).map_err(|message| self.error_at(start, message))?;
        let template = match (function, args.first(), &first_span) {
            (Function::Format, Some(Arg::Literal(Value::String(_))), Some(span)) => {
                Some(self.literal_template(span, args.len() - 1)?)
            }
            _ => None,
        };
        Ok(Call {
            function,
            args,
            template,
        })
    }

    /// A literal `States.Format` template, read again from the source so that escaped braces
    /// (`\{`, `\}`) stay text while `{}` becomes a placeholder.
    fn literal_template(&self, span: &Span, values: usize) -> Result<Template, SyntaxError> {
        // The span is a whole, terminated literal: quotes at both ends.
        let raw = &self.src[span.start + 1..span.end - 1];
        let template = parse_template(raw)
            .map_err(|(offset, message)| self.error_at(span.start + 1 + offset, message))?;
        if template.placeholders != values {
            return Err(self.error_at(
                span.start,
                format!(
                    "the template has {} `{{}}` placeholder(s) but {} value(s) follow it; they must be equal",
                    template.placeholders, values
                ),
            ));
        }
        Ok(template)
    }

    fn argument(&mut self, depth: usize) -> Result<Arg, SyntaxError> {
        match self.peek() {
            Some(b'\'') => self.string().map(|s| Arg::Literal(Value::String(s))),
            Some(b'$') => self.path().map(Arg::Path),
            Some(b'-' | b'0'..=b'9') => self.number().map(Arg::Literal),
            Some(b) if b.is_ascii_alphabetic() => {
                let start = self.pos;
                let word = self.name();
                let literal = match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ if word.starts_with("States.") => {
                        self.pos = start;
                        return self.call(depth + 1).map(Arg::Call);
                    }
                    _ => {
                        return Err(self.error_at(
                            start,
                            format!(
                                "unexpected `{word}`: an argument is a 'string', a number, true, false, null, a path ($…) or a States.* call"
                            ),
                        ))
                    }
                };
                Ok(Arg::Literal(literal))
            }
            Some(b')' | b',') => Err(self.error_here("expected an argument")),
            Some(_) => Err(self.error_here(
                "expected an argument: a 'string', a number, true, false, null, a path ($…) or a States.* call",
            )),
            None => Err(self.error_here("expected an argument, found the end of the expression")),
        }
    }

    /// A single-quoted string. The only escapes are `\'`, `\{`, `\}` and `\\` (AWS: "If an open
    /// escape backslash `\` is found in the intrinsic invocation string, the interpreter will
    /// return a runtime error"; AWS rejects it when the definition is created, and so do we).
    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut chunk_start = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(
                        self.error_at(open, "unterminated string literal: add the closing `'`")
                    )
                }
                Some(b'\'') => {
                    value.push_str(&self.src[chunk_start..self.pos]);
                    self.pos += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    value.push_str(&self.src[chunk_start..self.pos]);
                    match self.src.as_bytes().get(self.pos + 1) {
                        Some(&escaped @ (b'\'' | b'{' | b'}' | b'\\')) => {
                            value.push(char::from(escaped));
                            self.pos += 2;
                            chunk_start = self.pos;
                        }
                        _ => {
                            return Err(self.error_here(
                                "a backslash in a string literal must start one of the escapes \\', \\{, \\} or \\\\",
                            ))
                        }
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// A JSON number (`-`, no leading zeros, optional fraction and exponent).
    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        let digits = |p: &mut Parser| {
            let from = p.pos;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let integer_start = self.pos;
        let integer_digits = digits(self);
        if integer_digits == 0 {
            return Err(self.error_at(start, "expected digits in the number"));
        }
        if integer_digits > 1 && self.src.as_bytes()[integer_start] == b'0' {
            return Err(self.error_at(integer_start, "a number cannot start with 0"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error_here("expected digits after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error_here("expected digits in the exponent"));
            }
        }
        let text = &self.src[start..self.pos];
        match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Number(_)) => Ok(value),
            _ => Err(self.error_at(start, format!("the number {text} is out of range"))),
        }
    }

    /// A path, kept as text for the caller to resolve: `$` or `$$` and what follows, up to a
    /// `,`, `)` or whitespace outside brackets and parentheses. Inside brackets, quoted names
    /// may hold anything (`$.abc.['def ghi']`, `$.a[?(@.b == 'x, y')]`).
    fn path(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        // The brackets and parentheses open at this point, with their offsets.
        let mut open: Vec<(u8, usize)> = Vec::new();
        while let Some(b) = self.peek() {
            match b {
                b',' | b')' | b' ' | b'\t' | b'\n' | b'\r' if open.is_empty() => break,
                b'[' | b'(' => open.push((b, self.pos)),
                b']' | b')' => match open.pop() {
                    Some((opener, _))
                        if (opener, b) == (b'[', b']') || (opener, b) == (b'(', b')') => {}
                    Some((_, at)) => {
                        return Err(self.error_at(at, "this bracket in the path is not closed"))
                    }
                    None => return Err(self.error_here("this `]` in the path has no matching `[`")),
                },
                b'\'' | b'"' if !open.is_empty() => {
                    let quote_at = self.pos;
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(
                                    self.error_at(quote_at, "unterminated quoted name in the path")
                                )
                            }
                            Some(b'\\') => self.pos += 2,
                            Some(q) if q == b => break,
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        if let Some(&(_, at)) = open.last() {
            return Err(self.error_at(at, "this bracket in the path is not closed"));
        }
        Ok(self.src[start..self.pos].to_string())
    }
}

fn check_arity(function: Function, count: usize) -> Result<(), String> {
    let name = function.name();
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match function.arity() {
        (min, Some(max)) if min == max && count != min => {
            Err(format!("`{name}` takes {min} {}, got {count}", plural(min)))
        }
        (min, Some(max)) if count < min || count > max => Err(format!(
            "`{name}` takes {min} to {max} arguments, got {count}"
        )),
        (min, None) if count < min => Err(format!(
            "`{name}` takes at least {min} {}, got {count}",
            plural(min)
        )),
        _ => Ok(()),
    }
}

/// Splits a `States.Format` template into text and `{}` placeholders. `\{`, `\}`, `\'` and `\\`
/// stand for the character itself; any other backslash is kept (only possible in a template
/// read from the input: literals were checked by the parser). A `{` not followed by `}`, or a
/// lone `}`, is an error (AWS fails on `'Hello {'`, `'{{}}'` and `'}'`). The error carries the
/// byte offset in `text`.
pub(super) fn parse_template(text: &str) -> Result<Template, (usize, String)> {
    let mut pieces = Vec::new();
    let mut placeholders = 0;
    let mut current = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&(_, escaped @ ('\'' | '{' | '}' | '\\'))) => {
                    current.push(escaped);
                    chars.next();
                }
                _ => current.push('\\'),
            },
            '{' => {
                if chars.peek().map(|&(_, next)| next) != Some('}') {
                    return Err((
                        offset,
                        "`{` without `}` in the template: write \\{ for a literal brace".into(),
                    ));
                }
                chars.next();
                if !current.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut current)));
                }
                pieces.push(Piece::Placeholder);
                placeholders += 1;
            }
            '}' => {
                return Err((
                    offset,
                    "`}` without `{` in the template: write \\} for a literal brace".into(),
                ))
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        pieces.push(Piece::Text(current));
    }
    Ok(Template {
        pieces,
        placeholders,
    })
}
