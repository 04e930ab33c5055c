//! Rule test files: any text parses or fails with diagnostics, and what parses runs
//! against the project bundle, never panicking.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use acs_engine::testing::{TestBundle, TestFile};
use acs_engine::RulesSource;
use libfuzzer_sys::fuzz_target;

fn bundle() -> Option<&'static TestBundle> {
    static BUNDLE: OnceLock<Option<TestBundle>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            TestBundle::load(&RulesSource::Text {
                name: "acs_rules_top25.yaml".to_owned(),
                text: include_str!("../../rules/acs_rules_top25.yaml").to_owned(),
            })
            .ok()
        })
        .as_ref()
}

fuzz_target!(|text: &str| {
    match TestFile::parse("fuzz.test.yaml", text, Path::new("/nonexistent")) {
        Ok(file) => {
            if let Some(bundle) = bundle() {
                if let Ok(report) = file.run(bundle) {
                    let _ = serde_json::to_string(&report);
                }
            }
        }
        Err(diagnostics) => {
            let _ = acs_engine::Diagnostic::render_all(&diagnostics);
        }
    }
});
