//! No watch thread outlives its watch. A test binary of its own, so no other test's
//! watchers run in the same process while threads are counted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    reason = "tests fail by panicking"
)]

use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use acs_engine::{Engine, ReloadEvent, WatchOptions};

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

/// Every reload event of `engine` from now on.
fn reload_events(engine: &Engine) -> Receiver<ReloadEvent> {
    let (sender, events) = mpsc::channel();
    engine.on_reload(move |event| {
        let _ = sender.send(event.clone());
    });
    events
}

/// Rewrite the rules at `path` with a new rule id and wait for the watch to reload them:
/// once it has, its thread runs (and has named itself). The deadline only turns a hang
/// into a failure.
fn prove_watching(path: &Path, events: &Receiver<ReloadEvent>, id: &str) {
    std::fs::write(path, RULES.replace("id: A", &format!("id: {id}"))).unwrap();
    let event = events
        .recv_timeout(Duration::from_secs(10))
        .expect("the watch thread reloads");
    assert!(matches!(event, ReloadEvent::Loaded { .. }), "{event:?}");
}

/// Wait until no watch thread runs. No event marks a thread's end, so this one wait
/// polls, against a deadline.
fn wait_for_no_watch_thread(what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch_threads() != 0 {
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
    let events = reload_events(&engine);
    let options = WatchOptions {
        quiet: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };

    let watch = engine.watch_with(options).unwrap();
    prove_watching(&path, &events, "B");
    assert_eq!(watch_threads(), 1, "one watch, one thread");
    watch.close();
    assert_eq!(watch_threads(), 0, "close joins the thread");

    let watch = engine.watch_with(options).unwrap();
    prove_watching(&path, &events, "C");
    assert_eq!(watch_threads(), 1, "one watch, one thread");
    drop(watch);
    assert_eq!(watch_threads(), 0, "drop joins the thread");

    // The engine goes away while the handle is still held: the thread ends by itself.
    let watch = engine.watch_with(options).unwrap();
    prove_watching(&path, &events, "D");
    assert_eq!(watch_threads(), 1, "one watch, one thread");
    drop(engine);
    wait_for_no_watch_thread("a watch thread outlived its engine");
    drop(watch);
}
