//! The shipped rules bundle and the legacy fixture end to end, one test binary
//! (`cargo test -p acs-integration-tests --test it`), so the engine is linked once, not
//! once per test file. A new test file goes beside this one and is declared here (`autotests = false`: Cargo
//! finds no test file by itself).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    reason = "tests fail by panicking"
)]

mod decisions;
mod explain;
mod host_functions;
mod legacy_fixture;
mod rule_tables;
mod ruleset_hash;
mod values;
