//! Rules files given as named texts (`RulesSource::Files`) load as the directory holding
//! them would: the same rules in the same order, the same ruleset hash; what no directory
//! could hold is refused, naming the file.

use acs_engine::{Engine, Limits, LoadError, RulesSource};
use serde_json::json;

fn rule(id: &str, priority: u32) -> String {
    format!("- {{id: {id}, priority: {priority}, severity: low, description: d, condition: \"event.n > {priority}\", action: [], audit: false}}\n")
}

fn given(files: &[(&str, String)]) -> RulesSource {
    RulesSource::Files(
        files
            .iter()
            .map(|(name, text)| ((*name).to_owned(), text.clone()))
            .collect(),
    )
}

fn refusal(source: RulesSource) -> String {
    match Engine::builder().load(source) {
        Err(LoadError::FileSet { problem }) => problem,
        Err(other) => panic!("expected a refused file set, got {other}"),
        Ok(_) => panic!("expected a refused file set, it loaded"),
    }
}

#[test]
fn files_given_decide_and_hash_as_the_directory_holding_them() {
    let files = [
        ("b.yaml", rule("B", 2)),
        ("a.yml", rule("A", 3)),
        ("c.yaml", rule("C", 1)),
    ];
    let dir = crate::support::scratch("file-sets");
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let from_dir = Engine::builder().load_path(dir.path()).unwrap();
    // Given in another order, under the paths they came from: base names count.
    let from_memory = Engine::builder()
        .load(given(&[
            ("rules/c.yaml", files[2].1.clone()),
            ("b.yaml", files[0].1.clone()),
            ("/srv/rules/a.yml", files[1].1.clone()),
        ]))
        .unwrap();
    assert_eq!(
        from_memory.plan().ruleset_hash(),
        from_dir.plan().ruleset_hash()
    );
    for n in 0..5 {
        let input = json!({ "event": { "n": n } });
        assert_eq!(
            from_memory.evaluate(&input).matched_ids(),
            from_dir.evaluate(&input).matched_ids()
        );
    }
    assert_eq!(
        from_memory
            .evaluate(&json!({ "event": { "n": 9 } }))
            .matched_ids(),
        ["A", "B", "C"]
    );
    // A file's own change changes the hash.
    let changed = Engine::builder()
        .load(given(&[
            ("a.yml", files[1].1.clone()),
            ("b.yaml", rule("B", 4)),
            ("c.yaml", files[2].1.clone()),
        ]))
        .unwrap();
    assert_ne!(
        changed.plan().ruleset_hash(),
        from_dir.plan().ruleset_hash()
    );
}

#[test]
fn a_reload_reads_the_same_texts_again_and_status_names_the_files() {
    let engine = Engine::builder()
        .load(given(&[("a.yaml", rule("A", 1)), ("b.yaml", rule("B", 2))]))
        .unwrap();
    let hash = engine.plan().ruleset_hash();
    let plan = engine.reload().unwrap();
    assert_eq!(plan.generation(), 2);
    assert_eq!(plan.ruleset_hash(), hash);
    assert_eq!(engine.status().source, "a.yaml, b.yaml");
}

#[test]
fn an_error_in_one_file_names_that_file_by_its_base_name() {
    let broken = "- {id: X, priority: 1, severity: low, description: d, condition: \"event.n >\", action: [], audit: false}\n";
    let error = Engine::builder()
        .load(given(&[
            ("rules/a.yaml", rule("A", 1)),
            ("rules/x.yaml", broken.to_owned()),
        ]))
        .unwrap_err();
    let LoadError::Invalid { diagnostics } = &error else {
        panic!("expected invalid rules, got {error}");
    };
    let files: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.location.as_ref().map(|l| l.file.as_str()))
        .collect();
    assert_eq!(files, ["x.yaml"]);
}

#[test]
fn what_no_directory_could_hold_is_refused_naming_the_file() {
    assert_eq!(refusal(given(&[])), "no rules files given");
    assert_eq!(
        refusal(given(&[
            ("a.yaml", rule("A", 1)),
            ("notes.txt", "x".to_owned())
        ])),
        "`notes.txt` is not named like a rules file (`*.yaml` or `*.yml`, not hidden)"
    );
    assert!(refusal(given(&[(".hidden.yaml", rule("A", 1))])).contains("`.hidden.yaml`"));
    assert!(refusal(given(&[("dir/", rule("A", 1))])).contains("`dir/`"));
    assert_eq!(
        refusal(given(&[
            ("x/a.yaml", rule("A", 1)),
            ("b.yaml", rule("B", 1)),
            ("y/a.yaml", rule("C", 1)),
        ])),
        "two files are named `a.yaml`"
    );
    let error = Engine::builder()
        .load(given(&[("a.txt", String::new())]))
        .unwrap_err();
    assert_eq!(error.code(), "file_set");
    let diagnostics = error.diagnostics();
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, "ACS200");
    assert!(
        diagnostics[0].message.contains("`a.txt`"),
        "{}",
        diagnostics[0].message
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_by_name() {
    let limits = Limits {
        max_rules_file_bytes: 64,
        ..Limits::default()
    };
    let error = Engine::builder()
        .limits(limits)
        .load(given(&[
            ("small.yaml", "[]".to_owned()),
            ("big.yaml", rule("B", 1)),
        ]))
        .unwrap_err();
    match error {
        LoadError::TooLarge { path, limit, .. } => {
            assert_eq!(path, std::path::Path::new("big.yaml"));
            assert_eq!(limit, 64);
        }
        other => panic!("expected too large, got {other}"),
    }
}
