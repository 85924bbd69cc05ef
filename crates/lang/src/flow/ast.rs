//! The untyped syntax tree of one `.flow` file, exactly as written (the parser's output).
//!
//! Every node keeps its span. Comments are kept on the side (`FlowFile::comments`) so the
//! formatter can put them back; nothing else in the pipeline looks at them.

use crate::diagnostic::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct FlowFile {
    pub flow: Flow,
    /// Every `// …` comment in the file, in source order.
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// The text after `//`, without the line break.
    pub text: String,
    pub span: Span,
}

/// `flow Name(param) { … }` or `flow Name(param: InputType) { … }`
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub name: Ident,
    pub param: Ident,
    /// The named type the input must have (the registry's or the manifest's `types`).
    pub input_type: Option<Ident>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `{ stmt* }`; the span covers the braces.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `x = action modifiers*` or `_ = action modifiers*`
    Assign {
        target: Target,
        action: Action,
        modifiers: Modifiers,
    },
    /// `if p { … } else if q { … } else { … }`
    If {
        arms: Vec<IfArm>,
        otherwise: Option<Block>,
    },
    /// `return(expr)`
    Return(Expr),
    /// `fail("Error")` or `fail("Error", cause)`
    Fail { error: StrLit, cause: Option<Expr> },
    /// `wait(seconds)` or `wait(selector)`
    Wait(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IfArm {
    pub cond: Pred,
    pub body: Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `_`: the result is discarded.
    Discard(Span),
    Var(Ident),
}

impl Target {
    pub fn span(&self) -> Span {
        match self {
            Target::Discard(span) => *span,
            Target::Var(ident) => ident.span,
        }
    }
}

/// The right-hand side of an assignment: the only things that produce values.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `F(expr)`, `ns.F(expr)` or `F()`
    Call {
        function: QualName,
        arg: Option<Expr>,
        span: Span,
    },
    /// `parallel { branch { … } branch { … } }`
    Parallel { branches: Vec<Block>, span: Span },
    /// `map item in selector (concurrency: N) { … }`
    Map {
        item: Ident,
        items: Selector,
        concurrency: Option<NumLit>,
        body: Block,
        span: Span,
    },
}

impl Action {
    pub fn span(&self) -> Span {
        match self {
            Action::Call { span, .. }
            | Action::Parallel { span, .. }
            | Action::Map { span, .. } => *span,
        }
    }
}

/// A possibly namespaced function name: `Charge` or `payments.Charge`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualName {
    pub namespace: Option<Ident>,
    pub name: Ident,
    pub span: Span,
}

impl QualName {
    /// As written: `payments.Charge` or `Charge`.
    pub fn text(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}.{}", ns.name, self.name.name),
            None => self.name.name.clone(),
        }
    }
}

/// Modifiers after an action, in the order written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Modifiers {
    pub items: Vec<Modifier>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Modifier {
    Retry(Retry),
    Catch(Catch),
    /// `timeout(seconds)`
    Timeout {
        seconds: NumLit,
        span: Span,
    },
}

/// `retry(max: 3, interval: 1, backoff: 2.0, on: ["E"])`; every argument optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub max: Option<NumLit>,
    pub interval: Option<NumLit>,
    pub backoff: Option<NumLit>,
    pub max_delay: Option<NumLit>,
    pub on: Option<Vec<StrLit>>,
    pub span: Span,
}

/// `catch(err) { … }` or `catch(err, on: ["E"]) { … }`
#[derive(Debug, Clone, PartialEq)]
pub struct Catch {
    pub binding: Ident,
    pub on: Option<Vec<StrLit>>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// A number as written (`3`, `2.0`, `-1e3`) and its JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct NumLit {
    pub text: String,
    pub value: serde_json::Number,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Select(Selector),
    Str(String),
    Num(NumLit),
    Bool(bool),
    Null,
    Object(Vec<(StrLit, Expr)>),
    List(Vec<Expr>),
}

/// `root.field[0]["odd key"]`
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub root: Ident,
    pub path: Vec<PathSeg>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathSeg {
    /// `.name`
    Field(Ident),
    /// `["any key"]`
    Key(StrLit),
    /// `[3]`
    Index { index: u64, span: Span },
}

impl Selector {
    /// As written, e.g. `reservation.status` (used in state names and messages).
    pub fn text(&self) -> String {
        let mut out = self.root.name.clone();
        for seg in &self.path {
            match seg {
                PathSeg::Field(f) => {
                    out.push('.');
                    out.push_str(&f.name);
                }
                PathSeg::Key(k) => {
                    out.push('[');
                    out.push_str(&serde_json::to_string(&k.value).unwrap_or_default());
                    out.push(']');
                }
                PathSeg::Index { index, .. } => out.push_str(&format!("[{index}]")),
            }
        }
        out
    }
}

/// A condition of `if`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pred {
    pub kind: PredKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PredKind {
    /// `eq(a, b)`, `lt(a, b)`, …
    Compare {
        op: CmpOp,
        lhs: Expr,
        rhs: Expr,
    },
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    /// `exists(sel)`
    Exists(Selector),
    /// `is_null(sel)`, `is_string(sel)`, …
    Is {
        test: TypeTest,
        sel: Selector,
    },
    /// `matches(sel, "glob*")`
    Matches {
        sel: Selector,
        pattern: StrLit,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }

    /// The symbol used in state names: `==`, `<`, …
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator that gives the same answer with the operands swapped (`lt(a,b)` = `gt(b,a)`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeTest {
    Null,
    String,
    Number,
    Bool,
    Timestamp,
}

impl TypeTest {
    pub const ALL: [TypeTest; 5] = [
        TypeTest::Null,
        TypeTest::String,
        TypeTest::Number,
        TypeTest::Bool,
        TypeTest::Timestamp,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            TypeTest::Null => "is_null",
            TypeTest::String => "is_string",
            TypeTest::Number => "is_number",
            TypeTest::Bool => "is_bool",
            TypeTest::Timestamp => "is_timestamp",
        }
    }
}
