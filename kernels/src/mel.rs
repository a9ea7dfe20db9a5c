//! The mel front end shared by every audio model: short-time power spectra projected onto a Slaney mel
//! filter bank, plus the two log scalings our models were trained with.
//!
//! - [`whisper_log_mel`]: Whisper's features (n_fft 400, hop 160, periodic Hann, centred with reflection,
//!   80 or 128 Slaney mels, `log10`, clamp to 8 below the maximum, `(x + 4) / 4`), used by Whisper ASR and
//!   Smart Turn.
//! - [`MelSpectrogram::log10_power`]: librosa's `melspectrogram` + `log10(S + 1e-10)`, used by the d-vector
//!   speaker embedder (n_fft 512, a 400-sample Hamming window, no centring, 40 mels).
//!
//! Spectra are computed with `rustfft` in f32; filter banks are built in f64 exactly like librosa and
//! `transformers` so features match what the models saw in training.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Analysis window shape (periodic, as STFTs use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Hann,
    Hamming,
}

/// Parameters of a mel spectrogram.
#[derive(Debug, Clone, PartialEq)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    /// Window length (≤ n_fft); the window is centred in the FFT frame with zeros around it.
    pub win_length: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub f_min: f64,
    pub f_max: f64,
    pub window: Window,
    /// Pad `n_fft / 2` samples on each side by reflection, so frame `t` is centred on sample `t * hop`.
    pub center: bool,
}

impl MelConfig {
    /// Whisper's front end at 16 kHz with `n_mels` bins (80 for tiny.en and Smart Turn).
    pub fn whisper(n_mels: usize) -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 400,
            win_length: 400,
            hop: 160,
            n_mels,
            f_min: 0.0,
            f_max: 8_000.0,
            window: Window::Hann,
            center: true,
        }
    }

    /// The d-vector embedder's front end (librosa defaults with a Hamming window, no centring).
    pub fn dvector() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 512,
            win_length: 400,
            hop: 160,
            n_mels: 40,
            f_min: 0.0,
            f_max: 8_000.0,
            window: Window::Hamming,
            center: false,
        }
    }

    /// Number of frames for `samples` input samples.
    pub fn frames(&self, samples: usize) -> usize {
        if self.center {
            1 + samples / self.hop
        } else if samples < self.n_fft {
            0
        } else {
            1 + (samples - self.n_fft) / self.hop
        }
    }
}

/// A reusable mel spectrogram computer (holds the FFT plan, window, filter bank and scratch buffers).
pub struct MelSpectrogram {
    config: MelConfig,
    window: Vec<f32>,
    /// `n_mels × n_freq`, row-major.
    filters: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    buffer: Vec<Complex32>,
    scratch: Vec<Complex32>,
    power: Vec<f32>,
}

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram").field("config", &self.config).finish()
    }
}

impl MelSpectrogram {
    pub fn new(config: MelConfig) -> Self {
        assert!(config.win_length <= config.n_fft && config.hop > 0 && config.n_mels > 0, "invalid {config:?}");
        let fft = FftPlanner::<f32>::new().plan_fft_forward(config.n_fft);
        let scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        let mut window = vec![0.0f32; config.n_fft];
        let offset = (config.n_fft - config.win_length) / 2;
        for (i, w) in periodic_window(config.window, config.win_length).into_iter().enumerate() {
            window[offset + i] = w as f32;
        }
        let filters = slaney_mel_filters(&config).into_iter().map(|v| v as f32).collect();
        let n_freq = config.n_fft / 2 + 1;
        Self {
            buffer: vec![Complex32::default(); config.n_fft],
            power: vec![0.0; n_freq],
            config,
            window,
            filters,
            fft,
            scratch,
        }
    }

    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    pub fn n_freq(&self) -> usize {
        self.config.n_fft / 2 + 1
    }

    /// Mel power spectrogram, `n_mels × frames` row-major (mel-major, like Whisper's `[80, T]`).
    pub fn power(&mut self, samples: &[f32]) -> (usize, Vec<f32>) {
        let frames = self.config.frames(samples.len());
        let mut out = vec![0.0f32; self.config.n_mels * frames];
        let n_fft = self.config.n_fft;
        let half = n_fft / 2;
        for t in 0..frames {
            let start = t * self.config.hop;
            for i in 0..n_fft {
                let x = if self.config.center {
                    reflect_at(samples, start as isize + i as isize - half as isize)
                } else {
                    samples.get(start + i).copied().unwrap_or(0.0)
                };
                self.buffer[i] = Complex32::new(x * self.window[i], 0.0);
            }
            self.fft.process_with_scratch(&mut self.buffer, &mut self.scratch);
            for (p, c) in self.power.iter_mut().zip(&self.buffer) {
                *p = c.norm_sqr();
            }
            let n_freq = self.power.len();
            for m in 0..self.config.n_mels {
                let row = &self.filters[m * n_freq..(m + 1) * n_freq];
                out[m * frames + t] = row.iter().zip(&self.power).map(|(a, b)| a * b).sum();
            }
        }
        (frames, out)
    }

    /// librosa-style `log10(mel power + 1e-10)`, `n_mels × frames`.
    pub fn log10_power(&mut self, samples: &[f32]) -> (usize, Vec<f32>) {
        let (frames, mut mel) = self.power(samples);
        for v in &mut mel {
            *v = (*v + 1e-10).log10();
        }
        (frames, mel)
    }
}

/// Whisper's log-mel features for `samples` (16 kHz), `n_mels × frames` where `frames = samples / 160`
/// (the STFT's extra last frame is dropped, as Whisper does).
pub fn whisper_log_mel(mel: &mut MelSpectrogram, samples: &[f32]) -> (usize, Vec<f32>) {
    let (frames, power) = mel.power(samples);
    let keep = frames.saturating_sub(1);
    let n_mels = mel.config.n_mels;
    let mut out = Vec::with_capacity(n_mels * keep);
    for m in 0..n_mels {
        out.extend(power[m * frames..m * frames + keep].iter().map(|&v| v.max(1e-10).log10()));
    }
    let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in &mut out {
        *v = (v.max(max - 8.0) + 4.0) / 4.0;
    }
    (keep, out)
}

fn reflect_at(samples: &[f32], i: isize) -> f32 {
    let n = samples.len() as isize;
    if n == 0 {
        return 0.0;
    }
    if n == 1 {
        return samples[0];
    }
    let period = 2 * (n - 1);
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - j;
    }
    samples[j as usize]
}

fn periodic_window(kind: Window, n: usize) -> Vec<f64> {
    let (a0, a1) = match kind {
        Window::Hann => (0.5, 0.5),
        Window::Hamming => (0.54, 0.46),
    };
    (0..n).map(|i| a0 - a1 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).collect()
}

fn hz_to_mel(f: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, logstep) = (200.0 / 3.0, 1000.0, 15.0, (6.4f64).ln() / 27.0);
    if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp }
}

fn mel_to_hz(m: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, logstep) = (200.0 / 3.0, 1000.0, 15.0, (6.4f64).ln() / 27.0);
    if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m }
}

/// Slaney-scale, Slaney-normalised triangular filters (librosa's default), `n_mels × n_freq`.
pub fn slaney_mel_filters(config: &MelConfig) -> Vec<f64> {
    let n_freq = config.n_fft / 2 + 1;
    let n_mels = config.n_mels;
    let fft_freqs: Vec<f64> =
        (0..n_freq).map(|i| i as f64 * (config.sample_rate as f64 / 2.0) / (n_freq - 1) as f64).collect();
    let (lo, hi) = (hz_to_mel(config.f_min), hz_to_mel(config.f_max));
    let points: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut filters = vec![0.0; n_mels * n_freq];
    for m in 0..n_mels {
        let (left, centre, right) = (points[m], points[m + 1], points[m + 2]);
        let enorm = 2.0 / (right - left);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let down = (f - left) / (centre - left);
            let up = (right - f) / (right - centre);
            filters[m * n_freq + k] = down.min(up).max(0.0) * enorm;
        }
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct DFT as the reference for the FFT path.
    fn reference_power(config: &MelConfig, samples: &[f32]) -> Vec<f64> {
        let frames = config.frames(samples.len());
        let window = periodic_window(config.window, config.win_length);
        let offset = (config.n_fft - config.win_length) / 2;
        let filters = slaney_mel_filters(config);
        let n_freq = config.n_fft / 2 + 1;
        let mut out = vec![0.0; config.n_mels * frames];
        for t in 0..frames {
            let frame: Vec<f64> = (0..config.n_fft)
                .map(|i| {
                    let w = if i >= offset && i < offset + config.win_length { window[i - offset] } else { 0.0 };
                    let x = if config.center {
                        reflect_at(samples, (t * config.hop + i) as isize - (config.n_fft / 2) as isize)
                    } else {
                        samples.get(t * config.hop + i).copied().unwrap_or(0.0)
                    };
                    x as f64 * w
                })
                .collect();
            let power: Vec<f64> = (0..n_freq)
                .map(|k| {
                    let (mut re, mut im) = (0.0, 0.0);
                    for (n, x) in frame.iter().enumerate() {
                        let a = -2.0 * std::f64::consts::PI * (k * n) as f64 / config.n_fft as f64;
                        re += x * a.cos();
                        im += x * a.sin();
                    }
                    re * re + im * im
                })
                .collect();
            for m in 0..config.n_mels {
                out[m * frames + t] = (0..n_freq).map(|k| filters[m * n_freq + k] * power[k]).sum();
            }
        }
        out
    }

    fn noise(n: usize) -> Vec<f32> {
        let mut state = 0x2545_f491_u32;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32 - 0.5) * 0.6
            })
            .collect()
    }

    #[test]
    fn fft_path_matches_direct_dft() {
        for config in [MelConfig::whisper(80), MelConfig::dvector()] {
            let samples = noise(1600);
            let (frames, fast) = MelSpectrogram::new(config.clone()).power(&samples);
            let slow = reference_power(&config, &samples);
            assert_eq!(frames * config.n_mels, slow.len());
            for (a, b) in fast.iter().zip(&slow) {
                assert!((*a as f64 - b).abs() <= 1e-3 * b.abs().max(1e-3), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn filters_match_librosa_shape() {
        // The first filter's weight at bin 1, as computed by transformers' Whisper feature extractor.
        let config = MelConfig::whisper(80);
        let f = slaney_mel_filters(&config);
        assert!((f[1] - 0.024_862_594).abs() < 1e-8, "{}", f[1]);
        assert!(f.iter().all(|v| *v >= 0.0));
        for m in 0..80 {
            assert!(f[m * 201..(m + 1) * 201].iter().any(|v| *v > 0.0), "empty filter {m}");
        }
    }

    #[test]
    fn whisper_features_have_whisper_shape_and_range() {
        let mut mel = MelSpectrogram::new(MelConfig::whisper(80));
        let samples = noise(16_000);
        let (frames, out) = whisper_log_mel(&mut mel, &samples);
        assert_eq!(frames, 100);
        assert_eq!(out.len(), 80 * 100);
        let max = out.iter().copied().fold(f32::MIN, f32::max);
        let min = out.iter().copied().fold(f32::MAX, f32::min);
        assert!(max <= 3.0 && min >= max - 2.0 - 1e-6, "{min}..{max}");
    }

    #[test]
    fn whisper_features_match_the_transformers_extractor() {
        // Reference: transformers' WhisperFeatureExtractor(chunk_length=8) (numpy, float64) on this input padded
        // with zeros to 8 s, without normalisation; values at (mel, frame).
        let mut samples: Vec<f32> =
            (0..32_000).map(|i| ((i as f64 * 0.01).sin() * 0.3 + (i as f64 * 0.37).sin() * 0.1) as f32).collect();
        samples.resize(128_000, 0.0);
        let (frames, out) = whisper_log_mel(&mut MelSpectrogram::new(MelConfig::whisper(80)), &samples);
        assert_eq!(frames, 800);
        for (m, t, expected) in [
            (0, 0, 1.034_848_9),
            (5, 10, 0.134_629_59),
            (20, 150, -0.007_624_072),
            (40, 199, -0.418_464_7),
            (60, 100, -0.657_608_2),
            (30, 799, -0.657_608_2),
        ] {
            let got = out[m * frames + t];
            assert!((got - expected).abs() < 2e-3, "mel {m} frame {t}: {got} vs {expected}");
        }
    }

    #[test]
    fn a_tone_lands_in_the_right_mel_bin() {
        let config = MelConfig::whisper(80);
        let samples: Vec<f32> =
            (0..4000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16e3).sin()).collect();
        let (frames, power) = MelSpectrogram::new(config.clone()).power(&samples);
        let t = frames / 2;
        let best = (0..80).max_by(|&a, &b| power[a * frames + t].total_cmp(&power[b * frames + t])).unwrap();
        let points: Vec<f64> = (0..82).map(|i| mel_to_hz(hz_to_mel(8000.0) * i as f64 / 81.0)).collect();
        assert!(points[best] < 1000.0 && points[best + 2] > 1000.0, "bin {best}");
    }
}
