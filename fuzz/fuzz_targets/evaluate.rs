//! Compile + evaluate + explain: the shipped bundle, with the example function stubs,
//! against arbitrary JSON bytes never panics, the decision serialises, and the
//! explanation matches the rules the decision matched; bytes (read on the simd-json tape),
//! the same document parsed by `serde_json`, and the document's values at the plan's read
//! paths (`Engine::evaluate_leaves`, as the Python binding reads Arrow struct columns) give
//! the same decision.
#![no_main]

use acs_engine::{Engine, Functions};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

// The engine's tests read a document into leaves this way too: one reading for both.
#[path = "../../acs-engine/tests/it/leaf_input.rs"]
mod leaf_input;

static ENGINE: OnceLock<Engine> = OnceLock::new();

fn engine() -> &'static Engine {
    ENGINE.get_or_init(|| {
        let stubs: serde_json::Value =
            serde_json::from_str(include_str!("../../rules/examples/stubs.json"))
                .expect("the example stubs are JSON");
        Engine::builder()
            .functions(Functions::from_stubs(&stubs).expect("the example stubs load"))
            .load_str(
                "rules.yaml",
                include_str!("../../rules/acs_rules_top25.yaml"),
            )
            .expect("the shipped bundle loads")
    })
}

fuzz_target!(|bytes: &[u8]| {
    let engine = engine();
    let parsed = serde_json::from_slice::<serde_json::Value>(bytes);
    if let Ok(decision) = engine.evaluate_json(bytes) {
        let _ = serde_json::to_vec(&decision);
        // Bytes are evaluated on the simd-json tape, a parsed document on the `Value`:
        // the two must decide alike (the stubs pin `now()`).
        if let Ok(input) = &parsed {
            assert_eq!(engine.evaluate(input), decision, "tape and Value decide differently");
            let plan = engine.plan();
            let layout = plan.leaf_layout(input.pointer("/event/type").and_then(Value::as_str));
            let mut texts = Vec::new();
            let leaves = leaf_input::leaves_of(input, &layout, &mut texts);
            let by_leaves = engine.evaluate_leaves(&layout, leaves);
            assert_eq!(
                by_leaves.ok().flatten().as_ref(),
                Some(&decision),
                "leaves and bytes decide differently"
            );
        }
        // `explain` reloads the rules file on every call, too slow to run on every input;
        // inputs no rule is gated on have nothing to explain anyway.
        if decision.rules_evaluated == 0 {
            return;
        }
        if let Ok(input) = serde_json::from_slice::<serde_json::Value>(bytes) {
            let explanation = engine.explain(&input);
            assert_eq!(explanation.matched_ids(), decision.matched_ids());
            let _ = explanation.to_string();
        }
    }
});
