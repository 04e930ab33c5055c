//! `acs eval --velocity redis://...`: separate processes pointed at one Redis share their
//! counts, so the shipped bundle's RF20 throttles the 21st bid change in a minute made
//! across 21 runs; without `--velocity` each run counts alone.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::acs;

const CHANGE: &str = r#"{"event": {"type": "bid.modify"}, "ctx": {"userId": "U-CLI"}, "system": {"config": {"bidModifyRateLimit": 20}}}"#;

fn matched(output: &[u8]) -> Vec<String> {
    let decision: serde_json::Value = serde_json::from_slice(output).unwrap();
    decision["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn separate_runs_share_counts_through_redis() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed: scripts/test-all installs it");
    let mut up = false;
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(up, "redis-server did not start");
    let url = format!("redis://127.0.0.1:{port}");
    let run = |shared: bool| {
        let mut command = acs();
        command.args([
            "eval",
            "--rules",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"),
        ]);
        if shared {
            command.args(["--velocity", &url, "--velocity-budget-ms", "2000"]);
        }
        let output = command.arg("-").write_stdin(CHANGE).output().unwrap();
        assert!(output.status.success());
        matched(&output.stdout)
    };
    for n in 1..=20 {
        assert!(run(true).is_empty(), "run {n}");
    }
    assert_eq!(
        run(true),
        ["RF20_BID_FLOOD_RATE_LIMIT"],
        "the 21st change in a minute"
    );
    assert!(
        run(false).is_empty(),
        "in-process counts start at 1 in each run"
    );
    let _ = server.kill();
    let _ = server.wait();
}
