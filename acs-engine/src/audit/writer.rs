//! The log's only writer: it numbers records, frames them into the current segment,
//! keeps the tree's right edge, rotates segments, and appends signed checkpoints. It is
//! plain synchronous code over `&mut self`, made to be owned by one thread (part 2's
//! background writer) that feeds it records and calls [`Writer::sync`] once per batch.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::canonical::canonical_json;
use super::checkpoint::{Checkpoint, CheckpointSigner};
use super::log::{segment_path, walk};
use super::merkle::{leaf_hash, Hash, Tree};
use super::segment::{encode_frame, segment_name, CHECKPOINTS_FILE, MAX_RECORD_BYTES};
use super::verify::{expectations, read_checkpoints};
use super::{AuditError, TornTail};

/// How a [`Writer`] rotates segments and checkpoints.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WriterOptions {
    /// The log's name, the first line of its checkpoints (c2sp.org/tlog-checkpoint
    /// recommends a schema-less URL, e.g. `fraud.example.com/acs-audit`).
    pub origin: String,
    /// The name the checkpoints are signed under (no spaces, no `+`).
    pub key_name: String,
    /// A segment is closed once it holds this many bytes.
    pub segment_bytes: u64,
    /// A segment is closed once it has been written to for this long (`None`: no limit).
    /// Its age counts from when this writer opened or made it.
    pub segment_age: Option<Duration>,
    /// [`Writer::maybe_checkpoint`] signs one every this many records (0: not by count).
    pub checkpoint_records: u64,
    /// ... or when this long has passed since the last one (`None`: not by time).
    pub checkpoint_interval: Option<Duration>,
    /// The largest canonical record accepted.
    pub max_record_bytes: u32,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            origin: "acs-audit".to_owned(),
            key_name: "acs-audit".to_owned(),
            segment_bytes: 64 * 1024 * 1024,
            segment_age: None,
            checkpoint_records: 1000,
            checkpoint_interval: Some(Duration::from_secs(10)),
            max_record_bytes: 1024 * 1024,
        }
    }
}

/// What opening a log found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenReport {
    /// How many records the log holds (the next one gets this sequence number).
    pub records: u64,
    /// How many segment files.
    pub segments: usize,
    /// A frame cut short by a crash at the end of the last segment, now cut off.
    pub torn_tail: Option<TornTail>,
    /// The same for the checkpoints file.
    pub checkpoints_torn_tail: Option<TornTail>,
}

type Publisher = Box<dyn Fn(&Checkpoint) + Send>;

/// The writer of one log directory. See the module's documentation.
pub struct Writer {
    dir: PathBuf,
    options: WriterOptions,
    signer: Box<dyn CheckpointSigner>,
    publisher: Option<Publisher>,
    tree: Tree,
    segment: Option<BufWriter<File>>,
    segment_start: u64,
    segment_bytes: u64,
    segment_opened: Instant,
    checkpointed: u64,
    checkpointed_at: Instant,
    /// Set by a write that failed half way: what reached the file is unknown, so the
    /// writer stops; opening the log again cuts the torn tail and goes on.
    failed: bool,
    frame: Vec<u8>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("dir", &self.dir)
            .field("size", &self.tree.size())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

pub(super) fn io(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Make a file's creation or removal durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl Writer {
    /// Open (or create) the log in `dir`: rebuild the tree from its segments, check it
    /// against its checkpoints, and cut a torn tail (a frame a crash left incomplete at
    /// the end, which no checkpoint covers; the report says what was cut). A damaged
    /// frame before the end, a gap in the sequence or a tree that does not match a
    /// checkpoint is corruption: the log is not opened ([`AuditError::Corrupt`]).
    pub fn open(
        dir: &Path,
        options: WriterOptions,
        signer: Box<dyn CheckpointSigner>,
    ) -> Result<(Writer, OpenReport), AuditError> {
        if options.key_name.is_empty() || options.key_name.contains([' ', '+', '\n']) {
            return Err(AuditError::Key {
                message: format!(
                    "`{}` is not a key name (no spaces, no `+`)",
                    options.key_name
                ),
            });
        }
        if options.origin.is_empty() || options.origin.contains(|c: char| c.is_control()) {
            return Err(AuditError::Key {
                message: format!("`{}` is not an origin line", options.origin),
            });
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut report = OpenReport::default();
        let (logged, checkpoints_torn) = read_checkpoints(dir)?;
        if let Some(torn) = &checkpoints_torn {
            truncate(&dir.join(CHECKPOINTS_FILE), torn.offset)?;
        }
        report.checkpoints_torn_tail = checkpoints_torn;
        let expected = expectations(&logged, None, None)?;
        let found = walk(dir, &expected, &mut |_| Ok(()))?;
        if let Some(torn) = &found.torn {
            truncate(&dir.join(&torn.segment), torn.offset)?;
        }
        report.torn_tail = found.torn;
        report.records = found.tree.size();
        report.segments = found.segments;
        let now = Instant::now();
        let mut writer = Writer {
            dir: dir.to_owned(),
            options,
            signer,
            publisher: None,
            segment_start: 0,
            segment_bytes: 0,
            segment: None,
            segment_opened: now,
            checkpointed: logged.last().map_or(0, |(_, c)| c.size),
            checkpointed_at: now,
            tree: found.tree,
            failed: false,
            frame: Vec::new(),
        };
        if let Some((path, end)) = found.last_segment {
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            writer.segment_start = path
                .file_name()
                .and_then(|n| super::segment::parse_segment_name(&n.to_string_lossy()))
                .unwrap_or(0);
            writer.segment_bytes = end;
            writer.segment = Some(BufWriter::with_capacity(64 * 1024, file));
        }
        Ok((writer, report))
    }

    /// Hand every checkpoint, once it is durable, to `publisher` (to post it, log it or
    /// copy it somewhere the host cannot rewrite).
    pub fn on_checkpoint(&mut self, publisher: impl Fn(&Checkpoint) + Send + 'static) {
        self.publisher = Some(Box::new(publisher));
    }

    /// How many records the log holds.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The root of the tree over every record appended.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn check_usable(&self) -> Result<(), AuditError> {
        if self.failed {
            return Err(AuditError::Failed {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Append `record` (a JSON object; the writer adds its sequence number as `seq`):
    /// canonicalize it, frame it and write it to the segment's buffer. It is durable once
    /// [`Writer::sync`] returns. Returns its sequence number.
    pub fn append(&mut self, record: Value) -> Result<u64, AuditError> {
        self.check_usable()?;
        let Value::Object(mut fields) = record else {
            return Err(AuditError::Record {
                message: "a record is a JSON object".to_owned(),
            });
        };
        if fields.contains_key("seq") {
            return Err(AuditError::Record {
                message: "a record's `seq` is the writer's to set".to_owned(),
            });
        }
        let seq = self.tree.size();
        fields.insert("seq".to_owned(), Value::from(seq));
        let body = canonical_json(&Value::Object(fields))?;
        let limit = self.options.max_record_bytes.min(MAX_RECORD_BYTES);
        if body.len() > limit as usize {
            return Err(AuditError::Record {
                message: format!(
                    "a record of {} bytes, above the limit of {limit}",
                    body.len()
                ),
            });
        }
        self.frame.clear();
        encode_frame(&body, &mut self.frame);
        let frame_len = self.frame.len() as u64;
        let age_up = self
            .options
            .segment_age
            .is_some_and(|age| self.segment_opened.elapsed() >= age);
        let full = self.segment_bytes > 0
            && (self.segment_bytes + frame_len > self.options.segment_bytes || age_up);
        if self.segment.is_none() || full {
            self.rotate(seq)?;
        }
        let path = segment_path(&self.dir, self.segment_start);
        let Some(segment) = self.segment.as_mut() else {
            return Err(AuditError::Failed {
                dir: self.dir.clone(),
            });
        };
        if let Err(e) = segment.write_all(&self.frame) {
            self.failed = true;
            return Err(io(&path)(e));
        }
        self.segment_bytes += frame_len;
        self.tree.push(leaf_hash(&body));
        Ok(seq)
    }

    /// Close the current segment (durably) and start one at `first`.
    fn rotate(&mut self, first: u64) -> Result<(), AuditError> {
        self.sync()?;
        let path = self.dir.join(segment_name(first));
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        sync_dir(&self.dir)?;
        self.segment = Some(BufWriter::with_capacity(64 * 1024, file));
        self.segment_start = first;
        self.segment_bytes = 0;
        self.segment_opened = Instant::now();
        Ok(())
    }

    /// Write what is buffered and make it durable (fdatasync): every record appended
    /// before it returns survives a crash.
    pub fn sync(&mut self) -> Result<(), AuditError> {
        self.check_usable()?;
        let path = segment_path(&self.dir, self.segment_start);
        if let Some(segment) = self.segment.as_mut() {
            let done = segment.flush().and_then(|()| segment.get_ref().sync_data());
            if let Err(e) = done {
                self.failed = true;
                return Err(io(&path)(e));
            }
        }
        Ok(())
    }

    /// Hand what is buffered to the operating system, without waiting for the disk: the
    /// records survive the process dying, not the machine (the `Fsync::Never` policy).
    pub fn flush(&mut self) -> Result<(), AuditError> {
        self.check_usable()?;
        let path = segment_path(&self.dir, self.segment_start);
        if let Some(segment) = self.segment.as_mut() {
            if let Err(e) = segment.flush() {
                self.failed = true;
                return Err(io(&path)(e));
            }
        }
        Ok(())
    }

    /// How many records the last checkpoint covers.
    pub fn checkpointed(&self) -> u64 {
        self.checkpointed
    }

    /// Sign a checkpoint if the options call for one now: records were appended since the
    /// last, and there are `checkpoint_records` of them or `checkpoint_interval` has
    /// passed since the last.
    pub fn maybe_checkpoint(&mut self, now: Instant) -> Result<Option<Checkpoint>, AuditError> {
        let new = self.tree.size().saturating_sub(self.checkpointed);
        if new == 0 {
            return Ok(None);
        }
        let by_count =
            self.options.checkpoint_records > 0 && new >= self.options.checkpoint_records;
        let by_time = self
            .options
            .checkpoint_interval
            .is_some_and(|every| now.saturating_duration_since(self.checkpointed_at) >= every);
        if by_count || by_time {
            return self.checkpoint().map(Some);
        }
        Ok(None)
    }

    /// Sign a checkpoint of the tree as it is, after making every record durable, append
    /// it to the checkpoints file (durably) and hand it to the publisher.
    pub fn checkpoint(&mut self) -> Result<Checkpoint, AuditError> {
        self.sync()?;
        let mut checkpoint =
            Checkpoint::new(&self.options.origin, self.tree.size(), self.tree.root());
        checkpoint.sign(&self.options.key_name, self.signer.as_ref());
        let path = self.dir.join(CHECKPOINTS_FILE);
        let mut frame = Vec::new();
        encode_frame(checkpoint.to_note().as_bytes(), &mut frame);
        let existed = path.exists();
        let written = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut file| {
                file.write_all(&frame)?;
                file.sync_data()
            });
        if let Err(e) = written {
            // A half-written checkpoint is a torn tail of the checkpoints file, which
            // the next open cuts; the records themselves are durable.
            self.failed = true;
            return Err(io(&path)(e));
        }
        if !existed {
            sync_dir(&self.dir)?;
        }
        self.checkpointed = checkpoint.size;
        self.checkpointed_at = Instant::now();
        if let Some(publish) = &self.publisher {
            publish(&checkpoint);
        }
        Ok(checkpoint)
    }
}

fn truncate(path: &Path, length: u64) -> Result<(), AuditError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path))?;
    file.set_len(length)
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}
