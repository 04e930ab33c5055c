//! Recording decisions from the request path: the engine's one audit writer thread, the
//! bounded queue that feeds it, and what a request thread does (build the record, redact
//! it, `try_send` it). The log's format is `crate::audit`'s; this module owns what goes
//! into a record, when a decision is recorded, and the writer thread's policies (group
//! commit, fsync, checkpoints, overflow, errors).
//!
//! The request path never touches a file: a write, an fsync or a checkpoint is the writer
//! thread's, so a slow disk costs a request at most the overflow policy's wait.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value};

use crate::audit::{
    scrub, scrub_text, AuditError, Checkpoint, CheckpointSigner, Redactor, Writer, WriterOptions,
};
use crate::decision::Decision;
use crate::eval::{RecordedCall, RecordedCount, Recording};
use crate::metrics::AuditStatus;
use crate::plan::Plan;

/// When the writer thread makes records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fsync {
    /// One fdatasync per batch (group commit: whatever was queued is written, then
    /// synced once), and an evaluation whose decision is recorded returns only once its
    /// record is on disk: no crash, of the process or the machine, loses a record whose
    /// evaluation returned. The slowest policy: a recorded decision waits for the
    /// write and sync of its batch (concurrent requests share one sync); if that takes
    /// longer than [`AUDIT_DURABLE_WAIT`] (a stalled disk), the decision returns marked
    /// `audit_unavailable`. Decisions that are not recorded never wait.
    EveryBatch,
    /// At most one fdatasync every this many milliseconds (each batch still reaches the
    /// operating system), and evaluations do not wait: a process crash loses the
    /// records still in the queue, a machine crash also up to that window.
    EveryMillis(u64),
    /// Never fsync (each batch reaches the operating system; checkpoints still sync),
    /// and evaluations do not wait: a process crash loses the records still in the
    /// queue, a machine crash also what the OS had not written.
    Never,
}

/// What a request does when the audit queue is full (the writer thread falls behind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait up to this long for room; then the record is dropped, counted, and the
    /// decision marked `audit_unavailable`.
    Block(Duration),
    /// Drop the record and count it (`Status::audit.dropped`, `acs_audit_dropped_total`).
    Drop,
    /// Drop the record, count it, and mark the decision `audit_unavailable` so the host
    /// can refuse the request.
    MarkUnavailable,
}

/// A checkpoint publisher (see [`AuditOptions::on_checkpoint`]).
pub type Publisher = Box<dyn Fn(&Checkpoint) + Send>;

/// How an engine records its decisions (see [`EngineBuilder::audit`](crate::EngineBuilder::audit)).
#[non_exhaustive]
pub struct AuditOptions {
    /// The log directory (created if missing; an existing log is continued).
    pub dir: PathBuf,
    /// Signs the checkpoints (an Ed25519 `bundle::PrivateKey` or an `audit::HmacKey`).
    pub signer: Box<dyn CheckpointSigner>,
    /// Record every decision, not only those where an `audit: true` rule matched
    /// (a shadow rule's match counts: a rule being trialled with `audit: true` leaves
    /// the trail of what it would have done).
    pub record_all: bool,
    /// When records are made durable.
    pub fsync: Fsync,
    /// What a request does when the queue is full.
    pub overflow: Overflow,
    /// How many records the queue holds.
    pub queue_capacity: usize,
    /// Segment rotation and checkpoint schedule (every N records / T), origin, key name.
    pub writer: WriterOptions,
    /// Fields of the input removed or HMAC'd before the record leaves the request
    /// thread (`None`: the input is recorded whole).
    pub redactor: Option<Redactor>,
    /// Called with every checkpoint once it is durable, on the writer thread (to post
    /// it, log it, copy it where the host cannot rewrite it). Keep it short: the writer
    /// waits for it.
    pub on_checkpoint: Option<Publisher>,
}

impl AuditOptions {
    /// Record to `dir`, checkpoints signed by `signer`; the other options at their
    /// defaults: audit decisions only, `Fsync::EveryBatch`, `Overflow::Block(10 ms)`, a
    /// queue of 8192, `WriterOptions::default()` (a checkpoint every 1000 records or 10 s),
    /// no redaction.
    pub fn new(dir: impl Into<PathBuf>, signer: Box<dyn CheckpointSigner>) -> AuditOptions {
        AuditOptions {
            dir: dir.into(),
            signer,
            record_all: false,
            fsync: Fsync::EveryBatch,
            overflow: Overflow::Block(Duration::from_millis(10)),
            queue_capacity: 8192,
            writer: WriterOptions::default(),
            redactor: None,
            on_checkpoint: None,
        }
    }
}

/// [`AuditOptions`] as data, with keys named by their files: what `acs eval
/// --audit-dir`, the Node binding's `audit` option and the Python binding's `audit=`
/// dict all read, so every host configures auditing alike. Fields may be written in
/// snake_case or camelCase.
///
/// ```json
/// { "dir": "/var/lib/acs/audit", "key": "audit.key", "record_all": false,
///   "fsync": "every_batch", "overflow": { "block_millis": 10 }, "queue_capacity": 8192,
///   "redact": { "key": "redact.key", "remove": ["/ctx/card"], "hash": ["ctx.userId"] } }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuditConfig {
    /// The log directory.
    pub dir: PathBuf,
    /// An Ed25519 private key file (`acs bundle keygen`) that signs the checkpoints.
    pub key: Option<PathBuf>,
    /// An HMAC key file (`acs audit keygen --hmac`), the simpler signer.
    #[serde(alias = "hmacKey")]
    pub hmac_key: Option<PathBuf>,
    /// Record every decision, not only those of `audit: true` rules.
    #[serde(alias = "recordAll")]
    pub record_all: bool,
    /// `"every_batch"` (the default), `"never"`, or `{ "every_millis": N }`.
    pub fsync: Option<FsyncConfig>,
    /// `{ "block_millis": N }` (the default, 10), `"drop"` or `"mark_unavailable"`.
    pub overflow: Option<OverflowConfig>,
    /// Records the queue holds (default 8192).
    #[serde(alias = "queueCapacity")]
    pub queue_capacity: Option<usize>,
    /// Fields removed or HMAC'd before a record leaves the request.
    pub redact: Option<RedactConfig>,
}

/// [`Fsync`] as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs, reason = "the variants are Fsync's")]
pub enum FsyncConfig {
    EveryBatch,
    #[serde(alias = "everyMillis")]
    EveryMillis(u64),
    Never,
}

/// [`Overflow`] as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs, reason = "the variants are Overflow's")]
pub enum OverflowConfig {
    #[serde(alias = "blockMillis")]
    BlockMillis(u64),
    Drop,
    #[serde(alias = "markUnavailable")]
    MarkUnavailable,
}

/// The redaction of [`AuditConfig`]: JSON pointers or dotted paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RedactConfig {
    /// A file of hex digits (at least 32): the HMAC key of the hashed fields.
    pub key: Option<PathBuf>,
    /// Fields left out of the record.
    pub remove: Vec<String>,
    /// Fields replaced by `hmac-sha256:<hex>` of their value.
    pub hash: Vec<String>,
}

impl AuditConfig {
    /// Read the keys and build the options; an error names the file or field at fault.
    pub fn into_options(self) -> Result<AuditOptions, AuditError> {
        let signer: Box<dyn CheckpointSigner> = match (&self.key, &self.hmac_key) {
            (Some(_), Some(_)) => {
                return Err(AuditError::Key {
                    message: "give `key` or `hmac_key`, not both".to_owned(),
                })
            }
            (Some(path), None) => Box::new(super::bundle::PrivateKey::read(path).map_err(|e| {
                AuditError::Key {
                    message: e.to_string(),
                }
            })?),
            (None, Some(path)) => Box::new(crate::audit::HmacKey::read(path)?),
            (None, None) => {
                return Err(AuditError::Key {
                    message: "auditing needs a key to sign its checkpoints: `key` (an Ed25519 key file from `acs bundle keygen`) or `hmac_key` (`acs audit keygen --hmac`)".to_owned(),
                })
            }
        };
        let mut options = AuditOptions::new(self.dir, signer);
        options.record_all = self.record_all;
        if let Some(fsync) = self.fsync {
            options.fsync = match fsync {
                FsyncConfig::EveryBatch => Fsync::EveryBatch,
                FsyncConfig::EveryMillis(ms) => Fsync::EveryMillis(ms),
                FsyncConfig::Never => Fsync::Never,
            };
        }
        if let Some(overflow) = self.overflow {
            options.overflow = match overflow {
                OverflowConfig::BlockMillis(ms) => Overflow::Block(Duration::from_millis(ms)),
                OverflowConfig::Drop => Overflow::Drop,
                OverflowConfig::MarkUnavailable => Overflow::MarkUnavailable,
            };
        }
        if let Some(capacity) = self.queue_capacity {
            options.queue_capacity = capacity.max(1);
        }
        if let Some(redact) = self.redact {
            let key = match &redact.key {
                Some(path) => {
                    let text =
                        crate::limits::read_file(path, 4096).map_err(|e| AuditError::Key {
                            message: format!("`{}`: {e}", path.display()),
                        })?;
                    crate::audit::unhex(String::from_utf8_lossy(&text).trim()).ok_or_else(|| {
                        AuditError::Key {
                            message: format!("`{}`: not a key of hex digits", path.display()),
                        }
                    })?
                }
                None if redact.hash.is_empty() => Vec::new(),
                None => {
                    return Err(AuditError::Key {
                        message: "hashing redacted fields needs `redact.key`".to_owned(),
                    })
                }
            };
            let mut redactor = Redactor::new(key);
            for path in &redact.remove {
                redactor = redactor.remove(path)?;
            }
            for path in &redact.hash {
                redactor = redactor.hash(path)?;
            }
            options.redactor = Some(redactor);
        }
        Ok(options)
    }
}

impl std::fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditOptions")
            .field("dir", &self.dir)
            .field("record_all", &self.record_all)
            .field("fsync", &self.fsync)
            .field("overflow", &self.overflow)
            .field("queue_capacity", &self.queue_capacity)
            .field("writer", &self.writer)
            .field("redactor", &self.redactor)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Stats {
    alive: AtomicBool,
    written: AtomicU64,
    dropped: AtomicU64,
    depth: AtomicU64,
    batches: AtomicU64,
    last_batch: AtomicU64,
    fsync_micros: AtomicU64,
    checkpoint: Mutex<Option<(u64, String)>>,
    error: Mutex<Option<String>>,
    recovered: Mutex<Vec<String>>,
}

/// How long a recorded decision waits for its record to be on disk under
/// [`Fsync::EveryBatch`] before it returns marked `audit_unavailable`.
pub const AUDIT_DURABLE_WAIT: Duration = Duration::from_secs(10);

// A decision travels in the queue's slot itself, not boxed: the bounded channel holds
// its slots from the start (queue_capacity x a few hundred bytes: 3.6 MB at the default
// 8192), and a request thread saves an allocation per record.
#[allow(
    clippy::large_enum_variant,
    reason = "decisions are the messages; the slots are allocated once"
)]
enum Message {
    Record(Value),
    /// A decision's record, and under [`Fsync::EveryBatch`] where to say it is durable.
    Decision(Pending, Option<mpsc::SyncSender<Result<(), String>>>),
    /// Write and sync everything queued before it, then answer.
    Flush(mpsc::Sender<Result<(), String>>),
}

/// The engine's end of the audit log: the queue's sender, the writer thread's stats and
/// handle. Dropping it closes the queue and waits (bounded) for the thread to write,
/// sync and checkpoint what was queued.
pub(crate) struct AuditSink {
    sender: Option<SyncSender<Message>>,
    stats: Arc<Stats>,
    record_all: bool,
    overflow: Overflow,
    fsync: Fsync,
    dir: PathBuf,
    /// Told when the thread ends (a Mutex: the engine is shared between threads).
    done: Mutex<Option<Receiver<()>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A decision on its way to the writer thread, as little as the request thread can
/// hand over: the plan that decided, the input, what the evaluation used from outside
/// it (host answers in call order, `now()`, velocity counts, rules switched off) and a
/// summary of the decision. The writer decides the request again from these to get the
/// decision and each call's name and arguments, then redacts and serializes: nothing of
/// that is on the request path.
struct Pending {
    plan: Arc<Plan>,
    recording: Recording,
    input: RecordedInput,
    time: SystemTime,
    returned: Summary,
}

/// What a decision came to, to check the writer's decision against the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    rejected: bool,
    matched: u32,
    shadow_matched: u32,
    errors: u32,
    rules_evaluated: u32,
}

impl Summary {
    fn of(decision: &Decision) -> Self {
        // No more rules than `u32` counts (`rules_evaluated` is one).
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Summary {
            rejected: decision.is_rejected(),
            matched: count(decision.matched.len()),
            shadow_matched: count(decision.shadow_matched.len()),
            errors: count(decision.errors.len()),
            rules_evaluated: decision.rules_evaluated,
        }
    }
}

/// The counter a recorded count was counted in, as its plan declares it.
fn counter_of<'p>(plan: &'p Plan, count: &RecordedCount) -> Option<&'p crate::velocity::Counter> {
    let velocity = plan.velocity.as_deref()?;
    Some(&velocity.counters.get(count.counter as usize)?.counter)
}

/// The request's decision and its host calls in full, from a pending record: the same
/// plan decides the same input again, every host call answered by the request's answer
/// in turn, `now()` and the velocity counts read as recorded, the same rules switched
/// off. Evaluation depends on nothing else, so this is the request's decision; should it
/// ever differ from the request's summary, the record says so (`decided_again`).
fn decide_again(
    pending: &mut Pending,
) -> Result<(Decision, Vec<RecordedCall>, Option<String>), AuditError> {
    let lean = &mut pending.recording;
    let used: Vec<crate::velocity::UsedCount> = lean
        .velocity
        .iter()
        .filter_map(|count| {
            let counter = counter_of(&pending.plan, count)?;
            Some((
                counter.name.clone(),
                count.key.clone(),
                Some(counter.windows.iter().map(|w| w.millis()).collect()),
                count.counts.clone(),
            ))
        })
        .collect();
    let store: crate::velocity::SharedStore = Arc::new(crate::velocity::RecordedCounts::new(used));
    let mut again = Recording::replaying(std::mem::take(&mut lean.answers), lean.now);
    let off = std::mem::take(&mut lean.off);
    let plan = &*pending.plan;
    let decision = match &pending.input {
        RecordedInput::Json(bytes) => crate::eval::evaluate_json_again(
            plan, bytes, &mut again, &off, &store,
        )
        .map_err(|e| AuditError::Record {
            message: format!("the input of a recorded decision does not parse: {e}"),
        })?,
        RecordedInput::Document(document) => {
            crate::eval::evaluate_again(plan, document, &mut again, &off, store)
        }
    };
    let again_summary = Summary::of(&decision);
    let differs = (again_summary != pending.returned).then(|| {
        format!(
            "the request returned {:?}; deciding it again gave {again_summary:?}",
            pending.returned
        )
    });
    Ok((decision, again.calls, differs))
}

/// The input of a recorded decision: a copy of the document `Engine::evaluate` was
/// given, or of the bytes `Engine::evaluate_json` read in place (a copy of bytes costs
/// far less than building a document the request path does not need).
pub(crate) enum RecordedInput {
    Document(Value),
    // A `Vec`, not a boxed slice: a caller's buffer is kept as it is, not shrunk.
    Json(Vec<u8>),
}

/// The record of a decision (see docs/AUDIT.md, "What the engine records"): the input
/// parsed if it came as bytes and redacted, the host calls' copies of redacted values
/// scrubbed to the same stand-ins, the decision's JSON.
fn decision_record(mut pending: Pending, redactor: Option<&Redactor>) -> Result<Value, AuditError> {
    let (decision, mut calls, differs) = decide_again(&mut pending)?;
    let Pending {
        plan,
        recording: Recording { now, velocity, .. },
        input,
        time,
        ..
    } = pending;
    if let Some(differs) = &differs {
        tracing::error!(%differs, "acs audit log: a recorded decision, decided again, differs");
    }
    let mut input = match input {
        RecordedInput::Document(document) => document,
        RecordedInput::Json(bytes) => {
            crate::input::parse(&bytes).map_err(|e| AuditError::Record {
                message: format!("the input of a recorded decision does not parse: {e}"),
            })?
        }
    };
    let mut taken = Vec::new();
    if let Some(redactor) = redactor {
        // Host calls are often made with a redacted field (a card number looked up):
        // their copies of it are scrubbed too, to the same stand-in, so that a replay of
        // the redacted input still finds its calls.
        // Whatever goes wrong here loses this record alone: never the writer.
        taken = redactor
            .apply_collecting(&mut input)
            .map_err(|e| AuditError::Record {
                message: format!("the input could not be redacted: {e}"),
            })?;
        if !taken.is_empty() {
            for call in &mut calls {
                call.args.iter_mut().for_each(|arg| scrub(arg, &taken));
                if let Ok(result) = &mut call.result {
                    scrub(result, &taken);
                }
            }
        }
    }
    let Value::Object(mut fields) =
        serde_json::to_value(&decision).map_err(|e| AuditError::Record {
            message: e.to_string(),
        })?
    else {
        return Err(AuditError::Record {
            message: "a decision is an object".to_owned(),
        });
    };
    // A rendered action parameter can be a redacted field itself (`userId:
    // "{{ctx.userId}}"`): it gets the same stand-in as the input, so the log never holds
    // it in clear and a replay of the redacted input renders what was recorded.
    // Only the parameters: a rule's id or severity that happens to equal a redacted
    // value gives nothing away and must stay as it is.
    // Text a template rendered a redacted field into (`"card {{ctx.card}} refused"`),
    // and messages that may quote one (the verdict's, a rule error's), lose it too.
    if !taken.is_empty() {
        for key in ["matched", "shadow_matched"] {
            let rules = fields.get_mut(key).and_then(Value::as_array_mut);
            for rule in rules.into_iter().flatten() {
                let actions = rule.get_mut("actions").and_then(Value::as_array_mut);
                for action in actions.into_iter().flatten() {
                    if let Some(params) = action.get_mut("params") {
                        scrub(params, &taken);
                        scrub_text(params, &taken);
                    }
                }
            }
        }
        if let Some(verdict) = fields.get_mut("verdict").and_then(Value::as_object_mut) {
            for key in ["code", "message"] {
                if let Some(text) = verdict.get_mut(key) {
                    scrub_text(text, &taken);
                }
            }
        }
        let errors = fields.get_mut("errors").and_then(Value::as_array_mut);
        for error in errors.into_iter().flatten() {
            if let Some(message) = error.get_mut("message") {
                scrub_text(message, &taken);
            }
        }
    }
    let calls: Vec<Value> = calls
        .into_iter()
        .map(|call| {
            let mut entry = Map::new();
            entry.insert("name".to_owned(), Value::from(call.name));
            entry.insert("args".to_owned(), Value::Array(call.args));
            match call.result {
                Ok(value) => entry.insert("result".to_owned(), value),
                Err(error) => {
                    let mut message = Value::from(error.message);
                    scrub_text(&mut message, &taken);
                    entry.insert(
                        "error".to_owned(),
                        json!({"code": error.code, "message": message}),
                    )
                }
            };
            Value::Object(entry)
        })
        .collect();
    fields.insert("kind".to_owned(), Value::from("decision"));
    fields.insert("time".to_owned(), Value::from(super::rfc3339(time)));
    fields.insert("calls".to_owned(), Value::Array(calls));
    if let Some(now) = now {
        fields.insert("now".to_owned(), json!(now));
    }
    if !velocity.is_empty() {
        let counts: Vec<Value> = velocity
            .into_iter()
            .filter_map(|used| {
                let counter = counter_of(&plan, &used)?;
                let windows: Vec<String> =
                    counter.windows.iter().map(ToString::to_string).collect();
                let (name, value) = match used.counts {
                    Ok(counts) => ("counts", json!(counts)),
                    Err(reason) => ("error", json!(reason)),
                };
                Some(json!({
                    "counter": counter.name,
                    "key": used.key,
                    "windows": windows,
                    name: value,
                }))
            })
            .collect();
        fields.insert("velocity".to_owned(), Value::Array(counts));
    }
    if let Some(differs) = differs {
        fields.insert("decided_again".to_owned(), Value::from(differs));
    }
    fields.insert("input".to_owned(), input);
    Ok(Value::Object(fields))
}

/// How long dropping the engine waits for the writer to finish.
const DROP_WAIT: Duration = Duration::from_secs(10);

impl AuditSink {
    /// Open the log and start the writer thread.
    pub(crate) fn start(options: AuditOptions) -> Result<AuditSink, AuditError> {
        let (mut writer, report) = Writer::open(&options.dir, options.writer, options.signer)?;
        if let Some(publish) = options.on_checkpoint {
            writer.on_checkpoint(publish);
        }
        let mut recovered = Vec::new();
        if let Some(torn) = &report.torn_tail {
            tracing::warn!(%torn, "acs audit log: cut a torn tail left by a crash");
            recovered.push(format!("cut a torn tail left by a crash: {torn}"));
        }
        if let Some(torn) = &report.checkpoints_torn_tail {
            tracing::warn!(%torn, "acs audit log: cut a torn tail of the checkpoints left by a crash");
            recovered.push(format!(
                "cut a torn tail of the checkpoints left by a crash: {torn}"
            ));
        }
        let stats = Arc::new(Stats {
            recovered: Mutex::new(recovered),
            ..Stats::default()
        });
        stats.alive.store(true, Ordering::Relaxed);
        let (sender, receiver) = mpsc::sync_channel(options.queue_capacity.max(1));
        let (done_sender, done) = mpsc::sync_channel(1);
        let thread_stats = Arc::clone(&stats);
        let fsync = options.fsync;
        let redactor = options.redactor;
        let thread = std::thread::Builder::new()
            .name("acs-audit".to_owned())
            .spawn(move || {
                run(writer, &receiver, &thread_stats, fsync, redactor.as_ref());
                thread_stats.alive.store(false, Ordering::Relaxed);
                let _ = done_sender.send(());
            })
            .map_err(|source| AuditError::Io {
                path: options.dir.clone(),
                source,
            })?;
        Ok(AuditSink {
            sender: Some(sender),
            stats,
            record_all: options.record_all,
            overflow: options.overflow,
            fsync: options.fsync,
            dir: options.dir,
            done: Mutex::new(Some(done)),
            thread: Some(thread),
        })
    }

    /// Record the text of `plan`'s rules, once per plan this engine serves, before any
    /// decision of it (a reload waits for room: it is not a request).
    pub(crate) fn ruleset(&self, plan: &Plan) {
        let files: Vec<Value> = plan
            .sources()
            .files()
            .iter()
            .map(|f| json!({"name": f.name(), "text": f.text()}))
            .collect();
        let record = json!({
            "kind": "ruleset",
            "time": super::rfc3339(SystemTime::now()),
            "ruleset_hash": plan.ruleset_hash().to_string(),
            "generation": plan.generation(),
            "files": files,
        });
        if let Some(sender) = &self.sender {
            self.stats.depth.fetch_add(1, Ordering::Relaxed);
            if sender.send(Message::Record(record)).is_err() {
                self.stats.depth.fetch_sub(1, Ordering::Relaxed);
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Record `decision` of `plan` if it is recorded ([`AuditSink::wants`]): the
    /// request's input is copied (`input`) only then.
    pub(crate) fn record(
        &self,
        plan: &Arc<Plan>,
        decision: &mut Decision,
        recording: Recording,
        input: impl FnOnce() -> RecordedInput,
    ) {
        if self.wants(decision) {
            self.submit(plan, decision, recording, input());
        }
    }

    /// Whether `decision` is recorded.
    fn wants(&self, decision: &Decision) -> bool {
        self.record_all
            || decision.matched.iter().any(|m| m.audit())
            || decision.shadow_matched.iter().any(|m| m.audit())
    }

    /// Queue `decision`'s record under the overflow policy (under `Fsync::EveryBatch`,
    /// and wait until it is on disk). The request thread only copies what the record
    /// needs; the writer thread redacts and serializes.
    fn submit(
        &self,
        plan: &Arc<Plan>,
        decision: &mut Decision,
        recording: Recording,
        input: RecordedInput,
    ) {
        let record = Pending {
            plan: Arc::clone(plan),
            recording,
            input,
            time: SystemTime::now(),
            returned: Summary::of(decision),
        };
        let Some(sender) = &self.sender else {
            self.lost(decision, true);
            return;
        };
        self.stats.depth.fetch_add(1, Ordering::Relaxed);
        let (ack, durable) = if self.fsync == Fsync::EveryBatch {
            let (ack, durable) = mpsc::sync_channel(1);
            (Some(ack), Some(durable))
        } else {
            (None, None)
        };
        let mut message = Message::Decision(record, ack);
        // Read the clock only once the queue is full: a record that finds room (all of
        // them, in service) costs no clock read for a deadline it never needs.
        let mut deadline = None;
        let mut pause = Duration::from_micros(20);
        loop {
            match sender.try_send(message) {
                Ok(()) => {
                    if let Some(durable) = durable {
                        // Group commit: the writer answers once the batch holding this
                        // record is written and synced.
                        match durable.recv_timeout(AUDIT_DURABLE_WAIT) {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) | Err(_) => decision.audit_unavailable = true,
                        }
                    }
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.stats.depth.fetch_sub(1, Ordering::Relaxed);
                    self.lost(decision, true);
                    return;
                }
                Err(TrySendError::Full(back)) => {
                    // std's bounded channel has no stable send_timeout: poll with a
                    // growing pause, bounded by the policy's wait.
                    let deadline = match self.overflow {
                        Overflow::Block(wait) => {
                            Some(*deadline.get_or_insert_with(|| Instant::now() + wait))
                        }
                        Overflow::Drop | Overflow::MarkUnavailable => None,
                    };
                    match deadline {
                        Some(deadline) if Instant::now() < deadline => {
                            std::thread::sleep(pause);
                            pause = (pause * 2).min(Duration::from_millis(1));
                            message = back;
                        }
                        _ => {
                            self.stats.depth.fetch_sub(1, Ordering::Relaxed);
                            let mark = !matches!(self.overflow, Overflow::Drop);
                            self.lost(decision, mark);
                            return;
                        }
                    }
                }
            }
        }
    }

    fn lost(&self, decision: &mut Decision, mark: bool) {
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        if mark {
            decision.audit_unavailable = true;
        }
    }

    /// Write and sync everything queued so far (waits up to `wait`).
    pub(crate) fn flush(&self, wait: Duration) -> Result<(), String> {
        let Some(sender) = &self.sender else {
            return Err("the audit writer is closed".to_owned());
        };
        let (answer, answered) = mpsc::channel();
        sender
            .send(Message::Flush(answer))
            .map_err(|_| self.stopped())?;
        match answered.recv_timeout(wait) {
            Ok(result) => result,
            Err(_) => Err(self.stopped()),
        }
    }

    fn stopped(&self) -> String {
        self.stats
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "the audit writer stopped".to_owned())
    }

    pub(crate) fn status(&self) -> AuditStatus {
        let s = &self.stats;
        let checkpoint = s
            .checkpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        AuditStatus {
            dir: self.dir.display().to_string(),
            alive: s.alive.load(Ordering::Relaxed),
            records_written: s.written.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            queue_depth: s.depth.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            last_batch: s.last_batch.load(Ordering::Relaxed),
            fsync_micros: s.fsync_micros.load(Ordering::Relaxed),
            last_checkpoint_size: checkpoint.as_ref().map_or(0, |c| c.0),
            last_checkpoint_root: checkpoint.map(|c| c.1),
            last_error: s
                .error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            recovered: s
                .recovered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        // Closing the queue tells the thread to finish; it writes what was queued.
        drop(self.sender.take());
        let finished = self
            .done
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some_and(|done| done.recv_timeout(DROP_WAIT).is_ok());
        if let Some(thread) = self.thread.take() {
            if finished {
                let _ = thread.join();
            } else {
                tracing::error!("acs audit writer did not finish in time; left running");
            }
        }
    }
}

/// How long the writer waits for a record before looking at its timers.
const TICK: Duration = Duration::from_millis(50);
/// The most records written between two syncs.
const MAX_BATCH: usize = 4096;

/// The writer thread: take what is queued (group commit), write it, sync per policy,
/// checkpoint on schedule; until the queue closes (then a last sync and checkpoint) or a
/// write fails (then it stops, and the error is in the stats).
fn run(
    mut writer: Writer,
    receiver: &Receiver<Message>,
    stats: &Stats,
    fsync: Fsync,
    redactor: Option<&Redactor>,
) {
    let mut synced_at = Instant::now();
    let mut unsynced = false;
    let mut batch = Vec::new();
    loop {
        let first = match receiver.recv_timeout(TICK) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        batch.extend(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        let mut flushes = Vec::new();
        let mut acks: Vec<mpsc::SyncSender<Result<(), String>>> = Vec::new();
        let mut records = 0u64;
        let mut failed = None;
        for message in batch.drain(..) {
            match message {
                Message::Record(_) | Message::Decision(..) => {
                    stats.depth.fetch_sub(1, Ordering::Relaxed);
                    let (record, ack) = match message {
                        Message::Decision(pending, ack) => {
                            (decision_record(pending, redactor), ack)
                        }
                        Message::Record(record) => (Ok(record), None),
                        Message::Flush(_) => continue,
                    };
                    if failed.is_some() {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                        acks.extend(ack);
                        continue;
                    }
                    match record.and_then(|record| writer.append(record)) {
                        Ok(_) => {
                            records += 1;
                            acks.extend(ack);
                        }
                        // A record refused (too large) is lost alone; an I/O error
                        // stops the writer.
                        Err(AuditError::Record { message }) => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            let message = format!("a record was refused: {message}");
                            if let Some(ack) = ack {
                                let _ = ack.try_send(Err(message.clone()));
                            }
                            set(&stats.error, message);
                        }
                        Err(error) => {
                            failed = Some(error);
                            acks.extend(ack);
                        }
                    }
                }
                Message::Flush(answer) => flushes.push(answer),
            }
        }
        let result = match failed {
            Some(error) => Err(error),
            None => {
                if records > 0 {
                    unsynced = true;
                }
                let due = match fsync {
                    Fsync::EveryBatch => true,
                    Fsync::EveryMillis(ms) => synced_at.elapsed() >= Duration::from_millis(ms),
                    Fsync::Never => false,
                };
                if unsynced && (due || !flushes.is_empty() || !acks.is_empty()) {
                    let started = Instant::now();
                    let synced = writer.sync();
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    stats.fsync_micros.fetch_add(micros, Ordering::Relaxed);
                    synced_at = Instant::now();
                    unsynced = false;
                    synced
                } else if records > 0 {
                    writer.flush()
                } else {
                    Ok(())
                }
            }
        };
        // The batch is durable: its requests go on now, not after the checkpoint (which
        // may be slow to publish and is not what they wait for).
        if result.is_ok() {
            for ack in acks.drain(..) {
                let _ = ack.try_send(Ok(()));
            }
        }
        let result = result.and_then(|()| {
            if let Some(checkpoint) = writer.maybe_checkpoint(Instant::now())? {
                set_checkpoint(stats, &checkpoint);
            }
            Ok(())
        });
        if records > 0 {
            stats.written.fetch_add(records, Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.last_batch.store(records, Ordering::Relaxed);
        }
        if let Err(error) = result {
            let message = error.to_string();
            tracing::error!(error = %message, "acs audit writer failed; it stops accepting records");
            set(&stats.error, message.clone());
            for answer in flushes {
                let _ = answer.send(Err(message.clone()));
            }
            for ack in acks {
                let _ = ack.try_send(Err(message.clone()));
            }
            // Later records find the queue closed: dropped, counted, marked.
            return;
        }
        for answer in flushes {
            let _ = answer.send(Ok(()));
        }
    }
    // The engine is gone: make everything durable and cover it with a checkpoint.
    let closing = if writer.size() > writer.checkpointed() {
        writer.checkpoint().map(|c| set_checkpoint(stats, &c))
    } else {
        writer.sync()
    };
    if let Err(error) = closing {
        set(&stats.error, error.to_string());
    }
}

fn set(slot: &Mutex<Option<String>>, message: String) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
}

fn set_checkpoint(stats: &Stats, checkpoint: &Checkpoint) {
    *stats
        .checkpoint
        .lock()
        .unwrap_or_else(PoisonError::into_inner) =
        Some((checkpoint.size, crate::audit::hex(&checkpoint.root)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;

    /// A pending record whose summary disagrees with what deciding it again gives (a bug
    /// the engine does not have: evaluation depends on nothing it does not hand over)
    /// is still written, with the decision made again and a note saying it differs.
    #[test]
    fn a_record_whose_decision_differs_when_decided_again_says_so() {
        let engine = Engine::builder()
            .load_str(
                "rules.yaml",
                "- id: R\n  priority: 1\n  severity: low\n  description: r\n  condition: \"event.type == 'pay'\"\n  action: []\n  audit: true\n",
            )
            .unwrap();
        let plan = engine.shared.plan.load_full();
        let pending = |rejected| Pending {
            plan: Arc::clone(&plan),
            recording: Recording::lean(),
            input: RecordedInput::Json(br#"{"event": {"type": "pay"}}"#.to_vec()),
            time: SystemTime::UNIX_EPOCH,
            returned: Summary {
                rejected,
                matched: 1,
                shadow_matched: 0,
                errors: 0,
                rules_evaluated: 1,
            },
        };
        let same = decision_record(pending(false), None).unwrap();
        assert_eq!(same["matched"][0]["id"], "R");
        assert!(same.get("decided_again").is_none(), "{same}");
        let differs = decision_record(pending(true), None).unwrap();
        assert_eq!(differs["matched"][0]["id"], "R");
        let note = differs["decided_again"].as_str().unwrap();
        assert!(
            note.contains("rejected: true") && note.contains("rejected: false"),
            "{note}"
        );
    }
}
