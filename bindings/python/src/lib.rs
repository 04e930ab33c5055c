//! The Python binding of ACS: a pyo3 shell over `acs-engine`, built by maturin into the
//! `acs` package (`acs._acs` is this module; `python/acs/` holds the Python side: the
//! exception classes, the `evaluate_async` loop and the backtest report). Every behaviour
//! lives in the engine; this crate converts values and errors (`convert`, `errors`),
//! lends Python callables to the engine as host functions (`host`), and exposes the
//! engine (`engine`, `decision`, `evaluation`, `arrow` for Arrow batches) and the tools
//! (`tools`).

mod arrow;
mod backtest;
mod convert;
mod decision;
mod engine;
mod errors;
mod evaluation;
mod host;
mod tools;

use pyo3::prelude::*;

/// The Rust side's allocator. `evaluate_many` decides on workers and frees on the calling
/// thread; glibc's `free` of another thread's blocks locks that thread's arena, and
/// mimalloc's does not: a 100,000-input batch ran 11-21% faster, on one thread and two
/// (BENCHMARKS.md, issue #14). CPython's own objects keep CPython's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The module declares it needs no GIL (`gil_used = false`): every class is `Sync`
/// (the engine is; the binding's own state sits behind mutexes), so a free-threaded
/// interpreter may load a build of it (abi3 wheels cannot target one; see README).
#[pymodule(gil_used = false)]
fn _acs(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<engine::Engine>()?;
    module.add_class::<engine::Watch>()?;
    module.add_class::<decision::Decision>()?;
    module.add_class::<evaluation::Evaluation>()?;
    module.add_class::<backtest::BacktestRun>()?;
    module.add_function(wrap_pyfunction!(tools::lint, module)?)?;
    module.add_function(wrap_pyfunction!(tools::explain_code, module)?)?;
    module.add_function(wrap_pyfunction!(tools::run_tests, module)?)?;
    module.add_function(wrap_pyfunction!(tools::_backtest, module)?)?;
    module.add_function(wrap_pyfunction!(tools::audit_decisions, module)?)?;
    Ok(())
}
