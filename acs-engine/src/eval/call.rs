//! Function calls: built-ins inline, host functions with borrowed arguments, memoised
//! for the evaluation when the rule set calls them from several places, or, in a round of
//! a resumable evaluation, looked up in its book of answers (`resume.rs`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use serde_json::Value;
use smallvec::SmallVec;

use super::doc::Doc;
use super::resume::UNANSWERED;
use super::value::{Val, View};
use super::{EvalError, Evaluator, RecordedCall, Result};
use crate::functions::{builtins, text_contains_pii, Builtin, FunctionError};
use crate::plan::{Callee, Node};
use crate::source::Span;

static NULL: Value = Value::Null;

/// Keeps a host-function argument alive for the length of the call.
enum Arg<'a> {
    Borrowed(&'a Value),
    Shared(Rc<Value>),
    Temp(Value),
}

impl Arg<'_> {
    fn get(&self) -> &Value {
        match self {
            Arg::Borrowed(value) => value,
            Arg::Shared(value) => value,
            Arg::Temp(value) => value,
        }
    }
}

pub(super) struct MemoEntry {
    slot: u32,
    args: Vec<Value>,
    result: std::result::Result<Rc<Value>, FunctionError>,
}

/// The message of a failed host call.
fn host_error(name: &str, error: FunctionError) -> String {
    if error.is_not_registered() {
        format!("function `{name}` is not registered for these arguments")
    } else {
        format!("`{name}` failed: {}", error.message)
    }
}

impl<'a, D: Doc<'a>> Evaluator<'a, D> {
    fn arg(&mut self, args: &'a [Node], i: usize, span: Span) -> Result<Val<'a>> {
        match args.get(i) {
            Some(node) => self.eval(node),
            None => Err(Box::new(EvalError {
                message: "missing argument".to_owned(),
                span,
            })),
        }
    }

    pub(super) fn call(
        &mut self,
        callee: &'a Callee,
        args: &'a [Node],
        span: Span,
    ) -> Result<Val<'a>> {
        let fail = |message: String| Box::new(EvalError { message, span });
        match callee {
            Callee::Builtin(Builtin::TextContainsPii) => match self.arg(args, 0, span)?.view() {
                View::Str(text) => Ok(Val::Bool(text_contains_pii(text))),
                View::Null => Ok(Val::Bool(false)),
                other => Err(fail(format!(
                    "`textContainsPII` needs a string, found {}",
                    other.type_name()
                ))),
            },
            Callee::Builtin(Builtin::Distance) => {
                let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                    return Err(fail("`distance` takes 2 arguments".to_owned()));
                };
                let (a, b) = (self.arg_value(a)?, self.arg_value(b)?);
                let distance = builtins::distance(a.get(), b.get()).map_err(fail)?;
                Ok(distance.map_or(Val::Null, Val::Num))
            }
            Callee::Builtin(Builtin::Matches) => {
                let text = self.arg(args, 0, span)?;
                let pattern = self.arg(args, 1, span)?;
                let View::Str(pattern) = pattern.view() else {
                    return Err(fail("the pattern of `matches` must be a string".to_owned()));
                };
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| fail(format!("invalid regular expression `{pattern}`: {e}")))?;
                matches_text(&regex, text.view()).map_err(fail)
            }
            Callee::MatchesLiteral(regex) => {
                let text = self.arg(args, 0, span)?;
                matches_text(regex, text.view()).map_err(fail)
            }
            Callee::Builtin(Builtin::Now) => Ok(Val::Num(self.now())),
            Callee::Unregistered(name) => Err(fail(format!("function `{name}` is not registered"))),
            Callee::VelocityCount { counter, window } => {
                let Some(key) = args.get(1) else {
                    return Err(fail("`velocity.count` takes 3 arguments".to_owned()));
                };
                self.velocity_count(self.velocity_plan, *counter, *window, key, span)
            }
            Callee::RateLimit { counter } => {
                let (Some(key), Some(limit)) = (args.first(), args.get(2)) else {
                    return Err(fail("`rate.limitExceeded` takes 3 arguments".to_owned()));
                };
                self.rate_limit(self.velocity_plan, *counter, key, limit, span)
            }
            Callee::Host {
                memoize,
                slot,
                name,
                function,
            } => {
                // Paths and constants (the usual arguments) are borrowed where they lie;
                // computed ones are evaluated in turn, kept alive in `held`, and put in
                // their places once all are done.
                let mut held: SmallVec<[(usize, Arg<'a>); 2]> = SmallVec::new();
                let mut values: SmallVec<[&Value; 4]> = SmallVec::new();
                for (position, arg) in args.iter().enumerate() {
                    values.push(match arg {
                        Node::Const(value) => value,
                        Node::Path { root, keys, slot } if D::BORROWS => self
                            .path(*root, keys, *slot)
                            .and_then(Doc::borrowed)
                            .unwrap_or(&NULL),
                        computed => {
                            held.push((position, self.arg_value(computed)?));
                            &NULL
                        }
                    });
                }
                for (position, arg) in held.iter() {
                    if let Some(value) = values.get_mut(*position) {
                        *value = arg.get();
                    }
                }
                // A round of a resumable evaluation: the host answers, the function is
                // never called here (resume.rs).
                if let Some(book) = self.book.as_deref_mut() {
                    // The deciding round of an audited evaluation (every call answered).
                    #[cfg(feature = "audit")]
                    if let Some(recording) = self.recorder.as_deref_mut() {
                        if let Some(answer) = book.answer_to_record(name, &values, *memoize) {
                            record_call(recording, name, &values, &answer);
                        }
                    }
                    return match book.look_up(name, &values) {
                        Some(Ok(value)) => Ok(Val::from_owned(value.clone())),
                        Some(Err(error)) => Err(fail(host_error(name, error.clone()))),
                        None => Err(fail(UNANSWERED.to_owned())),
                    };
                }
                let call = |recorder: Option<&mut super::Recording>| {
                    // The audit writer deciding a recorded request again: the answers
                    // come back in the order the request's calls were made.
                    if let Some(replay) = recorder.filter(|r| r.replay) {
                        return replay.next_answer().unwrap_or_else(|| {
                            Err(FunctionError::new(
                                FunctionError::NOT_RECORDED,
                                "the recording holds no answer for this call",
                            ))
                        });
                    }
                    catch_unwind(AssertUnwindSafe(|| function.call(&values))).unwrap_or_else(|_| {
                        Err(FunctionError::new(
                            FunctionError::PANICKED,
                            "the function panicked",
                        ))
                    })
                };
                let result = if *memoize {
                    let cached = self
                        .memo
                        .iter()
                        .find(|entry| {
                            entry.slot == *slot
                                && entry.args.len() == values.len()
                                && entry.args.iter().zip(&values).all(|(a, b)| a == *b)
                        })
                        .map(|entry| entry.result.clone());
                    match cached {
                        Some(result) => result,
                        None => {
                            let result = call(self.recorder.as_deref_mut());
                            // An audited evaluation keeps every answer it used, for replay.
                            if let Some(recording) = self.recorder.as_deref_mut() {
                                record_call(recording, name, &values, &result);
                            }
                            let result = result.map(Rc::new);
                            self.memo.push(MemoEntry {
                                slot: *slot,
                                args: values.iter().map(|v| (*v).clone()).collect(),
                                result: result.clone(),
                            });
                            result
                        }
                    }
                } else {
                    // Called once: no need to share the result.
                    let result = call(self.recorder.as_deref_mut());
                    if let Some(recording) = self.recorder.as_deref_mut() {
                        record_call(recording, name, &values, &result);
                    }
                    return match result {
                        Ok(value) => Ok(Val::from_owned(value)),
                        Err(error) => Err(fail(host_error(name, error))),
                    };
                };
                match result {
                    Ok(value) => Ok(Val::from_rc(value)),
                    Err(error) => Err(fail(host_error(name, error))),
                }
            }
        }
    }

    /// An argument for a host function, borrowed from the input or the plan when it comes
    /// from there (paths and constants, the usual case), so nothing is copied.
    fn arg_value(&mut self, node: &'a Node) -> Result<Arg<'a>> {
        Ok(match node {
            Node::Const(value) => Arg::Borrowed(value),
            // Built from the document, not from its evaluated value: `1.0` stays a float.
            Node::Path { root, keys, slot } => match self.path(*root, keys, *slot) {
                None => Arg::Borrowed(&NULL),
                Some(doc) => match doc.borrowed() {
                    Some(value) => Arg::Borrowed(value),
                    None => Arg::Temp(doc.to_value()),
                },
            },
            other => match self.eval(other)? {
                Val::Ref(value) => Arg::Borrowed(value),
                Val::Owned(value) => Arg::Shared(value),
                scalar => Arg::Temp(scalar.to_value()),
            },
        })
    }
}

/// Keep one host call's answer in an audited evaluation's recording. Out of line, so
/// that the call path of an unaudited evaluation stays as small as it was.
#[inline(never)]
fn record_call(
    recording: &mut super::Recording,
    name: &str,
    values: &[&Value],
    result: &std::result::Result<Value, FunctionError>,
) {
    if recording.lean {
        recording.answers.push(result.clone());
        return;
    }
    recording.calls.push(RecordedCall {
        name: name.to_owned(),
        args: values.iter().map(|v| (*v).clone()).collect(),
        result: result.clone(),
    });
}

fn matches_text<'a>(regex: &regex::Regex, text: View<'_>) -> std::result::Result<Val<'a>, String> {
    match text {
        View::Str(text) => Ok(Val::Bool(regex.is_match(text))),
        View::Null => Ok(Val::Bool(false)),
        other => Err(format!(
            "`matches` needs a string, found {}",
            other.type_name()
        )),
    }
}
