//! The native half of `evaluateAsync` and `evaluateBatch`: the engine's resumable
//! [`acs_engine::Evaluation`] held for JS. The engine says which host calls it needs;
//! calls of functions registered in Rust (a stub table) are answered here at once; the
//! calls of JS functions are handed to `index.js`, which makes them, awaits their
//! Promises together and passes the answers back. A batch polls its evaluations on
//! every core between those rounds.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use acs_engine::{Decision, Evaluation as Core, FunctionError, Functions, HostCall, Step};
use napi::bindgen_prelude::{AsyncTask, FromNapiValue, Uint8Array, Unknown};
use napi::{Env, JsValue, Task, ValueType};
use napi_derive::napi;
use serde_json::Value;

use crate::convert;
use crate::host::{self, JsFunctions, THREW};

/// Where one call's answer goes: a JS function (by name), or answered in Rust.
struct Waiting {
    evaluation: usize,
    call: HostCall,
}

/// Poll `evaluation` until it decides (`None`) or needs calls of JS functions; the
/// engine makes the calls of functions registered in Rust (a stub table) itself.
fn advance(
    evaluation: &mut Core,
    registered: &Functions,
    is_js: &dyn Fn(&str) -> bool,
) -> Option<Vec<HostCall>> {
    match evaluation.poll_answering(registered, is_js) {
        Step::Needs(calls) => Some(calls),
        Step::Decided(_) => None,
    }
}

/// The decision an evaluation came to (polled again, it gives it without counting it).
fn decision_of(evaluation: &mut Core) -> Option<Decision> {
    match evaluation.poll() {
        Step::Decided(decision) => Some(decision),
        _ => None,
    }
}

/// A JS answer as the engine takes it: a value (a Promise already awaited), or, from
/// `fail`, what was thrown or rejected, worded as a synchronous call's exception is.
fn js_answer(value: &Unknown<'_>) -> Result<Value, FunctionError> {
    host::answer(value)
}

fn js_failure(thrown: Unknown<'_>) -> FunctionError {
    let error = napi::Error::from(thrown);
    FunctionError::new(THREW, error.reason.clone())
}

/// One evaluation in progress for `evaluateAsync`.
#[napi]
pub struct Evaluation {
    core: Core,
    registered: Functions,
    js: Option<Rc<JsFunctions>>,
    waiting: HashMap<u32, HostCall>,
}

impl Evaluation {
    pub(crate) fn new(core: Core, registered: Functions, js: Option<Rc<JsFunctions>>) -> Self {
        Evaluation {
            core,
            registered,
            js,
            waiting: HashMap::new(),
        }
    }
}

#[napi]
impl Evaluation {
    /// The ids of the JS host calls needed next, or `null` once decided.
    #[napi(catch_unwind)]
    pub fn poll(&mut self) -> Option<Vec<u32>> {
        let js = self.js.clone();
        let is_js = move |name: &str| js.as_ref().is_some_and(|js| js.has(name));
        let calls = advance(&mut self.core, &self.registered, &is_js)?;
        let mut ids = Vec::with_capacity(calls.len());
        for call in calls {
            let id = u32::try_from(call.id).unwrap_or(u32::MAX);
            ids.push(id);
            self.waiting.insert(id, call);
        }
        Some(ids)
    }

    /// Make call `id`: the JS function's return value, a Promise included.
    #[napi(catch_unwind, ts_return_type = "unknown")]
    pub fn call<'env>(&self, env: &'env Env, id: u32) -> napi::Result<Unknown<'env>> {
        let call = self
            .waiting
            .get(&id)
            .ok_or_else(|| napi::Error::from_reason(format!("no host call {id} is waiting")))?;
        let js = self
            .js
            .as_ref()
            .ok_or_else(|| napi::Error::from_reason("no JS functions"))?;
        let args: Vec<&Value> = call.args.iter().collect();
        js.call(env, &call.function, &args)
            .map_err(|e| napi::Error::from_reason(e.message))
    }

    /// The awaited answer of call `id`.
    #[napi(catch_unwind, ts_args_type = "id: number, value: unknown")]
    pub fn answer(&mut self, id: u32, value: Unknown<'_>) -> napi::Result<()> {
        let result = js_answer(&value);
        self.settle(id, result)
    }

    /// Call `id` threw or its Promise rejected with `error`.
    #[napi(catch_unwind, ts_args_type = "id: number, error: unknown")]
    pub fn fail(&mut self, id: u32, error: Unknown<'_>) -> napi::Result<()> {
        self.settle(id, Err(js_failure(error)))
    }

    /// The decision, once `poll()` gave `null`.
    #[napi(catch_unwind, ts_return_type = "Decision")]
    pub fn decision<'env>(&mut self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        match decision_of(&mut self.core) {
            Some(decision) => convert::to_js(env, &decision),
            None => Err(napi::Error::from_reason(
                "the evaluation has not decided yet",
            )),
        }
    }
}

impl Evaluation {
    fn settle(&mut self, id: u32, result: Result<Value, FunctionError>) -> napi::Result<()> {
        let call = self
            .waiting
            .remove(&id)
            .ok_or_else(|| napi::Error::from_reason(format!("no host call {id} is waiting")))?;
        self.core
            .answer(call.id, result)
            .map_err(|e| napi::Error::from_reason(e.to_string()))
    }
}

/// One input of a batch: read already, or bytes read on a worker, or refused.
enum Slot {
    Json(Vec<u8>),
    Running(Box<Core>),
    Done(Result<Decision, (String, String)>),
}

struct Shared {
    slots: Vec<Slot>,
    waiting: Vec<Waiting>,
}

/// Many evaluations at once, for `evaluateBatch`.
#[napi]
pub struct Batch {
    shared: Arc<Mutex<Shared>>,
    engine: acs_engine::Engine,
    registered: Functions,
    js: Option<Rc<JsFunctions>>,
}

impl Batch {
    pub(crate) fn new(
        engine: &acs_engine::Engine,
        registered: Functions,
        js: Option<Rc<JsFunctions>>,
        inputs: Vec<Unknown<'_>>,
        read: impl Fn(&Unknown<'_>) -> Result<Value, (String, String)>,
    ) -> napi::Result<Batch> {
        let mut slots = Vec::with_capacity(inputs.len());
        for input in inputs {
            slots.push(match input.get_type()? {
                ValueType::String => Slot::Json(String::from_unknown(input)?.into_bytes()),
                ValueType::Object if input.is_typedarray()? => {
                    Slot::Json(Uint8Array::from_unknown(input)?.to_vec())
                }
                _ => match read(&input) {
                    Ok(document) => Slot::Running(Box::new(engine.evaluation(document))),
                    Err(refused) => Slot::Done(Err(refused)),
                },
            });
        }
        Ok(Batch {
            shared: Arc::new(Mutex::new(Shared {
                slots,
                waiting: Vec::new(),
            })),
            engine: engine.clone(),
            registered,
            js,
        })
    }
}

/// One round of a batch on worker threads: read the JSON inputs, poll every evaluation.
pub struct Round {
    shared: Arc<Mutex<Shared>>,
    engine: acs_engine::Engine,
    registered: Functions,
    js_names: Arc<Vec<String>>,
    threads: usize,
}

impl Task for Round {
    type Output = usize;
    type JsValue = Option<Vec<u32>>;

    fn compute(&mut self) -> napi::Result<usize> {
        let mut shared = self
            .shared
            .lock()
            .map_err(|_| napi::Error::from_reason("a batch worker panicked"))?;
        let Shared { slots, waiting } = &mut *shared;
        waiting.clear();
        let threads = self.threads.max(1);
        let chunk = slots.len().div_ceil(threads).max(1);
        let (engine, registered, js_names) = (&self.engine, &self.registered, &self.js_names);
        let found: Vec<Vec<Waiting>> = std::thread::scope(|scope| {
            let workers: Vec<_> = slots
                .chunks_mut(chunk)
                .enumerate()
                .map(|(n, part)| {
                    scope.spawn(move || {
                        let mut asked = Vec::new();
                        for (offset, slot) in part.iter_mut().enumerate() {
                            if let Slot::Json(bytes) = slot {
                                *slot = match engine.parse_input(bytes) {
                                    Ok(document) => {
                                        Slot::Running(Box::new(engine.evaluation(document)))
                                    }
                                    Err(error) => Slot::Done(Err((
                                        error.code().to_owned(),
                                        error.to_string(),
                                    ))),
                                };
                            }
                            if let Slot::Running(evaluation) = slot {
                                match advance_named(evaluation, registered, js_names) {
                                    Some(calls) => {
                                        asked.extend(calls.into_iter().map(|call| Waiting {
                                            evaluation: n * chunk + offset,
                                            call,
                                        }))
                                    }
                                    None => {
                                        if let Some(decision) = decision_of(evaluation) {
                                            *slot = Slot::Done(Ok(decision));
                                        }
                                    }
                                }
                            }
                        }
                        asked
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        waiting.extend(found.into_iter().flatten());
        Ok(waiting.len())
    }

    fn resolve(&mut self, _: Env, waiting: usize) -> napi::Result<Option<Vec<u32>>> {
        Ok((waiting > 0).then(|| (0..u32::try_from(waiting).unwrap_or(u32::MAX)).collect()))
    }
}

/// [`advance`] on a worker thread, where the JS functions are known only by name.
fn advance_named(
    evaluation: &mut Core,
    registered: &Functions,
    js_names: &[String],
) -> Option<Vec<HostCall>> {
    advance(evaluation, registered, &|name: &str| {
        js_names.iter().any(|js| js == name)
    })
}

#[napi]
impl Batch {
    /// Poll every unfinished evaluation on `threads` threads (0: one per core); resolves
    /// to the keys of the JS host calls needed next, or `null` once all decided.
    #[napi(catch_unwind, ts_return_type = "Promise<number[] | null>")]
    pub fn run(&self, threads: u32) -> AsyncTask<Round> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n as usize,
        };
        AsyncTask::new(Round {
            shared: Arc::clone(&self.shared),
            engine: self.engine.clone(),
            registered: self.registered.clone(),
            js_names: Arc::new(
                self.js
                    .iter()
                    .flat_map(|js| js.names().map(str::to_owned))
                    .collect(),
            ),
            threads,
        })
    }

    /// Make call `key`: the JS function's return value, a Promise included.
    #[napi(catch_unwind, ts_return_type = "unknown")]
    pub fn call<'env>(&self, env: &'env Env, key: u32) -> napi::Result<Unknown<'env>> {
        let (function, args) = {
            let shared = self.lock()?;
            let waiting = shared.waiting.get(key as usize).ok_or_else(|| {
                napi::Error::from_reason(format!("no host call {key} is waiting"))
            })?;
            (waiting.call.function.clone(), waiting.call.args.clone())
        };
        let js = self
            .js
            .as_ref()
            .ok_or_else(|| napi::Error::from_reason("no JS functions"))?;
        let args: Vec<&Value> = args.iter().collect();
        js.call(env, &function, &args)
            .map_err(|e| napi::Error::from_reason(e.message))
    }

    /// The awaited answer of call `key`.
    #[napi(catch_unwind, ts_args_type = "key: number, value: unknown")]
    pub fn answer(&self, key: u32, value: Unknown<'_>) -> napi::Result<()> {
        self.settle(key, js_answer(&value))
    }

    /// Call `key` threw or its Promise rejected with `error`.
    #[napi(catch_unwind, ts_args_type = "key: number, error: unknown")]
    pub fn fail(&self, key: u32, error: Unknown<'_>) -> napi::Result<()> {
        self.settle(key, Err(js_failure(error)))
    }

    /// One result per input, in order: `{ decision }` or `{ error: { code, message } }`.
    #[napi(catch_unwind, ts_return_type = "BatchResult[]")]
    pub fn results<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        let shared = self.lock()?;
        let results: Vec<Value> = shared
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Done(Ok(decision)) => serde_json::json!({ "decision": decision }),
                Slot::Done(Err((code, message))) => serde_json::json!({ "error": { "code": code, "message": message } }),
                _ => serde_json::json!({ "error": { "code": "undecided", "message": "the batch has not finished" } }),
            })
            .collect();
        convert::to_js(env, &results)
    }
}

impl Batch {
    fn lock(&self) -> napi::Result<std::sync::MutexGuard<'_, Shared>> {
        self.shared
            .lock()
            .map_err(|_| napi::Error::from_reason("a batch worker panicked"))
    }

    fn settle(&self, key: u32, result: Result<Value, FunctionError>) -> napi::Result<()> {
        let mut shared = self.lock()?;
        let Shared { slots, waiting } = &mut *shared;
        let waiting = waiting
            .get(key as usize)
            .ok_or_else(|| napi::Error::from_reason(format!("no host call {key} is waiting")))?;
        if let Some(Slot::Running(evaluation)) = slots.get_mut(waiting.evaluation) {
            evaluation
                .answer(waiting.call.id, result)
                .map_err(|e| napi::Error::from_reason(e.to_string()))?;
        }
        Ok(())
    }
}
