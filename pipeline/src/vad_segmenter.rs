//! Speech segments of a whole clip from per-chunk VAD probabilities (`parley vad FILE`, the transcription
//! gate). Sans-IO: it is fed probabilities with their position (in samples) and says when speech started and
//! ended; it never reads a clock. The decision is the crate's one [`Hysteresis`] rule, with Silero's
//! [`Onset::Held`] onset; this module adds only what a segment needs around it: padding, the model's hangover
//! taken back, and segments that never overlap.
//!
//! The rule follows Silero's own `get_speech_timestamps`: speech starts when a chunk reaches
//! `start_threshold`; it ends once probability has stayed below `stop_threshold` for `min_silence`; segments
//! shorter than `min_speech` are dropped; reported boundaries are widened by `padding`. One difference: the
//! segment ends where probability last reached `start_threshold`, not where it fell below `stop_threshold` —
//! the model's probability decays over two or three chunks after the voice stops, and that tail is not speech.

use parley_media::AudioFrame;

use crate::hysteresis::{Edge, Hysteresis, HysteresisConfig, Onset};

/// Segmenter settings, all durations in samples at the VAD's rate.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    pub start_threshold: f32,
    pub stop_threshold: f32,
    pub min_speech_samples: u64,
    pub min_silence_samples: u64,
    /// Widening before a segment: onsets are detected about one chunk late, so a little audio is kept.
    pub start_padding_samples: u64,
    /// Widening after a segment. Zero by default: Silero's probability already stays high after the voice
    /// stops, which covers soft word endings.
    pub end_padding_samples: u64,
    /// How long Silero's probability stays above the start threshold after the voice stops; the segment end
    /// is moved back by this much. Measured on the fixtures: 50–105 ms (two to three chunks) after a hard stop;
    /// the default takes back one chunk (32 ms), so an end is never placed before the voice stopped.
    pub hangover_samples: u64,
}

impl Default for VadConfig {
    /// Silero's defaults (0.5 / 0.35, 250 ms speech, 30 ms padding before) with 200 ms of silence to end a
    /// segment and no padding after (see `end_padding_samples`), at the pipeline's rate.
    fn default() -> Self {
        Self::from_ms(AudioFrame::PIPELINE_RATE, 0.5, 0.35, 250, 200, 30, 0)
    }
}

impl VadConfig {
    pub fn from_ms(
        rate: u32,
        start: f32,
        stop: f32,
        min_speech_ms: u64,
        min_silence_ms: u64,
        pad_before_ms: u64,
        pad_after_ms: u64,
    ) -> Self {
        let s = |ms: u64| ms * rate as u64 / 1000;
        Self {
            start_threshold: start,
            stop_threshold: stop.min(start),
            min_speech_samples: s(min_speech_ms),
            min_silence_samples: s(min_silence_ms),
            start_padding_samples: s(pad_before_ms),
            end_padding_samples: s(pad_after_ms),
            hangover_samples: s(32),
        }
    }

    fn hysteresis(&self) -> HysteresisConfig {
        HysteresisConfig {
            on: self.start_threshold,
            off: self.stop_threshold,
            min_on: self.min_speech_samples,
            min_off: self.min_silence_samples,
            onset: Onset::Held,
        }
    }
}

/// A finished speech segment, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSegment {
    pub start_sample: u64,
    pub end_sample: u64,
}

impl SpeechSegment {
    pub fn start_ms(&self, rate: u32) -> u64 {
        self.start_sample * 1000 / rate as u64
    }
    pub fn end_ms(&self, rate: u32) -> u64 {
        self.end_sample * 1000 / rate as u64
    }
}

/// What the segmenter decided after a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech has lasted `min_speech`; it began at `start_sample` (padding included).
    SpeechStart { start_sample: u64 },
    /// Silence lasted `min_silence`; the segment is final.
    SpeechEnd(SpeechSegment),
}

/// Segments from chunk probabilities: the hysteresis, then padding and hangover.
#[derive(Debug, Clone)]
pub struct VadSegmenter {
    config: VadConfig,
    hysteresis: Hysteresis,
    /// End of the previous segment (padding never reaches back before it).
    floor: u64,
}

impl VadSegmenter {
    pub fn new(config: VadConfig) -> Self {
        let hysteresis = Hysteresis::new(config.hysteresis());
        Self { config, hysteresis, floor: 0 }
    }

    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// True while a confirmed segment is open.
    pub fn in_speech(&self) -> bool {
        self.hysteresis.is_on()
    }

    pub fn reset(&mut self) {
        self.hysteresis.reset();
        self.floor = 0;
    }

    /// Feeds one chunk `[start, start + len)` with its speech probability.
    pub fn push(&mut self, start: u64, len: u64, probability: f32) -> Option<VadEvent> {
        let edge = self.hysteresis.push(start, start + len, probability)?;
        Some(self.event(edge))
    }

    /// End of input at `end`: closes an open segment.
    pub fn finish(&mut self, end: u64) -> Option<VadEvent> {
        self.hysteresis.finish(end).map(|edge| self.event(edge))
    }

    fn event(&mut self, edge: Edge) -> VadEvent {
        match edge {
            Edge::On { start } => VadEvent::SpeechStart { start_sample: self.padded_start(start) },
            // The segment ends with the last chunk at the start threshold (`strong_end`), not with the
            // decaying tail between the thresholds.
            Edge::Off { start, strong_end, .. } => VadEvent::SpeechEnd(self.close(start, strong_end)),
        }
    }

    fn padded_start(&self, start: u64) -> u64 {
        start.saturating_sub(self.config.start_padding_samples).max(self.floor)
    }

    fn close(&mut self, start: u64, end: u64) -> SpeechSegment {
        let start = self.padded_start(start);
        let end = end.saturating_sub(self.config.hangover_samples).max(start) + self.config.end_padding_samples;
        let segment = SpeechSegment { start_sample: start, end_sample: end };
        self.floor = segment.end_sample;
        segment
    }
}

/// Runs a segmenter over chunk probabilities (`chunk` samples each) of a clip `total` samples long.
pub fn segments_from_probabilities(config: &VadConfig, probs: &[f32], chunk: u64, total: u64) -> Vec<SpeechSegment> {
    let mut seg = VadSegmenter::new(config.clone());
    let mut out = Vec::new();
    for (i, &p) in probs.iter().enumerate() {
        if let Some(VadEvent::SpeechEnd(s)) = seg.push(i as u64 * chunk, chunk, p) {
            out.push(s);
        }
    }
    if let Some(VadEvent::SpeechEnd(s)) = seg.finish(total) {
        out.push(s);
    }
    for s in &mut out {
        s.end_sample = s.end_sample.min(total);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: u64 = crate::VAD_CHUNK_SAMPLES;

    fn config() -> VadConfig {
        // 0.5 / 0.35, min speech 2 chunks, min silence 3 chunks, no padding.
        VadConfig {
            start_threshold: 0.5,
            stop_threshold: 0.35,
            min_speech_samples: 2 * CHUNK,
            min_silence_samples: 3 * CHUNK,
            start_padding_samples: 0,
            end_padding_samples: 0,
            hangover_samples: 0,
        }
    }

    fn run(probs: &[f32], config: &VadConfig) -> Vec<(u64, u64)> {
        segments_from_probabilities(config, probs, CHUNK, probs.len() as u64 * CHUNK)
            .into_iter()
            .map(|s| (s.start_sample / CHUNK, s.end_sample / CHUNK))
            .collect()
    }

    #[test]
    fn finds_one_segment() {
        let p = [0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.0];
        assert_eq!(run(&p, &config()), [(2, 6)]);
    }

    #[test]
    fn a_blip_shorter_than_min_speech_is_ignored() {
        let p = [0.0, 0.9, 0.1, 0.1, 0.1, 0.1, 0.0];
        assert_eq!(run(&p, &config()), []);
    }

    #[test]
    fn hysteresis_keeps_speech_between_thresholds() {
        // 0.4 is below start but above stop: it continues speech and does not start it.
        let p = [0.4, 0.4, 0.9, 0.9, 0.4, 0.4, 0.4, 0.4, 0.9, 0.1, 0.1, 0.1];
        assert_eq!(run(&p, &config()), [(2, 9)]);
        // A decaying tail between the thresholds keeps the segment open but is not counted as speech.
        let p = [0.9, 0.9, 0.9, 0.45, 0.4, 0.1, 0.1, 0.1];
        assert_eq!(run(&p, &config()), [(0, 3)]);
    }

    #[test]
    fn short_pauses_do_not_split_and_long_ones_do() {
        let p = [0.9, 0.9, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9];
        assert_eq!(run(&p, &config()), [(0, 6), (9, 12)]);
    }

    #[test]
    fn padding_widens_but_never_overlaps_or_leaves_the_clip() {
        let mut c = config();
        c.start_padding_samples = 2 * CHUNK;
        c.end_padding_samples = 2 * CHUNK;
        let p = [0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9];
        let segments = run(&p, &c);
        assert_eq!(segments, [(0, 4), (4, 8)]);
    }

    #[test]
    fn the_model_hangover_is_taken_back_from_the_end() {
        let mut c = config();
        c.hangover_samples = CHUNK;
        let p = [0.0, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1];
        assert_eq!(run(&p, &c), [(1, 4)]);
    }

    #[test]
    fn events_arrive_when_decided() {
        let mut s = VadSegmenter::new(config());
        assert_eq!(s.push(0, CHUNK, 0.9), None);
        assert_eq!(s.push(CHUNK, CHUNK, 0.9), Some(VadEvent::SpeechStart { start_sample: 0 }));
        assert!(s.in_speech());
        assert_eq!(s.push(2 * CHUNK, CHUNK, 0.0), None);
        assert_eq!(s.push(3 * CHUNK, CHUNK, 0.0), None);
        assert_eq!(
            s.push(4 * CHUNK, CHUNK, 0.0),
            Some(VadEvent::SpeechEnd(SpeechSegment { start_sample: 0, end_sample: 2 * CHUNK }))
        );
        assert!(!s.in_speech());
    }

    #[test]
    fn open_speech_is_closed_at_the_end() {
        let p = [0.0, 0.9, 0.9, 0.9];
        assert_eq!(run(&p, &config()), [(1, 4)]);
    }
}
