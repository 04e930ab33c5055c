//! Per-rule counters (evaluations, matches, errors) and the evaluation-latency histogram.
//!
//! Counters live with each plan, split into cache-line-aligned shards. A thread claims a
//! shard index for its lifetime and is then its only writer, so it counts with a plain
//! load and store (no locked instruction, no shared cache line); threads beyond the
//! shard count share an overflow shard with atomic adds. Reading sums the shards. Latency is timed on one evaluation
//! in [`LATENCY_SAMPLE_EVERY`] per thread, which keeps the clock off most requests.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, Ordering::Relaxed};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

const SHARDS: usize = 16;

/// One evaluation in this many (per thread) is timed for the latency histogram.
pub const LATENCY_SAMPLE_EVERY: u32 = 64;

/// Upper bounds of the latency buckets, in nanoseconds (the last bucket is +Inf).
const BUCKET_BOUNDS_NS: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 10_000_000,
];
const BUCKETS: usize = BUCKET_BOUNDS_NS.len() + 1;

const EVALUATIONS: usize = 0;
const MATCHES: usize = 1;
const ERRORS: usize = 2;
const PER_RULE: usize = 3;

/// Which shard indices are claimed by a live thread.
static CLAIMED: [AtomicBool; SHARDS] = [const { AtomicBool::new(false) }; SHARDS];

/// A thread's claim on one shard index; released when the thread ends.
struct Claim(usize);

impl Claim {
    fn take() -> Claim {
        for (index, flag) in CLAIMED.iter().enumerate() {
            // Acquire pairs with the Release of the previous owner, so its counts are seen.
            if flag
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Claim(index);
            }
        }
        Claim(SHARDS)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(flag) = CLAIMED.get(self.0) {
            flag.store(false, Ordering::Release);
        }
    }
}

thread_local! {
    static CLAIM: Claim = Claim::take();
    static SAMPLE_COUNTDOWN: Cell<u32> = const { Cell::new(0) };
}

/// This thread's shard index: its own (`< SHARDS`) or the shared overflow shard.
#[inline]
pub(crate) fn shard_index() -> usize {
    CLAIM.try_with(|claim| claim.0).unwrap_or(SHARDS)
}

/// One thread's counters. Aligned so neighbouring shards never share a cache line.
#[repr(align(128))]
pub(crate) struct Shard {
    /// Only one thread writes this shard: plain load + store, no locked instruction.
    exclusive: bool,
    rules: Box<[AtomicU64]>,
    evaluations: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS],
    latency_sum_ns: AtomicU64,
}

impl Shard {
    #[inline]
    fn add(&self, counter: &AtomicU64, amount: u64) {
        if self.exclusive {
            counter.store(counter.load(Relaxed).wrapping_add(amount), Relaxed);
        } else {
            counter.fetch_add(amount, Relaxed);
        }
    }

    #[inline]
    fn bump(&self, rule: usize, which: usize) {
        if let Some(counter) = self.rules.get(rule * PER_RULE + which) {
            self.add(counter, 1);
        }
    }

    #[inline]
    pub fn rule_evaluated(&self, rule: usize) {
        self.bump(rule, EVALUATIONS);
    }

    #[inline]
    pub fn rule_matched(&self, rule: usize) {
        self.bump(rule, MATCHES);
    }

    #[inline]
    pub fn rule_errored(&self, rule: usize) {
        self.bump(rule, ERRORS);
    }

    #[inline]
    pub fn evaluation_done(&self) {
        self.add(&self.evaluations, 1);
    }

    pub fn record_latency(&self, nanos: u64) {
        let bucket = BUCKET_BOUNDS_NS
            .iter()
            .position(|&b| nanos <= b)
            .unwrap_or(BUCKETS - 1);
        if let Some(counter) = self.latency_buckets.get(bucket) {
            self.add(counter, 1);
        }
        self.add(&self.latency_sum_ns, nanos);
    }
}

/// Whether this evaluation, on this thread, is one to time.
#[inline]
pub(crate) fn sample_latency() -> bool {
    SAMPLE_COUNTDOWN.with(|countdown| {
        let left = countdown.get();
        if left == 0 {
            countdown.set(LATENCY_SAMPLE_EVERY - 1);
            true
        } else {
            countdown.set(left - 1);
            false
        }
    })
}

/// The counters of one plan.
pub(crate) struct PlanCounters {
    shards: Box<[Shard]>,
}

impl PlanCounters {
    pub fn new(rules: usize) -> Self {
        // One shard per claimable index, plus the shared overflow shard at `SHARDS`.
        let shards = (0..=SHARDS)
            .map(|index| Shard {
                exclusive: index < SHARDS,
                rules: (0..rules * PER_RULE).map(|_| AtomicU64::new(0)).collect(),
                evaluations: AtomicU64::new(0),
                latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                latency_sum_ns: AtomicU64::new(0),
            })
            .collect();
        PlanCounters { shards }
    }

    /// No counters at all: for hosts that switch metrics off.
    pub fn disabled() -> Self {
        PlanCounters {
            shards: Box::new([]),
        }
    }

    /// This thread's shard (`None` when metrics are off).
    #[inline]
    pub fn shard(&self) -> Option<&Shard> {
        self.shards.get(shard_index())
    }

    /// Add this plan's counts into `totals`, naming rules by `ids` (in plan order).
    pub fn add_to(&self, ids: &[Arc<str>], totals: &mut Totals) {
        for shard in self.shards.iter() {
            totals.evaluations += shard.evaluations.load(Relaxed);
            totals.latency_sum_ns += shard.latency_sum_ns.load(Relaxed);
            for (total, bucket) in totals
                .latency_buckets
                .iter_mut()
                .zip(&shard.latency_buckets)
            {
                *total += bucket.load(Relaxed);
            }
            for (index, id) in ids.iter().enumerate() {
                let entry = totals.rules.entry(id.clone()).or_default();
                for (which, slot) in entry.iter_mut().enumerate() {
                    *slot += shard
                        .rules
                        .get(index * PER_RULE + which)
                        .map_or(0, |c| c.load(Relaxed));
                }
            }
        }
    }
}

/// Counts summed over shards and plans.
#[derive(Debug, Default, Clone)]
pub(crate) struct Totals {
    pub evaluations: u64,
    pub rules: HashMap<Arc<str>, [u64; PER_RULE]>,
    pub latency_buckets: [u64; BUCKETS],
    pub latency_sum_ns: u64,
}

/// Counters of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleCounters {
    /// Rule id.
    pub id: String,
    /// Times the condition was evaluated (the event passed the rule's gate).
    pub evaluations: u64,
    /// Times it matched.
    pub matches: u64,
    /// Times its evaluation failed.
    pub errors: u64,
}

/// A latency histogram bucket: how many sampled evaluations took at most `le_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LatencyBucket {
    /// Upper bound in seconds; `None` is +Inf.
    pub le_seconds: Option<f64>,
    /// Cumulative count.
    pub count: u64,
}

/// A point-in-time copy of the engine's counters, summed over every plan it has served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The generation serving when the snapshot was taken.
    pub generation: u64,
    /// Evaluations since the engine started.
    pub evaluations: u64,
    /// Per-rule counters for the rules of the serving plan, in evaluation order.
    pub rules: Vec<RuleCounters>,
    /// Cumulative latency buckets over the sampled evaluations.
    pub latency_buckets: Vec<LatencyBucket>,
    /// Sum of the sampled latencies, in seconds.
    pub latency_sum_seconds: f64,
    /// Number of sampled evaluations.
    pub latency_count: u64,
    /// One evaluation in this many per thread is timed.
    pub latency_sample_every: u32,
    /// Reloads that failed (the old plan kept serving).
    pub reload_failures: u64,
    /// Whether the file watcher runs: `None` when the engine was never watched.
    pub watch_alive: Option<bool>,
    /// When the watcher last saw a file-system event, in seconds since the Unix epoch.
    pub watch_last_event_seconds: Option<f64>,
    /// Reload subscribers that panicked (caught; reloads went on).
    pub subscriber_failures: u64,
    /// The audit writer's health and counters, when the engine records decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditStatus>,
    /// The velocity store's figures, when the rules declare counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velocity: Option<crate::velocity::VelocityMetrics>,
}

impl MetricsSnapshot {
    pub(crate) fn from_totals(
        generation: u64,
        order: &[Arc<str>],
        totals: &Totals,
        reload_failures: u64,
    ) -> Self {
        let rules = order
            .iter()
            .map(|id| {
                let [evaluations, matches, errors] =
                    totals.rules.get(id).copied().unwrap_or_default();
                RuleCounters {
                    id: id.to_string(),
                    evaluations,
                    matches,
                    errors,
                }
            })
            .collect();
        let mut cumulative = 0;
        let latency_buckets = totals
            .latency_buckets
            .iter()
            .enumerate()
            .map(|(i, count)| {
                cumulative += count;
                LatencyBucket {
                    le_seconds: BUCKET_BOUNDS_NS.get(i).map(|&ns| ns as f64 / 1e9),
                    count: cumulative,
                }
            })
            .collect();
        MetricsSnapshot {
            generation,
            evaluations: totals.evaluations,
            rules,
            latency_buckets,
            latency_sum_seconds: totals.latency_sum_ns as f64 / 1e9,
            latency_count: cumulative,
            latency_sample_every: LATENCY_SAMPLE_EVERY,
            reload_failures,
            watch_alive: None,
            watch_last_event_seconds: None,
            subscriber_failures: 0,
            audit: None,
            velocity: None,
        }
    }

    /// The Prometheus text exposition format (version 0.0.4), ready to serve at `/metrics`.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP acs_evaluations_total Inputs evaluated.");
        let _ = writeln!(out, "# TYPE acs_evaluations_total counter");
        let _ = writeln!(out, "acs_evaluations_total {}", self.evaluations);
        let _ = writeln!(
            out,
            "# HELP acs_rules_generation Generation of the serving rules plan."
        );
        let _ = writeln!(out, "# TYPE acs_rules_generation gauge");
        let _ = writeln!(out, "acs_rules_generation {}", self.generation);
        let _ = writeln!(
            out,
            "# HELP acs_reload_failures_total Reloads that failed; the previous plan kept serving."
        );
        let _ = writeln!(out, "# TYPE acs_reload_failures_total counter");
        let _ = writeln!(out, "acs_reload_failures_total {}", self.reload_failures);
        let _ = writeln!(
            out,
            "# HELP acs_reload_subscriber_failures_total Reload subscribers that panicked; reloads went on."
        );
        let _ = writeln!(out, "# TYPE acs_reload_subscriber_failures_total counter");
        let _ = writeln!(
            out,
            "acs_reload_subscriber_failures_total {}",
            self.subscriber_failures
        );
        if let Some(alive) = self.watch_alive {
            let _ = writeln!(
                out,
                "# HELP acs_watch_alive Whether the rules file watcher runs (0: reloads only on reload())."
            );
            let _ = writeln!(out, "# TYPE acs_watch_alive gauge");
            let _ = writeln!(out, "acs_watch_alive {}", u8::from(alive));
        }
        if let Some(audit) = &self.audit {
            audit_lines(audit, &mut out);
        }
        if let Some(velocity) = &self.velocity {
            velocity_lines(velocity, &mut out);
        }
        if let Some(seconds) = self.watch_last_event_seconds {
            let _ = writeln!(
                out,
                "# HELP acs_watch_last_event_timestamp_seconds When the watcher last saw a file-system event."
            );
            let _ = writeln!(out, "# TYPE acs_watch_last_event_timestamp_seconds gauge");
            let _ = writeln!(out, "acs_watch_last_event_timestamp_seconds {seconds:.3}");
        }
        type Field = fn(&RuleCounters) -> u64;
        let per_rule: [(&str, &str, Field); 3] = [
            (
                "acs_rule_evaluations_total",
                "Rule conditions evaluated.",
                |r| r.evaluations,
            ),
            ("acs_rule_matches_total", "Rule matches.", |r| r.matches),
            ("acs_rule_errors_total", "Rule evaluation errors.", |r| {
                r.errors
            }),
        ];
        for (name, help, value) in per_rule {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for rule in &self.rules {
                let _ = writeln!(
                    out,
                    "{name}{{rule=\"{}\"}} {}",
                    escape_label(&rule.id),
                    value(rule)
                );
            }
        }
        let name = "acs_evaluation_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Evaluation latency, sampled on one evaluation in {} per thread.",
            self.latency_sample_every
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for bucket in &self.latency_buckets {
            let le = bucket
                .le_seconds
                .map_or_else(|| "+Inf".to_owned(), |s| format!("{s}"));
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {}", bucket.count);
        }
        let _ = writeln!(out, "{name}_sum {}", self.latency_sum_seconds);
        let _ = writeln!(out, "{name}_count {}", self.latency_count);
        out
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The audit writer's health, in [`Status`](crate::Status) and [`MetricsSnapshot`] (the engine's; plain data
/// here so that metrics need nothing of the engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditStatus {
    /// The log directory.
    pub dir: String,
    /// Whether the writer thread accepts records. After a write error it stops (what
    /// reached the file is unknown); open the log again (a new engine) to go on.
    pub alive: bool,
    /// Records written by this engine (rulesets included).
    pub records_written: u64,
    /// Records dropped: queue full, or the writer stopped.
    pub dropped: u64,
    /// Records queued and not yet written.
    pub queue_depth: u64,
    /// Batches written (each one write and, under `Fsync::EveryBatch`, one fsync).
    pub batches: u64,
    /// Records in the last batch.
    pub last_batch: u64,
    /// Total time spent in fsync, in microseconds.
    pub fsync_micros: u64,
    /// The tree size the last checkpoint covers (0: none yet).
    pub last_checkpoint_size: u64,
    /// Its root hash (hex), if any.
    pub last_checkpoint_root: Option<String>,
    /// The error that stopped the writer, or that opening the log gave.
    pub last_error: Option<String>,
    /// What opening the log repaired: a torn tail a crash left (segment, offset,
    /// sequence number, bytes cut), which was cut before the first new record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovered: Vec<String>,
}

/// The `acs_velocity_*` lines of the Prometheus text.
fn velocity_lines(velocity: &crate::velocity::VelocityMetrics, out: &mut String) {
    let backend = &velocity.backend;
    for (name, help, value) in [
        (
            "acs_velocity_round_trips_total",
            "Calls to the velocity store.",
            velocity.round_trips,
        ),
        (
            "acs_velocity_timeouts_total",
            "Velocity store calls that outlived the time budget.",
            velocity.timeouts,
        ),
        (
            "acs_velocity_errors_total",
            "Velocity store calls that failed.",
            velocity.errors,
        ),
        (
            "acs_velocity_fallbacks_total",
            "Evaluations answered by a counter's failure policy instead of the store.",
            velocity.fallbacks,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name}{{backend=\"{backend}\"}} {value}");
    }
    if let Some(keys) = velocity.keys {
        let _ = writeln!(
            out,
            "# HELP acs_velocity_keys Keys the in-process velocity store holds."
        );
        let _ = writeln!(out, "# TYPE acs_velocity_keys gauge");
        let _ = writeln!(out, "acs_velocity_keys{{backend=\"{backend}\"}} {keys}");
    }
    if !velocity.latency_buckets.is_empty() {
        let name = "acs_velocity_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Round-trip time of velocity store calls."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, count) in &velocity.latency_buckets {
            let _ = writeln!(
                out,
                "{name}_bucket{{backend=\"{backend}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{backend=\"{backend}\",le=\"+Inf\"}} {}",
            velocity.round_trips
        );
        let _ = writeln!(
            out,
            "{name}_sum{{backend=\"{backend}\"}} {}",
            velocity.latency_sum_seconds
        );
        let _ = writeln!(
            out,
            "{name}_count{{backend=\"{backend}\"}} {}",
            velocity.round_trips
        );
    }
}

/// The `acs_audit_*` lines of the Prometheus text.
fn audit_lines(audit: &AuditStatus, out: &mut String) {
    let lines: [(&str, &str, &str, u64); 8] = [
        (
            "acs_audit_alive",
            "gauge",
            "Whether the audit writer accepts records (0: stopped on an error, see status).",
            u64::from(audit.alive),
        ),
        (
            "acs_audit_records_written_total",
            "counter",
            "Audit records written.",
            audit.records_written,
        ),
        (
            "acs_audit_dropped_total",
            "counter",
            "Audit records dropped (queue full or writer stopped).",
            audit.dropped,
        ),
        (
            "acs_audit_queue_depth",
            "gauge",
            "Audit records queued, not yet written.",
            audit.queue_depth,
        ),
        (
            "acs_audit_batches_total",
            "counter",
            "Audit batches written (group commits).",
            audit.batches,
        ),
        (
            "acs_audit_last_batch_records",
            "gauge",
            "Records in the last audit batch.",
            audit.last_batch,
        ),
        (
            "acs_audit_fsync_seconds_total",
            "counter",
            "Time spent in audit fsyncs, microseconds / 1e6.",
            0,
        ),
        (
            "acs_audit_last_checkpoint_size",
            "gauge",
            "Tree size of the last signed audit checkpoint.",
            audit.last_checkpoint_size,
        ),
    ];
    for (name, kind, help, value) in lines {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        if name == "acs_audit_fsync_seconds_total" {
            #[allow(
                clippy::cast_precision_loss,
                reason = "microseconds below 2^53 are exact; a gauge needs no more"
            )]
            let seconds = audit.fsync_micros as f64 / 1e6;
            let _ = writeln!(out, "{name} {seconds:.6}");
        } else {
            let _ = writeln!(out, "{name} {value}");
        }
    }
}
