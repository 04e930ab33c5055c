//! The shipped rules bundle and the legacy fixture end to end, one test binary
//! (`cargo test -p acs-integration-tests --test it`): each module, a file beside this one,
//! was a test crate of its own, and every one of them linked its own copy of the engine.
//! A new test file goes beside them and is declared here (`autotests = false`: Cargo
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
