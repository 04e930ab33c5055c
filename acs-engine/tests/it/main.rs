//! The engine's integration tests, one test binary (`cargo test -p acs-engine --test it`),
//! so the engine and its dependencies are linked once, not once per test file. Modules
//! that need an optional feature are compiled with it. Snapshots are named after the
//! module path
//! (`snapshots/it__<module>__<name>.snap`).
//!
//! A new test file goes here, as a module. Only a test that observes the whole process
//! belongs directly in `tests/`, a binary of its own: `tests/allocations.rs` (a counting
//! global allocator) and `tests/watch_threads.rs` (counts the process's watch threads).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    reason = "tests fail by panicking"
)]

#[cfg(feature = "audit")]
mod audit;
#[cfg(feature = "audit")]
mod audit_crash;
#[cfg(feature = "audit")]
mod audit_record;
#[cfg(feature = "tools")]
mod backtest;
mod bounded_read;
mod bundles;
mod explain;
mod file_sets;
mod fuzz_regressions;
#[cfg(feature = "watch")]
mod hot_reload;
mod inputs;
mod layering;
mod leaf_input;
mod leaves;
mod limits;
#[cfg(feature = "tools")]
mod lint;
#[cfg(feature = "tools")]
mod lint_properties;
mod load_errors;
mod numbers;
mod plain_decisions;
mod properties;
mod reads;
mod resume;
mod runtime_controls;
mod semantics;
mod support;
mod tape_eval;
#[cfg(feature = "tools")]
mod testing;
mod velocity;
#[cfg(feature = "redis")]
mod velocity_redis;
