//! Static analysis of a rules bundle: every finding `acs lint-rules` reports, beyond
//! what loading and compiling already refuse.
