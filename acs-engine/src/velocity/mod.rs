//! Velocity counters: how many events of some types one key (a user, a device) sent in a
//! sliding window. This module owns what a counter is once declared ([`Counter`]:
//! events, key, windows, event id, failure policy), window lengths ([`Window`]), the
//! store interface every backend implements ([`VelocityStore`]: record the evaluation's
//! events and read their counts in one call, one round trip for a remote store) and the
//! in-process backend ([`LocalStore`]). Declarations are read by `ruleset`, compiled into
//! the plan by `compile`, recorded and read by `eval`.
//!
//! Semantics (docs/VELOCITY.md): an evaluation of an event whose type a counter counts
//! records it once, before any rule runs, whatever the conditions then do; the counts
//! rules read include that event. An event carrying an id (the counter's `id` path) is
//! counted once per id, so a retried request is not counted twice.

mod local;
#[cfg(any(feature = "audit", feature = "tools"))]
mod recorded;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::Arc;

pub use local::{LocalStore, LocalStoreOptions};
#[cfg(any(feature = "audit", feature = "tools"))]
pub(crate) use recorded::RecordedCounts;
#[cfg(feature = "audit")]
pub(crate) use recorded::UsedCount;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore, DEFAULT_BUDGET};

/// A window length, in milliseconds: `30s`, `1m`, `1h`, `24h`, `7d` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window(u64);

/// Longest window: a year. Longer windows are rather a database query than a velocity.
pub const MAX_WINDOW_MS: u64 = 366 * 24 * 3_600_000;

impl Window {
    /// A window of `millis` milliseconds (at least one second, at most [`MAX_WINDOW_MS`]).
    pub fn from_millis(millis: u64) -> Option<Window> {
        (1000..=MAX_WINDOW_MS)
            .contains(&millis)
            .then_some(Window(millis))
    }

    /// Read `30s`, `5m`, `1h`, `24h`, `7d`: a whole number and a unit.
    pub fn parse(text: &str) -> Option<Window> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit())?;
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().ok()?;
        let unit_ms = match unit {
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        Window::from_millis(number.checked_mul(unit_ms)?)
    }

    /// Its length in milliseconds.
    pub fn millis(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{}s", ms / 1000)
    }
}

/// What an evaluation does when the store cannot answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// The count is unknown: a rule reading it does not fire (it reports the error).
    #[default]
    Open,
    /// The count reads as unbounded: a rule comparing it with a limit fires.
    Closed,
    /// The in-process counter answers instead (this replica's share of the traffic).
    Local,
}

/// A counter as the rules declare it.
#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    /// Its name: `velocity.count('<name>', ...)`, `rate.limitExceeded(key, '<name>', n)`.
    pub name: String,
    /// The event types it counts (`event.type`).
    pub events: Vec<String>,
    /// The input paths whose values make the key (`ctx.userId`), as written.
    pub key: Vec<String>,
    /// Its windows, shortest first.
    pub windows: Vec<Window>,
    /// The input path of the event's id, when the events carry one: an event is counted
    /// once per id.
    pub id: Option<String>,
    /// The input path of the event's instant (epoch milliseconds, or an RFC 3339 text),
    /// when the events carry one: counted and read at that instant instead of `now()`, so
    /// a backtest of recorded events counts them when they happened.
    pub time: Option<String>,
    /// What to do when the store fails.
    pub on_failure: FailurePolicy,
}

impl Counter {
    /// Its longest window.
    pub fn longest(&self) -> Window {
        self.windows.last().copied().unwrap_or(Window(60_000))
    }
}

/// One event to record: in `counter` under `key` (the key's text), with `windows` to
/// read back, counted once per `event_id` when there is one.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The counter's name.
    pub counter: &'a str,
    /// The key's text.
    pub key: &'a str,
    /// The counter's windows, shortest first: the counts come back in this order.
    pub windows: &'a [Window],
    /// The event's id, when it carries one.
    pub event_id: Option<&'a str>,
}

/// One event as a counter counts it, recorded nowhere yet: what a backtest gathers from
/// its whole input before it decides any line, so that each line reads the counts of the
/// events before it in time, whatever the input's order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CountedEvent {
    /// The counter's name.
    pub counter: String,
    /// The key's text.
    pub key: String,
    /// The event's id, when it carries one.
    pub id: Option<String>,
    /// The event's instant (epoch milliseconds) read at the counter's `time:`; `None`
    /// when the counter has none or the input's is unreadable.
    pub at: Option<f64>,
}

impl CountedEvent {
    /// An event of `counter` under `key`, at `at`.
    pub fn new(
        counter: impl Into<String>,
        key: impl Into<String>,
        id: Option<String>,
        at: Option<f64>,
    ) -> Self {
        CountedEvent {
            counter: counter.into(),
            key: key.into(),
            id,
            at,
        }
    }
}

/// Counts of one counter and key, one per window, in the windows' order.
pub type Counts = Vec<u64>;

/// Why a store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("velocity store: {0}")]
pub struct VelocityError(pub String);

/// Where counts live: the process ([`LocalStore`]) or a server shared by replicas. Every
/// call of one evaluation goes through [`VelocityStore::record`] once (all its events,
/// their counts back: one round trip), plus [`VelocityStore::read`] for a count of a key
/// the evaluation did not record.
pub trait VelocityStore: Send + Sync {
    /// Record each of `records` at `now_ms` (epoch milliseconds) and return, for each,
    /// the counts of its windows including it.
    fn record(&self, records: &[Record<'_>], now_ms: f64) -> Result<Vec<Counts>, VelocityError>;

    /// The counts of `key` in `counter` for `windows` at `now_ms`, recording nothing.
    fn read(
        &self,
        counter: &str,
        key: &str,
        windows: &[Window],
        now_ms: f64,
    ) -> Result<Counts, VelocityError>;

    /// An evaluation answered without this store (its counter's failure policy), for the
    /// metrics.
    fn fell_back(&self) {}

    /// The store's figures for `/metrics`, when it keeps any.
    fn metrics(&self) -> Option<VelocityMetrics> {
        None
    }
}

/// A velocity store's figures (the `acs_velocity_*` metrics).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct VelocityMetrics {
    /// `local` or `redis`.
    pub backend: String,
    /// Calls to the store (one per evaluation that records, plus reads of other keys).
    pub round_trips: u64,
    /// Calls that outlived the time budget.
    pub timeouts: u64,
    /// Calls the store failed (down, refused, a script error).
    pub errors: u64,
    /// Evaluations answered by a counter's failure policy instead.
    pub fallbacks: u64,
    /// Total seconds spent waiting on the store.
    pub latency_sum_seconds: f64,
    /// Cumulative counts of calls at or under each bound, in seconds.
    pub latency_buckets: Vec<(f64, u64)>,
    /// Keys held, for a store that knows (the in-process one).
    pub keys: Option<u64>,
}

impl fmt::Debug for dyn VelocityStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VelocityStore")
    }
}

/// A shared store.
pub type SharedStore = Arc<dyn VelocityStore>;

/// The text of a key value: a string as it is, an integer in decimal; anything else is no
/// key (the event is not counted under it).
pub fn key_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// Several key parts as one key's text: joined by the unit separator (U+001F), which
/// keys do not hold in practice; a part holding it is escaped, so two different tuples
/// never share a text.
pub fn join_key(parts: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\u{1f}');
        }
        for c in part.chars() {
            if c == '\u{1f}' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_and_print_as_written() {
        for (text, ms, shown) in [
            ("30s", 30_000, "30s"),
            ("1m", 60_000, "1m"),
            ("90s", 90_000, "90s"),
            ("60m", 3_600_000, "1h"),
            ("24h", 86_400_000, "1d"),
            ("7d", 604_800_000, "7d"),
        ] {
            let window = Window::parse(text).unwrap();
            assert_eq!(window.millis(), ms, "{text}");
            assert_eq!(window.to_string(), shown);
        }
        for bad in [
            "",
            "m",
            "1",
            "1w",
            "0s",
            "-1m",
            "1.5h",
            "999999999999999999d",
            "400d",
        ] {
            assert_eq!(Window::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn joined_keys_of_different_tuples_differ() {
        let a = join_key(&["a\u{1f}b", "c"]);
        let b = join_key(&["a", "b\u{1f}c"]);
        assert_ne!(a, b);
        assert_eq!(join_key(&["x"]), "x");
    }
}

/// Where a host keeps velocity counts, as data (the bindings' `velocity` option, a
/// configuration file): `{"redis": "redis://host:6379", "budget_ms": 5, "prefix": "acs:v:"}`;
/// `{}` (or no `redis`) keeps them in the process.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct VelocityConfig {
    /// `redis://HOST:PORT[/DB]`: counts shared through that server.
    #[serde(default)]
    pub redis: Option<String>,
    /// The longest an evaluation waits for Redis, in milliseconds (default 5).
    #[serde(default)]
    pub budget_ms: Option<u64>,
    /// Prefix of the keys written to Redis (default `acs:v:`).
    #[serde(default)]
    pub prefix: Option<String>,
}

impl VelocityConfig {
    /// The store this configuration names: Redis, or a new in-process store.
    pub fn into_store(self) -> Result<SharedStore, VelocityError> {
        let Some(url) = self.redis else {
            if self.budget_ms.is_some() || self.prefix.is_some() {
                return Err(VelocityError(
                    "budget_ms and prefix are Redis's: give redis too".to_owned(),
                ));
            }
            return Ok(Arc::new(LocalStore::default()));
        };
        #[cfg(feature = "redis")]
        {
            let mut options = RedisOptions::new(url);
            if let Some(ms) = self.budget_ms {
                options.budget = std::time::Duration::from_millis(ms);
            }
            if let Some(prefix) = self.prefix {
                options.prefix = prefix;
            }
            Ok(Arc::new(RedisStore::open(options)?))
        }
        #[cfg(not(feature = "redis"))]
        Err(VelocityError(format!(
            "{url}: this build has no Redis support (acs-engine's `redis` feature)"
        )))
    }
}
