//! The rules-file loader: any text loads or fails with diagnostics, never panics.
#![no_main]

use acs_engine::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(error) = Engine::builder().load_str("fuzz.yaml", text) {
        let _ = error.to_string();
    }
});
