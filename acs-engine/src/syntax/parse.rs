//! Condition text -> [`Expr`]: the common subset through the hand-written parser in
//! `fast.rs`, everything else (and every error) through the pest grammar in `condition.pest`.
//!
//! Recursion is bounded before pest sees the text (bracket nesting) and while the AST is
//! built (expression depth), so no input can overflow the stack here or in later passes.

use pest::iterators::Pair;
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

/// Parse one condition (or the inside of a `{{...}}` template).
pub fn parse_condition(text: &str) -> Result<Expr> {
    if text.len() > MAX_CONDITION_BYTES {
        return Err(SyntaxError::new(
            format!(
                "condition is {} bytes long, the limit is {MAX_CONDITION_BYTES}",
                text.len()
            ),
            LocalSpan { start: 0, end: 0 },
        ));
    }
    // The hand-written parser takes the common subset; pest parses the rest and reports
    // every error.
    if let Some(expr) = super::fast::parse(text) {
        return Ok(expr);
    }
    parse_with_pest(text)
}

/// [`parse_condition`] through pest alone: the reference the fast parser is tested against.
pub(crate) fn parse_with_pest(text: &str) -> Result<Expr> {
    check_nesting(text)?;
    let mut pairs =
        ConditionParser::parse(Rule::condition, text).map_err(|e| from_pest(&e, text))?;
    let condition = pairs.next().ok_or_else(|| empty_error(text))?;
    let expr = condition
        .into_inner()
        .find(|pair| pair.as_rule() == Rule::or_expr)
        .ok_or_else(|| empty_error(text))?;
    Ok(build(expr)?.0)
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

/// Reject bracket nesting deeper than [`MAX_NESTING`] before pest recurses into it.
fn check_nesting(text: &str) -> Result<()> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    let mut error = SyntaxError::new(
                        format!("brackets nested more than {MAX_NESTING} deep"),
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
    if depth > MAX_DEPTH {
        let mut error = SyntaxError::new(
            format!("expression is nested more than {MAX_DEPTH} levels deep"),
            span,
        );
        error.help = Some("split the condition into simpler parts".into());
        return Err(error);
    }
    Ok((Expr { kind, span }, depth))
}

fn internal(pair: &Pair<'_, Rule>) -> SyntaxError {
    SyntaxError::new("malformed expression", span_of(pair))
}

/// Skip the precedence levels that hold a single operand: a bracketed expression passes
/// through all of them, and recursing level by level costs about a dozen stack frames per
/// bracket, enough to overflow a 2 MiB thread at [`MAX_NESTING`] in debug builds.
fn skip_single(mut pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    loop {
        let passes_through = matches!(
            pair.as_rule(),
            Rule::or_expr
                | Rule::and_expr
                | Rule::in_expr
                | Rule::eq_expr
                | Rule::rel_expr
                | Rule::add_expr
                | Rule::mul_expr
                | Rule::unary
                | Rule::postfix
                | Rule::paren
        );
        if !passes_through {
            return pair;
        }
        let mut inner = pair.clone().into_inner();
        match (inner.next(), inner.next()) {
            (Some(only), None) => pair = only,
            _ => return pair,
        }
    }
}

fn build(pair: Pair<'_, Rule>) -> Result<(Expr, usize)> {
    let pair = skip_single(pair);
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::or_expr | Rule::and_expr => build_nary(pair),
        Rule::in_expr | Rule::eq_expr | Rule::rel_expr | Rule::add_expr | Rule::mul_expr => {
            build_left_assoc(pair)
        }
        Rule::unary => build_unary(pair),
        Rule::postfix => build_postfix(pair),
        Rule::paren => {
            let inner = pair
                .into_inner()
                .next()
                .ok_or(SyntaxError::new("empty parentheses", span))?;
            build(inner)
        }
        Rule::number => {
            let value: f64 = pair
                .as_str()
                .parse()
                .map_err(|_| SyntaxError::new("malformed number", span))?;
            if !value.is_finite() {
                return Err(SyntaxError::new(
                    format!("number `{}` is out of range", pair.as_str()),
                    span,
                ));
            }
            node(ExprKind::Number(value), span, 1)
        }
        Rule::string => {
            let chars = pair
                .into_inner()
                .next()
                .ok_or(SyntaxError::new("malformed string", span))?;
            let text = decode_escapes(chars.as_str(), chars.as_span().start())?;
            node(ExprKind::String(text), span, 1)
        }
        Rule::true_lit => node(ExprKind::Bool(true), span, 1),
        Rule::false_lit => node(ExprKind::Bool(false), span, 1),
        Rule::null_lit => node(ExprKind::Null, span, 1),
        Rule::name => node(ExprKind::Name(pair.as_str().to_owned()), span, 1),
        Rule::array => {
            let mut depth = 0;
            let mut items = Vec::new();
            for item in pair.into_inner() {
                let (expr, d) = build(item)?;
                depth = depth.max(d);
                items.push(expr);
            }
            node(ExprKind::Array(items), span, depth + 1)
        }
        _ => Err(internal(&pair)),
    }
}

/// `a || b || c` and `a && b && c`: one n-ary node, so long chains stay shallow.
fn build_nary(pair: Pair<'_, Rule>) -> Result<(Expr, usize)> {
    let span = span_of(&pair);
    let is_or = pair.as_rule() == Rule::or_expr;
    let mut operands = Vec::new();
    let mut depth = 0;
    for child in pair.into_inner() {
        if matches!(child.as_rule(), Rule::or_op | Rule::and_op) {
            continue;
        }
        let (expr, d) = build(child)?;
        depth = depth.max(d);
        operands.push(expr);
    }
    if operands.len() == 1 {
        return operands
            .pop()
            .map(|expr| (expr, depth))
            .ok_or(SyntaxError::new("expected an expression", span));
    }
    let kind = if is_or {
        ExprKind::Or(operands)
    } else {
        ExprKind::And(operands)
    };
    node(kind, span, depth + 1)
}

fn build_left_assoc(pair: Pair<'_, Rule>) -> Result<(Expr, usize)> {
    let span = span_of(&pair);
    let mut children = pair.into_inner();
    let first = children
        .next()
        .ok_or(SyntaxError::new("expected an expression", span))?;
    let (mut lhs, mut depth) = build(first)?;
    while let Some(op_pair) = children.next() {
        let op = binary_op(op_pair.as_str()).ok_or_else(|| internal(&op_pair))?;
        let rhs_pair = children.next().ok_or_else(|| internal(&op_pair))?;
        let (rhs, rhs_depth) = build(rhs_pair)?;
        let span = join(lhs.span, rhs.span);
        let (expr, d) = node(
            ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            span,
            depth.max(rhs_depth) + 1,
        )?;
        lhs = expr;
        depth = d;
    }
    Ok((lhs, depth))
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

fn build_unary(pair: Pair<'_, Rule>) -> Result<(Expr, usize)> {
    let mut prefixes = Vec::new();
    let mut operand = None;
    for child in pair.into_inner() {
        if child.as_rule() == Rule::prefix_op {
            let op = if child.as_str() == "!" {
                UnaryOp::Not
            } else {
                UnaryOp::Neg
            };
            prefixes.push((op, child.as_span().start()));
        } else {
            operand = Some(build(child)?);
        }
    }
    let (mut expr, mut depth) = operand.ok_or(SyntaxError::new(
        "expected an expression",
        LocalSpan::default(),
    ))?;
    for (op, start) in prefixes.into_iter().rev() {
        let span = LocalSpan {
            start,
            end: expr.span.end,
        };
        let (e, d) = node(ExprKind::Unary(op, Box::new(expr)), span, depth + 1)?;
        expr = e;
        depth = d;
    }
    Ok((expr, depth))
}

fn build_postfix(pair: Pair<'_, Rule>) -> Result<(Expr, usize)> {
    let mut children = pair.into_inner();
    let first = children.next().ok_or(SyntaxError::new(
        "expected an expression",
        LocalSpan::default(),
    ))?;
    let (mut expr, mut depth) = build(first)?;
    for op in children {
        let op_span = span_of(&op);
        let span = join(expr.span, op_span);
        let (kind, child_depth) = match op.as_rule() {
            Rule::member => {
                let field = op.as_str().trim_start_matches('.').to_owned();
                (ExprKind::Member(Box::new(expr), field), depth)
            }
            Rule::index => {
                let inner = op
                    .into_inner()
                    .next()
                    .ok_or(SyntaxError::new("expected an index", op_span))?;
                let (index, d) = build(inner)?;
                (
                    ExprKind::Index(Box::new(expr), Box::new(index)),
                    depth.max(d),
                )
            }
            Rule::call_args => {
                let Some(name) = expr.as_dotted_path() else {
                    let mut error = SyntaxError::new("only named functions can be called", op_span);
                    error.help = Some(
                        "call a function by its name, e.g. `db.count.trucksByOperator(x)`".into(),
                    );
                    return Err(error);
                };
                let name_span = expr.span;
                let mut args = Vec::new();
                let mut d = 0;
                for arg in op.into_inner() {
                    let (arg, arg_depth) = build(arg)?;
                    d = d.max(arg_depth);
                    args.push(arg);
                }
                (
                    ExprKind::Call {
                        name,
                        name_span,
                        args,
                    },
                    d,
                )
            }
            _ => return Err(internal(&op)),
        };
        let (e, d) = node(kind, span, child_depth + 1)?;
        expr = e;
        depth = d;
    }
    Ok((expr, depth))
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
