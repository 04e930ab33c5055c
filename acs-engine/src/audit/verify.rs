//! Verifying a log directory: framing, checksums, sequence continuity, segment names, the
//! tree against every checkpoint, the checkpoints' signatures, and consistency with a
//! checkpoint saved earlier outside the log (a log that shrank or forked since fails).
//! Every failure names the segment file, the byte offset and the sequence number it is at.

use std::path::{Path, PathBuf};

use super::checkpoint::{Checkpoint, CheckpointVerifier, SignatureCheck};
use super::log::{walk, Expected};
use super::merkle::Hash;
use super::segment::{BadFrame, FrameReader, Step, CHECKPOINTS_FILE};
use super::TornTail;

/// Where in the log a record is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The segment's file name.
    pub segment: String,
    /// The byte offset of the record's frame in it.
    pub offset: u64,
    /// The sequence number the record has, or should have, there.
    pub seq: u64,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, offset {} (seq {})",
            self.segment, self.offset, self.seq
        )
    }
}

/// Which checkpoint a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointRef {
    /// One in the log's checkpoints file, at this byte offset.
    Logged {
        /// The offset of its frame in `checkpoints.log`.
        offset: u64,
    },
    /// The one saved outside the log, given to the verifier.
    Saved,
}

impl std::fmt::Display for CheckpointRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointRef::Logged { offset } => {
                write!(f, "the checkpoint at offset {offset} of {CHECKPOINTS_FILE}")
            }
            CheckpointRef::Saved => f.write_str("the saved checkpoint"),
        }
    }
}

/// Why a log failed verification (or could not be opened for appending).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A file could not be read.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A `.log` file whose name is not a segment's.
    #[error("`{name}` is not a segment name (NNNNNNNNNNNN.log, the first record's sequence number): a file was added to the log")]
    UnexpectedFile {
        /// The file's name.
        name: String,
    },
    /// A frame that is not whole and intact, before the end of the log.
    #[error("{at}: {}", frame_message(problem))]
    Frame {
        /// Where.
        at: Place,
        /// What is wrong with it.
        problem: BadFrame,
    },
    /// A frame whose body is not a record with a sequence number.
    #[error("{at}: not a record with a `seq`: {problem} (a record was forged)")]
    Record {
        /// Where.
        at: Place,
        /// Why.
        problem: String,
    },
    /// A segment whose first record is not the one its name says.
    #[error("{at}: the segment is named for seq {named} but its first record is seq {found} (a segment renamed, replaced or cut at its start)")]
    SegmentName {
        /// Where.
        at: Place,
        /// The sequence number in the file name.
        named: u64,
        /// The one in the record.
        found: u64,
    },
    /// A record further on than the next one: records before it are gone.
    #[error("{at}: found seq {found} where seq {} was expected: {} (deleted, or moved later)", at.seq, missing(at.seq, *found))]
    Missing {
        /// Where.
        at: Place,
        /// The sequence number found.
        found: u64,
    },
    /// A record that came before: a copy, an insertion or a move.
    #[error("{at}: found seq {found} again where seq {} was expected (a duplicated, inserted or moved record)", at.seq)]
    Repeated {
        /// Where.
        at: Place,
        /// The sequence number found.
        found: u64,
    },
    /// A segment file with no record that is not the last, or not named for the next one.
    #[error("segment {segment} holds no record, and is named for seq {named} where the log's next record is seq {expected}")]
    EmptySegment {
        /// The segment's file name.
        segment: String,
        /// The sequence number in its name.
        named: u64,
        /// The log's next sequence number there.
        expected: u64,
    },
    /// The tree over the records does not have the root a checkpoint signed.
    #[error("{}", root_mismatch(checkpoint, *size, from.as_ref(), to.as_ref()))]
    RootMismatch {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Its tree size.
        size: u64,
        /// The first record after the last checkpoint that matched.
        from: Option<Place>,
        /// The checkpoint's last record.
        to: Option<Place>,
    },
    /// A checkpoint covers more records than the log holds.
    #[error("{}", truncated(checkpoint, *size, *records, last.as_ref()))]
    Truncated {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Its tree size.
        size: u64,
        /// How many records the log holds.
        records: u64,
        /// Where the log's last record is.
        last: Option<Place>,
    },
    /// The checkpoints file is damaged before its end.
    #[error("{CHECKPOINTS_FILE}, offset {offset}: {}", frame_message(problem))]
    CheckpointFrame {
        /// Where.
        offset: u64,
        /// What is wrong with the frame.
        problem: BadFrame,
    },
    /// A checkpoint that is not a checkpoint note.
    #[error("{checkpoint} is malformed: {problem}")]
    CheckpointMalformed {
        /// Which.
        checkpoint: CheckpointRef,
        /// Why.
        problem: String,
    },
    /// A checkpoint smaller than one before it.
    #[error("{checkpoint} (tree size {size}) comes after one of tree size {previous}: checkpoints were reordered or forged")]
    CheckpointShrinks {
        /// Which.
        checkpoint: CheckpointRef,
        /// Its tree size.
        size: u64,
        /// The size of the one before.
        previous: u64,
    },
    /// A signature by the key that does not verify.
    #[error("{checkpoint} (tree size {size}): its signature does not verify with the key: a forged or altered checkpoint")]
    BadSignature {
        /// Which.
        checkpoint: CheckpointRef,
        /// Its tree size.
        size: u64,
    },
    /// A checkpoint the key did not sign.
    #[error("{checkpoint} (tree size {size}) carries no signature by the key: a forged checkpoint, or another key")]
    Unsigned {
        /// Which.
        checkpoint: CheckpointRef,
        /// Its tree size.
        size: u64,
    },
    /// A checkpoint of another log.
    #[error("{checkpoint} is of the log `{origin}`, not `{expected}`")]
    Origin {
        /// Which.
        checkpoint: CheckpointRef,
        /// Its origin line.
        origin: String,
        /// The log's.
        expected: String,
    },
}

fn frame_message(problem: &BadFrame) -> String {
    match problem {
        BadFrame::Checksum => "checksum mismatch: the record's bytes were changed".to_owned(),
        other => format!("{other}: the file was cut or damaged here"),
    }
}

fn missing(expected: u64, found: u64) -> String {
    if found == expected + 1 {
        format!("record {expected} is missing")
    } else {
        format!("records {expected} to {} are missing", found - 1)
    }
}

fn root_mismatch(
    checkpoint: &CheckpointRef,
    size: u64,
    from: Option<&Place>,
    to: Option<&Place>,
) -> String {
    let range = match (from, to) {
        (Some(from), Some(to)) => format!(
            "records {} to {} (from {}, offset {} to {}, offset {})",
            from.seq, to.seq, from.segment, from.offset, to.segment, to.offset
        ),
        _ => "records".to_owned(),
    };
    match checkpoint {
        CheckpointRef::Saved => format!(
            "the log has forked from the saved checkpoint: its first {size} records do not have the saved root; {range} were rewritten since"
        ),
        CheckpointRef::Logged { .. } => format!(
            "the first {size} records do not have the root signed in {checkpoint}: {range} were changed or replaced since it was signed, or the checkpoint is forged"
        ),
    }
}

fn truncated(checkpoint: &CheckpointRef, size: u64, records: u64, last: Option<&Place>) -> String {
    let end = match last {
        Some(last) => format!("its last record is at {last}"),
        None => "it holds no record".to_owned(),
    };
    match checkpoint {
        CheckpointRef::Saved => format!(
            "the log has shrunk: the saved checkpoint covers {size} records but the log holds {records} ({end})"
        ),
        CheckpointRef::Logged { .. } => format!(
            "the log was truncated: {checkpoint} covers {size} records but the log holds {records} ({end})"
        ),
    }
}

/// What a verification found in a sound log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// How many records.
    pub records: u64,
    /// How many segment files.
    pub segments: usize,
    /// Their bytes.
    pub bytes: u64,
    /// How many checkpoints the log's tree was checked against.
    pub checkpoints: usize,
    /// Whether their signatures were checked (a key was given).
    pub signatures_checked: bool,
    /// Whether a saved checkpoint was checked.
    pub saved_checked: bool,
    /// The root of the whole log.
    pub root: Hash,
    /// The latest checkpoint, if any.
    pub latest: Option<Checkpoint>,
    /// Records after the latest checkpoint (not yet signed).
    pub unsigned_records: u64,
    /// A frame cut short at the end of the last segment, which no checkpoint covers (a
    /// crash the writer has not yet recovered from; it cuts it when it opens the log).
    pub torn_tail: Option<TornTail>,
    /// The same for the checkpoints file.
    pub checkpoints_torn_tail: Option<TornTail>,
}

/// A log's checkpoints, each with the offset of its frame in the checkpoints file.
pub type LoggedCheckpoints = Vec<(u64, Checkpoint)>;

/// The checkpoints of the log in `dir`, with the offsets of their frames, and a torn tail
/// of the checkpoints file if it has one.
pub fn read_checkpoints(dir: &Path) -> Result<(LoggedCheckpoints, Option<TornTail>), VerifyError> {
    let path = dir.join(CHECKPOINTS_FILE);
    let io = |source| VerifyError::Io {
        path: path.clone(),
        source,
    };
    let mut reader = match FrameReader::open(&path) {
        Ok(reader) => reader,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(io(e)),
    };
    let mut found = Vec::new();
    loop {
        match reader.next().map_err(io)? {
            Step::End => return Ok((found, None)),
            Step::Frame { offset } => {
                let checkpoint = std::str::from_utf8(&reader.body)
                    .map_err(|e| e.to_string())
                    .and_then(Checkpoint::parse)
                    .map_err(|problem| VerifyError::CheckpointMalformed {
                        checkpoint: CheckpointRef::Logged { offset },
                        problem,
                    })?;
                found.push((offset, checkpoint));
            }
            Step::Bad {
                offset,
                problem,
                at_end: true,
            } => {
                let torn = TornTail {
                    segment: CHECKPOINTS_FILE.to_owned(),
                    offset,
                    seq: found.len() as u64,
                    bytes_cut: reader.len() - offset,
                    problem: problem.to_string(),
                };
                return Ok((found, Some(torn)));
            }
            Step::Bad {
                offset, problem, ..
            } => return Err(VerifyError::CheckpointFrame { offset, problem }),
        }
    }
}

/// The checkpoints as sizes and roots the tree must match, after checking their order,
/// origin and (with a key) signatures.
pub(crate) fn expectations(
    logged: &[(u64, Checkpoint)],
    saved: Option<&Checkpoint>,
    key: Option<&dyn CheckpointVerifier>,
) -> Result<Vec<Expected>, VerifyError> {
    let mut expected = Vec::with_capacity(logged.len() + 1);
    let origin = logged.first().map(|(_, c)| c.origin.clone());
    let mut previous = 0;
    let all = logged
        .iter()
        .map(|(offset, c)| (CheckpointRef::Logged { offset: *offset }, c))
        .chain(saved.map(|c| (CheckpointRef::Saved, c)));
    for (source, checkpoint) in all {
        if let Some(key) = key {
            match checkpoint.check(key) {
                SignatureCheck::Valid => {}
                SignatureCheck::Invalid => {
                    return Err(VerifyError::BadSignature {
                        checkpoint: source,
                        size: checkpoint.size,
                    })
                }
                SignatureCheck::Absent => {
                    return Err(VerifyError::Unsigned {
                        checkpoint: source,
                        size: checkpoint.size,
                    })
                }
            }
        }
        if let Some(origin) = &origin {
            if *origin != checkpoint.origin {
                return Err(VerifyError::Origin {
                    checkpoint: source,
                    origin: checkpoint.origin.clone(),
                    expected: origin.clone(),
                });
            }
        }
        if source != CheckpointRef::Saved {
            if checkpoint.size < previous {
                return Err(VerifyError::CheckpointShrinks {
                    checkpoint: source,
                    size: checkpoint.size,
                    previous,
                });
            }
            previous = checkpoint.size;
        }
        expected.push(Expected {
            source,
            size: checkpoint.size,
            root: checkpoint.root,
        });
    }
    expected.sort_by_key(|e| e.size);
    Ok(expected)
}

/// Verify the log in `dir`: every frame and checksum, the sequence, the segment names,
/// the tree against every checkpoint in the log and against `saved` (one kept outside
/// the log earlier: the log must still hold the tree it signed, neither shorter nor
/// different), and with `key` every checkpoint's signature. It reads each segment once,
/// front to back, in constant memory.
pub fn verify(
    dir: &Path,
    key: Option<&dyn CheckpointVerifier>,
    saved: Option<&Checkpoint>,
) -> Result<VerifyReport, VerifyError> {
    if !dir.is_dir() {
        return Err(VerifyError::Io {
            path: dir.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such log directory"),
        });
    }
    let (logged, checkpoints_torn_tail) = read_checkpoints(dir)?;
    let expected = expectations(&logged, saved, key)?;
    let walk = walk(dir, &expected, &mut |_| Ok(()))?;
    let latest = logged.last().map(|(_, c)| c.clone());
    let records = walk.tree.size();
    Ok(VerifyReport {
        records,
        segments: walk.segments,
        bytes: walk.bytes,
        checkpoints: logged.len(),
        signatures_checked: key.is_some(),
        saved_checked: saved.is_some(),
        root: walk.tree.root(),
        unsigned_records: records - latest.as_ref().map_or(0, |c| c.size.min(records)),
        latest,
        torn_tail: walk.torn,
        checkpoints_torn_tail,
    })
}
