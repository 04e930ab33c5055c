//! `acs` end to end, one test binary (`cargo test -p acs-cli --test it`), so the engine
//! and its dependencies are linked once, not once per test file. Snapshots are named after the module path
//! (`snapshots/it__<module>__<name>.snap`). A new test file goes here, as a module: a file
//! directly in `tests/` would be a binary of its own.
//!
//! Most tests run `acs` in-process through the library (`support::acs_lib`); the binary
//! itself (`support::acs`) is for what only a process shows: argument parsing as clap
//! prints it, exit statuses, `NO_COLOR`, the working directory, a long-running watch.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    reason = "tests fail by panicking"
)]

mod audit;
mod audit_record;
mod bundle;
mod eval;
mod explain;
mod lint_rules;
mod manners;
mod process;
mod readme_walkthrough;
mod replay;
mod support;
mod test_command;
mod velocity;
mod watch;
