//! Snapshots of the rendered diagnostics for each load error code: one fixture file per
//! code in `tests/load_errors/`, one snapshot each.

use std::path::Path;

use acs_engine::{Engine, Functions, Limits, LoadError};

use crate::support::rule_line;

fn render(file: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/load_errors");
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let functions = Functions::new()
        .with("db.count.trucksByOperator", |_: &[&serde_json::Value]| {
            Ok(12.into())
        });
    match Engine::builder()
        .functions(functions)
        .load_str(format!("rules/{file}"), text)
    {
        Ok(engine) => {
            let warnings: Vec<String> = engine
                .plan()
                .warnings()
                .iter()
                .map(ToString::to_string)
                .collect();
            format!("loaded with warnings:\n\n{}", warnings.join("\n\n"))
        }
        Err(error) => error.to_string(),
    }
}

macro_rules! snapshot_tests {
    ($($name:ident => $file:literal,)*) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), render($file));
        }
    )*};
}

snapshot_tests! {
    acs101_condition_syntax => "acs101_condition_syntax.yaml",
    acs102_template_syntax => "acs102_template_syntax.yaml",
    acs201_yaml_syntax => "acs201_yaml_syntax.yaml",
    acs202_duplicate_key => "acs202_duplicate_key.yaml",
    acs203_not_a_list => "acs203_not_a_list.yaml",
    acs203_empty_file => "acs203_empty_file.yaml",
    acs204_unknown_key => "acs204_unknown_key.yaml",
    acs205_wrong_type => "acs205_wrong_type.yaml",
    acs206_severity => "acs206_severity.yaml",
    acs207_action_shape => "acs207_action_shape.yaml",
    acs208_missing_key => "acs208_missing_key.yaml",
    acs209_duplicate_id => "acs209_duplicate_id.yaml",
    acs210_mode => "acs210_mode.yaml",
    acs301_unclosed_template => "acs301_unclosed_template.yaml",
    acs302_builtin_arity => "acs302_builtin_arity.yaml",
    acs303_regex => "acs303_regex.yaml",
    acs401_unregistered_function => "acs401_unregistered_function.yaml",
    multiline_condition => "multiline_condition.yaml",
}

#[test]
fn io_errors_name_the_path() {
    let error = Engine::from_path("/nonexistent/rules.yaml").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot read `/nonexistent/rules.yaml`"),
        "{error}"
    );
}

#[test]
fn a_missing_rules_file_is_told_apart_as_not_found() {
    let error = Engine::from_path("/nonexistent/rules.yaml").unwrap_err();
    assert_eq!(error.io_kind(), Some(std::io::ErrorKind::NotFound));
    let source = std::error::Error::source(&error).expect("the system's error is the source");
    let io = source.downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // Errors that are not the system's carry no kind.
    let invalid = Engine::builder()
        .load_str("rules.yaml", "- id: [")
        .unwrap_err();
    assert_eq!(invalid.io_kind(), None);
}

#[test]
fn an_empty_directory_is_an_error_not_an_empty_rule_set() {
    let scratch = crate::support::scratch("empty");
    let error = Engine::from_path(scratch.path()).unwrap_err();
    assert!(
        error.to_string().contains("holds no `*.yaml` rules files"),
        "{error}"
    );
}

#[test]
fn ids_are_unique_across_the_files_of_a_bundle_directory() {
    let scratch = crate::support::scratch("dup-ids");
    let dir = scratch.path();
    let rule = |priority: u32| {
        format!(
            "- id: SAME\n  priority: {priority}\n  severity: low\n  description: d\n  condition: \"true\"\n  action: []\n  audit: false\n"
        )
    };
    std::fs::write(dir.join("a.yaml"), rule(1)).unwrap();
    std::fs::write(dir.join("b.yaml"), rule(2)).unwrap();
    let error = Engine::from_path(dir).unwrap_err().to_string();
    assert!(
        error.contains("error[ACS209]: duplicate rule id `SAME`"),
        "{error}"
    );
    assert!(
        error.contains("b.yaml:1:7"),
        "the second file is named: {error}"
    );
    assert!(
        error.contains("a.yaml:1:7"),
        "the first definition is named: {error}"
    );
}

#[test]
fn compile_errors_come_in_file_order_whatever_the_priorities_and_types() {
    let bad = |event_type: &str| format!("event.type == '{event_type}' && matches(x, '(')");
    let text = [
        rule_line("FIRST", 1, &bad("z")),
        rule_line("SECOND", 9, &bad("a")),
        rule_line("THIRD", 5, &bad("m")),
    ]
    .concat();
    let error = Engine::builder()
        .load_str("order.yaml", text)
        .unwrap_err()
        .to_string();
    let lines: Vec<usize> = ["order.yaml:1:", "order.yaml:2:", "order.yaml:3:"]
        .iter()
        .map(|place| {
            error
                .find(place)
                .unwrap_or_else(|| panic!("{place} in {error}"))
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{error}");
}

// ---- what is read: regular files only, and no more than the limit -------------------

const ONE_RULE: &str = "- {id: A, priority: 1, severity: low, description: d, condition: \"event.type == 'a'\", action: [], audit: false}\n";

/// `f` on another thread; `None` if it has not returned within a generous deadline (it
/// blocked).
fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(f());
    });
    receiver
        .recv_timeout(std::time::Duration::from_secs(10))
        .ok()
}

#[cfg(unix)]
#[test]
fn a_fifo_at_the_rules_path_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rules.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let error = within_deadline(move || Engine::from_path(&fifo).map(|_| ()))
        .expect("loading a FIFO blocked")
        .unwrap_err();
    assert!(matches!(error, LoadError::NotAFile { .. }), "{error}");
    assert!(
        error.to_string().contains("a FIFO, not a regular file"),
        "{error}"
    );
}

#[cfg(unix)]
#[test]
fn a_device_at_the_rules_path_is_refused_without_reading_it() {
    let error = within_deadline(|| Engine::from_path("/dev/zero").map(|_| ()))
        .expect("loading /dev/zero did not return")
        .unwrap_err();
    assert!(
        error.to_string().contains("a device, not a regular file"),
        "{error}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_size_limit_holds_for_what_is_read_not_what_the_metadata_says() {
    // `/proc` files say they are 0 bytes long and hold more.
    let limits = Limits {
        max_rules_file_bytes: 16,
        ..Limits::default()
    };
    let error = Engine::builder()
        .limits(limits)
        .load_path("/proc/self/status")
        .unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { limit: 16, .. }),
        "{error}"
    );
}

#[cfg(unix)]
#[test]
fn bundle_entries_that_cannot_be_read_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), ONE_RULE).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing.yaml"), dir.path().join("b.yaml")).unwrap();
    let error = Engine::from_path(dir.path()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("b.yaml") && text.contains("dangling"),
        "{text}"
    );

    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    std::fs::create_dir(dir.path().join("c.yaml")).unwrap();
    let error = Engine::from_path(dir.path()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("c.yaml") && text.contains("a directory, not a regular file"),
        "{text}"
    );
}

#[test]
fn a_rules_file_replaced_by_a_directory_is_reported_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, ONE_RULE).unwrap();
    let engine = Engine::from_path(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("other.yaml"), ONE_RULE.replace("id: A", "id: B")).unwrap();
    let error = engine.reload().unwrap_err();
    assert!(matches!(error, LoadError::KindChanged { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("was a file when the engine loaded it and is a directory now"),
        "{error}"
    );
    assert_eq!(engine.plan().rule_ids().collect::<Vec<_>>(), ["A"]);
    assert!(engine.status().last_error.is_some());
}
