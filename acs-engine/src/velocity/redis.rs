//! Counts shared by replicas in Redis. One server-side script records every event of an
//! evaluation and reads back every window's count, atomically, in one round trip. The
//! connection is `redis`'s `ConnectionManager`: multiplexed (one connection carries every
//! thread's requests) and reconnecting on its own, driven by a small Tokio runtime the
//! store owns. The request thread hands the script to that runtime and waits at most the
//! time budget on a channel, so it never blocks longer, never needs a runtime of its own,
//! and works from inside a host's Tokio task too.
//!
//! Layout in Redis, per counter, window and key: a hash `<prefix><len>:<counter>:<window
//! ms>:<key>` of slice index -> count (60 slices per window, as the in-process store),
//! expiring a window after its last event; an event id seen is a key `<prefix>id:...`
//! set with `NX` for the counter's longest window. Keys are computed in the script, so
//! a Redis Cluster is not supported: use one primary (with replicas for failover).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{Counts, Record, VelocityError, VelocityMetrics, VelocityStore, Window};

/// The time budget of one round trip unless the host says otherwise.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(5);

/// Records and reads every window of every record; see the module doc for the layout.
/// ARGV: now, prefix, number of records, then per record: counter, key, 1 to record (0 to
/// read only), event id ('' for none), number of windows, the windows in ms.
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local prefix = ARGV[2]
local n = tonumber(ARGV[3])
local i = 4
local out = {}
for r = 1, n do
  local counter = ARGV[i]
  local key = ARGV[i + 1]
  local record = ARGV[i + 2] == '1'
  local id = ARGV[i + 3]
  local nw = tonumber(ARGV[i + 4])
  i = i + 5
  local windows = {}
  local longest = 0
  for k = 1, nw do
    windows[k] = tonumber(ARGV[i])
    if windows[k] > longest then longest = windows[k] end
    i = i + 1
  end
  local base = prefix .. string.len(counter) .. ':' .. counter .. ':'
  if record and id ~= '' then
    if not redis.call('SET', base .. 'id:' .. id, '1', 'NX', 'PX', longest) then
      record = false
    end
  end
  local counts = {}
  for k = 1, nw do
    local w = windows[k]
    local width = math.max(math.floor(w / 60), 1)
    local slice = math.floor(now / width)
    local h = base .. w .. ':' .. key
    if record then
      redis.call('HINCRBY', h, slice, 1)
      redis.call('PEXPIRE', h, w + width)
    end
    local all = redis.call('HGETALL', h)
    local total = 0
    for j = 1, #all, 2 do
      local s = tonumber(all[j])
      if s > slice - 60 and s <= slice then
        total = total + tonumber(all[j + 1])
      elseif s <= slice - 60 then
        redis.call('HDEL', h, all[j])
      end
    end
    counts[k] = total
  end
  out[r] = counts
end
return out
";

/// Upper bounds (seconds) of the round-trip latency histogram.
const LATENCY_BOUNDS: [f64; 8] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 1.0];

#[derive(Default)]
struct Stats {
    round_trips: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
    fallbacks: AtomicU64,
    latency_ns: AtomicU64,
    /// Cumulative counts per bound in [`LATENCY_BOUNDS`], then the total.
    buckets: [AtomicU64; LATENCY_BOUNDS.len()],
}

/// Counts in Redis, shared by every process pointed at the same server.
pub struct RedisStore {
    runtime: tokio::runtime::Runtime,
    connection: ConnectionManager,
    script: Arc<Script>,
    prefix: String,
    budget: Duration,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://host:port/db` (`rediss://` for TLS is not built in).
    pub url: String,
    /// The longest an evaluation waits for its round trip (default 5 ms).
    pub budget: Duration,
    /// Prefix of every key the store writes (default `acs:v:`): several deployments can
    /// share one server.
    pub prefix: String,
}

impl RedisOptions {
    /// The defaults for `url`.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            budget: DEFAULT_BUDGET,
            prefix: "acs:v:".to_owned(),
        }
    }
}

impl RedisStore {
    /// A store over the server at `options.url`. Nothing is connected yet: the first
    /// evaluation connects, and a server that is down only makes evaluations fall back
    /// per their counters' policies until it is up.
    pub fn open(options: RedisOptions) -> Result<RedisStore, VelocityError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| VelocityError(format!("{}: {e}", options.url)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("acs-velocity")
            .enable_all()
            .build()
            .map_err(|e| VelocityError(format!("cannot start the Redis client's runtime: {e}")))?;
        // A reconnect must fit a request's budget; the manager retries in the background.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = {
            let _entered = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| VelocityError(format!("{}: {e}", options.url)))?
        };
        Ok(RedisStore {
            runtime,
            connection,
            script: Arc::new(Script::new(SCRIPT)),
            prefix: options.prefix,
            budget: options.budget,
            stats: Arc::new(Stats::default()),
        })
    }

    fn call(
        &self,
        records: &[(Record<'_>, bool)],
        now_ms: f64,
    ) -> Result<Vec<Counts>, VelocityError> {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "epoch ms, checked finite and positive"
        )]
        let now = if now_ms.is_finite() && now_ms > 0.0 {
            now_ms as u64
        } else {
            0
        };
        let mut args: Vec<Vec<u8>> = vec![
            now.to_string().into_bytes(),
            self.prefix.clone().into_bytes(),
            records.len().to_string().into_bytes(),
        ];
        for (record, counting) in records {
            args.push(record.counter.as_bytes().to_vec());
            args.push(record.key.as_bytes().to_vec());
            args.push(if *counting {
                b"1".to_vec()
            } else {
                b"0".to_vec()
            });
            args.push(record.event_id.unwrap_or("").as_bytes().to_vec());
            args.push(record.windows.len().to_string().into_bytes());
            for window in record.windows {
                args.push(window.millis().to_string().into_bytes());
            }
        }
        let script = Arc::clone(&self.script);
        let mut connection = self.connection.clone();
        let (sender, receiver) = mpsc::sync_channel(1);
        let started = Instant::now();
        self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
        // The runtime owns the future: if the budget passes first, the answer is dropped
        // when it comes.
        self.runtime.spawn(async move {
            let mut invocation = script.prepare_invoke();
            for arg in &args {
                invocation.arg(arg.as_slice());
            }
            // EVALSHA, and EVAL once when the server does not know the script yet.
            let answer: redis::RedisResult<Vec<Vec<u64>>> =
                invocation.invoke_async(&mut connection).await;
            let _ = sender.send(answer);
        });
        let answer = receiver.recv_timeout(self.budget);
        let elapsed = started.elapsed();
        self.observe(elapsed);
        match answer {
            Ok(Ok(counts)) if counts.len() == records.len() => Ok(counts),
            Ok(Ok(_)) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(VelocityError(
                    "Redis answered for other counters than asked".to_owned(),
                ))
            }
            Ok(Err(error)) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(VelocityError(format!("Redis: {error}")))
            }
            Err(_) => {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(VelocityError(format!(
                    "Redis did not answer within {} ms",
                    self.budget.as_secs_f64() * 1000.0
                )))
            }
        }
    }

    fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.stats.latency_ns.fetch_add(ns, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in LATENCY_BOUNDS.iter().zip(&self.stats.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl VelocityStore for RedisStore {
    fn record(&self, records: &[Record<'_>], now_ms: f64) -> Result<Vec<Counts>, VelocityError> {
        let calls: Vec<(Record<'_>, bool)> = records.iter().map(|r| (*r, true)).collect();
        self.call(&calls, now_ms)
    }

    fn read(
        &self,
        counter: &str,
        key: &str,
        windows: &[Window],
        now_ms: f64,
    ) -> Result<Counts, VelocityError> {
        let record = Record {
            counter,
            key,
            windows,
            event_id: None,
        };
        self.call(&[(record, false)], now_ms)?
            .pop()
            .ok_or_else(|| VelocityError("Redis answered nothing".to_owned()))
    }

    fn fell_back(&self) {
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    fn metrics(&self) -> Option<VelocityMetrics> {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(VelocityMetrics {
            backend: "redis".to_owned(),
            round_trips: load(&self.stats.round_trips),
            timeouts: load(&self.stats.timeouts),
            errors: load(&self.stats.errors),
            fallbacks: load(&self.stats.fallbacks),
            latency_sum_seconds: load(&self.stats.latency_ns) as f64 / 1e9,
            latency_buckets: LATENCY_BOUNDS
                .iter()
                .zip(&self.stats.buckets)
                .map(|(bound, count)| (*bound, load(count)))
                .collect(),
            keys: None,
        })
    }
}
