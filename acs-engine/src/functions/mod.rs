//! Functions a condition can call: the host's, registered under dotted names, and the
//! built-ins. Host functions override built-ins of the same name (a test can pin `now`).

pub(crate) mod builtins;
mod pii;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::velocity::{LocalStore, SharedStore};
pub(crate) use builtins::Builtin;
pub use pii::text_contains_pii;

/// What a function call can fail with; the calling rule reports it and does not match.
///
/// A machine-readable `code` and a message for people, so that a binding can raise the
/// failure as a typed exception and a host can tell its own failures apart.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[error("{message}")]
#[non_exhaustive]
pub struct FunctionError {
    /// [`FunctionError::FAILED`], [`FunctionError::NOT_REGISTERED`],
    /// [`FunctionError::PANICKED`], or a code of the host's own (`timeout`,
    /// `db_unavailable`, ...).
    pub code: String,
    /// What went wrong, one line.
    pub message: String,
}

impl FunctionError {
    /// The code of a failure the host reports without a code of its own.
    pub const FAILED: &'static str = "failed";
    /// The code of a call nothing answers (a stub table with no entry for its arguments).
    pub const NOT_REGISTERED: &'static str = "not_registered";
    /// The code of a host function that panicked (the panic is caught).
    pub const PANICKED: &'static str = "panicked";
    /// The code of a call a replay's recording holds no answer for
    /// ([`Functions::answered_by_recording`]).
    pub const NOT_RECORDED: &'static str = "not_recorded";

    /// A failure with the host's own `code`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        FunctionError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A failure with a message and the code [`FunctionError::FAILED`].
    pub fn failed(message: impl Into<String>) -> Self {
        FunctionError::new(FunctionError::FAILED, message)
    }

    /// Nothing answers this call.
    pub fn not_registered() -> Self {
        FunctionError::new(
            FunctionError::NOT_REGISTERED,
            "not registered for these arguments",
        )
    }

    /// Whether nothing answers this call.
    pub fn is_not_registered(&self) -> bool {
        self.code == FunctionError::NOT_REGISTERED
    }
}

/// A function the host lends to conditions: takes argument values, returns a value.
///
/// Any `Fn(&[&Value]) -> Result<Value, FunctionError> + Send + Sync` closure is one. The
/// arguments are borrowed straight from the input document where they come from it, so
/// passing a whole object (`priceEstimator.lowerBound(booking)`) copies nothing.
pub trait HostFunction: Send + Sync {
    /// Run the function.
    fn call(&self, args: &[&Value]) -> Result<Value, FunctionError>;
}

impl<F> HostFunction for F
where
    F: Fn(&[&Value]) -> Result<Value, FunctionError> + Send + Sync,
{
    fn call(&self, args: &[&Value]) -> Result<Value, FunctionError> {
        self(args)
    }
}

/// A boxed trait object is a host function too (a host holding `Box<dyn HostFunction>`).
impl HostFunction for Box<dyn HostFunction> {
    fn call(&self, args: &[&Value]) -> Result<Value, FunctionError> {
        (**self).call(args)
    }
}

/// A shared trait object is a host function too.
impl HostFunction for Arc<dyn HostFunction> {
    fn call(&self, args: &[&Value]) -> Result<Value, FunctionError> {
        (**self).call(args)
    }
}

/// The host functions available to a rule set, by dotted name.
#[derive(Clone, Default)]
pub struct Functions {
    host: HashMap<String, Arc<dyn HostFunction>>,
    /// Names neither registered nor built in are host calls answered by a recording.
    recorded: bool,
    /// Where velocity counts live, shared by every plan compiled with these functions
    /// (so counts survive reloads); `None`: each plan gets its own in-process store.
    velocity: Option<VelocityStores>,
}

/// The store velocity counters use, and the in-process store of the `local` failure
/// policy.
#[derive(Clone)]
pub(crate) struct VelocityStores {
    pub store: SharedStore,
    pub local: Arc<LocalStore>,
}

/// What a call of [`Functions::answered_by_recording`] gives when nothing answers it from
/// a recording: it is only ever called outside a replay.
struct NotRecorded;

impl HostFunction for NotRecorded {
    fn call(&self, _args: &[&Value]) -> Result<Value, FunctionError> {
        Err(FunctionError::new(
            FunctionError::NOT_RECORDED,
            "the call is not in the recording",
        ))
    }
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.host.keys().collect();
        names.sort();
        f.debug_struct("Functions")
            .field("host", &names)
            .field("answered_by_recording", &self.recorded)
            .finish()
    }
}

impl Functions {
    /// No host functions; the built-ins are always there.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register (or replace) the function called as `name`, e.g. `db.count.trucksByOperator`.
    pub fn register(
        &mut self,
        name: impl Into<String>,
        function: impl HostFunction + 'static,
    ) -> &mut Self {
        self.host.insert(name.into(), Arc::new(function));
        self
    }

    /// [`Functions::register`], by value, for chaining.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, function: impl HostFunction + 'static) -> Self {
        self.register(name, function);
        self
    }

    /// Merge `other` into `self`; `other` wins on equal names.
    pub fn extend(&mut self, other: Functions) {
        self.host.extend(other.host);
        self.recorded |= other.recorded;
        if other.velocity.is_some() {
            self.velocity = other.velocity;
        }
    }

    /// Make every called name that is neither registered nor built in a host call whose
    /// answers come from a recording (an audit record's `calls`, a backtest's column of
    /// answers), for plans run through [`backtest::replay`](crate::backtest::replay): the
    /// rules need not know the host's functions, and a call the recording does not hold
    /// is the calling rule's error ([`FunctionError::NOT_RECORDED`]), never a `null`.
    #[must_use]
    pub fn answered_by_recording(mut self) -> Self {
        self.recorded = true;
        self
    }

    /// The names of the registered host functions, sorted.
    pub fn host_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.host.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Every callable name: host functions and built-ins, sorted.
    pub fn all_names(&self) -> Vec<&str> {
        let mut names = self.host_names();
        names.extend(Builtin::ALL.iter().map(|b| b.name()));
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The host function registered as `name`, for code that calls it directly (a
    /// hand-written baseline in the benchmarks, a tool that probes a stub table).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn HostFunction>> {
        self.host.get(name)
    }

    pub(crate) fn host(&self, name: &str) -> Option<&Arc<dyn HostFunction>> {
        self.host.get(name)
    }

    /// Keep velocity counts in `store` (a Redis store shared by replicas, say): every plan
    /// compiled with these functions records and reads there. Without a store, the
    /// engine keeps counts in this process ([`LocalStore`]).
    #[must_use]
    pub fn velocity_store(mut self, store: SharedStore) -> Self {
        self.velocity = Some(VelocityStores {
            store,
            local: Arc::new(LocalStore::default()),
        });
        self
    }

    /// The velocity stores plans compile against: the given ones, or a new in-process
    /// store (kept here, so later plans share it).
    pub(crate) fn velocity_stores(&mut self) -> VelocityStores {
        self.velocity
            .get_or_insert_with(|| {
                let local = Arc::new(LocalStore::default());
                VelocityStores {
                    store: local.clone(),
                    local,
                }
            })
            .clone()
    }

    pub(crate) fn velocity_stores_if_any(&self) -> Option<VelocityStores> {
        self.velocity.clone()
    }

    /// The function a call of `name` compiles to when nothing is registered under it and
    /// calls are answered by a recording.
    pub(crate) fn recorded(&self, name: &str) -> Option<Arc<dyn HostFunction>> {
        (self.recorded && Builtin::by_name(name).is_none())
            .then(|| Arc::new(NotRecorded) as Arc<dyn HostFunction>)
    }
}
