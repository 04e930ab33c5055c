//! One condition or action template -> plan nodes: names resolved to a root and keys,
//! functions bound (host, built-in, or unregistered), regex literals compiled, constants
//! folded by the evaluator itself, comparisons specialised.

use regex::RegexBuilder;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::specialize::specialize;
use crate::decision::ParamTemplate;
use crate::diagnostic::Diagnostic;
use crate::eval::fold_constant;
use crate::functions::{Builtin, Functions};
use crate::input::Root;
use crate::plan::{Callee, HolePlan, Node, TextPlan, NO_SLOT};
use crate::ruleset::{SourceExpr, Template, TextPart};
use crate::source::SourceMap;
use crate::syntax::{Expr, ExprKind, UnaryOp};
use crate::velocity::Window;

/// Largest compiled size of a regex literal, so a pattern cannot eat the host's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub(super) struct Compiler<'a> {
    functions: &'a Functions,
    sources: &'a SourceMap,
    pub(super) diagnostics: Vec<Diagnostic>,
    host_slots: FxHashMap<String, u32>,
    /// How many call sites each function name has in the whole rule set.
    call_sites: FxHashMap<String, usize>,
    /// The rule being compiled, named in its diagnostics.
    pub(super) rule_id: String,
    /// The declared velocity counters: names and windows, in declaration order.
    pub(super) counters: Vec<(String, Vec<Window>)>,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(
        functions: &'a Functions,
        sources: &'a SourceMap,
        call_sites: FxHashMap<String, usize>,
    ) -> Compiler<'a> {
        Compiler {
            functions,
            sources,
            diagnostics: Vec::new(),
            host_slots: FxHashMap::default(),
            call_sites,
            rule_id: String::new(),
            counters: Vec::new(),
        }
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        let diagnostic = diagnostic.for_rule(Some(&self.rule_id));
        self.diagnostics.push(diagnostic);
    }

    pub(super) fn expr(&mut self, source: &SourceExpr, expr: &Expr) -> Node {
        let span = source.span(expr.span);
        let node = match &expr.kind {
            ExprKind::Null => Node::Const(Value::Null),
            ExprKind::Bool(b) => Node::Const(Value::Bool(*b)),
            ExprKind::Number(n) => Node::Const(crate::eval::number::literal(n)),
            ExprKind::String(s) => Node::Const(Value::String(s.clone())),
            ExprKind::Array(items) => {
                Node::Array(items.iter().map(|i| self.expr(source, i)).collect())
            }
            ExprKind::Name(name) => match Root::by_name(name) {
                Some(root) => Node::Path {
                    root,
                    keys: Box::new([]),
                    slot: NO_SLOT,
                },
                None => Node::Path {
                    root: Root::Event,
                    keys: Box::new([name.as_str().into()]),
                    slot: NO_SLOT,
                },
            },
            ExprKind::Member(..) if dotted_len(expr).is_some() => dotted_path(expr),
            ExprKind::Member(base, field) => match self.expr(source, base) {
                Node::Path { root, keys, .. } => Node::Path {
                    root,
                    keys: append(keys, field),
                    slot: NO_SLOT,
                },
                Node::Get { base, keys } => Node::Get {
                    base,
                    keys: append(keys, field),
                },
                other => Node::Get {
                    base: Box::new(other),
                    keys: Box::new([field.as_str().into()]),
                },
            },
            ExprKind::Index(base, index) => Node::Index {
                base: Box::new(self.expr(source, base)),
                index: Box::new(self.expr(source, index)),
            },
            ExprKind::Call {
                name,
                name_span,
                args,
            } => {
                let args: Box<[Node]> = args.iter().map(|a| self.expr(source, a)).collect();
                let callee = self.callee(source, name, source.span(*name_span), &args, expr);
                Node::Call { callee, args, span }
            }
            ExprKind::Unary(UnaryOp::Not, operand) => {
                Node::Not(Box::new(self.expr(source, operand)))
            }
            ExprKind::Unary(UnaryOp::Neg, operand) => {
                Node::Neg(Box::new(self.expr(source, operand)), span)
            }
            ExprKind::Binary(op, lhs, rhs) => Node::Binary {
                op: *op,
                lhs: Box::new(self.expr(source, lhs)),
                rhs: Box::new(self.expr(source, rhs)),
                span,
            },
            ExprKind::And(items) => Node::And(items.iter().map(|i| self.expr(source, i)).collect()),
            ExprKind::Or(items) => Node::Or(items.iter().map(|i| self.expr(source, i)).collect()),
        };
        specialize(fold_constant(node))
    }

    fn callee(
        &mut self,
        source: &SourceExpr,
        name: &str,
        name_span: crate::source::Span,
        args: &[Node],
        call: &Expr,
    ) -> Callee {
        // A host function wins over every built-in; velocity's built-ins win over names a
        // recording answers (a replay of velocity rules reads its recorded counts).
        if let Some(function) = self.functions.host(name).cloned() {
            return self.host_callee(name, function);
        }
        if name == "velocity.count" {
            return self.velocity_count(source, call, args);
        }
        if name == "rate.limitExceeded" {
            if let Some(callee) = self.rate_limit(source, call, args) {
                return callee;
            }
        }
        if let Some(function) = self.functions.recorded(name) {
            return self.host_callee(name, function);
        }
        let Some(builtin) = Builtin::by_name(name) else {
            let mut diagnostic = Diagnostic::warning("ACS401", format!("function `{name}` is not registered"))
                .at(self.sources, name_span)
                .with_help("calls to it fail at evaluation and the rule reports an error; register it with the engine");
            if let Some(near) = crate::ruleset::suggest_name(name, &self.functions.all_names()) {
                diagnostic = diagnostic.with_help(format!(
                    "did you mean `{near}`? (calls to `{name}` fail at evaluation)"
                ));
            }
            self.report(diagnostic);
            return Callee::Unregistered(name.into());
        };
        if args.len() != builtin.arity() {
            self.report(
                Diagnostic::error(
                    "ACS302",
                    format!(
                        "`{name}` takes {} argument{}, found {}",
                        builtin.arity(),
                        if builtin.arity() == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .at(self.sources, source.span(call.span)),
            );
            return Callee::Builtin(builtin);
        }
        if builtin == Builtin::Matches {
            if let (Some(Node::Const(pattern)), Some(pattern_expr)) =
                (args.get(1), call_args(call).get(1))
            {
                let pattern_span = source.span(pattern_expr.span);
                let Value::String(pattern) = pattern else {
                    self.report(
                        Diagnostic::error("ACS303", "the pattern of `matches` must be a string")
                            .at(self.sources, pattern_span),
                    );
                    return Callee::Builtin(builtin);
                };
                match RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(regex) => return Callee::MatchesLiteral(regex),
                    Err(error) => {
                        let detail = error.to_string();
                        let last = detail
                            .lines()
                            .rfind(|l| !l.trim().is_empty())
                            .unwrap_or("")
                            .trim();
                        self.report(
                            Diagnostic::error("ACS303", format!("invalid regular expression: {}", last.trim_start_matches("error: ")))
                                .at(self.sources, pattern_span)
                                .with_help("the syntax is that of the Rust `regex` crate (no look-around, no backreferences)"),
                        );
                    }
                }
            }
        }
        Callee::Builtin(builtin)
    }

    fn host_callee(
        &mut self,
        name: &str,
        function: std::sync::Arc<dyn crate::functions::HostFunction>,
    ) -> Callee {
        let next = u32::try_from(self.host_slots.len()).unwrap_or(u32::MAX);
        let slot = *self.host_slots.entry(name.to_owned()).or_insert(next);
        Callee::Host {
            // One call site runs at most once per evaluation: nothing to remember.
            memoize: self.call_sites.get(name).copied().unwrap_or(0) > 1,
            slot,
            name: name.into(),
            function,
        }
    }

    fn velocity_error(&mut self, source: &SourceExpr, at: &Expr, message: String, help: String) {
        self.report(
            Diagnostic::error("ACS304", message)
                .at(self.sources, source.span(at.span))
                .with_help(help),
        );
    }

    /// The declared counter named by the constant string `arg`, or an error at it.
    fn counter_named(
        &mut self,
        source: &SourceExpr,
        arg: Option<&Expr>,
        node: Option<&Node>,
        call: &Expr,
    ) -> Option<u32> {
        let at = arg.unwrap_or(call);
        let Some(Node::Const(Value::String(name))) = node else {
            self.velocity_error(
                source,
                at,
                "a counter is named by a string literal".to_owned(),
                "write the counter's name in quotes, as declared under `velocity:`".to_owned(),
            );
            return None;
        };
        if let Some(index) = self.counters.iter().position(|(n, _)| n == name) {
            return u32::try_from(index).ok();
        }
        let names: Vec<&str> = self.counters.iter().map(|(n, _)| n.as_str()).collect();
        let help = if names.is_empty() {
            "no counter is declared: declare it in the rules file's `velocity:` list (docs/VELOCITY.md)".to_owned()
        } else {
            match crate::ruleset::suggest_name(name, &names) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the declared counters are {}", names.join(", ")),
            }
        };
        self.velocity_error(
            source,
            at,
            format!("unknown velocity counter `{name}`"),
            help,
        );
        None
    }

    /// A key given as a literal must be one a key can be: a string or an integer.
    fn check_key(
        &mut self,
        source: &SourceExpr,
        arg: Option<&Expr>,
        node: Option<&Node>,
        call: &Expr,
    ) {
        if let Some(Node::Const(value)) = node {
            if crate::velocity::key_text(value).is_none() {
                self.velocity_error(
                    source,
                    arg.unwrap_or(call),
                    format!("a counter's key is a string or an integer, found {value}"),
                    "pass the value the counter is keyed by (`ctx.userId`)".to_owned(),
                );
            }
        }
    }

    fn velocity_count(&mut self, source: &SourceExpr, call: &Expr, args: &[Node]) -> Callee {
        let exprs = call_args(call);
        if args.len() != 3 {
            self.velocity_error(
                source,
                call,
                format!("`velocity.count` takes 3 arguments, found {}", args.len()),
                "velocity.count('counter', key, 'window'), e.g. velocity.count('bid.modify', ctx.userId, '1m')".to_owned(),
            );
            return Callee::Unregistered("velocity.count".into());
        }
        self.check_key(source, exprs.get(1), args.get(1), call);
        let Some(counter) = self.counter_named(source, exprs.first(), args.first(), call) else {
            return Callee::Unregistered("velocity.count".into());
        };
        let windows = self
            .counters
            .get(counter as usize)
            .map(|(_, w)| w.clone())
            .unwrap_or_default();
        let at = exprs.get(2).unwrap_or(call);
        let declared = windows
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let window = match args.get(2) {
            Some(Node::Const(Value::String(text))) => match Window::parse(text) {
                Some(window) => windows.iter().position(|w| *w == window),
                None => None,
            },
            _ => None,
        };
        match window.and_then(|w| u32::try_from(w).ok()) {
            Some(window) => Callee::VelocityCount { counter, window },
            None => {
                let shown = match args.get(2) {
                    Some(Node::Const(Value::String(text))) => format!("`{text}`"),
                    Some(Node::Const(value)) => value.to_string(),
                    _ => "given by a computed value".to_owned(),
                };
                self.velocity_error(
                    source,
                    at,
                    format!("the window {shown} is not declared for this counter"),
                    format!("its windows are {declared}: write one of them as a string literal"),
                );
                Callee::Unregistered("velocity.count".into())
            }
        }
    }

    /// `rate.limitExceeded(key, 'name', limit)` over the declared counter `name`; `None`
    /// when no counter has that name (the host may register the function, as before).
    fn rate_limit(&mut self, source: &SourceExpr, call: &Expr, args: &[Node]) -> Option<Callee> {
        let Some(Node::Const(Value::String(name))) = args.get(1) else {
            return None;
        };
        let counter = self.counters.iter().position(|(n, _)| n == name)?;
        if args.len() != 3 {
            self.velocity_error(
                source,
                call,
                format!(
                    "`rate.limitExceeded` takes 3 arguments, found {}",
                    args.len()
                ),
                "rate.limitExceeded(key, 'counter', limit)".to_owned(),
            );
        }
        self.check_key(source, call_args(call).first(), args.first(), call);
        Some(Callee::RateLimit {
            counter: u32::try_from(counter).ok()?,
        })
    }

    /// `template` as a decision reports it, with the program of each of its holes pushed
    /// to `holes` in the order the template takes their values back.
    pub(super) fn template(
        &mut self,
        template: &Template,
        holes: &mut Vec<HolePlan>,
    ) -> ParamTemplate {
        match template {
            Template::Value(v) => ParamTemplate::Value(v.clone()),
            Template::Expr(e) => {
                holes.push(HolePlan::Expr(self.expr(e, &e.expr)));
                ParamTemplate::Hole
            }
            Template::Text(parts) => {
                let span = parts
                    .iter()
                    .find_map(|part| match part {
                        TextPart::Expr(e) => Some(e.span(e.expr.span)),
                        TextPart::Literal(_) => None,
                    })
                    .unwrap_or_default();
                holes.push(HolePlan::Text(
                    parts
                        .iter()
                        .map(|part| match part {
                            TextPart::Literal(text) => TextPlan::Literal(text.as_str().into()),
                            TextPart::Expr(e) => TextPlan::Expr(self.expr(e, &e.expr)),
                        })
                        .collect(),
                    span,
                ));
                ParamTemplate::Hole
            }
            Template::Array(items) => {
                ParamTemplate::Array(items.iter().map(|t| self.template(t, holes)).collect())
            }
            Template::Object(entries) => {
                // Compiled in key order, the order `serde_json::Map` keeps, so that the
                // holes are laid out as building and serializing take them back (see
                // `ParamTemplate`).
                let mut sorted: Vec<&(String, Template)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let entries: Box<[(Box<str>, ParamTemplate)]> = sorted
                    .into_iter()
                    .map(|(k, t)| (k.as_str().into(), self.template(t, holes)))
                    .collect();
                ParamTemplate::Object(entries)
            }
        }
    }
}

/// Count the call sites of each function name in `expr`.
pub(super) fn count_calls(expr: &Expr, counts: &mut FxHashMap<String, usize>) {
    if let ExprKind::Call { name, .. } = &expr.kind {
        *counts.entry(name.clone()).or_default() += 1;
    }
    expr.for_each_child(|child| count_calls(child, counts));
}

fn call_args(call: &Expr) -> &[Expr] {
    match &call.kind {
        ExprKind::Call { args, .. } => args,
        _ => &[],
    }
}

/// How many names `a.b.c` has (3), when the expression is a plain dotted path.
fn dotted_len(expr: &Expr) -> Option<usize> {
    match &expr.kind {
        ExprKind::Name(_) => Some(1),
        ExprKind::Member(base, _) => dotted_len(base).map(|n| n + 1),
        _ => None,
    }
}

/// `a.b.c` as one [`Node::Path`], its keys collected once: what compiling it member by
/// member gives (a path folds and specializes to itself), without copying the key list
/// at every member.
fn dotted_path(expr: &Expr) -> Node {
    let mut names: Vec<&str> = Vec::with_capacity(dotted_len(expr).unwrap_or(0));
    let mut at = expr;
    loop {
        match &at.kind {
            ExprKind::Member(base, field) => {
                names.push(field);
                at = base;
            }
            ExprKind::Name(name) => {
                names.push(name);
                break;
            }
            _ => break,
        }
    }
    names.reverse();
    let (root, skip) = match names.first().and_then(|head| Root::by_name(head)) {
        Some(root) => (root, 1),
        None => (Root::Event, 0),
    };
    Node::Path {
        root,
        keys: names.iter().skip(skip).map(|&k| k.into()).collect(),
        slot: NO_SLOT,
    }
}

fn append(keys: Box<[Box<str>]>, field: &str) -> Box<[Box<str>]> {
    let mut keys = keys.into_vec();
    keys.push(field.into());
    keys.into_boxed_slice()
}
