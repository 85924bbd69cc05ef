//! Canonical formatting of `.flow` files (`flowctl fmt`).
//!
//! The printer walks the untyped AST and puts every comment of `FlowFile::comments` back by
//! position: own-line comments before a statement (or modifier, object entry, list item,
//! branch) stay before it at its indentation, a comment at the end of a line stays at the end
//! of that line, comments at the end of a block stay before its `}`, and comments before and
//! after the flow stay there. A comment in a place the canonical layout has no line for (inside
//! a condition, between `}` and `else`, inside a retry option list, …) is an `F020` error:
//! `format` never drops a comment and never moves one into another statement.
//!
//! Canonical form: 2-space indentation, one statement per line, call modifiers one per line
//! one level deeper than their statement, `} else {` on the closing-brace line, strings
//! re-escaped as JSON, numbers exactly as written, object keys quoted. An object or list that
//! would push its line past 100 columns, or that holds comments, is broken one entry per line,
//! every entry followed by a comma.
//!
//! Before returning, `format` re-parses its output and checks that it has the same AST (spans
//! aside) and the same comments in the same order; if not, it returns an error rather than
//! output that would change the program or lose a comment.

use super::ast::*;
use super::parser::parse;
use crate::diagnostic::{Diagnostic, Span};

/// Lines longer than this break their object or list literal one entry per line.
pub const MAX_WIDTH: usize = 100;
const INDENT: &str = "  ";
const COMMENT_HINT: &str = "move the comment onto its own line above the statement";

/// Formats one `.flow` file. A file the parser reports anything about is not formatted: its
/// diagnostics are returned instead.
pub fn format(src: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = parse(src);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let Some(file) = file else {
        // The parser reports a diagnostic whenever it returns no AST; be safe anyway.
        return Err(vec![Diagnostic::error(
            "F011",
            "expected a flow definition",
            Span::new(0, 0),
        )
        .text("no flow found")
        .hint("a flow file holds one flow: `flow Name(input) { … }`")]);
    };
    let mut printer = Printer::new(src, &file.comments);
    printer.file(&file.flow);
    if !printer.errors.is_empty() {
        return Err(printer.errors);
    }
    let out = printer.finish();
    verify(&file, &out)?;
    Ok(out)
}

/// Whether `src` is already in canonical form (`flowctl fmt --check`).
pub fn is_formatted(src: &str) -> Result<bool, Vec<Diagnostic>> {
    format(src).map(|formatted| formatted == src)
}

/// An expression on one line, as the formatter prints it: `{"k": [1, x.y]}`.
pub fn expr_text(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr);
    out
}

/// A condition on one line, as the formatter prints it: `and(eq(x.a, 1), exists(x.b))`.
pub fn pred_text(pred: &Pred) -> String {
    let mut out = String::new();
    write_pred(&mut out, pred);
    out
}

/// A string literal in the flow language (a JSON string).
pub fn str_text(value: &str) -> String {
    serde_json::to_string(value).expect("a string always serializes")
}

/// `retry(max: 3, interval: 1, backoff: 2.0, max_delay: 30, on: ["E"])`, options in that order.
pub fn retry_text(retry: &Retry) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("max", &retry.max),
        ("interval", &retry.interval),
        ("backoff", &retry.backoff),
        ("max_delay", &retry.max_delay),
    ] {
        if let Some(n) = value {
            parts.push(format!("{name}: {}", n.text));
        }
    }
    if let Some(on) = &retry.on {
        parts.push(format!("on: {}", str_list_text(on)));
    }
    format!("retry({})", parts.join(", "))
}

fn str_list_text(items: &[StrLit]) -> String {
    let items: Vec<String> = items.iter().map(|s| str_text(&s.value)).collect();
    format!("[{}]", items.join(", "))
}

fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Select(sel) => out.push_str(&sel.text()),
        ExprKind::Str(s) => out.push_str(&str_text(s)),
        ExprKind::Num(n) => out.push_str(&n.text),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Null => out.push_str("null"),
        ExprKind::Object(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_text(&key.value));
                out.push_str(": ");
                write_expr(out, value);
            }
            out.push('}');
        }
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item);
            }
            out.push(']');
        }
    }
}

fn write_pred(out: &mut String, pred: &Pred) {
    let list = |out: &mut String, name: &str, preds: &[Pred]| {
        out.push_str(name);
        out.push('(');
        for (i, p) in preds.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_pred(out, p);
        }
        out.push(')');
    };
    match &pred.kind {
        PredKind::Compare { op, lhs, rhs } => {
            out.push_str(op.keyword());
            out.push('(');
            write_expr(out, lhs);
            out.push_str(", ");
            write_expr(out, rhs);
            out.push(')');
        }
        PredKind::And(preds) => list(out, "and", preds),
        PredKind::Or(preds) => list(out, "or", preds),
        PredKind::Not(inner) => list(out, "not", std::slice::from_ref(inner)),
        PredKind::Exists(sel) => out.push_str(&format!("exists({})", sel.text())),
        PredKind::Is { test, sel } => out.push_str(&format!("{}({})", test.keyword(), sel.text())),
        PredKind::Matches { sel, pattern } => out.push_str(&format!(
            "matches({}, {})",
            sel.text(),
            str_text(&pattern.value)
        )),
    }
}

fn pos(offset: u32) -> usize {
    offset as usize
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// The first comment not yet printed (or rejected).
    next: usize,
    out: String,
    indent: usize,
    /// Source offset of the end of the last thing printed at the start of a line or at the end
    /// of one; the source text between it and the next line-start item tells whether the author
    /// left a blank line there.
    last_end: usize,
    /// Nothing printed yet in the current block: no blank line before the first item.
    first: bool,
    /// The current line ends in a comment: only a line break may follow.
    line_closed: bool,
    errors: Vec<Diagnostic>,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, comments: &'a [Comment]) -> Self {
        Printer {
            src,
            comments,
            next: 0,
            out: String::new(),
            indent: 0,
            last_end: 0,
            first: true,
            line_closed: false,
            errors: Vec::new(),
        }
    }

    fn finish(mut self) -> String {
        while self.out.ends_with('\n') {
            self.out.pop();
        }
        self.out.push('\n');
        self.out
    }

    // ---- output ------------------------------------------------------------------------

    fn push(&mut self, text: &str) {
        debug_assert!(!self.line_closed, "code after a line comment: {text:?}");
        if self.line_closed {
            // Never glue code onto a comment; `verify` reports the resulting difference.
            self.open_line(false);
        }
        self.out.push_str(text);
    }

    /// Starts a new line at the current indentation (after one blank line if `blank`).
    fn open_line(&mut self, blank: bool) {
        if !self.out.is_empty() {
            self.out.push('\n');
            if blank {
                self.out.push('\n');
            }
        }
        for _ in 0..self.indent {
            self.out.push_str(INDENT);
        }
        self.line_closed = false;
    }

    /// Starts the line of a block item (statement or comment) that begins at `start` in the
    /// source, keeping one blank line where the author left at least one.
    fn open_item_line(&mut self, start: usize) {
        let blank = !self.first
            && self
                .src
                .get(self.last_end..start)
                .is_some_and(|gap| gap.matches('\n').count() >= 2);
        self.open_line(blank);
        self.first = false;
    }

    /// The width of the current line so far, in characters.
    fn column(&self) -> usize {
        let line_start = self.out.rfind('\n').map_or(0, |i| i + 1);
        self.out[line_start..].chars().count()
    }

    // ---- comments ----------------------------------------------------------------------

    fn peek_comment(&self) -> Option<&'a Comment> {
        self.comments.get(self.next)
    }

    fn write_comment(&mut self, comment: &Comment) {
        self.out.push_str("//");
        self.out.push_str(comment.text.trim_end());
        self.last_end = pos(comment.span.end);
        self.line_closed = true;
        self.next += 1;
    }

    /// Prints, each on its own line, the comments that start before `before`.
    /// `blocky`: in a block or at the top level, where blank lines between items are kept.
    fn own_line_comments(&mut self, before: usize, blocky: bool) {
        while let Some(comment) = self.peek_comment() {
            if pos(comment.span.start) >= before {
                break;
            }
            if blocky {
                self.open_item_line(pos(comment.span.start));
            } else {
                self.open_line(false);
            }
            self.write_comment(comment);
        }
    }

    /// Prints the next comment at the end of the current line if it follows `after` on the
    /// same source line with nothing but spaces (and, if `comma`, one comma) between.
    fn trailing_comment(&mut self, after: usize, comma: bool) {
        let Some(comment) = self.peek_comment() else {
            return;
        };
        let start = pos(comment.span.start);
        if start < after {
            return;
        }
        let mut commas = 0;
        let only_space = self.src[after..start].chars().all(|c| match c {
            ' ' | '\t' => true,
            ',' if comma => {
                commas += 1;
                commas == 1
            }
            _ => false,
        });
        if only_space {
            self.out.push(' ');
            self.write_comment(comment);
        }
    }

    /// Whether a comment starts strictly inside `start..end`.
    fn has_comment_in(&self, start: usize, end: usize) -> bool {
        self.comments[self.next..]
            .iter()
            .any(|c| pos(c.span.start) > start && pos(c.span.start) < end)
    }

    /// Comments before `before` that were not printed yet sit where the canonical layout has
    /// no line for them: each is an error.
    fn reject_until(&mut self, before: usize) {
        while let Some(comment) = self.peek_comment() {
            if pos(comment.span.start) >= before {
                break;
            }
            self.errors.push(unsupported_comment(comment.span));
            self.next += 1;
        }
    }

    // ---- file, blocks, statements ------------------------------------------------------

    fn file(&mut self, flow: &Flow) {
        self.own_line_comments(pos(flow.span.start), true);
        self.open_item_line(pos(flow.span.start));
        match &flow.input_type {
            Some(ty) => self.push(&format!(
                "flow {}({}: {}) ",
                flow.name.name, flow.param.name, ty.name
            )),
            None => self.push(&format!("flow {}({}) ", flow.name.name, flow.param.name)),
        }
        self.reject_until(pos(flow.body.span.start));
        self.block(&flow.body);
        self.last_end = self.last_end.max(pos(flow.span.end));
        self.first = false;
        self.trailing_comment(pos(flow.span.end), false);
        self.own_line_comments(self.src.len() + 1, true);
    }

    fn block(&mut self, block: &Block) {
        let open_end = pos(block.span.start) + 1;
        let close = pos(block.span.end).saturating_sub(1);
        if block.stmts.is_empty() && !self.has_comment_in(open_end - 1, close) {
            self.push("{}");
            return;
        }
        self.push("{");
        self.last_end = open_end;
        self.trailing_comment(open_end, false);
        self.first = true;
        self.indent += 1;
        for stmt in &block.stmts {
            let start = pos(stmt.span.start);
            self.own_line_comments(start, true);
            self.open_item_line(start);
            self.stmt(stmt);
            self.last_end = self.last_end.max(pos(stmt.span.end));
        }
        self.own_line_comments(close, true);
        self.reject_until(close);
        self.indent -= 1;
        self.open_line(false);
        self.push("}");
        self.first = false;
    }

    fn stmt(&mut self, stmt: &Stmt) {
        let end = pos(stmt.span.end);
        match &stmt.kind {
            StmtKind::Assign {
                target,
                action,
                modifiers,
            } => {
                match target {
                    Target::Discard(_) => self.push("_ = "),
                    Target::Var(var) => self.push(&format!("{} = ", var.name)),
                }
                self.reject_until(pos(action.span().start));
                self.action(action);
                self.trailing_comment(pos(action.span().end), false);
                self.modifiers(modifiers);
            }
            StmtKind::If { arms, otherwise } => {
                for (i, arm) in arms.iter().enumerate() {
                    self.reject_until(pos(arm.cond.span.start));
                    self.push(if i == 0 { "if " } else { " else if " });
                    self.push(&pred_text(&arm.cond));
                    self.push(" ");
                    self.reject_until(pos(arm.body.span.start));
                    self.block(&arm.body);
                }
                if let Some(body) = otherwise {
                    self.reject_until(pos(body.span.start));
                    self.push(" else ");
                    self.block(body);
                }
            }
            StmtKind::Return(value) => self.wrapped("return(", value, end),
            StmtKind::Wait(value) => self.wrapped("wait(", value, end),
            StmtKind::Fail { error, cause } => {
                self.push("fail(");
                self.push(&str_text(&error.value));
                if let Some(cause) = cause {
                    self.push(", ");
                    self.reject_until(pos(cause.span.start));
                    self.expr(cause, 1);
                }
                self.reject_until(end);
                self.push(")");
            }
        }
        self.trailing_comment(end, false);
    }

    /// `return(value)`, `wait(value)`: `head`, the value, `)` which ends at `end`.
    fn wrapped(&mut self, head: &str, value: &Expr, end: usize) {
        self.push(head);
        self.reject_until(pos(value.span.start));
        self.expr(value, 1);
        self.reject_until(end);
        self.push(")");
    }

    fn action(&mut self, action: &Action) {
        match action {
            Action::Call {
                function,
                arg,
                span,
            } => {
                self.push(&function.text());
                self.push("(");
                if let Some(arg) = arg {
                    self.reject_until(pos(arg.span.start));
                    self.expr(arg, 1);
                }
                self.reject_until(pos(span.end));
                self.push(")");
            }
            Action::Parallel { branches, span } => self.parallel(branches, *span),
            Action::Map {
                item,
                items,
                concurrency,
                body,
                ..
            } => {
                self.push(&format!("map {} in {}", item.name, items.text()));
                if let Some(n) = concurrency {
                    self.push(&format!(" (concurrency: {})", n.text));
                }
                self.push(" ");
                self.reject_until(pos(body.span.start));
                self.block(body);
            }
        }
    }

    fn parallel(&mut self, branches: &[Block], span: Span) {
        let start = pos(span.start);
        let close = pos(span.end).saturating_sub(1);
        // The `{` after `parallel` (the AST keeps no span for it).
        let open = self.src[start..close]
            .find('{')
            .map_or(start, |i| start + i);
        self.reject_until(open);
        if branches.is_empty() && !self.has_comment_in(open, close) {
            self.push("parallel {}");
            return;
        }
        self.push("parallel {");
        self.trailing_comment(open + 1, false);
        self.indent += 1;
        for branch in branches {
            let body_start = pos(branch.span.start);
            let keyword = self.src[..body_start].rfind("branch").unwrap_or(body_start);
            self.own_line_comments(keyword, false);
            self.open_line(false);
            self.push("branch ");
            self.reject_until(body_start);
            self.block(branch);
            self.trailing_comment(pos(branch.span.end), false);
        }
        self.own_line_comments(close, false);
        self.indent -= 1;
        self.open_line(false);
        self.push("}");
    }

    fn modifiers(&mut self, modifiers: &Modifiers) {
        self.indent += 1;
        for modifier in &modifiers.items {
            let span = match modifier {
                Modifier::Retry(retry) => retry.span,
                Modifier::Catch(catch) => catch.span,
                Modifier::Timeout { span, .. } => *span,
            };
            self.own_line_comments(pos(span.start), false);
            self.open_line(false);
            match modifier {
                Modifier::Retry(retry) => {
                    self.push(&retry_text(retry));
                    self.reject_until(pos(span.end));
                }
                Modifier::Timeout { seconds, .. } => {
                    self.push(&format!("timeout({})", seconds.text));
                    self.reject_until(pos(span.end));
                }
                Modifier::Catch(catch) => {
                    match &catch.on {
                        Some(on) => self.push(&format!(
                            "catch({}, on: {}) ",
                            catch.binding.name,
                            str_list_text(on)
                        )),
                        None => self.push(&format!("catch({}) ", catch.binding.name)),
                    }
                    self.reject_until(pos(catch.body.span.start));
                    self.block(&catch.body);
                }
            }
            self.trailing_comment(pos(span.end), false);
        }
        self.indent -= 1;
    }

    // ---- expressions -------------------------------------------------------------------

    /// Prints `expr` at the current column; `suffix` is the width of what follows it on the
    /// line (`)` or `,`). Objects and lists break one entry per line when they would not fit,
    /// or when they hold comments.
    fn expr(&mut self, expr: &Expr, suffix: usize) {
        let start = pos(expr.span.start);
        let end = pos(expr.span.end);
        let flat = expr_text(expr);
        let has_comments = self.has_comment_in(start, end);
        let fits = self.column() + flat.chars().count() + suffix <= MAX_WIDTH;
        match &expr.kind {
            ExprKind::Object(entries) if has_comments || (!fits && !entries.is_empty()) => self
                .broken(
                    start,
                    end,
                    "{",
                    "}",
                    entries.iter().map(|(k, v)| (Some(k), v)),
                ),
            ExprKind::List(items) if has_comments || (!fits && !items.is_empty()) => {
                self.broken(start, end, "[", "]", items.iter().map(|v| (None, v)))
            }
            _ => {
                self.push(&flat);
                self.reject_until(end);
            }
        }
    }

    /// An object (entries with keys) or list (without) one entry per line, each with a comma.
    fn broken<'e>(
        &mut self,
        start: usize,
        end: usize,
        open: &str,
        close: &str,
        entries: impl Iterator<Item = (Option<&'e StrLit>, &'e Expr)>,
    ) {
        let close_at = end.saturating_sub(1);
        self.push(open);
        self.trailing_comment(start + 1, false);
        self.indent += 1;
        for (key, value) in entries {
            let entry_start = key.map_or(value.span.start, |k| k.span.start);
            self.own_line_comments(pos(entry_start), false);
            self.open_line(false);
            if let Some(key) = key {
                self.push(&str_text(&key.value));
                self.push(": ");
                self.reject_until(pos(value.span.start));
            }
            self.expr(value, 1);
            self.push(",");
            self.trailing_comment(pos(value.span.end), true);
        }
        self.own_line_comments(close_at, false);
        self.indent -= 1;
        self.open_line(false);
        self.push(close);
    }
}

fn unsupported_comment(span: Span) -> Diagnostic {
    Diagnostic::error("F020", "comment in a place `fmt` cannot keep", span)
        .text("the formatted file has no line for this comment here")
        .hint(COMMENT_HINT)
}

/// Checks the formatted text against the original: same program (spans aside), same comments
/// in the same order. Anything else is a formatter bug, reported rather than written out.
fn verify(before: &FlowFile, out: &str) -> Result<(), Vec<Diagnostic>> {
    let (after, diagnostics) = parse(out);
    let after = match after {
        Some(after) if diagnostics.is_empty() => after,
        _ => {
            return Err(vec![internal_error(
                before.flow.span,
                "the formatted file does not parse",
            )])
        }
    };
    let texts = |file: &FlowFile| -> Vec<String> {
        file.comments
            .iter()
            .map(|c| c.text.trim_end().to_string())
            .collect()
    };
    let (old, new) = (texts(before), texts(&after));
    if old != new {
        let lost = old
            .iter()
            .zip(&new)
            .position(|(a, b)| a != b)
            .unwrap_or(new.len().min(old.len()));
        let span = before
            .comments
            .get(lost)
            .map_or(before.flow.span, |c| c.span);
        return Err(vec![unsupported_comment(span)]);
    }
    if erase_spans(&format!("{:?}", before.flow)) != erase_spans(&format!("{:?}", after.flow)) {
        return Err(vec![internal_error(
            before.flow.span,
            "the formatted file parses to a different program",
        )]);
    }
    Ok(())
}

fn internal_error(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error("F021", "internal error in `fmt`", span)
        .text(what)
        .hint("the file was left as it is; please report this with the file")
}

/// Replaces every `Span { start: N, end: M }` in a `Debug` rendering by `Span`.
pub fn erase_spans(debug: &str) -> String {
    const OPEN: &str = "Span { start: ";
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        rest = &rest[i + OPEN.len()..];
        match rest.find('}') {
            Some(j) => rest = &rest[j + 1..],
            None => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
