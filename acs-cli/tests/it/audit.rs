//! `acs audit`: an analyst makes a log by hand, inspects it, proves a record, tampers
//! with it and sees the verdict; and a writer killed with SIGKILL mid-write loses nothing
//! it reported durable.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{acs_lib, in_dir, temp_dir, write};

/// A fixed HMAC key, so that signatures (and the snapshots that show them) are stable.
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

fn records(n: u64) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"time\": \"2026-03-0{}T10:00:00Z\", \"rule\": \"R{}\", \"verdict\": \"{}\"}}\n",
                1 + i % 5,
                i % 3,
                if i % 2 == 0 { "allow" } else { "review" }
            )
        })
        .collect()
}

#[test]
fn an_analyst_makes_inspects_proves_and_verifies_a_log() {
    let scratch = temp_dir("audit-walk");
    let dir = scratch.path();
    let key = write(dir, "audit.key", KEY).display().to_string();
    let log = in_dir(dir, "log");

    let appended = acs_lib(
        &[
            "audit",
            "append",
            &log,
            "--hmac-key",
            &key,
            "--segment-bytes",
            "400",
            "--checkpoint-every",
            "4",
        ],
        records(10).as_bytes(),
    );
    insta::assert_snapshot!("append", appended.ok());
    let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    insta::assert_snapshot!("verify", verified.ok());
    let unkeyed = acs_lib(&["audit", "verify", &log], b"");
    assert!(unkeyed
        .ok()
        .contains("signatures not checked: no key given"));

    let shown = acs_lib(&["audit", "show", &log, "--from", "7"], b"");
    insta::assert_snapshot!("show_from", shown.ok());
    let exported = acs_lib(
        &[
            "audit",
            "export",
            &log,
            "--rule",
            "R1",
            "--since",
            "2026-03-03T00:00:00Z",
        ],
        b"",
    );
    insta::assert_snapshot!("export_rule_since", exported.ok());

    let checkpoint = acs_lib(&["audit", "checkpoint", &log], b"");
    insta::assert_snapshot!("checkpoint", checkpoint.ok());
    let saved = write(dir, "saved.txt", checkpoint.ok())
        .display()
        .to_string();

    let proof = acs_lib(&["audit", "prove", &log, "3", "--checkpoint", &saved], b"");
    insta::assert_snapshot!("proof", proof.ok());
    let proof_file = write(dir, "proof.json", proof.ok()).display().to_string();
    let checked = acs_lib(
        &["audit", "verify-proof", &proof_file, "--hmac-key", &key],
        b"",
    );
    insta::assert_snapshot!("verify_proof", checked.ok());
    let changed = write(
        dir,
        "changed.json",
        &proof
            .ok()
            .replace("\"verdict\": \"review\"", "\"verdict\": \"allow\""),
    )
    .display()
    .to_string();
    let refused = acs_lib(
        &["audit", "verify-proof", &changed, "--hmac-key", &key],
        b"",
    );
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("verify_proof_refused", refused.stderr);

    // More records, then the log checked against the checkpoint saved before them.
    acs_lib(
        &["audit", "append", &log, "--hmac-key", &key],
        records(3).as_bytes(),
    )
    .ok();
    let consistent = acs_lib(
        &[
            "audit",
            "verify",
            &log,
            "--hmac-key",
            &key,
            "--checkpoint",
            &saved,
        ],
        b"",
    );
    assert!(
        consistent
            .ok()
            .ends_with("consistent with the saved checkpoint of 10 records\n"),
        "{}",
        consistent.stdout
    );

    // A changed byte in record 5.
    let segment = Path::new(&log).join("000000000005.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.windows(6).position(|w| w == b"review").unwrap();
    bytes[at] = b'R';
    std::fs::write(&segment, bytes).unwrap();
    let tampered = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    assert_eq!(tampered.code, 1);
    insta::assert_snapshot!("tampered", tampered.stderr);
    tampered.no_panic();
    // And it is not appended to.
    let refused = acs_lib(&["audit", "append", &log, "--hmac-key", &key], b"{}\n");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused
        .stderr
        .starts_with("error: the log is corrupt, not appending: "));
}

#[test]
fn closed_segments_compress_and_every_command_reads_them() {
    let scratch = temp_dir("audit-compress");
    let dir = scratch.path();
    let key = write(dir, "audit.key", KEY).display().to_string();
    let log = in_dir(dir, "log");
    let append = |n| {
        acs_lib(
            &[
                "audit",
                "append",
                &log,
                "--hmac-key",
                &key,
                "--segment-bytes",
                "400",
            ],
            records(n).as_bytes(),
        )
        .ok();
    };
    append(12);
    let exported = acs_lib(&["audit", "export", &log], b"").ok().to_owned();
    let compressed = acs_lib(&["audit", "compress", &log], b"");
    assert!(
        compressed.ok().starts_with("compressed "),
        "{}",
        compressed.stdout
    );
    assert!(!compressed.stdout.starts_with("compressed 0 "));
    let names: Vec<String> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".log.gz")), "{names:?}");
    let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    assert!(
        verified.ok().starts_with("ok: 12 records"),
        "{}",
        verified.stdout
    );
    assert_eq!(acs_lib(&["audit", "export", &log], b"").ok(), exported);
    let proof = acs_lib(&["audit", "prove", &log, "2"], b"");
    assert!(proof.ok().contains("\"seq\": 2"), "{}", proof.stdout);
    // A writer goes on after compressed segments; a later run compresses what closed.
    append(3);
    let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
    assert!(
        verified.ok().starts_with("ok: 15 records"),
        "{}",
        verified.stdout
    );
    let recent = acs_lib(&["audit", "compress", &log, "--older-than-days", "1"], b"");
    assert_eq!(
        recent.ok(),
        "compressed 0 segments: 0 bytes to 0 (0 saved)\n"
    );
}

#[test]
fn usage_errors_are_exit_2() {
    let scratch = temp_dir("audit-usage");
    let dir = scratch.path();
    let log = in_dir(dir, "log");
    let no_key = acs_lib(&["audit", "append", &log], b"{}\n");
    assert_eq!(no_key.code, 2);
    assert!(
        no_key.stderr.contains("give --key or --hmac-key"),
        "{}",
        no_key.stderr
    );
    let key = write(dir, "audit.key", KEY).display().to_string();
    let not_json = acs_lib(
        &["audit", "append", &log, "--hmac-key", &key],
        b"{}\nnope\n",
    );
    assert_eq!(not_json.code, 2);
    assert!(
        not_json.stderr.starts_with("error: line 2: not JSON"),
        "{}",
        not_json.stderr
    );
    let no_log = acs_lib(&["audit", "verify", &in_dir(dir, "absent")], b"");
    assert_eq!(no_log.code, 2, "{}", no_log.stderr);
    let generated = in_dir(dir, "new.key");
    acs_lib(&["audit", "keygen", "--hmac", &generated], b"").ok();
    assert_eq!(
        acs_lib(&["audit", "keygen", "--hmac", &generated], b"").code,
        2
    );
}

/// `acs audit append` fed without end and killed with SIGKILL at random moments: each
/// time, the log opens again (cutting a torn tail), verifies, and holds every record the
/// writer reported synced, in order.
#[test]
fn a_writer_killed_mid_write_loses_no_synced_record() {
    const KILLS: u64 = 20;
    let scratch = temp_dir("audit-kill");
    let dir = scratch.path();
    let key = write(dir, "audit.key", KEY).display().to_string();
    let log = in_dir(dir, "log");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut cut, mut injected, mut durable) = (0, 0, 0);
    for run in 0..KILLS {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_acs"))
            .args([
                "audit",
                "append",
                &log,
                "--hmac-key",
                &key,
                "--sync-every",
                "3",
                "--checkpoint-every",
                "7",
                "--segment-bytes",
                "2000",
                "--progress",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let feeding = Arc::clone(&stop);
        let feeder = std::thread::spawn(move || {
            let mut i = 0u64;
            while !feeding.load(Ordering::Relaxed) {
                let line = format!(
                    "{{\"run\": {run}, \"i\": {i}, \"pad\": \"{}\"}}\n",
                    "x".repeat((i % 50) as usize)
                );
                if stdin.write_all(line.as_bytes()).is_err() {
                    break;
                }
                i += 1;
            }
        });
        let synced = Arc::new(Mutex::new(0u64));
        let seen = Arc::clone(&synced);
        let stdout = child.stdout.take().unwrap();
        let (opened, has_opened) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(size) = line.strip_prefix("synced ") {
                    *seen.lock().unwrap() = size.parse().unwrap();
                    let _ = opened.send(());
                }
            }
        });
        // Killed only once it has opened the log (and so cut, and said so, any torn tail
        // the last run left): a kill before that would leave the count of cuts to chance.
        has_opened
            .recv_timeout(Duration::from_secs(20))
            .expect("the writer syncs within 20 s");
        std::thread::sleep(Duration::from_millis(random() % 40));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        feeder.join().unwrap();
        reader.join().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        if stderr.contains("note: cut ") {
            cut += 1;
        }
        assert!(!status.success());

        durable += u64::from(*synced.lock().unwrap() > 0);
        if run % 3 == 1 {
            // A power cut in the middle of a frame: its header and part of its body.
            let last = std::fs::read_dir(&log)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap() != "checkpoints.log")
                .max()
                .unwrap();
            let mut file = std::fs::OpenOptions::new().append(true).open(last).unwrap();
            file.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, b'{', b'"'])
                .unwrap();
            injected += 1;
        }

        // What a reopening writer sees.
        let verified = acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"");
        assert_eq!(verified.code, 0, "run {run}: {}", verified.stderr);
        let exported = acs_lib(&["audit", "export", &log], b"");
        let records: Vec<serde_json::Value> = exported
            .ok()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let synced = *synced.lock().unwrap();
        assert!(
            records.len() as u64 >= synced,
            "run {run}: {} records, {synced} reported synced",
            records.len()
        );
        // Every run's records are there from its first, in order, without a hole.
        let mut next = std::collections::HashMap::new();
        for (seq, record) in records.iter().enumerate() {
            assert_eq!(record["seq"], seq as u64);
            let expected = next.entry(record["run"].as_u64().unwrap()).or_insert(0u64);
            assert_eq!(record["i"], *expected, "run {run}, seq {seq}");
            *expected += 1;
        }
    }
    // Let the next run of the writer open the log: it cuts what the last kill left.
    let last = acs_lib(
        &["audit", "append", &log, "--hmac-key", &key],
        b"{\"end\": true}\n",
    );
    last.ok();
    if last.stderr.contains("note: cut ") {
        cut += 1;
    }
    // A SIGKILL cannot split a write(2), and the writer writes whole frames: the torn
    // tails here are the ones injected after every third kill (what a power cut leaves),
    // and the next writer cut each of them.
    assert_eq!(cut, injected);
    assert!(durable > 0, "no kill came after a sync");
    acs_lib(&["audit", "verify", &log, "--hmac-key", &key], b"").ok();
}
