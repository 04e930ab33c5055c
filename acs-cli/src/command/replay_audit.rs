//! `acs replay --audit DIR [--rules NEW]`: re-evaluate the decisions recorded in an audit
//! log with their recorded host-call answers and `now()`, first against the rules the log
//! recorded (each ruleset's text is a record of its own), then against new rules.
//!
//! Host calls are answered from the record through the engine's resumable `Evaluation`,
//! so nothing outside the log is consulted: a call the record does not hold becomes the
//! calling rule's error (`not_recorded`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use acs_engine::backtest::{self, RecordedCalls};
use acs_engine::{audit, Engine, Functions, RulesSource};
use serde_json::{json, Value};

use super::replay::Format;
use super::{after_writing, Io, EXIT_FINDINGS, EXIT_OK};

/// The decision fields a replay must reproduce (the generation and the ruleset hash name
/// the engine that replays, not what it decided).
const DECIDED: [&str; 5] = [
    "verdict",
    "matched",
    "shadow_matched",
    "errors",
    "rules_evaluated",
];

/// What `acs replay --audit` found.
#[derive(Debug, Default)]
struct Report {
    /// Decision records in the log.
    decisions: u64,
    /// Rulesets recorded.
    rulesets: u64,
    /// Decisions the recorded rules reproduced exactly.
    reproduced: u64,
    /// Decisions that came out differently: non-determinism (or a log from another
    /// engine version).
    nondeterministic: Vec<Difference>,
    /// With --rules: how many decisions the new rules decide differently.
    changed: Option<u64>,
    /// With --rules: verdict transitions (`allowed -> rejected by R`) and their counts.
    transitions: BTreeMap<String, u64>,
    /// With --rules: the first changed decisions.
    changes: Vec<Difference>,
}

#[derive(Debug)]
struct Difference {
    seq: u64,
    recorded: Value,
    replayed: Value,
}

impl Difference {
    fn to_json(&self) -> Value {
        json!({"seq": self.seq, "recorded": self.recorded, "replayed": self.replayed})
    }
}

impl Report {
    fn to_json(&self) -> Value {
        let mut out = json!({
            "decisions": self.decisions,
            "rulesets": self.rulesets,
            "reproduced": self.reproduced,
            "nondeterministic": self.nondeterministic.iter().map(Difference::to_json).collect::<Vec<_>>(),
        });
        if let (Some(changed), Some(map)) = (self.changed, out.as_object_mut()) {
            map.insert("changed".to_owned(), json!(changed));
            map.insert("transitions".to_owned(), json!(self.transitions));
            map.insert(
                "changes".to_owned(),
                self.changes.iter().map(Difference::to_json).collect(),
            );
        }
        out
    }
}

pub(crate) fn run(
    dir: &Path,
    rules: Option<&Path>,
    format: Format,
    examples: usize,
    io: &mut Io<'_>,
) -> Result<u8, String> {
    let mut records = Vec::new();
    let mut bad = None;
    audit::read(
        dir,
        &mut |entry| match serde_json::from_slice::<Value>(entry.body) {
            Ok(record) => records.push(record),
            Err(e) => bad = Some(format!("record {}: {e}", entry.seq)),
        },
    )
    .map_err(|e| format!("error: `{}`: {e}", dir.display()))?;
    if let Some(bad) = bad {
        return Err(format!("error: `{}`: {bad}", dir.display()));
    }
    // Every call is answered by the record: the rules need not know the host's functions.
    let functions = Functions::new().answered_by_recording();
    let mut report = Report::default();
    let mut engines: HashMap<String, Engine> = HashMap::new();
    for record in records.iter().filter(|r| r["kind"] == "ruleset") {
        let hash = record["ruleset_hash"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if engines.contains_key(&hash) {
            continue;
        }
        report.rulesets += 1;
        let engine = ruleset_engine(record, functions.clone())
            .map_err(|e| format!("error: the recorded ruleset {hash}: {e}"))?;
        engines.insert(hash, engine);
    }
    let new = match rules {
        Some(path) => Some(super::load_engine(
            path,
            functions.clone(),
            acs_engine::Limits::default(),
        )?),
        None => None,
    };
    let mut changed = 0;
    for record in records.iter().filter(|r| r["kind"] == "decision") {
        report.decisions += 1;
        let seq = record["seq"].as_u64().unwrap_or_default();
        let hash = record["ruleset_hash"].as_str().unwrap_or_default();
        let recorded = decided(record);
        let Some(engine) = engines.get(hash) else {
            report.nondeterministic.push(Difference {
                seq,
                recorded,
                replayed: json!({"error": format!("the log holds no ruleset {hash}")}),
            });
            continue;
        };
        let replayed = decided(&replay(engine, record));
        if replayed == recorded {
            report.reproduced += 1;
        } else {
            report.nondeterministic.push(Difference {
                seq,
                recorded: recorded.clone(),
                replayed,
            });
        }
        if let Some(new) = &new {
            let decision = decided(&replay(new, record));
            if decision != recorded {
                changed += 1;
                let from = verdict(&recorded);
                let to = verdict(&decision);
                let key = format!("{from} -> {to}");
                *report.transitions.entry(key).or_default() += 1;
                if report.changes.len() < examples {
                    report.changes.push(Difference {
                        seq,
                        recorded,
                        replayed: decision,
                    });
                }
            }
        }
    }
    if new.is_some() {
        report.changed = Some(changed);
    }
    let text = match format {
        Format::Json => {
            serde_json::to_string_pretty(&report.to_json()).map_err(|e| format!("error: {e}"))?
                + "\n"
        }
        Format::Table => table(&report, examples),
    };
    let written = io
        .stdout
        .write_all(text.as_bytes())
        .and_then(|()| io.stdout.flush());
    let code = if report.nondeterministic.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    };
    Ok(after_writing(written, code, io.stderr))
}

/// An engine over a ruleset record's files, named as they were.
fn ruleset_engine(record: &Value, functions: Functions) -> Result<Engine, String> {
    let files = record["files"].as_array().cloned().unwrap_or_default();
    let builder = Engine::builder().functions(functions).metrics(false);
    match files.as_slice() {
        [one] => builder
            .load_str(
                one["name"].as_str().unwrap_or("rules.yaml"),
                one["text"].as_str().unwrap_or_default(),
            )
            .map_err(|e| e.to_string()),
        many => builder
            .load(RulesSource::Files(
                many.iter()
                    .map(|file| {
                        (
                            file["name"].as_str().unwrap_or("rules.yaml").to_owned(),
                            file["text"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
            ))
            .map_err(|e| e.to_string()),
    }
}

/// `engine`'s decision on the record's input, host calls answered from the record.
fn replay(engine: &Engine, record: &Value) -> Value {
    let calls = match RecordedCalls::from_record(record) {
        Ok(calls) => calls,
        Err(e) => return json!({ "error": e.to_string() }),
    };
    let decision = backtest::replay(
        &engine.plan(),
        &record["input"],
        &calls,
        record["now"].as_f64(),
    );
    serde_json::to_value(decision).unwrap_or(Value::Null)
}

/// The fields of a decision (or a decision record) a replay compares.
fn decided(decision: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for field in DECIDED {
        out.insert(field.to_owned(), decision[field].clone());
    }
    Value::Object(out)
}

fn verdict(decision: &Value) -> String {
    match str_at(decision, &["verdict", "outcome"]) {
        Some("rejected") => format!(
            "rejected by {}",
            str_at(decision, &["verdict", "rule_id"]).unwrap_or("?")
        ),
        Some(other) => other.to_owned(),
        None => "no decision".to_owned(),
    }
}

fn table(report: &Report, examples: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} recorded decisions, {} rulesets: {} reproduced, {} not",
        report.decisions,
        report.rulesets,
        report.reproduced,
        report.nondeterministic.len()
    );
    for difference in report.nondeterministic.iter().take(examples.max(1)) {
        let _ = writeln!(
            out,
            "  non-determinism at seq {}: recorded {}, replayed {}",
            difference.seq, difference.recorded, difference.replayed
        );
    }
    if let Some(changed) = report.changed {
        let _ = writeln!(out, "with the new rules: {changed} decisions change");
        for (transition, count) in &report.transitions {
            let _ = writeln!(out, "  {transition}: {count}");
        }
        for change in &report.changes {
            let _ = writeln!(
                out,
                "  seq {}: {} -> {}",
                change.seq,
                verdict(&change.recorded),
                verdict(&change.replayed)
            );
        }
    }
    out
}

/// The string at `path` in `value`, if there is one.
fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |at, key| at.get(key))
        .and_then(Value::as_str)
}
