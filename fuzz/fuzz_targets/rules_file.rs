//! The rules-file loader: any text loads or fails with diagnostics, never panics. What
//! loads evaluates (an empty input and one event of each gated type), and each decision
//! streams exactly as it serialises once its parameters are read.
#![no_main]

use acs_engine::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|text: &str| {
    let engine = match Engine::builder().load_str("fuzz.yaml", text) {
        Ok(engine) => engine,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let plan = engine.plan();
    let inputs = std::iter::once(json!({}))
        .chain(
            plan.event_types()
                .into_iter()
                .take(4)
                .map(|t| json!({ "event": { "type": t } })),
        )
        .collect::<Vec<Value>>();
    for input in &inputs {
        let decision = engine.evaluate(input);
        let streamed = serde_json::to_string(&decision).expect("a decision serialises");
        for rule in decision.matched.iter().chain(&decision.shadow_matched) {
            for action in rule.actions() {
                let _: &Value = action.params;
            }
        }
        let built = serde_json::to_string(&decision).expect("a decision serialises");
        assert_eq!(streamed, built, "streamed and built params differ");
    }
});
