//! Sample-rate conversion with a real band-limited resampler (`rubato`'s FFT resampler).
//!
//! Whole clips go through [`resample`]; the output is trimmed of the resampler's start-up delay, so sample
//! `i` of the output lines up with time `i / to_rate` of the input.

use rubato::audioadapter::Adapter;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Why a clip could not be resampled.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample from {from} Hz to {to} Hz: {message}")]
    Rates { from: u32, to: u32, message: String },
}

/// Resamples mono `samples` from `from` Hz to `to` Hz. Equal rates return a copy.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |message: String| ResampleError::Rates { from, to, message };
    if from == 0 || to == 0 {
        return Err(err("rates must be positive".into()));
    }
    let mut resampler =
        Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input).map_err(|e| err(e.to_string()))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| err(e.to_string()))?;
    let out = resampler.process_all(&input, samples.len(), None).map_err(|e| err(e.to_string()))?;
    let frames = out.frames();
    let mut result = Vec::with_capacity(frames);
    for i in 0..frames {
        result.push(out.read_sample(0, i).unwrap_or(0.0));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n).map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5).collect()
    }

    #[test]
    fn keeps_length_and_frequency() {
        for (from, to) in [(48_000, 16_000), (8_000, 16_000), (44_100, 16_000), (22_050, 48_000)] {
            let input = sine(from, 440.0, 1.0);
            let out = resample(&input, from, to).unwrap();
            let expected = to as usize;
            assert!(out.len().abs_diff(expected) <= 2, "{from}->{to}: {} samples", out.len());
            // Compare against an ideal sine at the new rate, away from the edges.
            let ideal = sine(to, 440.0, 1.0);
            let mid = expected / 4..expected * 3 / 4;
            let err: f32 = mid.clone().map(|i| (out[i] - ideal[i]).abs()).fold(0.0, f32::max);
            assert!(err < 0.03, "{from}->{to}: max error {err} (amplitude 0.5)");
        }
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        let input = sine(48_000, 12_000.0, 1.0);
        let out = resample(&input, 48_000, 16_000).unwrap();
        let rms = (out.iter().map(|x| x * x).sum::<f32>() / out.len() as f32).sqrt();
        assert!(rms < 0.01, "12 kHz tone leaked through: rms {rms}");
    }
}
