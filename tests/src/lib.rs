//! # parley-tests
//!
//! Cross-crate integration tests (`tests/tests/`), shared fixtures, and the pieces of the latency harness:
//! a WebRTC [`caller::Caller`] that uses only the public signaling API, a small [`http`] client, and an
//! in-process [`server`] for tests. Nothing depends on this crate.

pub mod bench;
pub mod browser;
pub mod calibrate;
pub mod caller;
pub mod fake_wheels;
pub mod fixtures;
pub mod http;
pub mod server;
pub mod spoken;
pub mod stage_bench;
pub mod voice_turn;
