//! The audit log: a tamper-evident, crash-safe, append-only record of decisions.
//!
//! This module owns the log's on-disk format and everything that reads or writes it
//! (docs/AUDIT.md describes the format byte by byte):
//!
//! - records: JSON objects, stored as canonical JSON (RFC 8785) ([`canonical_json`]),
//!   after [`Redactor`] took out or hashed the fields a host names;
//! - segments: one global log per directory, files `NNNNNNNNNNNN.log` named by their
//!   first sequence number, each record framed `u32 length | u32 CRC-32C | body`;
//! - the Merkle tree over the records, hashed as RFC 6962 ([`merkle`]), with inclusion and
//!   consistency proofs;
//! - signed checkpoints of the tree (c2sp.org/tlog-checkpoint; Ed25519 with
//!   `acs_engine::bundle`'s keys, or HMAC-SHA256) in the directory's `checkpoints.log`;
//! - the [`Writer`], which appends, rotates segments, signs checkpoints and, on open,
//!   rebuilds the tree and cuts the torn tail a crash left;
//! - [`verify`], [`prove`] and [`verify_proof`], [`read`] for show and export.
//!
//! It knows nothing of rules or decisions: what a record holds is its caller's (the
//! engine's, in the part that records decisions). It sits below `engine` so that the
//! engine can own a writer.

mod canonical;
mod checkpoint;
mod compress;
mod log;
pub mod merkle;
mod proof;
mod segment;
mod verify;
mod writer;

use std::path::{Path, PathBuf};

pub use canonical::{canonical_json, scrub, scrub_text, Redactor};
pub use checkpoint::{
    key_id, Checkpoint, CheckpointSigner, CheckpointVerifier, HmacKey, NoteSignature,
    SignatureCheck, MAX_CHECKPOINT_BYTES,
};
pub use compress::{compress, CompressReport};
pub use proof::{prove, verify_proof, InclusionProof, ProofError};
pub use segment::{
    parse_compressed_segment_name, parse_segment_name, segment_name, BadFrame, CHECKPOINTS_FILE,
    COMPRESSED_SUFFIX, FRAME_HEADER_BYTES, MAX_DECOMPRESSED_SEGMENT, MAX_RECORD_BYTES,
};
pub use verify::{
    read_checkpoints, verify, CheckpointRef, LoggedCheckpoints, Place, VerifyError, VerifyReport,
};
pub use writer::{OpenReport, Writer, WriterOptions};

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file could not be read or written (a full disk among others).
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A record that cannot be written: not an object, too large, or with a `seq`.
    #[error("{message}")]
    Record {
        /// Why.
        message: String,
    },
    /// A key or a key name that cannot be used.
    #[error("{message}")]
    Key {
        /// Why.
        message: String,
    },
    /// The log is damaged or tampered with beyond a torn tail: it is not appended to.
    #[error("the log is corrupt, not appending: {0}")]
    Corrupt(#[from] VerifyError),
    /// An earlier write failed half way: this writer appends nothing more (opening the
    /// log again cuts what the failed write left and goes on).
    #[error("`{}`: an earlier write failed; open the log again to go on", dir.display())]
    Failed {
        /// The log directory.
        dir: PathBuf,
    },
    /// No checkpoint covers the record yet.
    #[error("no checkpoint covers record {seq}")]
    NoCheckpoint {
        /// The record's sequence number.
        seq: u64,
    },
}

/// A frame cut short at the end of a log's last segment (or of its checkpoints file), as
/// a crash in the middle of a write leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The file's name.
    pub segment: String,
    /// Where the incomplete frame starts (the file is cut there).
    pub offset: u64,
    /// The sequence number it would have had (for the checkpoints file: the index of the
    /// checkpoint).
    pub seq: u64,
    /// How many bytes follow the last whole frame.
    pub bytes_cut: u64,
    /// What was wrong with the frame.
    pub problem: String,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, offset {} (seq {}): a torn tail of {} bytes ({})",
            self.segment, self.offset, self.seq, self.bytes_cut, self.problem
        )
    }
}

/// One record of a log, as [`read`] hands it over.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Entry<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Its segment's file name.
    pub segment: &'a str,
    /// The offset of its frame there.
    pub offset: u64,
    /// Its canonical JSON.
    pub body: &'a [u8],
}

/// Read the log in `dir` front to back, handing each record to `each`; the log is checked
/// as it is read (framing, checksums, sequence, the tree against its checkpoints, not
/// their signatures: that is [`verify`]). A torn tail is skipped. Returns how many
/// records there are.
pub fn read(dir: &Path, each: &mut dyn FnMut(Entry<'_>)) -> Result<u64, VerifyError> {
    let (logged, _) = read_checkpoints(dir)?;
    let expected = verify::expectations(&logged, None, None)?;
    let walk = log::walk(dir, &expected, &mut |at| {
        each(Entry {
            seq: at.place.seq,
            segment: &at.place.segment,
            offset: at.place.offset,
            body: at.body,
        });
        Ok(())
    })?;
    Ok(walk.tree.size())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            // `from_str_radix` would take a sign.
            if !pair.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
        })
        .collect()
}
