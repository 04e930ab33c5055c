//! `acs audit`: write, inspect and verify an audit log (a directory of segments and
//! checkpoints), and prove single records to an auditor. The log's format and every check
//! are the engine's (`acs_engine::audit`); this names files, reads records and prints.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use acs_engine::audit::{
    self, Checkpoint, CheckpointSigner, CheckpointVerifier, HmacKey, InclusionProof, Writer,
    WriterOptions,
};
use acs_engine::bundle::{PrivateKey, PublicKey};
use serde_json::Value;

use super::{after_writing, Io, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Arguments of `acs audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// A checkpoint key: an Ed25519 key file (`acs bundle keygen`) or an HMAC key file.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Ed25519 key file from `acs bundle keygen` (the private key to sign with, the
    /// `.pub` file to verify with).
    #[arg(long, value_name = "KEY_FILE", conflicts_with = "hmac_key")]
    pub key: Option<PathBuf>,
    /// HMAC-SHA256 key file from `acs audit keygen --hmac` (signs and verifies).
    #[arg(long, value_name = "KEY_FILE")]
    pub hmac_key: Option<PathBuf>,
}

/// Which records `show` and `export` print.
#[derive(Debug, clap::Args)]
pub struct Filter {
    /// Only records from this sequence number on.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// Only records whose `time` (RFC 3339) is at or after TIME (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only records of this rule: `rule` is ID, or `rules` holds ID, or an entry of
    /// `matched` has the `id` ID.
    #[arg(long, value_name = "ID")]
    pub rule: Option<String>,
}

/// What `show` and `export` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `#SEQ SEGMENT:OFFSET RECORD`, one line each.
    Text,
    /// Each record's canonical JSON, one per line.
    Jsonl,
}

/// What to do with the log.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Append records (JSON objects, one per line on standard input) to the log in DIR,
    /// creating it if need be; the writer numbers them (`seq`). It cuts a torn tail a
    /// crash left first, and signs a checkpoint at the end.
    Append {
        /// The log directory.
        dir: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// The log's name, the first line of its checkpoints.
        #[arg(long, default_value = "acs-audit")]
        origin: String,
        /// Close a segment once it holds this many bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
        segment_bytes: u64,
        /// Sign a checkpoint every N records (and at the end).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        checkpoint_every: u64,
        /// Make the records durable (fsync) every N records (and at the end).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        sync_every: u64,
        /// Print `synced SIZE` after each fsync: every record below SIZE is on disk.
        #[arg(long)]
        progress: bool,
    },
    /// Check the log: framing, checksums, sequence, the tree against every checkpoint,
    /// with a key their signatures, and with --checkpoint consistency with a checkpoint
    /// saved earlier. Exit status 1 when it does not hold, naming file, offset and seq.
    Verify {
        /// The log directory.
        dir: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// A checkpoint saved earlier (`acs audit checkpoint`): the log must still hold
        /// the tree it signed.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Print the log's latest checkpoint (to save it outside the log).
    Checkpoint {
        /// The log directory.
        dir: PathBuf,
    },
    /// Print the inclusion proof (JSON) of record SEQ against the latest checkpoint, or
    /// the one in FILE.
    Prove {
        /// The log directory.
        dir: PathBuf,
        /// The record's sequence number.
        seq: u64,
        /// A checkpoint saved earlier to prove against.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Check an inclusion proof without the log. Exit status 1 when it does not hold.
    VerifyProof {
        /// The proof, as `acs audit prove` prints it.
        proof: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Print records, for an investigation.
    Show {
        /// The log directory.
        dir: PathBuf,
        #[command(flatten)]
        filter: Filter,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print records as JSON lines, for a compliance export.
    Export {
        /// The log directory.
        dir: PathBuf,
        #[command(flatten)]
        filter: Filter,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
    },
    /// Compress the log's closed segments (every segment but the last, which a writer
    /// appends to) to `NNN.log.gz`: the records, the tree and the checkpoints do not
    /// change, and every `acs audit` command reads compressed segments as they are. Safe
    /// beside a running writer and against a crash at any point.
    Compress {
        /// The log directory.
        dir: PathBuf,
        /// Only segments last written at least this many days ago.
        #[arg(long, value_name = "DAYS")]
        older_than_days: Option<u64>,
    },
    /// Make an HMAC checkpoint key (for Ed25519 keys, `acs bundle keygen`).
    Keygen {
        /// Where to write the key (hex digits); it must not exist.
        #[arg(long, value_name = "FILE")]
        hmac: PathBuf,
    },
}

/// Run `acs audit`; returns the exit code.
pub fn run(args: &Args, io: &mut Io<'_>) -> u8 {
    match audit(&args.action, io) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(io.stderr, "error: {message}");
            EXIT_USAGE
        }
    }
}

fn signer(key: &KeyArgs) -> Result<Box<dyn CheckpointSigner>, String> {
    match (&key.key, &key.hmac_key) {
        (Some(path), _) => Ok(Box::new(PrivateKey::read(path).map_err(|e| e.to_string())?)),
        (None, Some(path)) => Ok(Box::new(HmacKey::read(path).map_err(|e| e.to_string())?)),
        (None, None) => Err("a key signs the checkpoints: give --key or --hmac-key".to_owned()),
    }
}

fn verifier(key: &KeyArgs) -> Result<Option<Box<dyn CheckpointVerifier>>, String> {
    match (&key.key, &key.hmac_key) {
        (Some(path), _) => Ok(Some(Box::new(
            PublicKey::read(path).map_err(|e| e.to_string())?,
        ))),
        (None, Some(path)) => Ok(Some(Box::new(
            HmacKey::read(path).map_err(|e| e.to_string())?,
        ))),
        (None, None) => Ok(None),
    }
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, String> {
    let bytes = acs_engine::read_file(path, audit::MAX_CHECKPOINT_BYTES as u64)
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("`{}`: not UTF-8", path.display()))?;
    Checkpoint::parse(&text).map_err(|e| format!("`{}`: not a checkpoint: {e}", path.display()))
}

fn audit(action: &Action, io: &mut Io<'_>) -> Result<u8, String> {
    match action {
        Action::Append {
            dir,
            key,
            origin,
            segment_bytes,
            checkpoint_every,
            sync_every,
            progress,
        } => {
            let mut options = WriterOptions::default();
            options.origin = origin.clone();
            options.segment_bytes = *segment_bytes;
            options.checkpoint_records = *checkpoint_every;
            options.checkpoint_interval = None;
            append(
                dir,
                options,
                signer(key)?,
                (*sync_every).max(1),
                *progress,
                io,
            )
        }
        Action::Verify {
            dir,
            key,
            checkpoint,
        } => {
            let key = verifier(key)?;
            let saved = checkpoint.as_deref().map(read_checkpoint).transpose()?;
            match audit::verify(dir, key.as_deref(), saved.as_ref()) {
                Ok(report) => {
                    let mut line = format!(
                        "ok: {} records in {} segment{}, {} checkpoint{} ({})",
                        report.records,
                        report.segments,
                        plural(report.segments as u64),
                        report.checkpoints,
                        plural(report.checkpoints as u64),
                        if report.signatures_checked {
                            "signatures verified"
                        } else {
                            "signatures not checked: no key given"
                        }
                    );
                    if let Some(saved) = &saved {
                        line.push_str(&format!(
                            ", consistent with the saved checkpoint of {} records",
                            saved.size
                        ));
                    }
                    let written = writeln!(io.stdout, "{line}");
                    if !io.style.quiet {
                        if report.unsigned_records > 0 {
                            let _ = writeln!(
                                io.stderr,
                                "note: the last {} record{} are not covered by a checkpoint yet",
                                report.unsigned_records,
                                plural(report.unsigned_records)
                            );
                        }
                        for torn in report.torn_tail.iter().chain(&report.checkpoints_torn_tail) {
                            let _ = writeln!(
                                io.stderr,
                                "note: {torn}; the writer cuts it when it opens the log"
                            );
                        }
                    }
                    Ok(after_writing(written, EXIT_OK, io.stderr))
                }
                Err(audit::VerifyError::Io { path, source }) => {
                    Err(format!("`{}`: {source}", path.display()))
                }
                Err(error) => {
                    let _ = writeln!(io.stderr, "tampered: {error}");
                    Ok(EXIT_FINDINGS)
                }
            }
        }
        Action::Checkpoint { dir } => {
            let (logged, _) = audit::read_checkpoints(dir).map_err(|e| e.to_string())?;
            let Some((_, latest)) = logged.last() else {
                return Err(format!("`{}` has no checkpoint yet", dir.display()));
            };
            let written = write!(io.stdout, "{}", latest.to_note());
            Ok(after_writing(written, EXIT_OK, io.stderr))
        }
        Action::Prove {
            dir,
            seq,
            checkpoint,
        } => {
            let saved = checkpoint.as_deref().map(read_checkpoint).transpose()?;
            let proof = audit::prove(dir, *seq, saved.as_ref()).map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&proof).map_err(|e| e.to_string())?;
            let written = writeln!(io.stdout, "{text}");
            Ok(after_writing(written, EXIT_OK, io.stderr))
        }
        Action::VerifyProof { proof, key } => {
            let key = verifier(key)?;
            let bytes = acs_engine::read_file(proof, 64 * 1024 * 1024)
                .map_err(|e| format!("`{}`: {e}", proof.display()))?;
            let proof: InclusionProof = serde_json::from_slice(&bytes)
                .map_err(|e| format!("`{}`: not a proof: {e}", proof.display()))?;
            match audit::verify_proof(&proof, key.as_deref()) {
                Ok(checkpoint) => {
                    let written = writeln!(
                        io.stdout,
                        "ok: record {} is in the tree of {} records of `{}`{}",
                        proof.seq,
                        checkpoint.size,
                        checkpoint.origin,
                        if key.is_some() {
                            ", checkpoint signature verified"
                        } else {
                            " (checkpoint signature not checked: no key given)"
                        }
                    );
                    Ok(after_writing(written, EXIT_OK, io.stderr))
                }
                Err(error) => {
                    let _ = writeln!(io.stderr, "refused: {error}");
                    Ok(EXIT_FINDINGS)
                }
            }
        }
        Action::Show {
            dir,
            filter,
            format,
        }
        | Action::Export {
            dir,
            filter,
            format,
        } => show(dir, filter, *format, io),
        Action::Compress {
            dir,
            older_than_days,
        } => {
            let age = older_than_days.map(|d| Duration::from_secs(d.saturating_mul(86_400)));
            let report = audit::compress(dir, age).map_err(|e| e.to_string())?;
            let saved = report.bytes_before.saturating_sub(report.bytes_after);
            let written = writeln!(
                io.stdout,
                "compressed {} segment{}: {} bytes to {} ({} saved)",
                report.segments.len(),
                plural(report.segments.len() as u64),
                report.bytes_before,
                report.bytes_after,
                saved
            );
            Ok(after_writing(written, EXIT_OK, io.stderr))
        }
        Action::Keygen { hmac } => {
            let key = HmacKey::generate().map_err(|e| e.to_string())?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(hmac)
                .map_err(|e| format!("cannot write `{}`: {e}", hmac.display()))?;
            writeln!(file, "{}", key.to_hex())
                .map_err(|e| format!("cannot write `{}`: {e}", hmac.display()))?;
            let written = writeln!(
                io.stdout,
                "wrote {} (an HMAC key: whoever holds it can sign checkpoints as well as verify them)",
                hmac.display()
            );
            Ok(after_writing(written, EXIT_OK, io.stderr))
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn append(
    dir: &Path,
    options: WriterOptions,
    signer: Box<dyn CheckpointSigner>,
    sync_every: u64,
    progress: bool,
    io: &mut Io<'_>,
) -> Result<u8, String> {
    let (mut writer, report) = Writer::open(dir, options, signer).map_err(|e| e.to_string())?;
    if !io.style.quiet {
        for torn in report.torn_tail.iter().chain(&report.checkpoints_torn_tail) {
            let _ = writeln!(io.stderr, "note: cut {torn}");
        }
    }
    let first = writer.size();
    let mut pending = 0u64;
    let sync = |writer: &mut Writer, out: &mut dyn std::io::Write| -> Result<(), String> {
        writer.sync().map_err(|e| e.to_string())?;
        if progress {
            let _ = writeln!(out, "synced {}", writer.size());
            let _ = out.flush();
        }
        Ok(())
    };
    let mut lines = BufReader::new(&mut *io.stdin);
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = lines
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the records: {e}"))?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value =
            serde_json::from_str(&line).map_err(|e| format!("line {number}: not JSON: {e}"))?;
        writer
            .append(record)
            .map_err(|e| format!("line {number}: {e}"))?;
        pending += 1;
        if pending >= sync_every {
            sync(&mut writer, &mut *io.stdout)?;
            pending = 0;
        }
        writer
            .maybe_checkpoint(Instant::now())
            .map_err(|e| e.to_string())?;
    }
    sync(&mut writer, &mut *io.stdout)?;
    let appended = writer.size() - first;
    let checkpoint = if appended > 0 {
        Some(writer.checkpoint().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let mut summary = format!("appended {appended} record{}", plural(appended));
    if appended > 0 {
        summary.push_str(&format!(" (seq {} to {})", first, writer.size() - 1));
    }
    if let Some(checkpoint) = checkpoint {
        summary.push_str(&format!("; checkpoint at tree size {}", checkpoint.size));
    }
    let written = writeln!(io.stdout, "{summary}");
    Ok(after_writing(written, EXIT_OK, io.stderr))
}

fn show(dir: &Path, filter: &Filter, format: Format, io: &mut Io<'_>) -> Result<u8, String> {
    let since = filter
        .since
        .as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("--since `{t}`: not an RFC 3339 time: {e}"))
        })
        .transpose()?;
    let mut written: std::io::Result<()> = Ok(());
    let result = audit::read(dir, &mut |entry| {
        if written.is_err() || filter.from.is_some_and(|from| entry.seq < from) {
            return;
        }
        let wanted = since.is_some() || filter.rule.is_some();
        let record: Option<Value> = if wanted {
            serde_json::from_slice(entry.body).ok()
        } else {
            None
        };
        if let Some(since) = since {
            let time = record
                .as_ref()
                .and_then(|r| r.get("time"))
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            if time.is_none_or(|t| t < since) {
                return;
            }
        }
        if let Some(rule) = &filter.rule {
            if !record.as_ref().is_some_and(|r| names_rule(r, rule)) {
                return;
            }
        }
        let body = String::from_utf8_lossy(entry.body);
        written = match format {
            Format::Jsonl => writeln!(io.stdout, "{body}"),
            Format::Text => writeln!(
                io.stdout,
                "#{} {}:{} {body}",
                entry.seq, entry.segment, entry.offset
            ),
        };
    });
    match result {
        Ok(_) => Ok(after_writing(written, EXIT_OK, io.stderr)),
        Err(audit::VerifyError::Io { path, source }) => {
            Err(format!("`{}`: {source}", path.display()))
        }
        Err(error) => {
            let _ = writeln!(io.stderr, "tampered: {error}");
            Ok(EXIT_FINDINGS)
        }
    }
}

/// Whether `record` is about rule `id`: `rule` is it, `rules` holds it, or an entry of
/// `matched` has it as `id`.
fn names_rule(record: &Value, id: &str) -> bool {
    let is = |v: &Value| v.as_str() == Some(id) || v.get("id").and_then(Value::as_str) == Some(id);
    record.get("rule").is_some_and(is)
        || ["rules", "matched"].iter().any(|field| {
            record
                .get(field)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(is))
        })
}
