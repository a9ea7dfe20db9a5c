//! The reference-aware echo gate: while the assistant speaks, a "user speech" trigger whose energy envelope
//! follows the envelope of the audio just sent (at some round-trip lag) is the assistant hearing itself
//! through the user's speakers, not the user. Envelopes are RMS per 20 ms bin on the session's clock (input
//! bins by arrival time, reference bins by the time the audio was sent); the test is the best Pearson
//! correlation over 500 ms at lags up to 300 ms.

use std::collections::VecDeque;
use std::time::Duration;

const BIN: Duration = Duration::from_millis(20);
/// Input bins compared (500 ms: shorter windows of two unrelated voices correlate by chance at some lag).
const WINDOW: usize = 25;
/// Largest round trip considered (300 ms).
const MAX_LAG: usize = 15;
const KEEP: usize = WINDOW + MAX_LAG + 5;

/// See the module docs.
#[derive(Debug, Default)]
pub struct EchoGate {
    input: VecDeque<(u64, f32)>,
    reference: VecDeque<(u64, f32)>,
}

fn bin(now: Duration) -> u64 {
    (now.as_millis() / BIN.as_millis()) as u64
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

fn push(bins: &mut VecDeque<(u64, f32)>, at: u64, value: f32) {
    match bins.back_mut() {
        Some((b, v)) if *b == at => *v = v.max(value),
        _ => bins.push_back((at, value)),
    }
    while bins.len() > KEEP {
        bins.pop_front();
    }
}

impl EchoGate {
    /// User audio that arrived at `now`.
    pub fn input(&mut self, samples: &[f32], now: Duration) {
        push(&mut self.input, bin(now), rms(samples));
    }

    /// Assistant audio sent at `now`.
    pub fn reference(&mut self, samples: &[f32], now: Duration) {
        push(&mut self.reference, bin(now), rms(samples));
    }

    /// The best correlation of the recent input with the reference over the lags.
    pub fn correlation(&self, now: Duration) -> f32 {
        let end = bin(now);
        let value = |bins: &VecDeque<(u64, f32)>, b: u64| bins.iter().find(|(k, _)| *k == b).map_or(0.0, |(_, v)| *v);
        let input: Vec<f32> =
            (0..WINDOW as u64).map(|i| value(&self.input, end.saturating_sub(WINDOW as u64 - 1 - i))).collect();
        (0..=MAX_LAG as u64)
            .map(|lag| {
                let reference: Vec<f32> = (0..WINDOW as u64)
                    .map(|i| value(&self.reference, end.saturating_sub(WINDOW as u64 - 1 - i + lag)))
                    .collect();
                pearson(&input, &reference)
            })
            .fold(0.0, f32::max)
    }
}

fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    if va <= 1e-12 || vb <= 1e-12 { 0.0 } else { cov / (va * vb).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syllables(n: usize, seed: u32) -> Vec<Vec<f32>> {
        // 20 ms frames with a speech-like on/off envelope.
        (0..n).map(|i| vec![if ((i as u32 * 7 + seed) / 3).is_multiple_of(2) { 0.3 } else { 0.02 }; 320]).collect()
    }

    #[test]
    fn delayed_attenuated_playback_is_echo_and_other_speech_is_not() {
        let played = syllables(40, 0);
        let mut gate = EchoGate::default();
        for (i, frame) in played.iter().enumerate() {
            let now = Duration::from_millis(20 * i as u64);
            gate.reference(frame, now);
            // The echo comes back 120 ms later at a quarter of the level.
            if i >= 6 {
                let echo: Vec<f32> = played[i - 6].iter().map(|v| v * 0.25).collect();
                gate.input(&echo, now);
            }
        }
        assert!(gate.correlation(Duration::from_millis(20 * 39)) > 0.9);

        let mut gate = EchoGate::default();
        // Someone else's syllables: an unrelated (pseudo-random) rhythm.
        let mut x = 12345u32;
        let user: Vec<Vec<f32>> = (0..40)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                vec![if (x >> 16).is_multiple_of(3) { 0.02 } else { 0.3 }; 320]
            })
            .collect();
        for (i, frame) in played.iter().enumerate() {
            let now = Duration::from_millis(20 * i as u64);
            gate.reference(frame, now);
            gate.input(&user[i], now);
        }
        assert!(
            gate.correlation(Duration::from_millis(20 * 39)) < 0.6,
            "{}",
            gate.correlation(Duration::from_millis(780))
        );
    }
}
