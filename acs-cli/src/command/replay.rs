//! `acs replay`: backtest rules on recorded inputs (JSON lines), optionally against a
//! baseline rule set. The engine's `backtest` does the work; this file loads the rules,
//! opens the input, draws the progress line and prints the report as a table or JSON.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use acs_engine::backtest::{Backtest, BacktestReport, Progress, Transition};
use acs_engine::{Limits, RuleMode, Verdict};

use super::{
    after_writing, load_engine, load_functions, Io, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK,
    EXIT_USAGE,
};
use crate::terminal::Style;

/// Arguments of `acs replay`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  acs replay --rules rules/ --functions rules/examples/stubs.json rules/examples/recorded.jsonl
  acs replay --rules new/ --baseline rules/ --format json events.jsonl > changes.json
  zcat events.jsonl.gz | acs replay --rules rules/ -

Reads one input document per line (blank lines are skipped, lines that are not JSON are
counted and shown); memory stays constant whatever the input's size. Ctrl-C stops reading
and prints the report of the lines read so far (a second Ctrl-C ends at once).

Exit status: 0 when the input was replayed, 1 when no line was a valid input, 2 on usage,
I/O or rules errors, 130 when interrupted.")]
pub struct Args {
    /// Rules file, or directory of `*.yaml` rules files, to backtest (with --audit: the
    /// new rules to compare the recorded decisions with).
    #[arg(long, value_name = "FILE_OR_DIR", required_unless_present = "audit")]
    pub rules: Option<PathBuf>,
    /// Stub table for host functions: {"name": [[[args...], result], ...]} (both rule sets).
    #[arg(long, value_name = "STUBS.json")]
    pub functions: Option<PathBuf>,
    /// The rules in production: report the verdicts and per-rule counts that would change.
    #[arg(long, value_name = "OLD_FILE_OR_DIR")]
    pub baseline: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Worker threads, at most 1024 (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
    /// Examples shown per kind of verdict change and of invalid line.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub examples: usize,
    /// Recorded inputs, one JSON document per line; `-` reads standard input.
    #[arg(value_name = "EVENTS.jsonl", required_unless_present = "audit")]
    pub input: Option<PathBuf>,
    /// Replay the decisions recorded in the audit log DIR, each with its recorded
    /// host-call answers and `now()`: first against the recorded rules (every decision
    /// must come out the same; a difference is reported as non-determinism, exit 1),
    /// then, with --rules, against new rules (what would change).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["baseline", "input", "audit_dir", "functions"]
    )]
    pub audit: Option<PathBuf>,
    #[command(flatten)]
    pub record: super::AuditArgs,
}

/// Most worker threads `--threads` takes. Evaluation is CPU-bound, so more threads than
/// cores gain nothing, and thousands of them exhaust the process's memory maps and
/// thread limits before the first line is read.
pub const MAX_THREADS: usize = 1024;

fn parse_threads(text: &str) -> Result<usize, String> {
    let out_of_range = || format!("expected 0 (one per core) or 1 to {MAX_THREADS}");
    match text.parse::<usize>() {
        Ok(n) if n <= MAX_THREADS => Ok(n),
        _ => Err(out_of_range()),
    }
}

/// How `acs replay` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables for people.
    Table,
    /// The engine's report as JSON, for tools.
    Json,
}

/// Run `acs replay`; returns the exit code.
pub fn run(args: &Args, io: &mut Io<'_>) -> u8 {
    match replay(args, io) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(io.stderr, "{message}");
            EXIT_USAGE
        }
    }
}

fn replay(args: &Args, io: &mut Io<'_>) -> Result<u8, String> {
    if let Some(dir) = &args.audit {
        return super::replay_audit::run(
            dir,
            args.rules.as_deref(),
            args.format,
            args.examples,
            io,
        );
    }
    let (Some(rules), Some(input)) = (&args.rules, &args.input) else {
        return Err("error: give --rules and the recorded inputs (or --audit DIR)".to_owned());
    };
    let functions = load_functions(args.functions.as_deref())?;
    // With --audit-dir the engine records to the log, and the backtest records each
    // line's decision through it as it decides the line.
    let recording = args.record.audit_dir.is_some();
    let engine = if recording {
        super::load_engine_audited(rules, functions.clone(), Limits::default(), &args.record)?
    } else {
        load_engine(rules, functions.clone(), Limits::default())?
    };
    let baseline = match &args.baseline {
        Some(path) => Some(load_engine(path, functions.clone(), Limits::default())?),
        None => None,
    };
    let mut backtest = Backtest::new(&engine)
        .threads(args.threads)
        .examples(args.examples);
    if recording {
        backtest = backtest.record_to(&engine);
    }
    if let Some(baseline) = &baseline {
        backtest = backtest.baseline(baseline);
    }

    let from_stdin = input.as_os_str() == "-";
    let input_name = if from_stdin {
        "<stdin>".to_owned()
    } else {
        input.display().to_string()
    };
    let (inner, total): (Box<dyn BufRead + '_>, Option<u64>) = if from_stdin {
        (Box::new(BufReader::new(&mut *io.stdin)), None)
    } else {
        let file =
            File::open(input).map_err(|e| format!("error: cannot read `{input_name}`: {e}"))?;
        let total = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 18, file)), total)
    };

    if !io.style.quiet {
        let hash = engine.plan().ruleset_hash().to_owned();
        // The same rules as a baseline would only repeat the same warnings.
        let other = baseline
            .as_ref()
            .filter(|b| b.plan().ruleset_hash() != hash);
        for engine in std::iter::once(&engine).chain(other) {
            for warning in engine.plan().warnings() {
                let _ = writeln!(io.stderr, "{warning}\n");
            }
        }
    }

    let mut reader = Stoppable {
        inner,
        stop: io.interrupted,
        at_line_start: true,
        stopped: false,
    };
    let show_progress = io.style.stderr_is_terminal && !io.style.quiet;
    let stderr = &mut *io.stderr;
    let mut drawn = 0;
    let result = backtest.run(&mut reader, |progress| {
        if show_progress {
            let line = progress_line(progress, total);
            // `\r` and padding redraw the line in place on any terminal, without escapes.
            let _ = write!(stderr, "\r{line:<drawn$}");
            let _ = stderr.flush();
            drawn = drawn.max(line.len());
        }
    });
    if drawn > 0 {
        let _ = write!(stderr, "\r{:drawn$}\r", "");
        let _ = stderr.flush();
    }
    let report = result.map_err(|e| format!("error: `{input_name}`: {e}"))?;
    if recording {
        engine
            .audit_flush(std::time::Duration::from_secs(600))
            .map_err(|e| format!("error: audit log: {e}"))?;
    }

    let text = match args.format {
        Format::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| format!("error: {e}"))? + "\n"
        }
        Format::Table => {
            let names = Names {
                rules,
                baseline: args.baseline.as_deref(),
                input: &input_name,
            };
            table(&report, &names, io.style)
        }
    };
    let written = io
        .stdout
        .write_all(text.as_bytes())
        .and_then(|()| io.stdout.flush());
    let code = if reader.stopped {
        let _ = writeln!(
            io.stderr,
            "interrupted: the report covers the first {} of `{input_name}`",
            count(report.lines, "line", "lines")
        );
        EXIT_INTERRUPTED
    } else if report.inputs == 0 {
        let _ = writeln!(
            io.stderr,
            "error: no line of `{input_name}` is a valid input ({}: {} blank, {} invalid)",
            count(report.lines, "line", "lines"),
            thousands(report.blank_lines),
            thousands(report.invalid.count)
        );
        EXIT_FINDINGS
    } else {
        EXIT_OK
    };
    Ok(after_writing(written, code, io.stderr))
}

/// `Read::read` for a reader whose `BufRead` side does the work (the wrapper below stops
/// at line ends in `fill_buf` / `consume`).
fn read_through_buffer(reader: &mut impl BufRead, out: &mut [u8]) -> std::io::Result<usize> {
    let buf = reader.fill_buf()?;
    let n = buf.len().min(out.len());
    if let (Some(to), Some(from)) = (out.get_mut(..n), buf.get(..n)) {
        to.copy_from_slice(from);
    }
    reader.consume(n);
    Ok(n)
}

/// The input, until `stop` is set: then it ends after the line being read, so the report
/// covers whole lines and a line cut short is not counted as invalid.
struct Stoppable<'a, R> {
    inner: R,
    stop: Option<&'a AtomicBool>,
    at_line_start: bool,
    /// The input was ended by `stop`, not by its end.
    stopped: bool,
}

impl<R: BufRead> Read for Stoppable<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        read_through_buffer(self, out)
    }
}

impl<R: BufRead> BufRead for Stoppable<'_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let stop = self.stop.is_some_and(|s| s.load(Ordering::Relaxed));
        if stop && self.at_line_start {
            self.stopped = true;
            return Ok(&[]);
        }
        let buf = self.inner.fill_buf()?;
        if !stop {
            return Ok(buf);
        }
        Ok(match buf.iter().position(|&b| b == b'\n') {
            Some(at) => buf.get(..=at).unwrap_or(buf),
            None => buf,
        })
    }

    fn consume(&mut self, amount: usize) {
        if amount > 0 {
            // The bytes consumed are still at the front of the inner buffer.
            self.at_line_start = self
                .inner
                .fill_buf()
                .ok()
                .and_then(|buf| buf.get(amount - 1))
                .is_some_and(|&b| b == b'\n');
        }
        self.inner.consume(amount);
    }
}

/// `[#####.....]  42%  123.4 / 290.0 MB  1,234,567 lines  85.3 MB/s`: at most 75
/// columns, so it never wraps on an 80-column terminal (a wrapped line defeats `\r`).
fn progress_line(progress: &Progress, total: Option<u64>) -> String {
    const WIDTH: usize = 20;
    let speed = if progress.elapsed_seconds > 0.0 {
        progress.bytes as f64 / 1e6 / progress.elapsed_seconds
    } else {
        0.0
    };
    let mut line = String::new();
    match total.filter(|&t| t > 0) {
        Some(total) => {
            let fraction = (progress.bytes as f64 / total as f64).clamp(0.0, 1.0);
            let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
            let total_size = size(total, total);
            let _ = write!(
                line,
                "[{}{}] {:>3.0}%  {} / {} {}",
                "#".repeat(filled),
                ".".repeat(WIDTH - filled),
                fraction * 100.0,
                size(progress.bytes, total).0,
                total_size.0,
                total_size.1
            );
        }
        None => {
            let (bytes, unit) = size(progress.bytes, progress.bytes);
            let _ = write!(line, "{bytes} {unit}");
        }
    }
    let _ = write!(
        line,
        "  {} lines  {speed:.1} MB/s",
        thousands(progress.lines)
    );
    line
}

/// `bytes` and a unit: MB, or GB when `scale` reaches a gigabyte, so both sides of `a / b`
/// share a unit and the numbers stay short.
fn size(bytes: u64, scale: u64) -> (String, &'static str) {
    if scale >= 1_000_000_000 {
        (format!("{:.2}", bytes as f64 / 1e9), "GB")
    } else {
        (format!("{:.1}", bytes as f64 / 1e6), "MB")
    }
}

struct Names<'a> {
    rules: &'a Path,
    baseline: Option<&'a Path>,
    input: &'a str,
}

fn table(report: &BacktestReport, names: &Names<'_>, style: Style) -> String {
    let mut out = String::new();
    let hash = |h: &str| h.get(..19).unwrap_or(h).to_owned() + "…";
    let _ = writeln!(
        out,
        "{}     {} ({}, {})",
        style.bold("rules"),
        names.rules.display(),
        hash(&report.ruleset_hash),
        count(report.rules.len() as u64, "rule", "rules")
    );
    if let (Some(path), Some(baseline)) = (names.baseline, &report.baseline) {
        let _ = writeln!(
            out,
            "{}  {} ({}, {})",
            style.bold("baseline"),
            path.display(),
            hash(&baseline.ruleset_hash),
            count(
                baseline.rules.iter().filter(|r| r.before.is_some()).count() as u64,
                "rule",
                "rules"
            )
        );
    }
    let _ = writeln!(
        out,
        "{}     {}: {}, {}, {} blank, {} invalid\n",
        style.bold("input"),
        names.input,
        count(report.lines, "line", "lines"),
        count(report.inputs, "input", "inputs"),
        thousands(report.blank_lines),
        thousands(report.invalid.count)
    );

    rules_table(&mut out, report, style);
    verdicts(&mut out, report, style);
    if let Some(baseline) = &report.baseline {
        let _ = writeln!(
            out,
            "{} {} inputs ({} with different matched rules)",
            style.bold("verdict changes against the baseline:"),
            thousands(baseline.inputs_with_changed_verdict),
            thousands(baseline.inputs_with_changed_matches)
        );
        let t = &baseline.transitions;
        transition(&mut out, "allowed -> rejected", &t.allowed_to_rejected);
        transition(&mut out, "rejected -> allowed", &t.rejected_to_allowed);
        transition(&mut out, "rejected with a different code", &t.code_changed);
        out.push('\n');
    }
    rule_errors(&mut out, report, style);
    if report.invalid.count > 0 {
        let _ = writeln!(
            out,
            "{} {}",
            style.warning("invalid:"),
            count(
                report.invalid.count,
                "line is not JSON",
                "lines are not JSON"
            )
        );
        for example in &report.invalid.examples {
            let _ = writeln!(out, "  line {}: {}", example.line, example.message);
        }
        out.push('\n');
    }
    let t = &report.throughput;
    let _ = writeln!(
        out,
        "{} {}, {:.1} MB in {:.2} s: {} inputs/s, {:.1} MB/s on {}",
        style.bold("throughput:"),
        count(report.inputs, "input", "inputs"),
        t.bytes as f64 / 1e6,
        t.elapsed_seconds,
        thousands(t.inputs_per_second as u64),
        t.megabytes_per_second,
        count(t.threads as u64, "thread", "threads")
    );
    out
}

/// One row per rule: counts, and with a baseline, the counts before and the change.
fn rules_table(out: &mut String, report: &BacktestReport, style: Style) {
    let percent = |n: u64| {
        if report.inputs == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}%", n as f64 * 100.0 / report.inputs as f64)
        }
    };
    let mut rows: Vec<[String; 6]> = Vec::new();
    match &report.baseline {
        None => {
            for rule in &report.rules {
                rows.push([
                    rule_label(&rule.id, rule.mode, rule.enabled),
                    String::new(),
                    thousands(rule.matches),
                    String::new(),
                    percent(rule.matches),
                    thousands(rule.errors),
                ]);
            }
        }
        Some(baseline) => {
            let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), thousands);
            for change in &baseline.rules {
                let current = report.rules.iter().find(|r| r.id == change.id);
                rows.push([
                    current.map_or_else(
                        || format!("{} (removed)", change.id),
                        |r| rule_label(&r.id, r.mode, r.enabled),
                    ),
                    count(change.before),
                    count(change.after),
                    match change.change {
                        0 => "0".to_owned(),
                        n if n > 0 => format!("+{}", thousands(n.unsigned_abs())),
                        n => format!("-{}", thousands(n.unsigned_abs())),
                    },
                    change.after.map_or_else(|| "-".to_owned(), percent),
                    current.map_or_else(|| "-".to_owned(), |r| thousands(r.errors)),
                ]);
            }
        }
    }
    let headers = if report.baseline.is_some() {
        ["RULE", "BEFORE", "AFTER", "CHANGE", "RATE", "ERRORS"]
    } else {
        ["RULE", "", "MATCHES", "", "RATE", "ERRORS"]
    };
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: [&str; 6]| {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if width == 0 {
                continue;
            }
            if i == 0 {
                let _ = write!(line, "{cell:<width$}");
            } else {
                let _ = write!(line, "  {cell:>width$}");
            }
        }
        line
    };
    let _ = writeln!(out, "{}", style.bold(&render(headers)));
    for row in &rows {
        let line = render(row.each_ref().map(String::as_str));
        let [_, before, after, ..] = row;
        let quiet_row = after == "0" && (before.is_empty() || before == "0" || before == "-");
        let _ = writeln!(out, "{}", if quiet_row { style.dim(&line) } else { line });
    }
    out.push('\n');
}

fn rule_label(id: &str, mode: RuleMode, enabled: bool) -> String {
    match (enabled, mode) {
        (false, _) => format!("{id} (off)"),
        (true, RuleMode::Shadow) => format!("{id} (shadow)"),
        (true, RuleMode::Enforce) => id.to_owned(),
    }
}

fn verdicts(out: &mut String, report: &BacktestReport, style: Style) {
    let share = |n: u64| {
        if report.inputs == 0 {
            String::new()
        } else {
            format!(" ({:.2}%)", n as f64 * 100.0 / report.inputs as f64)
        }
    };
    let v = &report.verdicts;
    let _ = writeln!(
        out,
        "{} {} allowed{}, {} rejected{}",
        style.bold("verdicts:"),
        thousands(v.allowed),
        share(v.allowed),
        thousands(v.rejected),
        share(v.rejected)
    );
    let width = v
        .rejections
        .iter()
        .map(|r| r.code.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(0);
    let id_width = v
        .rejections
        .iter()
        .map(|r| r.rule_id.len())
        .max()
        .unwrap_or(0);
    for rejection in &v.rejections {
        let _ = writeln!(
            out,
            "  {:<width$}  {:<id_width$}  {:>9}",
            rejection.code.as_deref().unwrap_or("-"),
            rejection.rule_id,
            thousands(rejection.count)
        );
    }
    if v.other_rejections > 0 {
        let _ = writeln!(out, "  (other codes)  {}", thousands(v.other_rejections));
    }
    if let Some(baseline) = &report.baseline {
        let _ = writeln!(
            out,
            "  baseline: {} allowed, {} rejected",
            thousands(baseline.verdicts.allowed),
            thousands(baseline.verdicts.rejected)
        );
    }
    if report.rules.iter().any(|r| r.mode == RuleMode::Shadow) {
        let _ = writeln!(
            out,
            "  {} matched by shadow rules (never part of the verdict)",
            count(report.inputs_with_shadow_matches, "input", "inputs")
        );
    }
    out.push('\n');
}

fn transition(out: &mut String, label: &str, transition: &Transition) {
    let _ = writeln!(out, "  {label}: {}", thousands(transition.count));
    let code = |c: &Option<String>| c.as_deref().unwrap_or("allowed").to_owned();
    for change in &transition.by_code {
        let _ = writeln!(
            out,
            "    {} -> {}: {}",
            code(&change.from),
            code(&change.to),
            thousands(change.count)
        );
    }
    for example in &transition.examples {
        let _ = writeln!(
            out,
            "    e.g. line {}: {} [{}] -> {} [{}]",
            example.line,
            verdict_text(&example.before.verdict),
            example.before.matched.join(", "),
            verdict_text(&example.after.verdict),
            example.after.matched.join(", ")
        );
    }
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Allowed => "allowed".to_owned(),
        Verdict::Rejected(rejection) => match rejection.code() {
            Some(code) => format!("rejected {code}"),
            None => format!("rejected by {}", rejection.rule_id()),
        },
    }
}

fn rule_errors(out: &mut String, report: &BacktestReport, style: Style) {
    if report.inputs_with_errors == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "{} {} rule errors (the rule did not match)",
        style.warning("errors:"),
        count(report.inputs_with_errors, "input had", "inputs had")
    );
    for rule in report.rules.iter().filter(|r| r.errors > 0) {
        match &rule.first_error {
            Some(first) => {
                let _ = writeln!(
                    out,
                    "  {}: {} errors, first on line {}: {}",
                    rule.id,
                    thousands(rule.errors),
                    first.line,
                    first.message
                );
            }
            None => {
                let _ = writeln!(out, "  {}: {} errors", rule.id, thousands(rule.errors));
            }
        }
    }
    out.push('\n');
}

/// `1 line is`, `2 lines are`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn progress_line_shows_a_bar_with_a_known_total_and_counts_without() {
        let progress = Progress {
            bytes: 50_000_000,
            lines: 123_456,
            elapsed_seconds: 2.0,
        };
        assert_eq!(
            progress_line(&progress, Some(200_000_000)),
            "[#####...............]  25%  50.0 / 200.0 MB  123,456 lines  25.0 MB/s"
        );
        assert_eq!(
            progress_line(&progress, None),
            "50.0 MB  123,456 lines  25.0 MB/s"
        );
        let huge = Progress {
            bytes: 999_000_000_000,
            lines: 9_999_999_999,
            elapsed_seconds: 1000.0,
        };
        let line = progress_line(&huge, Some(999_900_000_000));
        assert_eq!(
            line,
            "[###################.] 100%  999.00 / 999.90 GB  9,999,999,999 lines  999.0 MB/s"
        );
    }
}
