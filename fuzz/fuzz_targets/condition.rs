//! The condition grammar: any text parses or fails with an error, and whatever parses
//! prints to source that parses back to the same tree.
#![no_main]

use acs_engine::syntax::{parse_condition, to_sexpr, to_source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(expr) = parse_condition(text) {
        let printed = to_source(&expr);
        let again = parse_condition(&printed).expect("printed source parses");
        assert_eq!(to_sexpr(&expr), to_sexpr(&again));
    }
});
