//! Compile + evaluate + explain: the shipped bundle against arbitrary JSON bytes never
//! panics, and the explanation matches the rules the decision matched.
#![no_main]

use acs_engine::Engine;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINE: OnceLock<Engine> = OnceLock::new();

fuzz_target!(|bytes: &[u8]| {
    let engine = ENGINE.get_or_init(|| {
        Engine::builder()
            .load_str(
                "rules.yaml",
                include_str!("../../rules/acs_rules_top25.yaml"),
            )
            .expect("the shipped bundle loads")
    });
    if let Ok(decision) = engine.evaluate_json(bytes) {
        let _ = serde_json::to_vec(&decision);
        if let Ok(input) = serde_json::from_slice::<serde_json::Value>(bytes) {
            let explanation = engine.explain(&input);
            assert_eq!(explanation.matched_ids(), decision.matched_ids());
            let _ = explanation.to_string();
        }
    }
});
