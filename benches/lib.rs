//! Benchmark support: representative inputs and a deterministic synthetic rule generator.
