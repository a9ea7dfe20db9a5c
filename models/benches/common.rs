//! Shared by the model benchmarks: the store (`parley_models::store::test_store`: a `SKIPPED:` line and a clean
//! exit when it is absent on a developer machine, a failure under CI) and speech-like test audio from the
//! fixtures.

#![allow(dead_code)]

use std::path::PathBuf;

use parley_models::store::{ModelStore, test_store};

pub fn store_or_exit() -> ModelStore {
    test_store().unwrap_or_else(|| std::process::exit(0))
}

/// `seconds` of 16 kHz speech: the fixture sentences (22.05 kHz, 16-bit) read and resampled linearly
/// (good enough for timing), repeated to length.
pub fn speech_16k(seconds: f32) -> Vec<f32> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut out = Vec::new();
    let mut i = 1;
    while out.len() < (seconds * 16_000.0) as usize {
        let path = dir.join(format!("sentence_{}.wav", (i - 1) % 5 + 1));
        let bytes = std::fs::read(&path).expect("fixture");
        let pcm: Vec<f32> =
            bytes[44..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
        let n = pcm.len() * 16_000 / 22_050;
        out.extend((0..n).map(|k| {
            let x = k as f64 * 22_050.0 / 16_000.0;
            let j = x as usize;
            let f = (x - j as f64) as f32;
            pcm[j] * (1.0 - f) + pcm.get(j + 1).copied().unwrap_or(0.0) * f
        }));
        i += 1;
    }
    out.truncate((seconds * 16_000.0) as usize);
    out
}
