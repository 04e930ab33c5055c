//! No watch thread outlives its watch. A test binary of its own, so no other test's
//! watchers run in the same process while threads are counted.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step should stop the test"
)]

use std::time::{Duration, Instant};

use acs_engine::{Engine, WatchOptions};

fn watch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim() == "acs-rules-watch")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Wait until `want` watch threads run (a new thread names itself once it starts).
fn wait_for_watch_threads(want: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch_threads() != want {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const RULES: &str = "- id: A\n  priority: 1\n  severity: low\n  description: d\n  condition: \"true\"\n  action: []\n  audit: false\n";

#[cfg(target_os = "linux")]
#[test]
fn watch_threads_end_with_the_handle_or_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let engine = Engine::from_path(&path).unwrap();
    let options = WatchOptions::default();

    let watch = engine.watch_with(options).unwrap();
    wait_for_watch_threads(1, "the watch thread starts");
    watch.close();
    assert_eq!(watch_threads(), 0, "close joins the thread");

    let watch = engine.watch_with(options).unwrap();
    wait_for_watch_threads(1, "the watch thread starts");
    drop(watch);
    assert_eq!(watch_threads(), 0, "drop joins the thread");

    // The engine goes away while the handle is still held: the thread ends by itself.
    let watch = engine.watch_with(options).unwrap();
    wait_for_watch_threads(1, "the watch thread starts");
    drop(engine);
    wait_for_watch_threads(0, "a watch thread outlived its engine");
    drop(watch);
}
