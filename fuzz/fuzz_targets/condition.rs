//! The condition grammar: any text parses or fails with an error, and whatever parses
//! prints to source that parses back to the same tree (unless printing spelled it out
//! past the length limit: the printer normalises spacing).
#![no_main]

use acs_engine::unstable::syntax::{parse_condition, to_sexpr, to_source, MAX_CONDITION_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(expr) = parse_condition(text) {
        let printed = to_source(&expr);
        match parse_condition(&printed) {
            Ok(again) => assert_eq!(to_sexpr(&expr), to_sexpr(&again), "printed: {printed}"),
            Err(error) => assert!(
                printed.len() > MAX_CONDITION_BYTES,
                "printed source `{printed}` does not parse: {error}"
            ),
        }
    }
});
