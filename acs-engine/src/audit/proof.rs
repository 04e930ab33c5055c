//! Inclusion proofs of single records, for an auditor who holds a checkpoint and one
//! record but not the log: the record, the checkpoint it is proven against, and the
//! hashes of the audit path (RFC 6962 §2.1.1), in one JSON document.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canonical::canonical_json;
use super::checkpoint::{Checkpoint, CheckpointVerifier, SignatureCheck};
use super::log::walk;
use super::merkle::{inclusion_ranges, leaf_hash, verify_inclusion, Hash, Tree};
use super::verify::{expectations, read_checkpoints};
use super::AuditError;

/// A record, a checkpoint and the proof that the one is in the tree the other signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InclusionProof {
    /// The record's sequence number: its leaf index.
    pub seq: u64,
    /// The record (its canonical JSON is the leaf's content).
    pub record: Value,
    /// The checkpoint's signed note.
    pub checkpoint: String,
    /// The audit path's hashes, base64, from the leaf up.
    pub path: Vec<String>,
}

/// Why a proof does not hold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof is not in its format.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The checkpoint's signature by the key does not verify.
    #[error("the checkpoint's signature does not verify with the key: a forged checkpoint")]
    BadSignature,
    /// The checkpoint carries no signature by the key.
    #[error("the checkpoint carries no signature by the key")]
    Unsigned,
    /// The record says another sequence number than the proof.
    #[error("the record is {}, the proof is for seq {seq}", found.map_or("without a `seq`".to_owned(), |f| format!("seq {f}")))]
    Seq {
        /// The proof's.
        seq: u64,
        /// The record's.
        found: Option<u64>,
    },
    /// The path does not lead from the record to the checkpoint's root.
    #[error("record {seq} is not in the tree of {size} records the checkpoint signed: the record or the path was changed")]
    NotIncluded {
        /// The record's sequence number.
        seq: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
}

/// The inclusion proof of record `seq` of the log in `dir` against `checkpoint` (one kept
/// outside the log; it must match the log) or else the log's latest checkpoint. The log
/// is read once, front to back.
pub fn prove(
    dir: &Path,
    seq: u64,
    checkpoint: Option<&Checkpoint>,
) -> Result<InclusionProof, AuditError> {
    let (logged, _) = read_checkpoints(dir)?;
    let against = match checkpoint {
        Some(c) => c.clone(),
        None => logged
            .last()
            .map(|(_, c)| c.clone())
            .ok_or(AuditError::NoCheckpoint { seq })?,
    };
    if seq >= against.size {
        return Err(AuditError::NoCheckpoint { seq });
    }
    let expected = expectations(&logged, checkpoint, None)?;
    let ranges = inclusion_ranges(seq, against.size);
    let mut trees: Vec<Tree> = vec![Tree::new(); ranges.len()];
    let mut record = None;
    walk(dir, &expected, &mut |at| {
        let index = at.place.seq;
        if index == seq {
            record = Some(at.body.to_vec());
        }
        if let Some(i) = ranges.iter().position(|r| r.contains(&index)) {
            if let Some(tree) = trees.get_mut(i) {
                tree.push(at.leaf);
            }
        }
        Ok(())
    })?;
    let body = record.ok_or(AuditError::NoCheckpoint { seq })?;
    let record = serde_json::from_slice(&body).map_err(|e| AuditError::Record {
        message: format!("record {seq}: {e}"),
    })?;
    Ok(InclusionProof {
        seq,
        record,
        checkpoint: against.to_note(),
        path: trees.iter().map(|t| BASE64.encode(t.root())).collect(),
    })
}

/// Check `proof` without the log: the checkpoint's signature (with `key`; without one it
/// is not checked), the record's sequence number, and the path from the record's leaf to
/// the checkpoint's root. Returns the checkpoint.
pub fn verify_proof(
    proof: &InclusionProof,
    key: Option<&dyn CheckpointVerifier>,
) -> Result<Checkpoint, ProofError> {
    let checkpoint = Checkpoint::parse(&proof.checkpoint).map_err(ProofError::Malformed)?;
    if let Some(key) = key {
        match checkpoint.check(key) {
            SignatureCheck::Valid => {}
            SignatureCheck::Invalid => return Err(ProofError::BadSignature),
            SignatureCheck::Absent => return Err(ProofError::Unsigned),
        }
    }
    let found = proof.record.get("seq").and_then(Value::as_u64);
    if found != Some(proof.seq) {
        return Err(ProofError::Seq {
            seq: proof.seq,
            found,
        });
    }
    let path = proof
        .path
        .iter()
        .map(|h| {
            BASE64
                .decode(h)
                .ok()
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| ProofError::Malformed(format!("`{h}` is not a base64 hash")))
        })
        .collect::<Result<Vec<Hash>, _>>()?;
    let body = canonical_json(&proof.record).map_err(|e| ProofError::Malformed(e.to_string()))?;
    if !verify_inclusion(
        proof.seq,
        checkpoint.size,
        &leaf_hash(&body),
        &path,
        &checkpoint.root,
    ) {
        return Err(ProofError::NotIncluded {
            seq: proof.seq,
            size: checkpoint.size,
        });
    }
    Ok(checkpoint)
}
