//! Streaming 48 kHz → 16 kHz conversion for incoming call audio: a windowed-sinc low-pass FIR evaluated only at
//! every third input sample. Stateful across calls, so 20 ms packets convert exactly like one long buffer (no
//! edge effects at packet boundaries, unlike a one-shot resampler per packet), with a fixed group delay of
//! [`Decimator48To16::DELAY_48K`] input samples (1 ms) and no allocation per call beyond the output.

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Decimator48To16 {
    taps: Vec<f32>,
    /// The last `taps.len() - 1` input samples, then the new ones.
    history: Vec<f32>,
}

const TAPS: usize = 97;
/// Pass band edge: speech energy above 7 kHz matters little; the stop band starts below 8 kHz (Nyquist at 16 kHz).
const CUTOFF_HZ: f64 = 7_000.0;

impl Default for Decimator48To16 {
    fn default() -> Self {
        Self::new()
    }
}

impl Decimator48To16 {
    /// Group delay in 48 kHz samples.
    pub const DELAY_48K: usize = TAPS / 2;

    pub fn new() -> Self {
        let fc = CUTOFF_HZ / 48_000.0;
        let mid = (TAPS - 1) as f64 / 2.0;
        let mut taps: Vec<f64> = (0..TAPS)
            .map(|i| {
                let x = i as f64 - mid;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                // Blackman window: ~74 dB stop band.
                let w = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (TAPS - 1) as f64).cos()
                    + 0.08 * (4.0 * std::f64::consts::PI * i as f64 / (TAPS - 1) as f64).cos();
                sinc * w
            })
            .collect();
        let sum: f64 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= sum);
        Self { taps: taps.into_iter().map(|t| t as f32).collect(), history: vec![0.0; TAPS - 1] }
    }

    /// Converts the next input samples, appending one output per three inputs to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.history.extend_from_slice(input);
        let n = self.taps.len();
        let mut start = 0;
        while start + n <= self.history.len() {
            let window = &self.history[start..start + n];
            out.push(window.iter().zip(&self.taps).map(|(x, t)| x * t).sum());
            start += 3;
        }
        // The next window starts at `start`: keep from there.
        self.history.drain(..start);
    }

    /// Forgets the past (a new stream).
    pub fn reset(&mut self) {
        self.history.clear();
        self.history.resize(self.taps.len() - 1, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, n: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / 48_000.0).sin() as f32 * 0.5).collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn chunked_equals_whole() {
        let input = tone(440.0, 48_000);
        let mut whole = Vec::new();
        Decimator48To16::new().process(&input, &mut whole);
        let mut chunked = Vec::new();
        let mut d = Decimator48To16::new();
        for piece in input.chunks(961) {
            d.process(piece, &mut chunked);
        }
        assert_eq!(whole.len(), 16_000);
        assert_eq!(whole, chunked);
    }

    #[test]
    fn passes_speech_band_and_stops_aliases() {
        for (freq, pass) in [
            (300.0, true),
            (1_000.0, true),
            (3_400.0, true),
            (6_000.0, true),
            (9_000.0, false),
            (12_000.0, false),
            (20_000.0, false),
        ] {
            let mut out = Vec::new();
            Decimator48To16::new().process(&tone(freq, 48_000), &mut out);
            let level = rms(&out[1_000..]) / (0.5 / 2f32.sqrt());
            if pass {
                assert!((level - 1.0).abs() < 0.02, "{freq} Hz passed at {level}");
            } else {
                assert!(level < 1e-3, "{freq} Hz leaked at {level}");
            }
        }
    }

    #[test]
    fn delay_is_half_the_filter() {
        // Output k is centred on input 3k − DELAY_48K.
        let mut input = vec![0.0f32; 960];
        input[300] = 1.0;
        let mut out = Vec::new();
        Decimator48To16::new().process(&input, &mut out);
        let peak = out.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, (300 + Decimator48To16::DELAY_48K) / 3);
    }
}
