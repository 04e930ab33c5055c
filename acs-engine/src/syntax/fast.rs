//! A hand-written recursive-descent parser for the common subset of conditions, tried
//! before pest: pest spent ~290k instructions on a typical 170-byte condition, half of
//! loading a 10 000-rule bundle. It builds exactly the tree `parse.rs` builds from pest's
//! pairs (same spans, same shapes) or gives up (`None`) on anything outside its subset or
//! anything wrong; pest then parses the text and reports every error, so messages never
//! come from here.

use super::ast::{BinaryOp, Expr, ExprKind, LocalSpan, UnaryOp};

/// Deepest tree this parser builds; deeper ones go to pest, which enforces `MAX_DEPTH`.
const MAX_FAST_DEPTH: usize = 64;
/// Most brackets open at once here; more go to pest, which enforces `MAX_NESTING`.
const MAX_FAST_NESTING: usize = 24;

/// Parse `text` if it is in the subset: ASCII outside string literals, no escapes, no
/// exponent numbers. `None` means "ask pest", not "invalid".
pub(crate) fn parse(text: &str) -> Option<Expr> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
        nesting: 0,
    };
    parser.skip();
    let operand = parser.or_expr()?;
    parser.skip();
    (parser.at == parser.bytes.len()).then_some(operand.expr)
}

/// A parsed operand: the tree, its depth, and where its text starts and ends (a
/// parenthesised operand's tree excludes the parentheses, its text does not).
struct Operand {
    expr: Expr,
    depth: usize,
    start: usize,
    end: usize,
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    nesting: usize,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn join(a: LocalSpan, b: LocalSpan) -> LocalSpan {
    LocalSpan {
        start: a.start.min(b.start),
        end: a.end.max(b.end),
    }
}

fn node(kind: ExprKind, span: LocalSpan, depth: usize) -> Option<(Expr, usize)> {
    (depth <= MAX_FAST_DEPTH).then_some((Expr { kind, span }, depth))
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.at + offset).copied()
    }

    fn skip(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    fn starts_with(&self, token: &[u8]) -> bool {
        self.bytes
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(token))
    }

    /// `in` followed by a non-identifier character (or the end).
    fn at_in(&self) -> bool {
        self.starts_with(b"in") && !self.peek_at(2).is_some_and(is_ident)
    }

    fn or_expr(&mut self) -> Option<Operand> {
        self.nary(b"||")
    }

    fn and_expr(&mut self) -> Option<Operand> {
        self.nary(b"&&")
    }

    /// `a op b op c` for `||` / `&&`: one flattened node spanning the operands' text.
    fn nary(&mut self, op: &[u8]) -> Option<Operand> {
        let is_or = op == b"||";
        let first = if is_or {
            self.and_expr()?
        } else {
            self.left_assoc(Level::In)?
        };
        let start = first.start;
        let mut end = first.end;
        let mut depth = first.depth;
        let mut operands = vec![first.expr];
        loop {
            let before = self.at;
            self.skip();
            if !self.starts_with(op) {
                self.at = before;
                break;
            }
            self.at += 2;
            self.skip();
            let next = if is_or {
                self.and_expr()?
            } else {
                self.left_assoc(Level::In)?
            };
            depth = depth.max(next.depth);
            end = next.end;
            operands.push(next.expr);
        }
        if operands.len() == 1 {
            let expr = operands.pop()?;
            return Some(Operand {
                expr,
                depth,
                start,
                end,
            });
        }
        let kind = if is_or {
            ExprKind::Or(operands)
        } else {
            ExprKind::And(operands)
        };
        // pest's pair for the chain runs over the whitespace after its last operand (the
        // operand's own rules consume it looking for an operator).
        while matches!(self.bytes.get(end), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            end += 1;
        }
        let (expr, depth) = node(kind, LocalSpan { start, end }, depth + 1)?;
        Some(Operand {
            expr,
            depth,
            start,
            end,
        })
    }

    /// The operator of `level` at the cursor, and its length.
    fn operator(&self, level: Level) -> Option<(BinaryOp, usize)> {
        let (a, b) = (self.peek()?, self.peek_at(1));
        Some(match (level, a, b) {
            (Level::In, b'i', _) if self.at_in() => (BinaryOp::In, 2),
            (Level::Eq, b'=', Some(b'=')) => (BinaryOp::Eq, 2),
            (Level::Eq, b'!', Some(b'=')) => (BinaryOp::Ne, 2),
            (Level::Rel, b'<', Some(b'=')) => (BinaryOp::Le, 2),
            (Level::Rel, b'>', Some(b'=')) => (BinaryOp::Ge, 2),
            (Level::Rel, b'<', _) => (BinaryOp::Lt, 1),
            (Level::Rel, b'>', _) => (BinaryOp::Gt, 1),
            (Level::Add, b'+', _) => (BinaryOp::Add, 1),
            (Level::Add, b'-', _) => (BinaryOp::Sub, 1),
            (Level::Mul, b'*', _) => (BinaryOp::Mul, 1),
            (Level::Mul, b'/', _) => (BinaryOp::Div, 1),
            (Level::Mul, b'%', _) => (BinaryOp::Rem, 1),
            _ => return None,
        })
    }

    /// `a op b op c` at one precedence level: left-associative binary nodes.
    fn left_assoc(&mut self, level: Level) -> Option<Operand> {
        let mut lhs = match level.next() {
            Some(next) => self.left_assoc(next)?,
            None => self.unary()?,
        };
        loop {
            let before = self.at;
            self.skip();
            let Some((op, len)) = self.operator(level) else {
                self.at = before;
                break;
            };
            self.at += len;
            self.skip();
            let rhs = match level.next() {
                Some(next) => self.left_assoc(next)?,
                None => self.unary()?,
            };
            let span = join(lhs.expr.span, rhs.expr.span);
            let (expr, depth) = node(
                ExprKind::Binary(op, Box::new(lhs.expr), Box::new(rhs.expr)),
                span,
                lhs.depth.max(rhs.depth) + 1,
            )?;
            lhs = Operand {
                expr,
                depth,
                start: lhs.start,
                end: rhs.end,
            };
        }
        Some(lhs)
    }

    fn unary(&mut self) -> Option<Operand> {
        let start = self.at;
        let mut prefixes = Vec::new();
        loop {
            match self.peek() {
                Some(b'!') if self.peek_at(1) != Some(b'=') => {
                    prefixes.push((UnaryOp::Not, self.at))
                }
                Some(b'-') => prefixes.push((UnaryOp::Neg, self.at)),
                _ => break,
            }
            self.at += 1;
            self.skip();
        }
        let mut operand = self.postfix()?;
        for (op, at) in prefixes.into_iter().rev() {
            let span = LocalSpan {
                start: at,
                end: operand.expr.span.end,
            };
            let (expr, depth) = node(
                ExprKind::Unary(op, Box::new(operand.expr)),
                span,
                operand.depth + 1,
            )?;
            operand.expr = expr;
            operand.depth = depth;
        }
        operand.start = start;
        Some(operand)
    }

    fn postfix(&mut self) -> Option<Operand> {
        let mut operand = self.primary()?;
        let number = matches!(operand.expr.kind, ExprKind::Number(_));
        loop {
            let before = self.at;
            self.skip();
            match self.peek() {
                Some(b'.') if !number => {
                    let dot = self.at;
                    self.at += 1;
                    let field = self.word()?;
                    let span = join(
                        operand.expr.span,
                        LocalSpan {
                            start: dot,
                            end: self.at,
                        },
                    );
                    let (expr, depth) = node(
                        ExprKind::Member(Box::new(operand.expr), field.to_owned()),
                        span,
                        operand.depth + 1,
                    )?;
                    operand.expr = expr;
                    operand.depth = depth;
                }
                Some(b'[') if !number => {
                    let open = self.at;
                    self.open()?;
                    self.skip();
                    let index = self.or_expr()?;
                    self.skip();
                    self.close(b']')?;
                    let span = join(
                        operand.expr.span,
                        LocalSpan {
                            start: open,
                            end: self.at,
                        },
                    );
                    let (expr, depth) = node(
                        ExprKind::Index(Box::new(operand.expr), Box::new(index.expr)),
                        span,
                        operand.depth.max(index.depth) + 1,
                    )?;
                    operand.expr = expr;
                    operand.depth = depth;
                }
                Some(b'(') if !number => {
                    let name = operand.expr.as_dotted_path()?;
                    let name_span = operand.expr.span;
                    let open = self.at;
                    let (args, depth) = self.list(b')')?;
                    let span = join(
                        operand.expr.span,
                        LocalSpan {
                            start: open,
                            end: self.at,
                        },
                    );
                    let (expr, depth) = node(
                        ExprKind::Call {
                            name,
                            name_span,
                            args,
                        },
                        span,
                        depth + 1,
                    )?;
                    operand.expr = expr;
                    operand.depth = depth;
                }
                _ => {
                    self.at = before;
                    break;
                }
            }
            operand.end = self.at;
        }
        Some(operand)
    }

    fn open(&mut self) -> Option<()> {
        self.nesting += 1;
        self.at += 1;
        (self.nesting <= MAX_FAST_NESTING).then_some(())
    }

    fn close(&mut self, bracket: u8) -> Option<()> {
        if self.peek() != Some(bracket) {
            return None;
        }
        self.nesting -= 1;
        self.at += 1;
        Some(())
    }

    /// `( a, b, )` or `[ a, b, ]` from the opening bracket: the items and their depth.
    fn list(&mut self, close: u8) -> Option<(Vec<Expr>, usize)> {
        self.open()?;
        self.skip();
        let mut items = Vec::new();
        let mut depth = 0;
        while self.peek() != Some(close) {
            let item = self.or_expr()?;
            depth = depth.max(item.depth);
            items.push(item.expr);
            self.skip();
            if self.peek() == Some(b',') {
                self.at += 1;
                self.skip();
            } else {
                break;
            }
        }
        self.close(close)?;
        Some((items, depth))
    }

    /// An identifier at the cursor (no keyword check).
    fn word(&mut self) -> Option<&'a str> {
        let start = self.at;
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        while self.peek().is_some_and(is_ident) {
            self.at += 1;
        }
        self.text.get(start..self.at)
    }

    fn primary(&mut self) -> Option<Operand> {
        let start = self.at;
        let (expr, depth) = match self.peek()? {
            b'0'..=b'9' => self.number()?,
            quote @ (b'\'' | b'"') => self.string(quote)?,
            b'[' => {
                let (items, depth) = self.list(b']')?;
                let span = LocalSpan {
                    start,
                    end: self.at,
                };
                node(ExprKind::Array(items), span, depth + 1)?
            }
            b'(' => {
                self.open()?;
                self.skip();
                let inner = self.or_expr()?;
                self.skip();
                self.close(b')')?;
                (inner.expr, inner.depth)
            }
            _ => {
                let word = self.word()?;
                let span = LocalSpan {
                    start,
                    end: self.at,
                };
                let kind = match word {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    "null" => ExprKind::Null,
                    "in" => return None,
                    name => ExprKind::Name(name.to_owned()),
                };
                node(kind, span, 1)?
            }
        };
        Some(Operand {
            expr,
            depth,
            start,
            end: self.at,
        })
    }

    /// `digits ("." digits)?`; an exponent, or a number touching a letter or a dot, goes
    /// to pest.
    fn number(&mut self) -> Option<(Expr, usize)> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.at += 1;
            }
            p.at > from
        };
        digits(self);
        if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
            digits(self);
        }
        if self.peek().is_some_and(|b| is_ident(b) || b == b'.') {
            return None;
        }
        let value: f64 = self.text.get(start..self.at)?.parse().ok()?;
        if !value.is_finite() {
            return None;
        }
        node(
            ExprKind::Number(value),
            LocalSpan {
                start,
                end: self.at,
            },
            1,
        )
    }

    /// A string without escapes (with one, pest decodes it).
    fn string(&mut self, quote: u8) -> Option<(Expr, usize)> {
        let start = self.at;
        let body = start + 1;
        let len = self
            .bytes
            .get(body..)?
            .iter()
            .position(|&b| b == quote || b == b'\\')?;
        if self.bytes.get(body + len) != Some(&quote) {
            return None;
        }
        let text = self.text.get(body..body + len)?.to_owned();
        self.at = body + len + 1;
        node(
            ExprKind::String(text),
            LocalSpan {
                start,
                end: self.at,
            },
            1,
        )
    }
}

/// The left-associative precedence levels, loosest first.
#[derive(Clone, Copy)]
enum Level {
    In,
    Eq,
    Rel,
    Add,
    Mul,
}

impl Level {
    fn next(self) -> Option<Level> {
        match self {
            Level::In => Some(Level::Eq),
            Level::Eq => Some(Level::Rel),
            Level::Rel => Some(Level::Add),
            Level::Add => Some(Level::Mul),
            Level::Mul => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_with_pest;
    use super::*;

    /// Every tree the fast parser builds is the one pest builds.
    fn same_as_pest(text: &str) -> bool {
        let Some(fast) = parse(text) else {
            return false;
        };
        assert_eq!(Ok(fast), parse_with_pest(text), "{text:?}");
        true
    }

    #[test]
    fn the_bundles_conditions_parse_fast_and_as_pest_does() {
        let bundle = include_str!("../../../rules/acs_rules_top25.yaml");
        let mut conditions = 0;
        for line in bundle.lines() {
            let Some(condition) = line.trim().strip_prefix("condition: \"") else {
                continue;
            };
            let condition = condition.strip_suffix('"').unwrap();
            assert!(same_as_pest(condition), "{condition}");
            conditions += 1;
        }
        assert_eq!(conditions, 25);
    }

    #[test]
    fn edge_cases_parse_as_pest_does_or_go_to_pest() {
        for text in [
            "a",
            " a ",
            "a && b ",
            " a || b\n",
            "(a || b) && c",
            "a && (b)",
            "(a) || (b) ",
            "!a",
            "! !a",
            "-1",
            "- -x",
            "!(a && b)",
            "-(1)",
            "a.b .c",
            "a .b",
            "(a).b",
            "!(a).b",
            "[1, 2,]",
            "[]",
            "[ ]",
            "[1][0]",
            "a[0].b[c]",
            "f()",
            "f(1,)",
            "a.b(c, d)(e)",
            "f(x).y",
            "1.5",
            "1.x",
            "1e3",
            "1 .x",
            "007 == 7",
            "a in [1]",
            "a in[1]",
            "a inx",
            "inx",
            "in",
            "in.x",
            "x.in",
            "x.null.true",
            "true.x",
            "null(1)",
            "trueX && nullY",
            "'a' + \"b\"",
            "'it''s'",
            "'a\\'b'",
            "'é' == x",
            "é",
            "a == 'x' || b != \"y\"",
            "a < b <= c > d >= e",
            "a + b - c * d / e % f",
            "a - -b",
            "a ++ b",
            "a = b",
            "a == = b",
            "a | b",
            "a & b",
            "a !b",
            "a != !b",
            "(a",
            "a)",
            "((a))",
            "[a, [b, [c]]]",
            "a && b && c || d && e",
            "a || b || c",
            "x.y(",
            "'unterminated",
            "a\t&&\tb\r\n",
            "a && b || c && d",
            "event.type in ['a', 'b'] && x != null",
            "db.indexes.h[image.hash].truckId != inspection.truckId",
            "(a.b - c.d) * 2 > -3.25",
            "now() - 3600000",
            "$x && _y",
            "a.$",
            "",
        ] {
            let fast = parse(text);
            if fast.is_some() {
                assert!(same_as_pest(text));
            }
        }
    }

    /// Random expressions (with random whitespace), valid and not.
    #[test]
    fn random_expressions_parse_as_pest_does() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        fn ws(pick: usize) -> &'static str {
            ["", "", "", " ", "  ", "\n", "\t", " \r\n "][pick]
        }
        fn expr(next: &mut dyn FnMut(usize) -> usize, depth: usize, out: &mut String) {
            let leaf = depth > 3 || next(3) == 0;
            if leaf {
                let atoms = [
                    "a",
                    "ctx.userId",
                    "event.type",
                    "x.y.z",
                    "1",
                    "2.5",
                    "0",
                    "'s'",
                    "\"d\"",
                    "true",
                    "false",
                    "null",
                    "[]",
                    "[1, 'a']",
                    "f()",
                    "g.h(x)",
                    "a[0]",
                    "a['k'].b",
                    "$v",
                    "_",
                    "in",
                    "1e2",
                    "'\\n'",
                    "1.",
                    ".5",
                    "é",
                ];
                out.push_str(atoms[next(atoms.len())]);
                return;
            }
            match next(7) {
                0 => {
                    out.push_str(["!", "-", "! ", "- "][next(4)]);
                    expr(next, depth + 1, out);
                }
                1 => {
                    out.push('(');
                    out.push_str(ws(next(8)));
                    expr(next, depth + 1, out);
                    out.push_str(ws(next(8)));
                    out.push(')');
                }
                2 => {
                    out.push_str(["f(", "a.b(", "[", "x["][next(4)]);
                    let n = next(3);
                    for i in 0..n {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        expr(next, depth + 1, out);
                    }
                    out.push_str(if out.ends_with('[') || next(2) == 0 {
                        "]"
                    } else {
                        ")"
                    });
                }
                3 => {
                    expr(next, depth + 1, out);
                    out.push_str(ws(next(8)));
                    out.push_str([".b", ".in", "[0]", "(1)", ". c"][next(5)]);
                }
                _ => {
                    expr(next, depth + 1, out);
                    out.push_str(ws(next(8)));
                    let ops = [
                        "&&", "||", "in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/",
                        "%", "=", "&", "|", "!",
                    ];
                    out.push_str(ops[next(ops.len())]);
                    out.push_str(ws(next(8)));
                    expr(next, depth + 1, out);
                }
            }
        }
        let (mut fast, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::from(ws(next(8)));
            expr(&mut next, 0, &mut text);
            text.push_str(ws(next(8)));
            total += 1;
            if same_as_pest(&text) {
                fast += 1;
            } else if let Ok(tree) = parse_with_pest(&text) {
                // Only what the fast parser leaves out may go to pest.
                let _ = tree;
            }
        }
        assert!(fast * 5 > total, "only {fast} of {total} parsed fast");
    }
}
