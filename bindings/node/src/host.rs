//! JS functions as the engine's host functions. The engine calls a host function from
//! inside an evaluation; a JS function can only be called on its own JS thread with
//! that thread's environment. So each engine registers, per name, a Rust function that
//! finds the JS function of the evaluation running on this thread (set for the length
//! of one `evaluate` call) and calls it. Off that thread (a batch worker) it answers with
//! an error instead of touching JS.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use acs_engine::{FunctionError, Functions};
use napi::bindgen_prelude::{
    FnArgs, FromNapiValue, Function, FunctionRef, JsObjectValue, Object, Unknown,
};
use napi::{Env, JsValue, ValueType};
use serde_json::Value;

use crate::convert::{self, Budget, Problem, Step};

/// The JS functions one engine was given, by dotted name.
pub(crate) struct JsFunctions {
    by_name: HashMap<String, FunctionRef<(), ()>>,
}

/// The code of a host function that returned a Promise to a synchronous evaluation.
pub(crate) const RETURNED_PROMISE: &str = "returned_promise";
/// The code of a host function that threw.
pub(crate) const THREW: &str = "threw";

thread_local! {
    /// The evaluations running on this thread, innermost last (a host function may
    /// itself evaluate with another engine).
    static RUNNING: RefCell<Vec<(Env, Rc<JsFunctions>)>> = const { RefCell::new(Vec::new()) };
}

impl JsFunctions {
    /// Read `{ 'db.count.trucksByOperator': fn, ... }`; a member that is not a function is
    /// a `TypeError` naming it. Returns the table and the engine's `Functions`.
    pub(crate) fn read(
        env: &Env,
        object: &Object<'_>,
    ) -> napi::Result<(Rc<JsFunctions>, Functions)> {
        let mut by_name = HashMap::new();
        let mut functions = Functions::new();
        for name in Object::keys(object)? {
            let member: Unknown<'_> = object.get_named_property(&name)?;
            if member.get_type()? != ValueType::Function {
                return Err(crate::errors::type_error(
                    env,
                    &format!(
                        "options.functions[{}] must be a function",
                        Value::from(name.as_str())
                    ),
                ));
            }
            let function: Function<'_, (), ()> = Function::from_unknown(member)?;
            by_name.insert(name.clone(), function.create_ref()?);
            let called = name.clone();
            functions.register(name, move |args: &[&Value]| call_running(&called, args));
        }
        Ok((Rc::new(JsFunctions { by_name }), functions))
    }

    /// Whether `name` is one of the JS functions.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The names given.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Call the JS function `name` with `args` on `env`'s thread and read its answer.
    /// A thrown exception is the call's error; a Promise is an error unless `allow_promise`,
    /// in which case it is returned as is for the caller to await.
    pub(crate) fn call<'env>(
        &self,
        env: &'env Env,
        name: &str,
        args: &[&Value],
    ) -> Result<Unknown<'env>, FunctionError> {
        let function = self
            .by_name
            .get(name)
            .ok_or_else(FunctionError::not_registered)?
            .borrow_back(env)
            .map_err(|e| FunctionError::failed(e.reason.clone()))?
            .to_unknown();
        // Scalars cross as they are, one Node-API value each; an object or array argument
        // crosses as JSON text that the dispatcher parses in one V8 call, much faster
        // than building it property by property.
        let scalars = args.len() <= MAX_DIRECT_ARGUMENTS
            && args
                .iter()
                .all(|a| !matches!(a, Value::Object(_) | Value::Array(_)));
        if let Some(dispatch) =
            crate::errors::dispatcher(env).filter(|_| !scalars && json_is_exact(args))
        {
            let json =
                serde_json::to_string(args).map_err(|e| FunctionError::failed(e.to_string()))?;
            let dispatch: Function<'env, FnArgs<(Unknown<'env>, String)>, Unknown<'env>> =
                Function::from_unknown(dispatch.to_unknown())
                    .map_err(|e| FunctionError::failed(e.reason.clone()))?;
            return dispatch
                .call(FnArgs::from((function, json)))
                .map_err(|e| FunctionError::new(THREW, e.reason.clone()));
        }
        let js: Result<Vec<Unknown<'env>>, _> = args
            .iter()
            .map(|a| match as_js_number(a) {
                Some(number) => convert::to_js(env, &number),
                None => convert::to_js(env, a),
            })
            .collect();
        let js = js.map_err(|e| FunctionError::failed(e.reason.clone()))?;
        apply(function, js).map_err(|e| FunctionError::new(THREW, e.reason.clone()))
    }
}

/// Whether `args` read back from JSON text in JS exactly as they are: no integer beyond
/// 2^53 (those cross as BigInts, property by property).
fn json_is_exact(args: &[&Value]) -> bool {
    fn exact(value: &Value) -> bool {
        match value {
            Value::Number(n) => {
                n.is_f64() || n.as_i64().is_some_and(|i| i.unsigned_abs() <= 1 << 53)
            }
            Value::Array(items) => items.iter().all(exact),
            Value::Object(map) => map.values().all(exact),
            _ => true,
        }
    }
    args.iter().all(|a| exact(a))
}

/// An integer a JS number holds exactly (within 2^53) as a double, so that it crosses as
/// a number, as it would through JSON; larger ones stay integers and cross as BigInts.
fn as_js_number(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n)
            if !n.is_f64() && n.as_i64().is_some_and(|i| i.unsigned_abs() <= 1 << 53) =>
        {
            n.as_f64().map(Value::from)
        }
        _ => None,
    }
}

/// The most arguments [`apply`] passes one by one.
const MAX_DIRECT_ARGUMENTS: usize = 8;

/// Call `function` with `args` (as many as the call has, up to [`MAX_DIRECT_ARGUMENTS`]).
fn apply<'env>(function: Unknown<'env>, args: Vec<Unknown<'env>>) -> napi::Result<Unknown<'env>> {
    macro_rules! arity {
        ($($name:ident),*) => {{
            let mut it = args.into_iter();
            $(let $name = it.next().ok_or_else(|| napi::Error::from_reason("argument count"))?;)*
            let f: Function<'env, FnArgs<($(arity!(@ty $name),)*)>, Unknown<'env>> = Function::from_unknown(function)?;
            f.call(FnArgs::from(($($name,)*)))
        }};
        (@ty $name:ident) => { Unknown<'env> };
    }
    match args.len() {
        0 => {
            let f: Function<'env, (), Unknown<'env>> = Function::from_unknown(function)?;
            f.call(())
        }
        1 => arity!(a),
        2 => arity!(a, b),
        3 => arity!(a, b, c),
        4 => arity!(a, b, c, d),
        5 => arity!(a, b, c, d, e),
        6 => arity!(a, b, c, d, e, g),
        7 => arity!(a, b, c, d, e, g, h),
        8 => arity!(a, b, c, d, e, g, h, i),
        n => Err(napi::Error::from_reason(format!(
            "a JS host function takes at most 8 arguments here, this call has {n}"
        ))),
    }
}

/// An answer read back from JS: any JSON value. A Promise is refused: a synchronous
/// evaluation cannot wait for it.
pub(crate) fn answer(value: &Unknown<'_>) -> Result<Value, FunctionError> {
    if value.is_promise().unwrap_or(false) {
        return Err(FunctionError::new(
            RETURNED_PROMISE,
            "returned a Promise, which evaluate() cannot wait for: use evaluateAsync()",
        ));
    }
    let mut budget = Budget::new(acs_engine::Limits::default().max_input_depth, usize::MAX);
    convert::to_document(value, Step::Root("the returned value"), 0, &mut budget).map_err(
        |problem| match problem {
            Problem::NotJson { path, found } => {
                FunctionError::failed(format!("`{path}` is {found}, which JSON cannot hold"))
            }
            Problem::TooDeep { limit, .. } => {
                FunctionError::failed(format!("returned a value nested more than {limit} deep"))
            }
            Problem::TooLarge { .. } => FunctionError::failed("returned too large a value"),
            Problem::Thrown(error) => FunctionError::new(THREW, error.reason.clone()),
        },
    )
}

/// The registered host function: calls the JS function of the evaluation running on this
/// thread.
fn call_running(name: &str, args: &[&Value]) -> Result<Value, FunctionError> {
    // Copied out so that no borrow is held while JS runs (it may evaluate again).
    let running = RUNNING.with(|stack| stack.borrow().last().cloned());
    let Some((env, functions)) = running else {
        return Err(FunctionError::new(
            "not_on_js_thread",
            "JS host functions are called only by evaluate() and evaluateAsync() on the engine's own thread",
        ));
    };
    let value = functions.call(&env, name, args)?;
    answer(&value)
}

/// Makes `functions` the ones host calls on this thread reach, until dropped.
pub(crate) struct Running(());

impl Running {
    pub(crate) fn enter(env: Env, functions: &Rc<JsFunctions>) -> Running {
        RUNNING.with(|stack| stack.borrow_mut().push((env, Rc::clone(functions))));
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|stack| {
            stack.borrow_mut().pop();
        });
    }
}
