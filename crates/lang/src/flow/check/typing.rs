//! The typed half of the checker: what a selector reads (unknown fields, optional fields
//! read without a guard), what a call is passed (its input type), what a comparison compares
//! (types decided from the schemas, enum literals) and what a `map` walks over.
//!
//! Untyped values (`Type::Any`: no registry, a function nothing describes) check nothing, so
//! a flow checks exactly as it did before types when nothing is known.

use super::{Checker, Diagnostic, Scalar, Ty};
use crate::diagnostic::Span;
use crate::flow::ast::{self, ExprKind, PathSeg};
use crate::types::{self, FieldError, MismatchKind, Type};
use flowctl_protocol::did_you_mean;

/// Why a selector is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// For its value: it must be there.
    Value,
    /// By `exists`/`is_*`, which answer for a value that is not there.
    Test,
}

impl Checker<'_> {
    /// The type `sel` reads from a variable of type `root`, reporting unknown fields and
    /// (for `Read::Value`) optional fields read without a guard.
    pub(super) fn read(&mut self, sel: &ast::Selector, root: &Type, read: Read) -> Type {
        let (ty, diagnostics) = self.walk(sel, root, read);
        self.diagnostics.extend(diagnostics);
        let text = sel.text();
        match self.narrowed.iter().rev().find(|(t, _)| *t == text) {
            Some((_, scalar)) => self.narrow(&ty, *scalar),
            None => ty,
        }
    }

    /// What is left of `ty` once an `is_*` test proved it a `scalar`.
    fn narrow(&self, ty: &Type, scalar: Scalar) -> Type {
        let fits = |t: &Type| {
            matches!(
                (self.types.resolve(t), scalar),
                (Type::Null, Scalar::Null)
                    | (Type::Bool, Scalar::Bool)
                    | (Type::Number | Type::Integer, Scalar::Number)
                    | (Type::String(_), Scalar::String | Scalar::Timestamp)
            )
        };
        match self.types.resolve(ty) {
            Type::Any => match scalar {
                Scalar::Null => Type::Null,
                Scalar::Bool => Type::Bool,
                Scalar::Number => Type::Number,
                Scalar::String | Scalar::Timestamp => Type::string(),
            },
            Type::Union(members) => {
                let kept: Vec<Type> = members.iter().filter(|m| fits(m)).cloned().collect();
                if kept.is_empty() {
                    ty.clone()
                } else {
                    Type::union(kept)
                }
            }
            _ => ty.clone(),
        }
    }

    /// [`Checker::read`] without reporting: the type, and what would be reported.
    fn walk(&self, sel: &ast::Selector, root: &Type, read: Read) -> (Type, Vec<Diagnostic>) {
        let mut ty = root.clone();
        let mut text = sel.root.name.clone();
        let mut out = Vec::new();
        let mut warned = false;
        for seg in &sel.path {
            let before = text.clone();
            let (step, span) = match seg {
                PathSeg::Field(f) => {
                    text.push('.');
                    text.push_str(&f.name);
                    (self.types.field(&ty, &f.name), f.span)
                }
                PathSeg::Key(k) => {
                    text.push_str(&format!(
                        "[{}]",
                        serde_json::to_string(&k.value).unwrap_or_default()
                    ));
                    (self.types.field(&ty, &k.value), k.span)
                }
                PathSeg::Index { index, span } => {
                    text.push_str(&format!("[{index}]"));
                    // An index into a list may be past its end; that is what `map` is for, and
                    // warning on every `xs[0]` would drown the warnings that matter.
                    (
                        self.types.item(&ty, Some(*index)).map(|(t, _)| (t, false)),
                        *span,
                    )
                }
            };
            match step {
                Ok((next, optional)) => {
                    if optional && read == Read::Value && !warned && !self.is_present(&text) {
                        warned = true;
                        out.push(
                            Diagnostic::warning("C026", format!("`{text}` may be absent"), span)
                                .text("an optional field, read without a guard")
                                .hint(format!(
                                    "read it under `if exists({text}) {{ … }}` (or an `is_*` test); when it is absent, Step Functions fails the execution with States.Runtime"
                                )),
                        );
                    }
                    ty = next;
                }
                Err(error) => {
                    out.push(unknown_field(&before, seg_name(seg), &ty, error, span));
                    return (Type::Any, out);
                }
            }
        }
        (ty, out)
    }

    /// Whether an enclosing `exists`/`is_*` proves `text` (or something inside it) present.
    fn is_present(&self, text: &str) -> bool {
        self.present.iter().any(|g| {
            g == text
                || g.strip_prefix(text)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }

    /// The type `sel` reads, without reporting anything (`None` for an unknown variable).
    pub(super) fn quiet_type(&self, sel: &ast::Selector) -> Option<Type> {
        let (_, var) = self.lookup(&sel.root.name)?;
        Some(self.walk(sel, &var.ty, Read::Test).0)
    }

    /// The comparison types an expression can have: `None` when unknown.
    pub(super) fn type_of(&self, e: &ast::Expr) -> Option<Vec<Ty>> {
        let scalar = |s| Some(vec![Ty::Scalar(s)]);
        match &e.kind {
            ExprKind::Str(s) if super::is_timestamp(s) => scalar(Scalar::Timestamp),
            ExprKind::Str(_) => scalar(Scalar::String),
            ExprKind::Num(_) => scalar(Scalar::Number),
            ExprKind::Bool(_) => scalar(Scalar::Bool),
            ExprKind::Null => scalar(Scalar::Null),
            ExprKind::Object(_) | ExprKind::List(_) => Some(vec![Ty::Composite]),
            ExprKind::Select(sel) => {
                let text = sel.text();
                if let Some((_, s)) = self.narrowed.iter().rev().find(|(t, _)| *t == text) {
                    return scalar(*s);
                }
                self.scalars_of(&self.quiet_type(sel)?, 0)
            }
        }
    }

    /// What a value of type `ty` can be compared as; a string can be compared as a string or,
    /// against a timestamp, as a timestamp (a `date-time` string prefers the latter).
    fn scalars_of(&self, ty: &Type, depth: usize) -> Option<Vec<Ty>> {
        if depth > 32 {
            return None;
        }
        let s = |s| Some(vec![Ty::Scalar(s)]);
        match self.types.resolve(ty) {
            Type::Any => None,
            Type::Null => s(Scalar::Null),
            Type::Bool => s(Scalar::Bool),
            Type::Number | Type::Integer => s(Scalar::Number),
            Type::String(st) if st.timestamp => Some(vec![
                Ty::Scalar(Scalar::Timestamp),
                Ty::Scalar(Scalar::String),
            ]),
            Type::String(_) => Some(vec![
                Ty::Scalar(Scalar::String),
                Ty::Scalar(Scalar::Timestamp),
            ]),
            Type::List(_) | Type::Tuple(_) | Type::Object(_) => Some(vec![Ty::Composite]),
            Type::Union(members) => {
                let mut out: Vec<Ty> = Vec::new();
                for m in self.types.union_members(members) {
                    for t in self.scalars_of(m, depth + 1)? {
                        if !out.contains(&t) {
                            out.push(t);
                        }
                    }
                }
                Some(out)
            }
            Type::Named(_) => None,
        }
    }

    /// A string literal compared with an enum must be one of its values.
    pub(super) fn enum_literal(&mut self, lhs: &ast::Expr, rhs: &ast::Expr) -> bool {
        let (sel, literal) = match (&lhs.kind, &rhs.kind) {
            (ExprKind::Select(sel), ExprKind::Str(s)) => (sel, (s, rhs.span)),
            (ExprKind::Str(s), ExprKind::Select(sel)) => (sel, (s, lhs.span)),
            _ => return true,
        };
        let Some(ty) = self.quiet_type(sel) else {
            return true;
        };
        let Some(allowed) = self.enum_values(&ty) else {
            return true;
        };
        let (value, span) = literal;
        if allowed.contains(value) {
            return true;
        }
        let hint = match did_you_mean(value, allowed.iter().map(String::as_str)) {
            Some(near) => format!(
                "did you mean \"{near}\"? `{}` is one of {}",
                sel.text(),
                quoted(&allowed)
            ),
            None => format!("`{}` is one of {}", sel.text(), quoted(&allowed)),
        };
        self.error(
            Diagnostic::error(
                "C024",
                format!("\"{value}\" is not a value `{}` can have", sel.text()),
                span,
            )
            .text("outside the values its type allows")
            .label(sel.span, format!("one of {}", quoted(&allowed)))
            .hint(hint),
        );
        false
    }

    /// The allowed strings of an enum type (or an enum or null), `None` when any string goes.
    fn enum_values(&self, ty: &Type) -> Option<Vec<String>> {
        match self.types.resolve(ty) {
            Type::String(s) => s.values.clone(),
            Type::Union(members) => {
                let mut out = Vec::new();
                for m in self.types.union_members(members) {
                    if let Type::String(s) = self.types.resolve(m) {
                        out.extend(s.values.clone()?);
                    }
                }
                (!out.is_empty()).then_some(out)
            }
            _ => None,
        }
    }

    /// The flow's declared input type, resolved in the registry's named types.
    pub(super) fn input_type(&mut self, name: Option<&ast::Ident>) -> Type {
        let Some(name) = name else {
            return Type::Any;
        };
        let Some(registry) = &self.known.registry else {
            return Type::Any;
        };
        if registry.types.get(&name.name).is_some() {
            return Type::Named(name.name.clone());
        }
        if !registry.complete {
            return Type::Any; // not built yet: the type may come with the build
        }
        let names: Vec<&str> = registry.types.names().collect();
        let hint = match did_you_mean(&name.name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "declare it under `types:` in flowctl.yaml (a JSON Schema, inline or a file), or register it in the functions' binary (`Registry::named_type::<T>()`)".into(),
        };
        self.error(
            Diagnostic::error("C027", format!("unknown type `{}`", name.name), name.span)
                .text("no named type has this name")
                .hint(hint),
        );
        Type::Any
    }

    /// The output type of a manifest function (`Any` when nothing describes it).
    pub(super) fn output_of(&self, key: &str) -> Type {
        self.known
            .registry
            .as_ref()
            .and_then(|r| r.function(key))
            .map_or(Type::Any, |f| f.output.clone())
    }

    /// The argument of a call to `key` against the function's input type.
    pub(super) fn argument(&mut self, key: &str, ty: &Type, arg: Option<&ast::Expr>, call: Span) {
        let Some(input) = self
            .known
            .registry
            .as_ref()
            .and_then(|r| r.function(key))
            .map(|f| f.input.clone())
        else {
            return;
        };
        let mismatches = types::assign(ty, &input, self.types);
        let mut missing: Vec<(String, String)> = Vec::new();
        let span = arg.map_or(call, |a| a.span);
        for m in mismatches {
            let at = arg.map_or(call, |a| place_span(a, &m.place));
            let field = |f: &str| {
                if m.place.is_empty() {
                    f.to_string()
                } else {
                    format!("{}.{f}", m.place)
                }
            };
            match m.kind {
                MismatchKind::Missing { field: f, expected } => missing.push((field(&f), expected)),
                MismatchKind::Unknown { field: f, allowed } => {
                    let hint = match did_you_mean(&f, allowed.iter().map(String::as_str)) {
                        Some(near) => format!("did you mean `{near}`? {key} takes {}", ticked(&allowed)),
                        None => format!("remove it; {key} takes {}", ticked(&allowed)),
                    };
                    let at = arg.map_or(call, |a| key_span(a, &m.place, &f));
                    self.error(
                        Diagnostic::error("C022", format!("{key} takes no field `{}`", field(&f)), at)
                            .text("its input type forbids other fields")
                            .hint(hint),
                    );
                }
                MismatchKind::MaybeMissing { field: f } => self.error(
                    Diagnostic::error("C023", format!("`{}` of {key}'s input is required, and may be absent here", field(&f)), at)
                        .text("optional in the value passed")
                        .hint(format!("check it first (`if exists(…)`), or pass `{}` from a value that always has it", field(&f))),
                ),
                MismatchKind::NotInEnum { value, allowed } => {
                    let near = did_you_mean(&value, allowed.iter().map(String::as_str))
                        .map(|n| format!("did you mean \"{n}\"? "))
                        .unwrap_or_default();
                    self.error(
                        Diagnostic::error("C023", format!("\"{value}\" is not a value {key} accepts{}", place_of(&m.place)), at)
                            .text(format!("expected {}", quoted(&allowed)))
                            .hint(format!("{near}use one of {}", quoted(&allowed))),
                    );
                }
                MismatchKind::Wrong { expected, found } => self.error(
                    Diagnostic::error("C023", format!("{key} expects {expected}{}", place_of(&m.place)), at)
                        .text(format!("found {found}"))
                        .hint(format!("pass {expected} here, as {key}'s input type says")),
                ),
            }
        }
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .map(|(f, t)| format!("`{f}` ({t})"))
                .collect();
            let fields: Vec<&str> = missing.iter().map(|(f, _)| f.as_str()).collect();
            self.error(
                Diagnostic::error(
                    "C021",
                    format!(
                        "{key} needs {} {}",
                        if missing.len() == 1 {
                            "field"
                        } else {
                            "fields"
                        },
                        fields
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    span,
                )
                .text(format!("missing {}", names.join(", ")))
                .hint(format!(
                    "add {} to the argument",
                    fields
                        .iter()
                        .map(|f| format!("`\"{f}\": …`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }

    /// The item type of a `map`'s list, reporting a value that is not a list.
    pub(super) fn items_type(&mut self, sel: &ast::Selector, ty: &Type) -> Type {
        match self.types.items_of(ty) {
            Some(item) => item,
            None => {
                self.error(
                    Diagnostic::error(
                        "C025",
                        format!("`map` over `{}`, which is not a list", sel.text()),
                        sel.span,
                    )
                    .text(format!("its type is {}", ty.show()))
                    .hint("map over a list (a field whose type is an array)"),
                );
                Type::Any
            }
        }
    }
}

fn seg_name(seg: &PathSeg) -> String {
    match seg {
        PathSeg::Field(f) => f.name.clone(),
        PathSeg::Key(k) => k.value.clone(),
        PathSeg::Index { index, .. } => index.to_string(),
    }
}

fn unknown_field(
    owner: &str,
    name: String,
    ty: &Type,
    error: FieldError,
    span: Span,
) -> Diagnostic {
    match error {
        FieldError::Unknown { fields } => {
            let hint = match did_you_mean(&name, fields.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`? `{owner}` has {}", ticked(&fields)),
                None => format!("`{owner}` has {}", ticked(&fields)),
            };
            Diagnostic::error("C020", format!("`{owner}` has no field `{name}`"), span)
                .text(format!("not a field of {}", ty.show()))
                .hint(hint)
        }
        FieldError::NotAnObject { ty } => {
            Diagnostic::error("C020", format!("`{owner}` has no field `{name}`"), span)
                .text(format!("`{owner}` is {}, not an object", ty.show()))
                .hint(format!("read `{owner}` itself"))
        }
        FieldError::NotAList { ty } => {
            Diagnostic::error("C020", format!("`{owner}` has no item {name}"), span)
                .text(format!("`{owner}` is {}, not a list", ty.show()))
                .hint(format!("read `{owner}` itself"))
        }
        FieldError::OutOfRange { len } => {
            Diagnostic::error("C020", format!("`{owner}` has no item {name}"), span)
                .text(format!("it has {len} items"))
                .hint(format!("read an index from 0 to {}", len.saturating_sub(1)))
        }
    }
}

fn ticked(names: &[String]) -> String {
    if names.is_empty() {
        return "no fields".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ")
}

fn place_of(place: &str) -> String {
    if place.is_empty() {
        String::new()
    } else {
        format!(" for `{place}`")
    }
}

/// The argument of a call action, when written.
pub(super) fn arg_expr(action: &ast::Action) -> Option<&ast::Expr> {
    match action {
        ast::Action::Call { arg, .. } => arg.as_ref(),
        _ => None,
    }
}

/// The span of the part of `expr` at `place` (`room`, `guest.name`): the value written for it
/// in an object literal, else the closest enclosing expression.
fn place_span(expr: &ast::Expr, place: &str) -> Span {
    expr_at(expr, place).0.span
}

/// The expression written for `place` in `expr`'s object literals, or the closest enclosing
/// one, and whether all of `place` was found.
fn expr_at<'e>(expr: &'e ast::Expr, place: &str) -> (&'e ast::Expr, bool) {
    let mut at = expr;
    for field in place.split('.').filter(|f| !f.is_empty()) {
        let field = field.split('[').next().unwrap_or(field);
        let ExprKind::Object(entries) = &at.kind else {
            return (at, false);
        };
        match entries.iter().find(|(k, _)| k.value == field) {
            Some((_, value)) => at = value,
            None => return (at, false),
        }
    }
    (at, true)
}

/// The span of the key `field` in the object at `place`, else of the object.
fn key_span(expr: &ast::Expr, place: &str, field: &str) -> Span {
    let (at, found) = expr_at(expr, place);
    match &at.kind {
        ExprKind::Object(entries) if found => entries
            .iter()
            .find(|(k, _)| k.value == field)
            .map_or(at.span, |(k, _)| k.span),
        _ => at.span,
    }
}
