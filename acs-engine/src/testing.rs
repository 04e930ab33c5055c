//! Rule test files: inputs with function stubs and the expected matches and verdict,
//! run against a plan, with what differed.
