//! The condition AST: what a condition says, with byte spans local to the condition text.

/// A byte range inside one condition (or template) string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalSpan {
    /// First byte (inclusive).
    pub start: usize,
    /// Last byte (exclusive).
    pub end: usize,
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it is in the condition text.
    pub span: LocalSpan,
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!`: logical negation of truthiness.
    Not,
    /// `-`: numeric negation.
    Neg,
}

/// Infix operators other than `&&` and `||` (those are n-ary, see [`ExprKind::And`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `in`
    In,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::In => "in",
        }
    }
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number literal (never negative: `-1` is `Neg(1)`): an integer when written with
    /// digits only and it fits `u64`, so that ids beyond 2^53 keep every digit; else the
    /// nearest float.
    Number(serde_json::Number),
    /// A string literal, escapes decoded.
    String(String),
    /// `[a, b, ...]`
    Array(Vec<Expr>),
    /// A bare name at the head of a path: `event`, `ctx`, `truck`, ...
    Name(String),
    /// `base.field`
    Member(Box<Expr>, String),
    /// `base[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `a.b.c(args)`: a call of the function registered under the dotted name.
    Call {
        /// The dotted name, e.g. `db.count.trucksByOperator`.
        name: String,
        /// The span of the name alone.
        name_span: LocalSpan,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `!x`, `-x`
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `a && b && ...` (two or more operands, flattened)
    And(Vec<Expr>),
    /// `a || b || ...` (two or more operands, flattened)
    Or(Vec<Expr>),
}

impl Expr {
    /// Call `f` on each direct sub-expression, in source order: the one place that knows
    /// which kinds have children, for every walk over the tree.
    pub fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Expr)) {
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Name(_) => {}
            ExprKind::Array(items) | ExprKind::And(items) | ExprKind::Or(items) => {
                items.iter().for_each(f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(f),
            ExprKind::Member(base, _) | ExprKind::Unary(_, base) => f(base),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                f(a);
                f(b);
            }
        }
    }

    /// The dotted path this expression spells, if it is a plain `a.b.c`.
    pub fn as_dotted_path(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Name(name) => Some(name.clone()),
            ExprKind::Member(base, field) => {
                let mut path = base.as_dotted_path()?;
                path.push('.');
                path.push_str(field);
                Some(path)
            }
            _ => None,
        }
    }
}
