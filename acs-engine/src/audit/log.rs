//! Reading a log directory front to back: every segment, every frame, every record's
//! sequence number, the tree rebuilt as it goes and compared with the checkpoints it is
//! given. The writer's recovery, [`verify`](super::verify), `show`/`export` and the proofs
//! all read the log through [`walk`], so they agree on what a sound log is.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::merkle::{empty_root, leaf_hash, Hash, Tree};
use super::segment::{
    parse_compressed_segment_name, parse_segment_name, segment_name, FrameReader, Step,
    CHECKPOINTS_FILE,
};
use super::verify::{CheckpointRef, Place, VerifyError};
use super::TornTail;

/// A tree size and root the log must match (from a checkpoint).
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub source: CheckpointRef,
    pub size: u64,
    pub root: Hash,
}

/// One record met on the walk.
pub(crate) struct RecordAt<'a> {
    pub place: &'a Place,
    pub body: &'a [u8],
    pub leaf: Hash,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub tree: Tree,
    pub segments: usize,
    pub bytes: u64,
    /// The cut-short frame at the end of the last segment, not covered by any checkpoint.
    pub torn: Option<TornTail>,
    /// The last segment and where its last whole frame ends.
    pub last_segment: Option<(PathBuf, u64)>,
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> VerifyError + '_ {
    move |source| VerifyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The segments of `dir`, by first sequence number, compressed ones (`.log.gz`) among
/// them. Where a segment is there both ways (a [`compress`](super::compress) cut short
/// after the compressed copy was in place and before the original was removed), the
/// original is read.
pub(crate) fn segments(dir: &Path) -> Result<Vec<(u64, String)>, VerifyError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(first) = parse_compressed_segment_name(&name) {
            found.push((first, true, name));
            continue;
        }
        if name == CHECKPOINTS_FILE || !name.ends_with(".log") {
            continue;
        }
        match parse_segment_name(&name) {
            Some(first) => found.push((first, false, name)),
            None => return Err(VerifyError::UnexpectedFile { name }),
        }
    }
    found.sort();
    found.dedup_by_key(|(first, _, _)| *first);
    Ok(found
        .into_iter()
        .map(|(first, _, name)| (first, name))
        .collect())
}

/// Walk the log in `dir`, checking framing, checksums, sequence continuity, segment names
/// and the tree against `expected` (sorted by size), handing each record to `each`.
pub(crate) fn walk(
    dir: &Path,
    expected: &[Expected],
    each: &mut dyn FnMut(&RecordAt<'_>) -> Result<(), VerifyError>,
) -> Result<Walk, VerifyError> {
    let segments = segments(dir)?;
    let mut walk = Walk::default();
    let mut pending = expected.iter().peekable();
    // The first record not yet covered by a checkpoint that matched: where a mismatch
    // can have started.
    let mut unverified: Option<Place> = None;
    let mut last_place: Option<Place> = None;
    // A saved checkpoint is checked against the log alone: the log's own checkpoints say
    // nothing of it, so a fork may start at the first record.
    let mut first_place: Option<Place> = None;
    while let Some(check) = pending.next_if(|e| e.size == 0) {
        if check.root != empty_root() {
            return Err(VerifyError::RootMismatch {
                checkpoint: check.source.clone(),
                size: 0,
                from: None,
                to: None,
            });
        }
    }
    let count = segments.len();
    for (index, (named, name)) in segments.iter().enumerate() {
        let is_last = index + 1 == count;
        let path = dir.join(name);
        let mut reader = FrameReader::open(&path).map_err(io_error(&path))?;
        walk.segments += 1;
        walk.bytes += reader.len();
        let mut first = true;
        let mut end = 0;
        loop {
            let seq = walk.tree.size();
            let step = reader.next().map_err(io_error(&path))?;
            let offset = match step {
                Step::End => break,
                Step::Frame { offset } => offset,
                Step::Bad {
                    offset,
                    problem,
                    at_end,
                } => {
                    let place = Place {
                        segment: name.clone(),
                        offset,
                        seq,
                    };
                    let covered = expected.iter().any(|e| e.size > seq);
                    if is_last && at_end && !covered {
                        walk.torn = Some(TornTail {
                            segment: name.clone(),
                            offset,
                            seq,
                            bytes_cut: reader.len() - offset,
                            problem: problem.to_string(),
                        });
                        break;
                    }
                    return Err(VerifyError::Frame { at: place, problem });
                }
            };
            let place = Place {
                segment: name.clone(),
                offset,
                seq,
            };
            let found = serde_json::from_slice::<SeqOnly>(&reader.body)
                .map_err(|e| VerifyError::Record {
                    at: place.clone(),
                    problem: e.to_string(),
                })?
                .seq;
            if first && found != *named {
                return Err(VerifyError::SegmentName {
                    at: place,
                    named: *named,
                    found,
                });
            }
            first = false;
            if found > seq {
                return Err(VerifyError::Missing { at: place, found });
            }
            if found < seq {
                return Err(VerifyError::Repeated { at: place, found });
            }
            let leaf = leaf_hash(&reader.body);
            each(&RecordAt {
                place: &place,
                body: &reader.body,
                leaf,
            })?;
            walk.tree.push(leaf);
            end = offset + super::segment::FRAME_HEADER_BYTES + reader.body.len() as u64;
            if unverified.is_none() {
                unverified = Some(place.clone());
            }
            if first_place.is_none() {
                first_place = Some(place.clone());
            }
            while let Some(check) = pending.next_if(|e| e.size == walk.tree.size()) {
                if check.root != walk.tree.root() {
                    let from = match check.source {
                        CheckpointRef::Saved => first_place.take(),
                        CheckpointRef::Logged { .. } => unverified.take(),
                    };
                    return Err(VerifyError::RootMismatch {
                        checkpoint: check.source.clone(),
                        size: check.size,
                        from,
                        to: Some(place),
                    });
                }
                if check.source != CheckpointRef::Saved {
                    unverified = None;
                }
            }
            last_place = Some(place);
        }
        if first {
            // A segment with no record: only the last may be (a crash after it was made).
            let expected_start = walk.tree.size();
            if !is_last || *named != expected_start {
                return Err(VerifyError::EmptySegment {
                    segment: name.clone(),
                    named: *named,
                    expected: expected_start,
                });
            }
        }
        // A writer appends to the last segment unless it is compressed (then it starts
        // a new one).
        if is_last && parse_segment_name(name).is_some() {
            walk.last_segment = Some((path, end));
        }
    }
    if let Some(check) = pending.next() {
        return Err(VerifyError::Truncated {
            checkpoint: check.source.clone(),
            size: check.size,
            records: walk.tree.size(),
            last: last_place,
        });
    }
    Ok(walk)
}

/// The path of the segment that starts at `first`.
pub(crate) fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(segment_name(first))
}
