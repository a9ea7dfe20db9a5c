//! The latency harness behind `parley-bench`: scenarios as data ([`scenario`], [`sources`], [`generate`]),
//! one call playing a scenario and recording what the caller saw ([`player`], [`timeline`]), metrics computed
//! at the client from that record ([`metrics`], [`summary`]), concurrent callers ([`load`]), and the reports
//! ([`report`], [`plots`]). It reaches the server through the public signaling API only.

pub mod generate;
pub mod load;
pub mod metrics;
pub mod player;
pub mod plots;
pub mod report;
pub mod scenario;
pub mod sources;
pub mod summary;
pub mod timeline;
