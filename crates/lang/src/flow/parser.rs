//! Tokens → untyped AST (`ast::FlowFile`). Hand-written recursive descent.
//!
//! Architecture Invariant: `parse` returns `(Option<FlowFile>, Vec<Diagnostic>)` and never stops
//! at the first error: a broken statement is reported, skipped up to the next statement, and
//! parsing goes on. It does no I/O.

use super::ast::*;
use super::lexer::{lex, Tok, Token};
use crate::diagnostic::{Diagnostic, Span};
use flowctl_protocol::did_you_mean;

/// Words with a meaning in the language; they cannot name variables or flows.
pub const KEYWORDS: &[&str] = &[
    "flow", "if", "else", "return", "fail", "wait", "parallel", "branch", "map", "in", "retry",
    "catch", "timeout", "true", "false", "null",
];

const PREDICATES: &[&str] = &[
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "and",
    "or",
    "not",
    "exists",
    "is_null",
    "is_string",
    "is_number",
    "is_bool",
    "is_timestamp",
    "matches",
];

/// Parses one `.flow` file. The AST is `None` only when not even the flow header could be read.
pub fn parse(src: &str) -> (Option<FlowFile>, Vec<Diagnostic>) {
    let (tokens, mut diagnostics) = lex(src);
    let mut comments = Vec::new();
    let mut toks = Vec::with_capacity(tokens.len());
    for token in tokens {
        match token.tok {
            Tok::Comment(text) => comments.push(Comment {
                text,
                span: token.span,
            }),
            _ => toks.push(token),
        }
    }
    let mut parser = Parser {
        src,
        toks,
        pos: 0,
        diagnostics: Vec::new(),
        depth: 0,
        stmt_start: 0,
    };
    let flow = parser.file();
    diagnostics.append(&mut parser.diagnostics);
    diagnostics.sort_by_key(|d| d.span.start);
    (flow.map(|flow| FlowFile { flow, comments }), diagnostics)
}

/// How deep blocks, conditions and values may nest in a flow, together. Step Functions
/// publishes no depth limit of its own; what bounds a flow is the JSON it compiles to, which
/// the JSON readers a document meets (flowctl's own deploy and engine, most tools: serde_json)
/// take back only up to 127 levels. Every level here becomes at least one level of that JSON,
/// so 64 leaves room for the document's own structure in the common case; `parallel` and
/// `map` add more (four and three), which codegen checks on the document itself (A006). The
/// limit also keeps every later stage (checker, codegen, `fmt`, `graph`) far from the stack's
/// end in any build profile, and is several times deeper than any flow written by hand.
pub const MAX_NESTING: usize = 64;

/// Marks a failed production; its diagnostic is already recorded.
struct Failed;
type PResult<T> = Result<T, Failed>;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    /// Blocks, conditions and values open around the current token.
    depth: usize,
    /// Where the statement being parsed starts (for skipping past one nested too deeply).
    stmt_start: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.toks[self.pos].span
    }

    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].span
    }

    fn bump(&mut self) -> Token {
        let token = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        token
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek() == tok
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(name) if name == word)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Whether a line break separates the current token from the previous one.
    fn at_line_start(&self) -> bool {
        if self.pos == 0 {
            return true;
        }
        let gap = self.prev_span().end as usize..self.span().start as usize;
        self.src.get(gap).is_some_and(|s| s.contains('\n'))
    }

    /// Runs `production` one level deeper; past [`MAX_NESTING`] it is an error (F019) instead,
    /// so no input can exhaust the stack.
    fn nested<T>(&mut self, production: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            let span = self.span();
            self.skip_past_nesting();
            return Err(self.error(
                Diagnostic::error("F019", "nested too deeply", span)
                    .text(format!(
                        "blocks, conditions and values may nest {MAX_NESTING} levels deep, together; this one opens level {}",
                        self.depth + 1
                    ))
                    .hint("bind the inner part to a variable first, or split the flow into smaller flows"),
            ));
        }
        self.depth += 1;
        let result = production(self);
        self.depth -= 1;
        result
    }

    /// Skips to where the brackets the current statement opened are all closed again, so that
    /// recovery after F019 goes on after the too-deep part instead of inside it.
    fn skip_past_nesting(&mut self) {
        let mut open = self.toks[self.stmt_start.min(self.pos)..self.pos]
            .iter()
            .fold(0usize, |open, token| match token.tok {
                Tok::LBrace | Tok::LParen | Tok::LBracket => open + 1,
                Tok::RBrace | Tok::RParen | Tok::RBracket => open.saturating_sub(1),
                _ => open,
            });
        while open > 0 && !self.at(&Tok::Eof) {
            match self.peek() {
                Tok::LBrace | Tok::LParen | Tok::LBracket => open += 1,
                Tok::RBrace | Tok::RParen | Tok::RBracket => open -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) -> Failed {
        self.diagnostics.push(diagnostic);
        Failed
    }

    fn expected(&mut self, what: &str, hint: &str) -> Failed {
        let found = self.peek().describe();
        let span = self.span();
        self.error(
            Diagnostic::error("F010", format!("expected {what}, found {found}"), span)
                .text(format!("expected {what} here"))
                .hint(hint),
        )
    }

    fn expect(&mut self, tok: Tok, hint: &str) -> PResult<Span> {
        if self.at(&tok) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&tok.describe(), hint))
        }
    }

    fn expect_word(&mut self, word: &str, hint: &str) -> PResult<Span> {
        if self.at_word(word) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{word}`"), hint))
        }
    }

    /// An identifier that names something the author chose (variable, flow, parameter).
    fn name(&mut self, what: &str) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Ident(name) if KEYWORDS.contains(&name.as_str()) => {
                let span = self.bump().span;
                Err(self.error(
                    Diagnostic::error("F014", format!("`{name}` is a reserved word"), span)
                        .text(format!("`{name}` cannot be used as {what}"))
                        .hint(format!("choose another name, e.g. `{name}_`")),
                ))
            }
            Tok::Ident(name) => Ok(Ident {
                name,
                span: self.bump().span,
            }),
            _ => Err(self.expected(what, "names start with a letter or `_`: `reservation`")),
        }
    }

    // ---- file and blocks -------------------------------------------------------------

    fn file(&mut self) -> Option<Flow> {
        if !self.at_word("flow") {
            let span = self.span();
            self.error(
                Diagnostic::error("F011", "expected a flow definition", span)
                    .text(format!(
                        "found {} where the file should start with `flow`",
                        self.peek().describe()
                    ))
                    .hint("a flow file holds one flow: `flow Name(input) { … }`"),
            );
            // Look for a later `flow` keyword so the rest of the file is still checked.
            while !self.at(&Tok::Eof) && !self.at_word("flow") {
                self.bump();
            }
            if self.at(&Tok::Eof) {
                return None;
            }
        }
        let start = self.bump().span;
        let name = self.name("a flow name").ok()?;
        let mut input_type = None;
        let param = if self
            .expect(
                Tok::LParen,
                "write the parameter in parentheses: `flow Name(input) {`",
            )
            .is_ok()
        {
            let param = self.name("the flow's parameter").ok();
            if self.eat(&Tok::Colon) {
                input_type = self.name("the input's type").ok();
            }
            let _ = self.expect(
                Tok::RParen,
                "close the parameter list: `flow Name(input) {` or `flow Name(input: TypeName) {`",
            );
            param
        } else {
            None
        };
        let param = param.unwrap_or_else(|| Ident {
            name: "input".into(),
            span: name.span,
        });
        let body = self.block().ok()?;
        if !self.at(&Tok::Eof) {
            let span = self.span();
            self.error(
                Diagnostic::error("F016", "text after the end of the flow", span)
                    .text(format!("found {} after the flow's closing `}}`", self.peek().describe()))
                    .hint("a flow file holds exactly one flow; move other flows to their own files and list them in flowctl.yaml"),
            );
        }
        Some(Flow {
            span: start.to(body.span),
            name,
            param,
            input_type,
            body,
        })
    }

    fn block(&mut self) -> PResult<Block> {
        self.nested(Self::block_inner)
    }

    fn block_inner(&mut self) -> PResult<Block> {
        let open = self.expect(Tok::LBrace, "a block starts with `{`")?;
        let mut stmts = Vec::new();
        loop {
            match self.peek() {
                Tok::RBrace => break,
                Tok::Eof => {
                    let span = self.span();
                    return Err(self.error(
                        Diagnostic::error("F010", "unclosed block", open)
                            .text("this `{` is never closed")
                            .label(span, "the file ends here")
                            .hint("add the missing `}`"),
                    ));
                }
                _ => {}
            }
            let first = self.pos;
            let outer = std::mem::replace(&mut self.stmt_start, first);
            let parsed = self.stmt();
            self.stmt_start = outer;
            match parsed {
                Ok(stmt) => {
                    stmts.push(stmt);
                    if !self.at(&Tok::RBrace) && !self.at(&Tok::Eof) && !self.at_line_start() {
                        let span = self.span();
                        self.error(
                            Diagnostic::error(
                                "F010",
                                "expected a line break after the statement",
                                span,
                            )
                            .text(format!("found {} on the same line", self.peek().describe()))
                            .hint("put each statement on its own line"),
                        );
                        self.synchronize(first);
                    }
                }
                Err(Failed) => self.synchronize(first),
            }
        }
        let close = self.bump().span;
        Ok(Block {
            stmts,
            span: open.to(close),
        })
    }

    /// After an error: skip to the start of the next statement in this block (a token that
    /// begins a line outside any bracket opened since), or to the `}` that closes the block.
    fn synchronize(&mut self, first: usize) {
        let mut depth = 0usize;
        if self.pos == first {
            self.bump();
        }
        loop {
            match self.peek() {
                Tok::Eof => return,
                Tok::RBrace if depth == 0 => return,
                Tok::LBrace | Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RBrace | Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
                _ if depth == 0 && self.at_line_start() && self.starts_statement() => return,
                _ => {}
            }
            self.bump();
        }
    }

    /// A statement, or a call standing alone (reported as F018), starts here. Modifier lines
    /// (`retry(…)`) belong to the statement before them.
    fn starts_statement(&self) -> bool {
        match self.peek() {
            Tok::Ident(word) => match word.as_str() {
                "if" | "return" | "fail" | "wait" => true,
                "retry" | "catch" | "timeout" | "else" => false,
                _ => matches!(self.peek_at(1), Tok::Eq | Tok::LParen),
            },
            _ => false,
        }
    }

    // ---- statements ------------------------------------------------------------------

    fn stmt(&mut self) -> PResult<Stmt> {
        let start = self.span();
        let kind = match self.peek().clone() {
            Tok::Ident(word) if word == "if" => self.if_stmt()?,
            Tok::Ident(word) if word == "return" => {
                self.bump();
                self.expect(
                    Tok::LParen,
                    "write the value in parentheses: `return(value)`",
                )?;
                let value = self.expr()?;
                self.expect(Tok::RParen, "close `return(` with `)`")?;
                StmtKind::Return(value)
            }
            Tok::Ident(word) if word == "fail" => self.fail_stmt()?,
            Tok::Ident(word) if word == "wait" => {
                self.bump();
                self.expect(Tok::LParen, "write the seconds in parentheses: `wait(10)`")?;
                let value = self.expr()?;
                self.expect(Tok::RParen, "close `wait(` with `)`")?;
                StmtKind::Wait(value)
            }
            Tok::Ident(_) if *self.peek_at(1) == Tok::Eq => self.assign()?,
            Tok::Ident(word) if word == "else" => {
                let span = self.span();
                return Err(self.error(
                    Diagnostic::error("F010", "`else` without `if`", span)
                        .text("this `else` does not follow an `if` block")
                        .hint("write `else` on the same line as the `}` that closes the `if` block: `} else {`"),
                ));
            }
            Tok::Ident(word) if matches!(self.peek_at(1), Tok::LParen | Tok::Dot) => {
                let span = self.span();
                return Err(self.error(
                    Diagnostic::error("F018", "a call's result must be bound or discarded", span)
                        .text(format!("`{word}(…)` stands alone"))
                        .hint(format!("bind the result (`result = {word}(…)`) or discard it (`_ = {word}(…)`)")),
                ));
            }
            _ => return Err(self.expected(
                "a statement",
                "statements are `x = F(…)`, `if …`, `return(…)`, `fail(\"Error\", …)`, `wait(…)`",
            )),
        };
        Ok(Stmt {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    fn if_stmt(&mut self) -> PResult<StmtKind> {
        let mut arms = Vec::new();
        let mut otherwise = None;
        self.bump();
        loop {
            let cond = self.pred()?;
            let body = self.block()?;
            arms.push(IfArm { cond, body });
            if !self.at_word("else") {
                break;
            }
            self.bump();
            if self.at_word("if") {
                self.bump();
                continue;
            }
            otherwise = Some(self.block()?);
            break;
        }
        Ok(StmtKind::If { arms, otherwise })
    }

    fn fail_stmt(&mut self) -> PResult<StmtKind> {
        self.bump();
        self.expect(Tok::LParen, "write `fail(\"ErrorName\", cause)`")?;
        let error = match self.peek().clone() {
            Tok::Str(value) => StrLit {
                value,
                span: self.bump().span,
            },
            _ => {
                return Err(self.expected(
                    "an error name in quotes",
                    "name the error as a string: `fail(\"PaymentFailed\", err.Cause)`",
                ))
            }
        };
        let cause = if self.eat(&Tok::Comma) {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect(Tok::RParen, "close `fail(` with `)`")?;
        Ok(StmtKind::Fail { error, cause })
    }

    fn assign(&mut self) -> PResult<StmtKind> {
        let target = if self.at_word("_") {
            Target::Discard(self.bump().span)
        } else {
            Target::Var(self.name("a variable name")?)
        };
        self.bump(); // `=`
        let action = self.action()?;
        let modifiers = self.modifiers()?;
        Ok(StmtKind::Assign {
            target,
            action,
            modifiers,
        })
    }

    fn action(&mut self) -> PResult<Action> {
        let start = self.span();
        match self.peek().clone() {
            Tok::Ident(word) if word == "parallel" => {
                self.bump();
                self.expect(
                    Tok::LBrace,
                    "write `parallel { branch { … } branch { … } }`",
                )?;
                let mut branches = Vec::new();
                while self.at_word("branch") {
                    self.bump();
                    branches.push(self.block()?);
                }
                if !self.at(&Tok::RBrace) {
                    return Err(self.expected(
                        "`branch` or `}`",
                        "each branch of a parallel is `branch { … }`",
                    ));
                }
                let end = self.bump().span;
                Ok(Action::Parallel {
                    branches,
                    span: start.to(end),
                })
            }
            Tok::Ident(word) if word == "map" => {
                self.bump();
                let item = self.name("the item variable")?;
                self.expect_word("in", "write `map item in input.items { … }`")?;
                let items = self.selector()?;
                let concurrency = if self.eat(&Tok::LParen) {
                    self.expect_word("concurrency", "the only map option is `(concurrency: N)`")?;
                    self.expect(Tok::Colon, "write `(concurrency: 10)`")?;
                    let n = self.num_lit("the number of items run at once")?;
                    self.expect(Tok::RParen, "close the options with `)`")?;
                    Some(n)
                } else {
                    None
                };
                let body = self.block()?;
                Ok(Action::Map {
                    span: start.to(body.span),
                    item,
                    items,
                    concurrency,
                    body,
                })
            }
            Tok::Ident(_) => {
                let function = self.qual_name()?;
                if !self.at(&Tok::LParen) {
                    let name = function.text();
                    return Err(self.expected(
                        "`(` after the function name",
                        &format!("only function calls, `parallel` and `map` produce values: `x = {name}(input)`"),
                    ));
                }
                self.bump();
                let arg = if self.at(&Tok::RParen) {
                    None
                } else {
                    Some(self.expr()?)
                };
                if self.at(&Tok::Comma) {
                    let span = self.span();
                    return Err(self.error(
                        Diagnostic::error("F010", "a function takes one argument", span)
                            .text("a second argument starts here")
                            .hint("pass one object instead: `F({\"a\": x, \"b\": y})`"),
                    ));
                }
                let end = self.expect(Tok::RParen, "close the call with `)`")?;
                Ok(Action::Call {
                    span: start.to(end),
                    function,
                    arg,
                })
            }
            _ => Err(self.expected(
                "a function call, `parallel` or `map`",
                "only function calls, `parallel` and `map` produce values: `x = F(input)`",
            )),
        }
    }

    fn qual_name(&mut self) -> PResult<QualName> {
        let first = self.name("a function name")?;
        if self.at(&Tok::Dot) {
            self.bump();
            let name = self.name("a function name after the namespace")?;
            Ok(QualName {
                span: first.span.to(name.span),
                namespace: Some(first),
                name,
            })
        } else {
            Ok(QualName {
                span: first.span,
                namespace: None,
                name: first,
            })
        }
    }

    fn modifiers(&mut self) -> PResult<Modifiers> {
        let mut items = Vec::new();
        loop {
            let is_modifier = matches!(self.peek(), Tok::Ident(w) if matches!(w.as_str(), "retry" | "catch" | "timeout"))
                && *self.peek_at(1) == Tok::LParen;
            if !is_modifier {
                return Ok(Modifiers { items });
            }
            let start = self.span();
            let Tok::Ident(word) = self.bump().tok else {
                unreachable!()
            };
            self.bump(); // `(`
            let item = match word.as_str() {
                "retry" => Modifier::Retry(self.retry(start)?),
                "catch" => {
                    let binding = self.name("the error variable")?;
                    let mut on = None;
                    if self.eat(&Tok::Comma) {
                        self.expect_word("on", "write `catch(err, on: [\"ErrorName\"])`")?;
                        self.expect(Tok::Colon, "write `on: [\"ErrorName\"]`")?;
                        on = Some(self.str_list()?);
                    }
                    self.expect(Tok::RParen, "close `catch(` with `)`")?;
                    let body = self.block()?;
                    Modifier::Catch(Catch {
                        span: start.to(body.span),
                        binding,
                        on,
                        body,
                    })
                }
                _ => {
                    let seconds = self.num_lit("the timeout in seconds")?;
                    let end = self.expect(Tok::RParen, "close `timeout(` with `)`")?;
                    Modifier::Timeout {
                        seconds,
                        span: start.to(end),
                    }
                }
            };
            items.push(item);
        }
    }

    fn retry(&mut self, start: Span) -> PResult<Retry> {
        let mut retry = Retry {
            max: None,
            interval: None,
            backoff: None,
            max_delay: None,
            on: None,
            span: start,
        };
        const ARGS: [&str; 5] = ["max", "interval", "backoff", "max_delay", "on"];
        while !self.at(&Tok::RParen) {
            let key = match self.peek().clone() {
                Tok::Ident(key) => Ident {
                    name: key,
                    span: self.bump().span,
                },
                _ => {
                    return Err(self.expected(
                        "a retry option",
                        "write `retry(max: 3, interval: 1, backoff: 2.0, on: [\"E\"])`",
                    ))
                }
            };
            self.expect(Tok::Colon, &format!("write `{}: value`", key.name))?;
            let duplicate = match key.name.as_str() {
                "max" => retry
                    .max
                    .replace(self.num_lit("the number of retries")?)
                    .is_some(),
                "interval" => retry
                    .interval
                    .replace(self.num_lit("seconds before the first retry")?)
                    .is_some(),
                "backoff" => retry
                    .backoff
                    .replace(self.num_lit("the backoff multiplier")?)
                    .is_some(),
                "max_delay" => retry
                    .max_delay
                    .replace(self.num_lit("the longest wait in seconds")?)
                    .is_some(),
                "on" => retry.on.replace(self.str_list()?).is_some(),
                other => {
                    let hint = match did_you_mean(other, ARGS) {
                        Some(near) => {
                            format!("did you mean `{near}`? retry takes {}", ARGS.join(", "))
                        }
                        None => format!("retry takes {}", ARGS.join(", ")),
                    };
                    return Err(self.error(
                        Diagnostic::error(
                            "F013",
                            format!("unknown retry option `{other}`"),
                            key.span,
                        )
                        .text("not a retry option")
                        .hint(hint),
                    ));
                }
            };
            if duplicate {
                self.error(
                    Diagnostic::error("F013", format!("`{}` is given twice", key.name), key.span)
                        .text("second value for the same option")
                        .hint("give each retry option once"),
                );
            }
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        let end = self.expect(Tok::RParen, "close `retry(` with `)`")?;
        retry.span = start.to(end);
        Ok(retry)
    }

    fn str_list(&mut self) -> PResult<Vec<StrLit>> {
        self.expect(
            Tok::LBracket,
            "write a list of error names: `[\"Timeout\", \"Throttled\"]`",
        )?;
        let mut items = Vec::new();
        while !self.at(&Tok::RBracket) {
            match self.peek().clone() {
                Tok::Str(value) => items.push(StrLit {
                    value,
                    span: self.bump().span,
                }),
                _ => {
                    return Err(self.expected(
                        "an error name in quotes",
                        "error names are strings: `[\"States.Timeout\"]`",
                    ))
                }
            }
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(Tok::RBracket, "close the list with `]`")?;
        Ok(items)
    }

    fn num_lit(&mut self, what: &str) -> PResult<NumLit> {
        match self.peek().clone() {
            Tok::Num(text) => {
                let span = self.bump().span;
                self.number(text, span)
            }
            _ => Err(self.expected(
                &format!("a number ({what})"),
                "write a number such as `3` or `2.5`",
            )),
        }
    }

    fn number(&mut self, text: String, span: Span) -> PResult<NumLit> {
        match serde_json::from_str::<serde_json::Number>(&text) {
            Ok(value) => Ok(NumLit { text, value, span }),
            Err(_) => Err(self.error(
                Diagnostic::error("F015", format!("`{text}` is not a valid number"), span)
                    .text("out of range or malformed")
                    .hint("numbers are JSON numbers, such as `3`, `-1.5` or `2e3`"),
            )),
        }
    }

    // ---- predicates ------------------------------------------------------------------

    fn pred(&mut self) -> PResult<Pred> {
        self.nested(Self::pred_inner)
    }

    fn pred_inner(&mut self) -> PResult<Pred> {
        let head = match self.peek().clone() {
            Tok::Ident(name) if *self.peek_at(1) == Tok::LParen => Ident {
                name,
                span: self.bump().span,
            },
            Tok::Ident(_) => {
                // `if input.ok == true`, `if x.ok`: a bare value where a condition call belongs.
                let sel = self.selector()?;
                let text = sel.text();
                return Err(self.error(
                    Diagnostic::error("F010", "expected a condition", sel.span)
                        .text("a value, not a condition")
                        .hint(format!(
                            "conditions are calls: `eq({text}, true)`, `exists({text})`, `is_null({text})`, …"
                        )),
                ));
            }
            _ => {
                return Err(self.expected(
                    "a condition",
                    "conditions are eq, ne, lt, le, gt, ge, and, or, not, exists, is_null, is_string, is_number, is_bool, is_timestamp, matches: `eq(x.status, \"ok\")`",
                ))
            }
        };
        self.bump(); // `(`
        let kind = match head.name.as_str() {
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                let op = CmpOp::ALL
                    .into_iter()
                    .find(|op| op.keyword() == head.name)
                    .expect("listed above");
                let lhs = self.expr()?;
                self.expect(
                    Tok::Comma,
                    &format!("`{}` compares two values: `{}(a, b)`", head.name, head.name),
                )?;
                let rhs = self.expr()?;
                PredKind::Compare { op, lhs, rhs }
            }
            "and" | "or" => {
                let mut preds = vec![self.pred()?];
                while self.eat(&Tok::Comma) {
                    if self.at(&Tok::RParen) {
                        break;
                    }
                    preds.push(self.pred()?);
                }
                if head.name == "and" {
                    PredKind::And(preds)
                } else {
                    PredKind::Or(preds)
                }
            }
            "not" => PredKind::Not(Box::new(self.pred()?)),
            "exists" => PredKind::Exists(self.selector()?),
            "matches" => {
                let sel = self.selector()?;
                self.expect(Tok::Comma, "write `matches(x.name, \"prefix*\")`")?;
                let pattern = match self.peek().clone() {
                    Tok::Str(value) => StrLit {
                        value,
                        span: self.bump().span,
                    },
                    _ => {
                        return Err(self.expected(
                            "a pattern in quotes",
                            "write `matches(x.name, \"prefix*\")`",
                        ))
                    }
                };
                PredKind::Matches { sel, pattern }
            }
            name if name.starts_with("is_")
                && TypeTest::ALL.iter().any(|t| t.keyword() == name) =>
            {
                let test = TypeTest::ALL
                    .into_iter()
                    .find(|t| t.keyword() == name)
                    .expect("checked");
                PredKind::Is {
                    test,
                    sel: self.selector()?,
                }
            }
            other => {
                let hint = match did_you_mean(other, PREDICATES.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("conditions are {}", PREDICATES.join(", ")),
                };
                return Err(self.error(
                    Diagnostic::error("F012", format!("unknown condition `{other}`"), head.span)
                        .text("not a condition")
                        .hint(hint),
                ));
            }
        };
        let end = self.expect(Tok::RParen, &format!("close `{}(` with `)`", head.name))?;
        Ok(Pred {
            kind,
            span: head.span.to(end),
        })
    }

    // ---- expressions -----------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.nested(Self::expr_inner)
    }

    fn expr_inner(&mut self) -> PResult<Expr> {
        let start = self.span();
        let kind = match self.peek().clone() {
            Tok::Str(value) => {
                self.bump();
                ExprKind::Str(value)
            }
            Tok::Num(text) => {
                self.bump();
                ExprKind::Num(self.number(text, start)?)
            }
            Tok::Ident(word) if word == "true" || word == "false" => {
                self.bump();
                ExprKind::Bool(word == "true")
            }
            Tok::Ident(word) if word == "null" => {
                self.bump();
                ExprKind::Null
            }
            Tok::Ident(name) if *self.peek_at(1) == Tok::LParen => {
                let span = self.span();
                return Err(self.error(
                    Diagnostic::error("F017", "calls cannot be nested inside values", span)
                        .text(format!("`{name}(…)` is used as a value"))
                        .hint(format!("call it on its own line first: `x = {name}(…)`, then use `x`")),
                ));
            }
            Tok::Ident(_) => ExprKind::Select(self.selector()?),
            Tok::LBrace => {
                self.bump();
                let mut entries = Vec::new();
                while !self.at(&Tok::RBrace) {
                    let key = match self.peek().clone() {
                        Tok::Str(value) => StrLit {
                            value,
                            span: self.bump().span,
                        },
                        Tok::Ident(value) => StrLit {
                            value,
                            span: self.bump().span,
                        },
                        _ => return Err(self.expected("a key", "object keys are strings: `{\"id\": input.id}`")),
                    };
                    self.expect(Tok::Colon, &format!("write `\"{}\": value`", key.value))?;
                    let value = self.expr()?;
                    entries.push((key, value));
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                self.expect(Tok::RBrace, "close the object with `}`, separating entries with `,`")?;
                ExprKind::Object(entries)
            }
            Tok::LBracket => {
                self.bump();
                let mut items = Vec::new();
                while !self.at(&Tok::RBracket) {
                    items.push(self.expr()?);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                self.expect(Tok::RBracket, "close the list with `]`, separating items with `,`")?;
                ExprKind::List(items)
            }
            _ => {
                return Err(self.expected(
                    "a value",
                    "values are selectors (`input.id`), strings, numbers, true, false, null, objects and lists",
                ))
            }
        };
        Ok(Expr {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    fn selector(&mut self) -> PResult<Selector> {
        let root = self.name("a variable")?;
        let mut path = Vec::new();
        loop {
            if self.at(&Tok::Dot) {
                self.bump();
                match self.peek().clone() {
                    // Keywords are fine after a dot: `x.map`, `x.null` are plain field names.
                    Tok::Ident(name) => path.push(PathSeg::Field(Ident {
                        name,
                        span: self.bump().span,
                    })),
                    _ => {
                        return Err(self.expected(
                            "a field name after `.`",
                            "write `x.field`, or `x[\"odd key\"]`",
                        ))
                    }
                }
            } else if self.at(&Tok::LBracket) {
                let open = self.bump().span;
                match self.peek().clone() {
                    Tok::Str(value) => path.push(PathSeg::Key(StrLit {
                        value,
                        span: self.bump().span,
                    })),
                    Tok::Num(text) => {
                        let span = self.bump().span;
                        match text.parse::<u64>() {
                            Ok(index) => path.push(PathSeg::Index { index, span }),
                            Err(_) => {
                                return Err(self.error(
                                    Diagnostic::error(
                                        "F015",
                                        format!("`{text}` is not a list index"),
                                        span,
                                    )
                                    .text("indexes are whole numbers from 0")
                                    .hint("write `xs[0]` for the first item"),
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(self
                            .expected("an index or a quoted key", "write `xs[0]` or `x[\"key\"]`"))
                    }
                }
                let close = self.expect(Tok::RBracket, "close the index with `]`")?;
                let _ = open.to(close);
            } else {
                break;
            }
        }
        Ok(Selector {
            span: root.span.to(self.prev_span()),
            root,
            path,
        })
    }
}

#[cfg(test)]
mod tests;
