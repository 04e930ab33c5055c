//! Hot reload on real files in temporary directories: every way a rules file changes in
//! production, the guarantee that a bad file never replaces a good plan, and a storm of
//! rewrites under concurrent evaluation.
//!
//! The tests wait for reload events, never for time: that something did not happen is
//! shown by ordering, by making a change that must be reloaded afterwards and checking
//! that its reload is the first (or the next) one observed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_engine::{Engine, ReloadEvent, RulesetHash, WatchOptions};
use serde_json::json;

/// A rules file with one always-matching rule whose id carries `version`.
fn rules(version: u32) -> String {
    format!(
        r#"- id: VERSION_{version}
  priority: 10
  severity: low
  description: "marks version {version}"
  condition: "true"
  action:
    - emitEvent: {{ name: "version", version: {version} }}
  audit: false
"#
    )
}

/// The same file, cut in the middle of a condition: fails to parse.
fn truncated(version: u32) -> String {
    let full = rules(version);
    full[..full.find("condition").unwrap() + 15].to_owned()
}

const BROKEN: &str = "- id: BROKEN\n  priority: [\n";

fn fast() -> WatchOptions {
    WatchOptions {
        quiet: Duration::from_millis(40),
        max_delay: Duration::from_millis(400),
    }
}

fn version_of(engine: &Engine) -> String {
    engine.evaluate(&json!({})).matched_ids().join(",")
}

/// Every reload event of `engine` from now on, in order.
fn reload_events(engine: &Engine) -> Receiver<ReloadEvent> {
    let (sender, events) = mpsc::channel();
    engine.on_reload(move |event| {
        let _ = sender.send(event.clone());
    });
    events
}

/// The next reload event. The deadline only turns a hang into a failure.
fn next_event(events: &Receiver<ReloadEvent>, what: &str) -> ReloadEvent {
    events
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no reload event while waiting for {what}"))
}

/// Wait, reload event by reload event, until `done` holds; returns the events seen.
fn wait_for(
    events: &Receiver<ReloadEvent>,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Vec<ReloadEvent> {
    let mut seen = Vec::new();
    while !done() {
        seen.push(next_event(events, what));
    }
    seen
}

/// The next reload event that is not `Unchanged` (a reload that found the same rules).
fn next_change(events: &Receiver<ReloadEvent>, what: &str) -> ReloadEvent {
    loop {
        let event = next_event(events, what);
        if !matches!(event, ReloadEvent::Unchanged { .. }) {
            return event;
        }
    }
}

/// The generation of a `Loaded` event; fails on any other event.
fn loaded(event: &ReloadEvent) -> u64 {
    match event {
        ReloadEvent::Loaded { generation, .. } => *generation,
        other => panic!("expected a new plan, got {other:?}"),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn watched_file() -> (tempfile::TempDir, PathBuf, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    write(&path, &rules(1));
    let engine = Engine::from_path(&path).unwrap();
    (dir, path, engine)
}

#[test]
fn in_place_writes_are_picked_up() {
    let (_dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    write(&path, &rules(2));
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
    assert_eq!(engine.status().generation, 2);
}

#[test]
fn a_write_caught_half_done_keeps_the_old_plan_until_complete() {
    let (_dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    write(&path, &truncated(2));
    wait_for(&events, "the failure to be reported", || {
        engine.status().last_error.is_some()
    });
    assert_eq!(version_of(&engine), "VERSION_1");
    let error = engine.status().last_error.unwrap();
    assert!(error.message.contains("rules.yaml:"), "{}", error.message);
    assert_eq!(error.generation, 1);
    write(&path, &rules(2));
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
    assert!(engine.status().last_error.is_none());
}

#[test]
fn editors_that_write_a_temp_file_and_rename_it_are_picked_up() {
    let (dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    let temp = dir.path().join(".rules.yaml.swp");
    write(&temp, &rules(2));
    std::fs::rename(&temp, &path).unwrap();
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
}

#[test]
fn delete_then_recreate_keeps_serving_then_reloads() {
    let (_dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    std::fs::remove_file(&path).unwrap();
    wait_for(&events, "the missing file to be reported", || {
        engine.status().last_error.is_some()
    });
    assert_eq!(version_of(&engine), "VERSION_1");
    write(&path, &rules(2));
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
}

#[cfg(unix)]
#[test]
fn a_kubernetes_configmap_symlink_swap_is_picked_up() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let first = root.join("..2026_11_21_12_00_00.123");
    std::fs::create_dir(&first).unwrap();
    write(&first.join("rules.yaml"), &rules(1));
    symlink("..2026_11_21_12_00_00.123", root.join("..data")).unwrap();
    symlink("..data/rules.yaml", root.join("rules.yaml")).unwrap();
    let engine = Engine::from_path(root.join("rules.yaml")).unwrap();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();

    // What kubelet's atomic writer does: new timestamped dir, new link, rename over `..data`.
    let second = root.join("..2026_11_21_12_05_00.456");
    std::fs::create_dir(&second).unwrap();
    write(&second.join("rules.yaml"), &rules(2));
    symlink("..2026_11_21_12_05_00.456", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    std::fs::remove_dir_all(&first).unwrap();
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
}

#[test]
fn a_directory_bundle_reloads_as_one_set_and_a_burst_is_one_reload() {
    let dir = tempfile::tempdir().unwrap();
    for (name, version) in [("a.yaml", 1), ("b.yaml", 2), ("c.yml", 3)] {
        write(&dir.path().join(name), &rules(version));
    }
    let engine = Engine::from_path(dir.path()).unwrap();
    assert_eq!(version_of(&engine), "VERSION_1,VERSION_2,VERSION_3");
    let events = reload_events(&engine);
    let _watch = engine
        .watch_with(WatchOptions {
            quiet: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        })
        .unwrap();

    // One file changes: the whole directory is reloaded as one rule set, in one reload.
    write(&dir.path().join("b.yaml"), &rules(20));
    assert_eq!(loaded(&next_change(&events, "b to change")), 2);
    assert_eq!(version_of(&engine), "VERSION_1,VERSION_20,VERSION_3");

    // A `git pull` touching every file: the next reload has all three, never a
    // half-updated set.
    for (name, version) in [("a.yaml", 11), ("b.yaml", 21), ("c.yml", 31)] {
        write(&dir.path().join(name), &rules(version));
    }
    assert_eq!(loaded(&next_change(&events, "all three to change")), 3);
    assert_eq!(version_of(&engine), "VERSION_11,VERSION_21,VERSION_31");

    // And it was the burst's only reload: the next one observed is a later change's.
    write(&dir.path().join("a.yaml"), &rules(12));
    assert_eq!(loaded(&next_change(&events, "a to change")), 4);
    assert_eq!(version_of(&engine), "VERSION_12,VERSION_21,VERSION_31");
}

/// Writes the files `ignored` names into `dir` while `engine` watches, then changes the
/// rules at `rules` to version 2: that change must be the first reload observed, so the
/// ignored files caused none (neither a new plan, nor a failure, nor an unchanged one).
fn check_ignored(engine: &Engine, dir: &Path, ignored: &[(&str, &str)], rules_path: &Path) {
    let events = reload_events(engine);
    let _watch = engine.watch_with(fast()).unwrap();
    for (name, text) in ignored {
        write(&dir.join(name), text);
    }
    write(rules_path, &rules(2));
    let first = next_event(&events, "the rules change");
    assert_eq!(loaded(&first), 2, "{first:?}");
    assert_eq!(version_of(engine), "VERSION_2");
}

#[test]
fn unrelated_files_in_the_directory_do_not_reload() {
    let (dir, path, engine) = watched_file();
    check_ignored(
        &engine,
        dir.path(),
        &[
            ("README.md", "notes"),
            (".rules.yaml.swp", "garbage"),
            ("other.json", "{}"),
        ],
        &path,
    );
}

#[test]
fn unrelated_files_in_a_bundle_directory_do_not_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.yaml");
    write(&path, &rules(1));
    let engine = Engine::from_path(dir.path()).unwrap();
    check_ignored(
        &engine,
        dir.path(),
        &[("README.md", "notes"), (".a.yaml.swp", "garbage")],
        &path,
    );
}

#[test]
fn reload_forces_a_rebuild_and_a_new_generation() {
    let (_dir, path, engine) = watched_file();
    let first = engine.plan();
    let second = engine.reload().unwrap();
    assert_eq!(second.generation(), 2);
    assert_eq!(first.ruleset_hash(), second.ruleset_hash());
    write(&path, BROKEN);
    let error = engine.reload().unwrap_err();
    assert!(error.to_string().contains("rules.yaml:"), "{error}");
    assert_eq!(engine.status().generation, 2);
    assert_eq!(version_of(&engine), "VERSION_1");
}

#[test]
fn a_bad_file_is_reported_through_status_and_subscribers() {
    let (_dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    write(&path, "- id: A\n  priority: 1\n  severity: hgh\n");
    let ReloadEvent::Failed(failure) = next_event(&events, "the failure") else {
        panic!("expected a failure");
    };
    assert_eq!(failure.generation, 1);
    let unknown = failure
        .diagnostics
        .iter()
        .find(|d| d.code == "ACS206")
        .unwrap();
    let location = unknown.location.as_ref().unwrap();
    assert_eq!((location.line, location.column), (3, 13));
    assert!(location.file.ends_with("rules.yaml"));
    assert_eq!(engine.status().last_error.unwrap(), failure);

    write(&path, &rules(2));
    assert!(matches!(
        next_event(&events, "the reload"),
        ReloadEvent::Loaded {
            generation: 2,
            rule_count: 1,
            ..
        }
    ));
}

#[test]
fn a_closed_or_dropped_watch_no_longer_reloads() {
    let (_dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    let watch = engine.watch_with(fast()).unwrap();
    watch.close();
    let dropped = engine.watch_with(fast()).unwrap();
    drop(dropped);
    write(&path, &rules(2));
    // A live watch started afterwards sees only what is written after it starts: its
    // reload, of version 3, must be the first observed, and the one before the next.
    let _live = engine.watch_with(fast()).unwrap();
    write(&path, &rules(3));
    let first = next_event(&events, "the live watch's reload");
    assert_eq!(loaded(&first), 2, "a closed watch reloaded: {first:?}");
    assert_eq!(version_of(&engine), "VERSION_3");
    write(&path, &rules(4));
    let second = next_event(&events, "the live watch's second reload");
    assert_eq!(loaded(&second), 3, "a closed watch reloaded: {second:?}");
    assert_eq!(version_of(&engine), "VERSION_4");
}

#[test]
fn watching_stops_when_the_engine_is_dropped() {
    let (_dir, _path, engine) = watched_file();
    let watch = engine.watch_with(fast()).unwrap();
    drop(engine);
    // The thread notices within its idle check; closing then joins it promptly.
    let started = Instant::now();
    watch.close();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn text_sources_cannot_be_watched() {
    let engine = Engine::builder().load_str("inline.yaml", rules(1)).unwrap();
    assert!(engine.watch().is_err());
}

/// Several threads evaluate without pause while the file is rewritten 1000 times,
/// alternating valid and invalid content, with the watcher and explicit reloads racing.
#[test]
fn a_reload_storm_never_fails_an_evaluation_nor_serves_a_mix_or_a_bad_plan() {
    let (_dir, path, engine) = watched_file();
    let generations: Arc<Mutex<HashMap<u64, RulesetHash>>> = Arc::new(Mutex::new(HashMap::new()));
    generations
        .lock()
        .unwrap()
        .insert(1, engine.plan().ruleset_hash());
    let sink = Arc::clone(&generations);
    engine.on_reload(move |event| {
        if let ReloadEvent::Loaded {
            generation,
            ruleset_hash,
            ..
        } = event
        {
            sink.lock().unwrap().insert(*generation, *ruleset_hash);
        }
    });
    let _watch = engine.watch_with(fast()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let evaluators: Vec<_> = (0..3)
        .map(|_| {
            let engine = engine.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut evaluations = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let decision = engine.evaluate(&json!({"event": {"type": "any"}}));
                    evaluations += 1;
                    assert!(decision.errors.is_empty(), "{:?}", decision.errors);
                    let ids = decision.matched_ids();
                    assert_eq!(ids.len(), 1, "exactly one version's rule: {ids:?}");
                    let id = ids[0];
                    assert!(!id.starts_with("INVALID"), "invalid content became active");
                    let version: u64 = id.trim_start_matches("VERSION_").parse().unwrap();
                    let emitted = &decision.matched[0].actions().next().unwrap().params["version"];
                    assert_eq!(
                        emitted,
                        &json!(version),
                        "rules and actions from different files"
                    );
                    seen.push((decision.generation, decision.ruleset_hash, version));
                }
                (seen, evaluations)
            })
        })
        .collect();

    let invalid = |version: u32| {
        format!(
            "{}- id: INVALID_{version}\n  priority: [\n",
            rules(version + 1_000_000)
        )
    };
    for round in 0..500u32 {
        let version = round + 2;
        write(&path, &rules(version));
        engine.reload().expect("a complete valid file loads");
        write(&path, &invalid(version));
        assert!(engine.reload().is_err());
    }
    stop.store(true, Ordering::Relaxed);

    let generations = generations.lock().unwrap().clone();
    let mut total = 0;
    let mut by_generation: HashMap<u64, u64> = HashMap::new();
    for evaluator in evaluators {
        let (seen, evaluations) = evaluator.join().unwrap();
        total += evaluations;
        for (generation, hash, version) in seen {
            assert_eq!(
                generations.get(&generation),
                Some(&hash),
                "decision hash is its generation's"
            );
            let first = *by_generation.entry(generation).or_insert(version);
            assert_eq!(
                first, version,
                "generation {generation} served two rule sets"
            );
        }
    }
    assert!(total > 1000, "evaluators ran {total} times");
    assert!(engine.status().generation >= 501);
    let status = engine.status();
    assert!(status.last_error.is_some(), "the last write was invalid");
}

/// A bundle directory under a parent of its own, watched: (parent, bundle path, engine).
fn watched_bundle() -> (tempfile::TempDir, PathBuf, Engine) {
    let parent = tempfile::tempdir().unwrap();
    let bundle = parent.path().join("rules");
    std::fs::create_dir(&bundle).unwrap();
    write(&bundle.join("a.yaml"), &rules(1));
    let engine = Engine::from_path(&bundle).unwrap();
    (parent, bundle, engine)
}

#[test]
fn a_bundle_directory_deleted_and_made_again_is_followed() {
    let (_parent, bundle, engine) = watched_bundle();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    // `rm -rf rules && mkdir rules && cp …`
    std::fs::remove_dir_all(&bundle).unwrap();
    std::fs::create_dir(&bundle).unwrap();
    write(&bundle.join("a.yaml"), &rules(2));
    wait_for(&events, "the new directory's rules", || {
        version_of(&engine) == "VERSION_2"
    });
    // The watch is on the new directory: a later edit is served too.
    write(&bundle.join("a.yaml"), &rules(3));
    wait_for(&events, "an edit in the new directory", || {
        version_of(&engine) == "VERSION_3"
    });
}

#[test]
fn a_bundle_directory_swapped_for_another_is_followed() {
    let (parent, bundle, engine) = watched_bundle();
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    // `mv rules rules.old && mv rules.new rules`
    let new = parent.path().join("rules.new");
    std::fs::create_dir(&new).unwrap();
    write(&new.join("a.yaml"), &rules(2));
    std::fs::rename(&bundle, parent.path().join("rules.old")).unwrap();
    std::fs::rename(&new, &bundle).unwrap();
    wait_for(&events, "the swapped-in directory's rules", || {
        version_of(&engine) == "VERSION_2"
    });
    // Edits to the old directory no longer count; edits to the new one do.
    write(&parent.path().join("rules.old").join("a.yaml"), &rules(9));
    write(&bundle.join("a.yaml"), &rules(3));
    wait_for(&events, "an edit in the swapped-in directory", || {
        version_of(&engine) == "VERSION_3"
    });
}

#[test]
fn a_panicking_subscriber_does_not_stop_the_watch() {
    let (_dir, path, engine) = watched_file();
    engine.on_reload(|_| panic!("a host's subscriber fails"));
    let events = reload_events(&engine);
    let _watch = engine.watch_with(fast()).unwrap();
    write(&path, &rules(2));
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
    write(&path, &rules(3));
    wait_for(&events, "version 3, after the panic", || {
        version_of(&engine) == "VERSION_3"
    });
    assert!(engine.status().subscriber_failures >= 2);
    let watch = engine.status().watch.unwrap();
    assert!(watch.alive, "{watch:?}");
}

#[test]
fn the_watcher_reports_its_health() {
    let (_dir, path, engine) = watched_file();
    assert_eq!(engine.status().watch, None);
    assert_eq!(engine.metrics().watch_alive, None);
    let events = reload_events(&engine);
    let watch = engine.watch_with(fast()).unwrap();
    let running = engine.status().watch.unwrap();
    assert!(
        running.alive && running.stopped_because.is_none(),
        "{running:?}"
    );
    write(&path, &rules(2));
    wait_for(&events, "version 2", || version_of(&engine) == "VERSION_2");
    let after = engine.status().watch.unwrap();
    assert!(after.last_event_at.is_some(), "{after:?}");
    let text = engine.metrics().to_prometheus();
    assert!(text.contains("acs_watch_alive 1"), "{text}");
    assert!(
        text.contains("acs_watch_last_event_timestamp_seconds "),
        "{text}"
    );
    watch.close();
    let closed = engine.status().watch.unwrap();
    assert!(
        !closed.alive && closed.stopped_because.is_none(),
        "{closed:?}"
    );
    assert_eq!(engine.metrics().watch_alive, Some(false));
}

#[test]
fn changes_to_ignored_files_do_not_hold_back_a_reload() {
    let (dir, path, engine) = watched_file();
    let events = reload_events(&engine);
    // A long `max_delay`: if ignored changes restarted the quiet period, the reload would
    // wait for all of it, and the deadline below would fail the test first.
    let _watch = engine
        .watch_with(WatchOptions {
            quiet: Duration::from_millis(40),
            max_delay: Duration::from_secs(120),
        })
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let stop = Arc::clone(&stop);
        let log = dir.path().join("service.log");
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let _ = std::fs::write(&log, n.to_string());
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    write(&path, &rules(2));
    let event = next_event(&events, "version 2 while another file keeps changing");
    stop.store(true, Ordering::Relaxed);
    noise.join().unwrap();
    assert_eq!(loaded(&event), 2);
}
