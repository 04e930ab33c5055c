//! Backtests: replay recorded inputs through a plan (and optionally a baseline plan) on
//! every core and aggregate per-rule counts, verdict changes and throughput.
