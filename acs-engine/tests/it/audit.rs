//! The audit log end to end: written by `Writer`, tampered with in each way a record or
//! a checkpoint can be, and the exact verdict `verify` gives; torn tails cut at every
//! byte; rotation; proofs; compressed segments.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_engine::audit::{
    self, prove, verify, verify_proof, AuditError, Checkpoint, CheckpointVerifier, HmacKey,
    ProofError, VerifyError, Writer, WriterOptions, CHECKPOINTS_FILE,
};
use serde_json::json;
use tempfile::TempDir;

fn key() -> HmacKey {
    HmacKey::new(vec![42u8; 32]).unwrap()
}

/// An empty scratch directory, removed when the guard drops (a test that panics too).
fn temp_dir(label: &str) -> TempDir {
    crate::support::scratch(&format!("audit-{label}"))
}

fn options() -> WriterOptions {
    let mut options = WriterOptions::default();
    options.origin = "test.example/audit".to_owned();
    options.segment_bytes = 500;
    options.checkpoint_records = 10;
    options.checkpoint_interval = None;
    options
}

/// A log of `n` records in segments of about ten, a checkpoint every ten records and
/// one at the end.
fn log(label: &str, n: u64) -> TempDir {
    let dir = temp_dir(label);
    let (mut writer, report) = Writer::open(dir.path(), options(), Box::new(key())).unwrap();
    assert_eq!(report.records, 0);
    for i in 0..n {
        let seq = writer
            .append(json!({"rule": format!("R{}", i % 3), "n": i, "pad": "abcdefgh"}))
            .unwrap();
        assert_eq!(seq, i);
        writer.maybe_checkpoint(Instant::now()).unwrap();
    }
    writer.checkpoint().unwrap();
    dir
}

/// The frames of a segment: (offset, length with header).
fn frames(path: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let length = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, 8 + length));
        at += 8 + length;
    }
    out
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != CHECKPOINTS_FILE && n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

/// The segment holding record `seq`, and the offset and length of its frame.
fn locate(dir: &Path, seq: u64) -> (String, usize, usize) {
    let mut first = 0u64;
    for name in segments(dir) {
        let frames = frames(&dir.join(&name));
        if seq < first + frames.len() as u64 {
            let (offset, length) = frames[(seq - first) as usize];
            return (name, offset, length);
        }
        first += frames.len() as u64;
    }
    panic!("no record {seq}");
}

fn verdict(dir: &Path) -> String {
    match verify(dir, Some(&key() as &dyn CheckpointVerifier), None) {
        Ok(report) => format!("ok: {} records", report.records),
        Err(e) => e.to_string(),
    }
}

fn edit(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    change(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_sound_log_verifies_with_its_checkpoints_and_signatures() {
    let scratch = log("sound", 45);
    let dir = scratch.path();
    let report = verify(dir, Some(&key()), None).unwrap();
    assert_eq!(report.records, 45);
    assert!(report.segments >= 4, "{report:?}");
    assert_eq!(report.checkpoints, 5);
    assert!(report.signatures_checked);
    assert_eq!(report.unsigned_records, 0);
    assert_eq!(report.torn_tail, None);
    let latest = report.latest.unwrap();
    assert_eq!(latest.size, 45);
    assert_eq!(latest.root, report.root);
    // Every segment is named for its first record.
    let mut first = 0;
    for name in segments(dir) {
        assert_eq!(name, format!("{first:012}.log"));
        first += frames(&dir.join(&name)).len() as u64;
    }
    // A bundle key pair signs and verifies checkpoints too.
    let private = acs_engine::bundle::PrivateKey::generate().unwrap();
    let public = private.public_key();
    let ed_scratch = temp_dir("ed25519");
    let ed = ed_scratch.path();
    let (mut writer, _) = Writer::open(ed, options(), Box::new(private)).unwrap();
    writer.append(json!({"a": 1})).unwrap();
    let checkpoint = writer.checkpoint().unwrap();
    assert!(checkpoint.to_note().contains("\n\n\u{2014} acs-audit "));
    verify(ed, Some(&public), None).unwrap();
    assert_eq!(
        verify(ed, Some(&key()), None).unwrap_err().to_string(),
        "the checkpoint at offset 0 of checkpoints.log (tree size 1) carries no signature by the key: a forged checkpoint, or another key"
    );
}

#[test]
fn a_changed_byte_is_a_checksum_mismatch_at_its_record() {
    let scratch = log("byte", 45);
    let dir = scratch.path();
    let (segment, offset, _) = locate(dir, 23);
    edit(&dir.join(&segment), |b| b[offset + 12] ^= 0x01);
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {offset} (seq 23): checksum mismatch: the record's bytes were changed")
    );
}

#[test]
fn a_changed_record_with_its_checksum_redone_fails_the_checkpoint_that_covers_it() {
    let scratch = log("rewritten", 45);
    let dir = scratch.path();
    let (segment, offset, length) = locate(dir, 23);
    let (first, first_offset, _) = locate(dir, 20);
    let (end, end_offset, _) = locate(dir, 29);
    edit(&dir.join(&segment), |b| {
        let body = &mut b[offset + 8..offset + length];
        let at = body.windows(3).position(|w| w == b"R2\"").unwrap();
        body[at + 1] = b'1';
        let crc = crc32c(&b[offset + 8..offset + length]);
        b[offset + 4..offset + 8].copy_from_slice(&crc.to_le_bytes());
    });
    let checkpoints = audit::read_checkpoints(dir).unwrap().0;
    let (cp_offset, _) = checkpoints.iter().find(|(_, c)| c.size == 30).unwrap();
    assert_eq!(
        verdict(dir),
        format!("the first 30 records do not have the root signed in the checkpoint at offset {cp_offset} of checkpoints.log: records 20 to 29 (from {first}, offset {first_offset} to {end}, offset {end_offset}) were changed or replaced since it was signed, or the checkpoint is forged")
    );
}

/// CRC-32C, bit by bit: the test's own, to forge frames with.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn deleted_inserted_reordered_and_duplicated_records_are_named() {
    // Deleted.
    let scratch = log("deleted", 45);
    let dir = scratch.path();
    let (segment, offset, length) = locate(dir, 23);
    edit(&dir.join(&segment), |b| {
        b.drain(offset..offset + length);
    });
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {offset} (seq 23): found seq 24 where seq 23 was expected: record 23 is missing (deleted, or moved later)")
    );

    // Inserted: a copy of an earlier record put in after record 23.
    let scratch = log("inserted", 45);
    let dir = scratch.path();
    let (segment, offset, length) = locate(dir, 23);
    let (other, o_offset, o_length) = locate(dir, 3);
    let copy = std::fs::read(dir.join(&other)).unwrap()[o_offset..o_offset + o_length].to_vec();
    edit(&dir.join(&segment), |b| {
        b.splice(offset + length..offset + length, copy);
    });
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {} (seq 24): found seq 3 again where seq 24 was expected (a duplicated, inserted or moved record)", offset + length)
    );

    // Reordered: records 23 and 24 swapped (same segment).
    let scratch = log("reordered", 45);
    let dir = scratch.path();
    let (segment, offset, length) = locate(dir, 23);
    let (segment_b, _, length_b) = locate(dir, 24);
    assert_eq!(segment, segment_b);
    edit(&dir.join(&segment), |b| {
        let first = b[offset..offset + length].to_vec();
        let second = b[offset + length..offset + length + length_b].to_vec();
        b.splice(
            offset..offset + length + length_b,
            second.into_iter().chain(first),
        );
    });
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {offset} (seq 23): found seq 24 where seq 23 was expected: record 23 is missing (deleted, or moved later)")
    );

    // Duplicated: record 23 twice.
    let scratch = log("duplicated", 45);
    let dir = scratch.path();
    let (segment, offset, length) = locate(dir, 23);
    edit(&dir.join(&segment), |b| {
        let copy = b[offset..offset + length].to_vec();
        b.splice(offset + length..offset + length, copy);
    });
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {} (seq 24): found seq 23 again where seq 24 was expected (a duplicated, inserted or moved record)", offset + length)
    );
}

#[test]
fn a_truncated_log_a_deleted_segment_and_a_replaced_segment_are_named() {
    // Truncated: the last segment gone, the checkpoints kept.
    let scratch = log("truncated", 45);
    let dir = scratch.path();
    let names = segments(dir);
    let last = names.last().unwrap();
    std::fs::remove_file(dir.join(last)).unwrap();
    let kept: u64 = last.trim_end_matches(".log").parse().unwrap();
    let (before, before_offset, _) = locate(dir, kept - 1);
    let checkpoints = audit::read_checkpoints(dir).unwrap().0;
    let (cp_offset, _) = checkpoints.iter().find(|(_, c)| c.size > kept).unwrap();
    let size = checkpoints
        .iter()
        .find(|(_, c)| c.size > kept)
        .unwrap()
        .1
        .size;
    assert_eq!(
        verdict(dir),
        format!("the log was truncated: the checkpoint at offset {cp_offset} of checkpoints.log covers {size} records but the log holds {kept} (its last record is at {before}, offset {before_offset} (seq {}))", kept - 1)
    );

    // A segment in the middle deleted.
    let scratch = log("gap", 45);
    let dir = scratch.path();
    let names = segments(dir);
    std::fs::remove_file(dir.join(&names[1])).unwrap();
    let missing_from: u64 = names[1].trim_end_matches(".log").parse().unwrap();
    let next: u64 = names[2].trim_end_matches(".log").parse().unwrap();
    assert_eq!(
        verdict(dir),
        format!("{}, offset 0 (seq {missing_from}): found seq {next} where seq {missing_from} was expected: records {missing_from} to {} are missing (deleted, or moved later)", names[2], next - 1)
    );

    // A segment replaced by one written anew with other records, numbered right.
    let scratch = log("replaced", 45);
    let dir = scratch.path();
    let other_scratch = temp_dir("replacement");
    let other = other_scratch.path();
    let (mut writer, _) = Writer::open(other, options(), Box::new(key())).unwrap();
    for i in 0..45u64 {
        writer
            .append(json!({"rule": format!("R{}", (i + 1) % 3), "n": i, "pad": "abcdefgh"}))
            .unwrap();
    }
    writer.sync().unwrap();
    let names = segments(dir);
    let replaced = &names[2];
    assert!(
        segments(other).contains(replaced),
        "segments differ in size"
    );
    std::fs::copy(other.join(replaced), dir.join(replaced)).unwrap();
    let report = verify(dir, Some(&key()), None);
    let message = report.unwrap_err().to_string();
    assert!(
        message.starts_with("the first ") && message.contains(&format!(" to {replaced}, offset ")),
        "{message}"
    );
}

#[test]
fn forged_checkpoints_are_caught() {
    // One altered after signing: its signature no longer verifies.
    let scratch = log("forged", 25);
    let dir = scratch.path();
    let (logged, _) = audit::read_checkpoints(dir).unwrap();
    let (offset, checkpoint) = logged[1].clone();
    let mut forged = checkpoint.clone();
    forged.root = [9u8; 32];
    let frames_before = std::fs::read(dir.join(CHECKPOINTS_FILE)).unwrap();
    let mut rewritten = frames_before[..offset as usize].to_vec();
    for (_, c) in std::iter::once((0, forged.clone())).chain(logged[2..].iter().cloned()) {
        let note = c.to_note();
        rewritten.extend_from_slice(&(note.len() as u32).to_le_bytes());
        rewritten.extend_from_slice(&crc32c(note.as_bytes()).to_le_bytes());
        rewritten.extend_from_slice(note.as_bytes());
    }
    std::fs::write(dir.join(CHECKPOINTS_FILE), &rewritten).unwrap();
    assert_eq!(
        verdict(dir),
        format!("the checkpoint at offset {offset} of checkpoints.log (tree size 20): its signature does not verify with the key: a forged or altered checkpoint")
    );
    // Without the key, its root still does not match the records.
    let message = verify(dir, None, None).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("the first 20 records do not have the root signed in the checkpoint at offset {offset} of checkpoints.log: records 10 to 19")),
        "{message}"
    );

    // One signed with another key.
    let mut other = Checkpoint::new(&checkpoint.origin, checkpoint.size, checkpoint.root);
    other.sign("acs-audit", &HmacKey::new(vec![1u8; 32]).unwrap());
    assert!(matches!(
        verify(log("other-key", 25).path(), Some(&key()), Some(&other)),
        Err(VerifyError::Unsigned { .. })
    ));
}

#[test]
fn a_saved_checkpoint_catches_a_log_that_shrank_or_forked() {
    let scratch = log("saved", 45);
    let dir = scratch.path();
    let saved = verify(dir, None, None).unwrap().latest.unwrap();
    assert!(verify(dir, Some(&key()), Some(&saved)).is_ok());

    // Shrunk: the last segment and the checkpoints covering it are gone.
    let names = segments(dir);
    let last = names.last().unwrap();
    let kept: u64 = last.trim_end_matches(".log").parse().unwrap();
    std::fs::remove_file(dir.join(last)).unwrap();
    let (logged, _) = audit::read_checkpoints(dir).unwrap();
    let keep = logged.iter().find(|(_, c)| c.size > kept).unwrap().0;
    edit(&dir.join(CHECKPOINTS_FILE), |b| b.truncate(keep as usize));
    assert!(verify(dir, Some(&key()), None).is_ok());
    let message = verify(dir, Some(&key()), Some(&saved))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "the log has shrunk: the saved checkpoint covers 45 records but the log holds {kept}"
        )),
        "{message}"
    );

    // Forked: another log of the same length, signed with the same key.
    let scratch = temp_dir("fork");
    let dir = scratch.path();
    let (mut writer, _) = Writer::open(dir, options(), Box::new(key())).unwrap();
    for i in 0..45u64 {
        writer.append(json!({"n": i, "forked": true})).unwrap();
    }
    writer.checkpoint().unwrap();
    let (last, last_offset, _) = locate(dir, 44);
    let message = verify(dir, Some(&key()), Some(&saved))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!("the log has forked from the saved checkpoint: its first 45 records do not have the saved root; records 0 to 44 (from 000000000000.log, offset 0 to {last}, offset {last_offset}) were rewritten since")),
        "{message}"
    );
}

#[test]
fn a_torn_tail_cut_at_any_byte_is_recovered_and_the_log_goes_on() {
    let scratch = log("torn-source", 12);
    let dir = scratch.path();
    // Records 10 and 11 after the checkpoint at 10 ... but the writer signed one at 12 at
    // the end: drop it so the last record is not covered.
    let (logged, _) = audit::read_checkpoints(dir).unwrap();
    let last_offset = logged.last().unwrap().0;
    edit(&dir.join(CHECKPOINTS_FILE), |b| {
        b.truncate(last_offset as usize)
    });
    let (segment, offset, length) = locate(dir, 11);
    for cut in 1..length {
        let copy_scratch = temp_dir("torn");
        let copy = copy_scratch.path();
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
        edit(&copy.join(&segment), |b| b.truncate(offset + cut));
        let report = verify(copy, Some(&key()), None).unwrap();
        assert_eq!(report.records, 11);
        let torn = report.torn_tail.unwrap();
        assert_eq!(
            (torn.offset, torn.seq, torn.bytes_cut),
            (offset as u64, 11, cut as u64)
        );

        let (mut writer, opened) = Writer::open(copy, options(), Box::new(key())).unwrap();
        let cut_off = opened.torn_tail.unwrap();
        assert_eq!(
            cut_off.to_string(),
            format!(
                "{segment}, offset {offset} (seq 11): a torn tail of {cut} bytes ({})",
                cut_off.problem
            )
        );
        assert_eq!(writer.append(json!({"after": "crash"})).unwrap(), 11);
        writer.checkpoint().unwrap();
        let report = verify(copy, Some(&key()), None).unwrap();
        assert_eq!((report.records, report.torn_tail), (12, None));
    }

    // Zeros after the last frame (a file extended by a crash) are a torn tail too.
    edit(&dir.join(&segment), |b| b.extend_from_slice(&[0u8; 100]));
    let (_, opened) = Writer::open(dir, options(), Box::new(key())).unwrap();
    assert_eq!(opened.torn_tail.unwrap().bytes_cut, 100);
    assert_eq!(verify(dir, Some(&key()), None).unwrap().records, 12);
}

#[test]
fn damage_before_the_end_or_under_a_checkpoint_is_corruption_and_not_appended_to() {
    // A bad checksum in the middle.
    let scratch = log("middle", 25);
    let dir = scratch.path();
    let (segment, offset, _) = locate(dir, 5);
    edit(&dir.join(&segment), |b| b[offset + 10] ^= 0x20);
    let error = Writer::open(dir, options(), Box::new(key())).unwrap_err();
    assert!(
        matches!(error, AuditError::Corrupt(VerifyError::Frame { .. })),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!("the log is corrupt, not appending: {segment}, offset {offset} (seq 5): checksum mismatch: the record's bytes were changed")
    );

    // The last record, covered by a checkpoint: not a torn tail.
    let scratch = log("covered", 25);
    let dir = scratch.path();
    let (segment, offset, length) = locate(dir, 24);
    edit(&dir.join(&segment), |b| b.truncate(offset + length - 1));
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {offset} (seq 24): a frame of {} bytes of which only {} are present: the file was cut or damaged here", length - 8, length - 9)
    );
    assert!(Writer::open(dir, options(), Box::new(key())).is_err());

    // A huge length in a frame header is refused, not allocated.
    let scratch = log("huge", 5);
    let dir = scratch.path();
    let (segment, offset, _) = locate(dir, 2);
    edit(&dir.join(&segment), |b| {
        b[offset..offset + 4].copy_from_slice(&u32::MAX.to_le_bytes())
    });
    assert_eq!(
        verdict(dir),
        format!("{segment}, offset {offset} (seq 2): a frame length of 4294967295 bytes, above the limit of 16777216: the file was cut or damaged here")
    );
}

#[test]
fn segments_rotate_by_age_and_checkpoints_by_time_and_are_published() {
    let scratch = temp_dir("rotate");
    let dir = scratch.path();
    let mut options = options();
    options.segment_bytes = 1 << 20;
    options.segment_age = Some(Duration::ZERO);
    options.checkpoint_records = 0;
    options.checkpoint_interval = Some(Duration::from_millis(50));
    let published = Arc::new(Mutex::new(Vec::new()));
    let (mut writer, _) = Writer::open(dir, options.clone(), Box::new(key())).unwrap();
    let sink = Arc::clone(&published);
    writer.on_checkpoint(move |c| sink.lock().unwrap().push(c.size));
    let start = Instant::now();
    for i in 0..3 {
        writer.append(json!({"i": i})).unwrap();
    }
    assert!(writer.maybe_checkpoint(start).unwrap().is_none());
    let checkpoint = writer
        .maybe_checkpoint(start + Duration::from_millis(60))
        .unwrap()
        .unwrap();
    assert_eq!(checkpoint.size, 3);
    assert_eq!(*published.lock().unwrap(), [3]);
    assert_eq!(segments(dir).len(), 3);
    // Reopened, it appends after what is there.
    drop(writer);
    let (mut writer, report) = Writer::open(dir, options, Box::new(key())).unwrap();
    assert_eq!(report.records, 3);
    assert_eq!(writer.append(json!({"i": 3})).unwrap(), 3);
    writer.sync().unwrap();
    let report = verify(dir, Some(&key()), None).unwrap();
    assert_eq!((report.records, report.unsigned_records), (4, 1));
    // The writer owns `seq`; a record is an object.
    assert!(writer.append(json!({"seq": 9})).is_err());
    assert!(writer.append(json!([1])).is_err());
}

#[test]
fn inclusion_proofs_round_trip_and_fail_when_anything_changes() {
    let scratch = log("proofs", 37);
    let dir = scratch.path();
    for seq in 0..37 {
        let proof = prove(dir, seq, None).unwrap();
        let checkpoint = verify_proof(&proof, Some(&key())).unwrap();
        assert_eq!(checkpoint.size, 37);
        assert_eq!(proof.record["n"], seq);
    }
    let mut proof = prove(dir, 17, None).unwrap();
    assert!(matches!(
        verify_proof(&proof, Some(&HmacKey::new(vec![3u8; 32]).unwrap())),
        Err(ProofError::Unsigned)
    ));
    proof.record["rule"] = json!("R9");
    assert_eq!(
        verify_proof(&proof, Some(&key())).unwrap_err().to_string(),
        "record 17 is not in the tree of 37 records the checkpoint signed: the record or the path was changed"
    );
    // Against an older checkpoint, kept outside the log.
    let (logged, _) = audit::read_checkpoints(dir).unwrap();
    let old = &logged[1].1;
    let proof = prove(dir, 12, Some(old)).unwrap();
    assert_eq!(verify_proof(&proof, Some(&key())).unwrap().size, 20);
    assert!(matches!(
        prove(dir, 25, Some(old)),
        Err(AuditError::NoCheckpoint { seq: 25 })
    ));
    // The JSON form round-trips.
    let text = serde_json::to_string(&proof).unwrap();
    let again: audit::InclusionProof = serde_json::from_str(&text).unwrap();
    assert!(verify_proof(&again, None).is_ok());
}

#[test]
fn read_hands_over_every_record_in_order() {
    let scratch = log("read", 23);
    let dir = scratch.path();
    let mut seen = Vec::new();
    let count = audit::read(dir, &mut |entry| {
        let record: serde_json::Value = serde_json::from_slice(entry.body).unwrap();
        assert_eq!(record["seq"], entry.seq);
        seen.push(entry.seq);
    })
    .unwrap();
    assert_eq!(count, 23);
    assert_eq!(seen, (0..23).collect::<Vec<_>>());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn all_records(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    audit::read(dir, &mut |entry| {
        out.push(serde_json::from_slice(entry.body).unwrap())
    })
    .unwrap();
    out
}

fn compressed(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log.gz"))
        .collect();
    names.sort();
    names
}

#[test]
fn closed_segments_compress_and_the_log_reads_verifies_proves_and_goes_on() {
    let scratch = log("compress", 60);
    let dir = scratch.path();
    let before = all_records(dir);
    let plain = segments(dir);
    assert!(plain.len() > 3, "{plain:?}");
    let report = audit::compress(dir, None).unwrap();
    // Every segment but the last, the writer's.
    assert_eq!(report.segments, plain[..plain.len() - 1]);
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    assert_eq!(segments(dir), [plain.last().unwrap().clone()]);
    assert_eq!(compressed(dir).len(), plain.len() - 1);
    assert_eq!(verdict(dir), "ok: 60 records");
    assert_eq!(all_records(dir), before);
    // A record in a compressed segment proves against the latest checkpoint.
    let proof = prove(dir, 3, None).unwrap();
    verify_proof(&proof, Some(&key())).unwrap();
    // Nothing more to do until another segment closes; an age filter holds back new ones.
    assert!(audit::compress(dir, None).unwrap().segments.is_empty());
    let (mut writer, opened) = Writer::open(dir, options(), Box::new(key())).unwrap();
    assert_eq!(opened.records, 60);
    for i in 60..90 {
        assert_eq!(
            writer.append(json!({"n": i, "pad": "abcdefgh"})).unwrap(),
            i
        );
    }
    writer.checkpoint().unwrap();
    drop(writer);
    assert!(audit::compress(dir, Some(Duration::from_secs(3600)))
        .unwrap()
        .segments
        .is_empty());
    assert!(!audit::compress(dir, None).unwrap().segments.is_empty());
    assert_eq!(verdict(dir), "ok: 90 records");
    // Even the last segment compressed by hand: a writer starts a new one after it.
    let last = segments(dir).pop().unwrap();
    let bytes = std::fs::read(dir.join(&last)).unwrap();
    std::fs::write(dir.join(format!("{last}.gz")), gzip(&bytes)).unwrap();
    std::fs::remove_file(dir.join(&last)).unwrap();
    assert_eq!(verdict(dir), "ok: 90 records");
    let (mut writer, _) = Writer::open(dir, options(), Box::new(key())).unwrap();
    assert_eq!(writer.append(json!({"n": 90})).unwrap(), 90);
    writer.checkpoint().unwrap();
    drop(writer);
    assert_eq!(verdict(dir), "ok: 91 records");
}

#[test]
fn a_changed_byte_inside_a_compressed_segment_is_named_like_any_other() {
    let scratch = log("compress-tamper", 40);
    let dir = scratch.path();
    let (name, offset, _) = locate(dir, 14);
    audit::compress(dir, None).unwrap();
    let gz = dir.join(format!("{name}.gz"));
    let mut bytes = gunzip(&std::fs::read(&gz).unwrap());
    bytes[offset + 20] ^= 1;
    std::fs::write(&gz, gzip(&bytes)).unwrap();
    let found = verdict(dir);
    assert!(found.contains(&format!("{name}.gz")), "{found}");
    assert!(found.contains(&format!("offset {offset}")), "{found}");
    assert!(found.contains("seq 14"), "{found}");
    // A file that is not gzip at all is an I/O error naming it, not a panic.
    std::fs::write(&gz, b"not gzip").unwrap();
    let broken = verdict(dir);
    assert!(broken.contains(&format!("{name}.gz")), "{broken}");
}

#[test]
fn a_compression_cut_short_anywhere_leaves_a_log_that_verifies() {
    let scratch = log("compress-crash", 40);
    let dir = scratch.path();
    let first = segments(dir)[0].clone();
    let original = std::fs::read(dir.join(&first)).unwrap();
    // Cut short while writing the compressed copy: a half-written `.tmp` beside it.
    std::fs::write(dir.join(format!("{first}.gz.tmp")), &gzip(&original)[..10]).unwrap();
    assert_eq!(verdict(dir), "ok: 40 records");
    // Cut short after the rename, before the original was removed: both are there, and
    // the original is what is read (a damaged copy would not be noticed, nor matter).
    let mut damaged = original.clone();
    damaged[30] ^= 1;
    std::fs::write(dir.join(format!("{first}.gz")), gzip(&damaged)).unwrap();
    assert_eq!(verdict(dir), "ok: 40 records");
    // Running compress again finishes the job: the copy redone, the leftovers gone.
    let report = audit::compress(dir, None).unwrap();
    assert!(report.segments.contains(&first));
    assert!(!dir.join(&first).exists());
    assert!(!dir.join(format!("{first}.gz.tmp")).exists());
    assert_eq!(
        gunzip(&std::fs::read(dir.join(format!("{first}.gz"))).unwrap()),
        original
    );
    assert_eq!(verdict(dir), "ok: 40 records");
}
