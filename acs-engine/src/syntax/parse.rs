//! Condition text -> [`Expr`]: the pest grammar in `condition.pest` reads a flat run of
//! operands and operators, and pest's Pratt parser gives it its tree.
//!
//! Recursion is bounded before pest sees the text (bracket nesting) and while the AST is
//! built (expression depth), so no input can overflow the stack here or in later passes.
//! The Pratt parser recurses per precedence level, per bracket and per run of prefix
//! operators (one pair however long), never per operator.

use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;

use super::ast::{BinaryOp, Expr, ExprKind, LocalSpan, UnaryOp};

#[derive(pest_derive::Parser)]
#[grammar = "syntax/condition.pest"]
struct ConditionParser;

/// Most brackets (`(`, `[`) that may be open at once in one condition.
pub const MAX_NESTING: usize = 32;
/// Deepest expression tree a condition may build.
pub const MAX_DEPTH: usize = 128;
/// Longest condition or template expression, in bytes.
pub const MAX_CONDITION_BYTES: usize = 16 * 1024;

/// How much a condition may ask of the parser (part of [`crate::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxLimits {
    /// Longest condition or template expression, in bytes.
    pub max_condition_bytes: usize,
    /// Most brackets that may be open at once (at most [`MAX_NESTING`], which bounds the
    /// parser's recursion).
    pub max_nesting: usize,
}

impl Default for SyntaxLimits {
    fn default() -> Self {
        SyntaxLimits {
            max_condition_bytes: MAX_CONDITION_BYTES,
            max_nesting: MAX_NESTING,
        }
    }
}

/// A condition that does not parse: one message and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// Lowercase, one line.
    pub message: String,
    /// Where, in the condition text.
    pub span: LocalSpan,
    /// A hint, when there is a likely fix.
    pub help: Option<String>,
}

impl SyntaxError {
    fn new(message: impl Into<String>, span: LocalSpan) -> Self {
        SyntaxError {
            message: message.into(),
            span,
            help: None,
        }
    }
}

type Result<T> = std::result::Result<T, SyntaxError>;

/// Parse one condition (or the inside of a `{{...}}` template) with the default limits.
pub fn parse_condition(text: &str) -> Result<Expr> {
    parse_condition_with(text, &SyntaxLimits::default())
}

/// Parse one condition under `limits`.
pub fn parse_condition_with(text: &str, limits: &SyntaxLimits) -> Result<Expr> {
    let max_bytes = limits.max_condition_bytes;
    if text.len() > max_bytes {
        let mut error = SyntaxError::new(
            format!(
                "condition is {} bytes long, the limit is {max_bytes}",
                text.len()
            ),
            LocalSpan { start: 0, end: 0 },
        );
        error.help =
            Some("split it into several rules, or raise `Limits::max_condition_bytes`".into());
        return Err(error);
    }
    check_nesting(text, limits.max_nesting.min(MAX_NESTING))?;
    let mut pairs =
        ConditionParser::parse(Rule::condition, text).map_err(|e| from_pest(&e, text))?;
    let condition = pairs.next().ok_or_else(|| empty_error(text))?;
    let expr = condition
        .into_inner()
        .find(|pair| pair.as_rule() == Rule::expr)
        .ok_or_else(|| empty_error(text))?;
    Ok(build_expr(expr)?.expr)
}

fn empty_error(text: &str) -> SyntaxError {
    SyntaxError::new(
        "expected an expression",
        LocalSpan {
            start: 0,
            end: text.len(),
        },
    )
}

/// The characters of condition text that lie outside its string literals, with their
/// byte offsets. A quote (`'` or `"`) opens a literal that runs to the next same quote
/// not escaped by a backslash, or to the end of an unclosed text; literals are skipped,
/// quotes included. The text need not parse: the nesting check runs before the parser,
/// and template bodies and explained spans are scanned beside it.
pub(crate) fn outside_strings(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    text.char_indices().filter(move |&(_, c)| {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            return false;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            return false;
        }
        true
    })
}

/// Reject bracket nesting deeper than `max_nesting` before pest recurses into it.
fn check_nesting(text: &str, max_nesting: usize) -> Result<()> {
    let mut depth = 0usize;
    for (offset, c) in outside_strings(text) {
        match c {
            '(' | '[' => {
                depth += 1;
                if depth > max_nesting {
                    let mut error = SyntaxError::new(
                        format!("brackets nested more than {max_nesting} deep"),
                        LocalSpan {
                            start: offset,
                            end: offset + 1,
                        },
                    );
                    error.help = Some("split the condition into simpler parts".into());
                    return Err(error);
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn span_of(pair: &Pair<'_, Rule>) -> LocalSpan {
    let span = pair.as_span();
    LocalSpan {
        start: span.start(),
        end: span.end(),
    }
}

fn join(a: LocalSpan, b: LocalSpan) -> LocalSpan {
    LocalSpan {
        start: a.start.min(b.start),
        end: a.end.max(b.end),
    }
}

fn node(kind: ExprKind, span: LocalSpan, depth: usize) -> Result<(Expr, usize)> {
    check_depth(span, depth)?;
    Ok((Expr { kind, span }, depth))
}

fn check_depth(span: LocalSpan, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        let mut error = SyntaxError::new(
            format!("expression is nested more than {MAX_DEPTH} levels deep"),
            span,
        );
        error.help = Some("split the condition into simpler parts".into());
        return Err(error);
    }
    Ok(())
}

fn internal(pair: &Pair<'_, Rule>) -> SyntaxError {
    SyntaxError::new("malformed expression", span_of(pair))
}

/// The operator table, loosest first. Every binary operator is left-associative; a
/// `prefix` pair is a whole run of `!` / `-` (see [`build_prefix`]).
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::infix(Rule::in_op, Assoc::Left))
        .op(Op::infix(Rule::eq_op, Assoc::Left))
        .op(Op::infix(Rule::rel_op, Assoc::Left))
        .op(Op::infix(Rule::add_op, Assoc::Left))
        .op(Op::infix(Rule::mul_op, Assoc::Left))
        .op(Op::prefix(Rule::prefix))
        .op(Op::postfix(Rule::member) | Op::postfix(Rule::index) | Op::postfix(Rule::call_args))
});

/// Where a built expression's top operator sits in the precedence table, loosest first;
/// [`OPERAND`] for anything else (a primary, bracketed or not, with its prefix and
/// postfix operators).
type Level = u8;
const OR: Level = 1;
const AND: Level = 2;
const OPERAND: Level = 8;

fn level_of(rule: Rule) -> Level {
    match rule {
        Rule::or_op => OR,
        Rule::and_op => AND,
        Rule::in_op => 3,
        Rule::eq_op => 4,
        Rule::rel_op => 5,
        Rule::add_op => 6,
        Rule::mul_op => 7,
        _ => OPERAND,
    }
}

/// An expression being built, with what its parents need to know about the text.
///
/// The spans of `&&` / `||` nodes stay what the earlier grammar, one rule per precedence
/// level, gave them: that rule's match, from the first operand (brackets and prefix
/// operators included) to the end of the last. pest ends a rule's match after the
/// whitespace that follows it when its last repetition matched nothing (the whitespace
/// before the repetition is kept), so the match ended after trailing whitespace unless
/// every level below ended in an operator of its own and the last operand in a postfix
/// operator. `outer` and `trailing_ws` carry exactly that.
struct Built {
    expr: Expr,
    depth: usize,
    /// The text the expression covers, brackets and prefix operators included.
    outer: LocalSpan,
    level: Level,
    /// Whether the earlier grammar's rule for `level` matched the whitespace after it.
    trailing_ws: bool,
}

impl Built {
    fn operand(expr: Expr, depth: usize, outer: LocalSpan, trailing_ws: bool) -> Self {
        Built {
            expr,
            depth,
            outer,
            level: OPERAND,
            trailing_ws,
        }
    }

    /// Whether the earlier grammar's rule for `level` (looser than or as loose as this
    /// expression's own) matched the whitespace after this expression: it did unless it
    /// is this expression's own level and that ended tight.
    fn trailing_ws_at(&self, level: Level) -> bool {
        self.level != level || self.trailing_ws
    }

    /// An `&&` / `||` chain is complete once something else takes it as an operand (or it
    /// is the whole expression): only then is its depth known, and checked.
    fn finish(self) -> Result<Self> {
        if matches!(self.level, OR | AND) {
            check_depth(self.expr.span, self.depth)?;
        }
        Ok(self)
    }
}

/// Build one `expr` pair. Its children are a flat run of operands and operators; the Pratt
/// parser recurses only per precedence level and per bracket (bounded by
/// [`check_nesting`]), never per operator of a chain.
fn build_expr(pair: Pair<'_, Rule>) -> Result<Built> {
    // The grammar makes every `expr` an operand, then operators and operands in turn,
    // which is what the Pratt parser needs to never panic.
    PRATT
        .map_primary(build_primary)
        .map_prefix(build_prefix)
        .map_postfix(build_postfix)
        .map_infix(build_infix)
        .parse(pair.into_inner())?
        .finish()
}

fn build_primary(pair: Pair<'_, Rule>) -> Result<Built> {
    let span = span_of(&pair);
    let (expr, depth) = match pair.as_rule() {
        Rule::paren => {
            let inner = pair
                .into_inner()
                .next()
                .ok_or(SyntaxError::new("empty parentheses", span))?;
            let inner = build_expr(inner)?;
            return Ok(Built::operand(inner.expr, inner.depth, span, true));
        }
        Rule::number => {
            let text = pair.as_str();
            let integer = text
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| text.parse::<u64>().ok())
                .flatten();
            let value = match integer {
                Some(integer) => serde_json::Number::from(integer),
                None => {
                    let value: f64 = text
                        .parse()
                        .map_err(|_| SyntaxError::new("malformed number", span))?;
                    serde_json::Number::from_f64(value).ok_or_else(|| {
                        SyntaxError::new(format!("number `{text}` is out of range"), span)
                    })?
                }
            };
            node(ExprKind::Number(value), span, 1)?
        }
        Rule::string => {
            let chars = pair
                .into_inner()
                .next()
                .ok_or(SyntaxError::new("malformed string", span))?;
            let text = decode_escapes(chars.as_str(), chars.as_span().start())?;
            node(ExprKind::String(text), span, 1)?
        }
        Rule::true_lit => node(ExprKind::Bool(true), span, 1)?,
        Rule::false_lit => node(ExprKind::Bool(false), span, 1)?,
        Rule::null_lit => node(ExprKind::Null, span, 1)?,
        Rule::name => node(ExprKind::Name(pair.as_str().to_owned()), span, 1)?,
        Rule::array => {
            let mut depth = 0;
            let mut items = Vec::new();
            for item in pair.into_inner() {
                let item = build_expr(item)?;
                depth = depth.max(item.depth);
                items.push(item.expr);
            }
            node(ExprKind::Array(items), span, depth + 1)?
        }
        _ => return Err(internal(&pair)),
    };
    Ok(Built::operand(expr, depth, span, true))
}

/// A run of prefix operators, applied innermost (rightmost) first.
fn build_prefix(ops: Pair<'_, Rule>, operand: Result<Built>) -> Result<Built> {
    let operand = operand?;
    let base = ops.as_span().start();
    let mut expr = operand.expr;
    let mut depth = operand.depth;
    for (offset, symbol) in ops.as_str().char_indices().rev() {
        let op = match symbol {
            '!' => UnaryOp::Not,
            '-' => UnaryOp::Neg,
            _ => continue, // whitespace between the operators
        };
        let span = LocalSpan {
            start: base + offset,
            end: expr.span.end,
        };
        (expr, depth) = node(ExprKind::Unary(op, Box::new(expr)), span, depth + 1)?;
    }
    let outer = LocalSpan {
        start: base,
        end: operand.outer.end,
    };
    Ok(Built::operand(expr, depth, outer, operand.trailing_ws))
}

fn build_postfix(base: Result<Built>, op: Pair<'_, Rule>) -> Result<Built> {
    let base = base?;
    let op_span = span_of(&op);
    let expr = base.expr;
    let span = join(expr.span, op_span);
    let (kind, child_depth) = match op.as_rule() {
        Rule::member => {
            // The field name is the rule's one inner pair: whitespace may follow the dot.
            let field = op
                .into_inner()
                .next()
                .map(|name| name.as_str().to_owned())
                .ok_or(SyntaxError::new("expected a field name", op_span))?;
            (ExprKind::Member(Box::new(expr), field), base.depth)
        }
        Rule::index => {
            let inner = op
                .into_inner()
                .next()
                .ok_or(SyntaxError::new("expected an index", op_span))?;
            let index = build_expr(inner)?;
            (
                ExprKind::Index(Box::new(expr), Box::new(index.expr)),
                base.depth.max(index.depth),
            )
        }
        Rule::call_args => {
            let Some(name) = expr.as_dotted_path() else {
                let mut error = SyntaxError::new("only named functions can be called", op_span);
                error.help =
                    Some("call a function by its name, e.g. `db.count.trucksByOperator(x)`".into());
                return Err(error);
            };
            let name_span = expr.span;
            let mut args = Vec::new();
            let mut depth = 0;
            for arg in op.into_inner() {
                let arg = build_expr(arg)?;
                depth = depth.max(arg.depth);
                args.push(arg.expr);
            }
            (
                ExprKind::Call {
                    name,
                    name_span,
                    args,
                },
                depth,
            )
        }
        _ => return Err(internal(&op)),
    };
    let (expr, depth) = node(kind, span, child_depth + 1)?;
    let outer = LocalSpan {
        start: base.outer.start,
        end: op_span.end,
    };
    Ok(Built::operand(expr, depth, outer, false))
}

fn build_infix(lhs: Result<Built>, op: Pair<'_, Rule>, rhs: Result<Built>) -> Result<Built> {
    let level = level_of(op.as_rule());
    // Errors in text order: the left operand (a finished `&&` chain included) first.
    let lhs = lhs?;
    let lhs = if lhs.level == level {
        lhs
    } else {
        lhs.finish()?
    };
    let rhs = rhs?.finish()?;
    let trailing_ws = rhs.trailing_ws_at(level + 1);
    if matches!(level, OR | AND) {
        return Ok(build_chain(lhs, level, rhs, op.get_input(), trailing_ws));
    }
    let outer = LocalSpan {
        start: lhs.outer.start,
        end: rhs.outer.end,
    };
    let op = binary_op(op.as_str()).ok_or_else(|| internal(&op))?;
    let span = join(lhs.expr.span, rhs.expr.span);
    let (expr, depth) = node(
        ExprKind::Binary(op, Box::new(lhs.expr), Box::new(rhs.expr)),
        span,
        lhs.depth.max(rhs.depth) + 1,
    )?;
    Ok(Built {
        expr,
        depth,
        outer,
        level,
        trailing_ws,
    })
}

/// `a || b || c` and `a && b && c`: one n-ary node, so long chains stay shallow. The
/// chain grows on the left (the operators are left-associative); its depth is checked
/// when it is finished ([`Built::finish`]).
fn build_chain(lhs: Built, level: Level, rhs: Built, text: &str, trailing_ws: bool) -> Built {
    let outer = LocalSpan {
        start: lhs.outer.start,
        end: rhs.outer.end,
    };
    let mut end = outer.end;
    if trailing_ws {
        let rest = text.get(end..).unwrap_or_default();
        end += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }
    let span = LocalSpan {
        start: outer.start,
        end,
    };
    let (operands, depth) = match lhs.expr.kind {
        ExprKind::Or(mut operands) | ExprKind::And(mut operands) if lhs.level == level => {
            operands.push(rhs.expr);
            (operands, lhs.depth.max(rhs.depth + 1))
        }
        kind => {
            let first = Expr {
                kind,
                span: lhs.expr.span,
            };
            (vec![first, rhs.expr], lhs.depth.max(rhs.depth) + 1)
        }
    };
    let kind = if level == OR {
        ExprKind::Or(operands)
    } else {
        ExprKind::And(operands)
    };
    Built {
        expr: Expr { kind, span },
        depth,
        outer,
        level,
        trailing_ws,
    }
}

fn binary_op(symbol: &str) -> Option<BinaryOp> {
    Some(match symbol {
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Rem,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Le,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Ge,
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        "in" => BinaryOp::In,
        _ => return None,
    })
}

/// Decode backslash escapes; `base` is the offset of `raw` in the condition, for errors.
fn decode_escapes(raw: &str, base: usize) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, escaped)) = chars.next() else {
            return Err(SyntaxError::new(
                "unfinished escape",
                LocalSpan {
                    start: base + offset,
                    end: base + offset + 1,
                },
            ));
        };
        let decoded = match escaped {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            '\\' => '\\',
            '\'' => '\'',
            '"' => '"',
            '/' => '/',
            'u' => {
                let hex: String = (0..4)
                    .filter_map(|_| chars.next().map(|(_, h)| h))
                    .collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        let mut error = SyntaxError::new(
                            format!("invalid unicode escape `\\u{hex}`"),
                            LocalSpan {
                                start: base + offset,
                                end: base + offset + 2 + hex.len(),
                            },
                        );
                        error.help = Some("write `\\u` and four hex digits, e.g. `\\u00e9`".into());
                        error
                    })?
            }
            other => {
                let mut error = SyntaxError::new(
                    format!("unknown escape `\\{other}`"),
                    LocalSpan {
                        start: base + offset,
                        end: base + offset + 1 + other.len_utf8(),
                    },
                );
                error.help =
                    Some("known escapes: \\n \\t \\r \\0 \\\\ \\' \\\" \\/ \\uXXXX".into());
                return Err(error);
            }
        };
        out.push(decoded);
    }
    Ok(out)
}

fn from_pest(error: &pest::error::Error<Rule>, text: &str) -> SyntaxError {
    let position = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let found = match text.get(position..).and_then(|rest| rest.chars().next()) {
        Some(c) => format!("`{c}`"),
        None => "end of condition".to_owned(),
    };
    let expected = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    SyntaxError::new(
        format!("expected {expected}, found {found}"),
        LocalSpan {
            start: position,
            end: position + 1,
        },
    )
}

fn describe_expected(positives: &[Rule]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    for rule in positives {
        let label = match rule {
            Rule::EOI => "end of condition",
            Rule::or_op
            | Rule::and_op
            | Rule::in_op
            | Rule::eq_op
            | Rule::rel_op
            | Rule::add_op
            | Rule::mul_op => "an operator",
            Rule::member | Rule::index | Rule::call_args => "an operator",
            Rule::field_name => "a field name",
            Rule::escape | Rule::sq_chars | Rule::dq_chars => "a closing quote",
            _ => "an expression",
        };
        if !wanted.contains(&label) {
            wanted.push(label);
        }
    }
    match wanted.as_slice() {
        [] => "an expression".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
