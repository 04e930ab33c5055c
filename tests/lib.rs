//! Shared helpers for the integration tests: paths to the bundles and input builders.
