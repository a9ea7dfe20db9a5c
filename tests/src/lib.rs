//! # parley-tests
//!
//! Cross-crate integration tests (`tests/tests/`), shared fixtures, and (later) the latency harness
//! `parley-bench`. Nothing depends on this crate.

pub mod fake_wheels;
pub mod fixtures;
