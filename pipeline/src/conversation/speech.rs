//! Speech from VAD probabilities, sans-IO in samples: the crate's [`Hysteresis`] (a higher probability to start
//! than to stay on, a minimum speech length to start, with [`Onset::Strict`]), where silence lasting
//! [`ConversationConfig::pause_ms`] is a pause rather than an end; speech after a pause is "resumed" (at the
//! first chunk at the start threshold, with no minimum length), so the turn logic decides what a pause means.

use parley_media::AudioFrame;

use super::ConversationConfig;
use crate::VAD_CHUNK_SAMPLES;
use crate::hysteresis::{Edge, Hysteresis, HysteresisConfig, Onset};

/// A change the turn logic acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechEvent {
    /// Speech began at this sample.
    Started { at: u64 },
    /// Silence since this sample (the end of the last speech chunk) has lasted the pause length.
    Paused { at: u64 },
    /// Speech again after a pause.
    Resumed,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct SpeechDetector {
    hysteresis: Hysteresis,
    min_speech: u64,
    /// Off in the hysteresis, but still this speech (until resumed or reset).
    paused: bool,
}

impl SpeechDetector {
    pub fn new(config: &ConversationConfig) -> Self {
        let samples = |ms: u32| ms as u64 * AudioFrame::PIPELINE_RATE as u64 / 1000;
        let min_speech = samples(config.min_speech_ms);
        let hysteresis = Hysteresis::new(HysteresisConfig {
            on: config.vad_start,
            off: config.vad_stop,
            min_on: min_speech,
            min_off: samples(config.pause_ms),
            onset: Onset::Strict,
        });
        Self { hysteresis, min_speech, paused: false }
    }

    /// Whether speech is on (including a pause not yet resolved).
    pub fn in_speech(&self) -> bool {
        self.hysteresis.is_on() || self.paused
    }

    /// Takes the probability of the chunk (of [`VAD_CHUNK_SAMPLES`]) ending at `end`.
    pub fn push(&mut self, end: u64, probability: f32) -> Option<SpeechEvent> {
        let start = end.saturating_sub(VAD_CHUNK_SAMPLES);
        match self.hysteresis.push(start, end, probability)? {
            Edge::On { start } if !self.paused => Some(SpeechEvent::Started { at: start }),
            Edge::On { .. } => {
                self.paused = false;
                self.hysteresis.set_min_on(self.min_speech);
                Some(SpeechEvent::Resumed)
            }
            Edge::Off { held_end, .. } => {
                // A pause, not an end: resuming needs one chunk at the start threshold, not `min_speech`.
                self.paused = true;
                self.hysteresis.set_min_on(0);
                Some(SpeechEvent::Paused { at: held_end })
            }
        }
    }

    /// The turn is over (or the speech ignored): start afresh.
    pub fn reset(&mut self) {
        self.hysteresis.reset();
        self.hysteresis.set_min_on(self.min_speech);
        self.paused = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(d: &mut SpeechDetector, probs: &[f32], from_chunk: u64) -> Vec<(u64, SpeechEvent)> {
        probs
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| {
                let end = (from_chunk + i as u64 + 1) * VAD_CHUNK_SAMPLES;
                d.push(end, p).map(|e| (end, e))
            })
            .collect()
    }

    #[test]
    fn start_pause_resume_with_hysteresis() {
        let mut d = SpeechDetector::new(&ConversationConfig::default());
        // 3 chunks (96 ms) < 100 ms: nothing; the 4th starts it at the first loud chunk.
        let mut probs = vec![0.1, 0.9, 0.9, 0.9, 0.9];
        probs.extend([0.4; 5]); // above stop: still speech
        probs.extend([0.1; 7]); // 224 ms of silence: paused after 200 ms
        probs.extend([0.4, 0.6]); // 0.4 does not resume a pause, 0.6 does
        let events = run(&mut d, &probs, 0);
        assert_eq!(
            events,
            vec![
                (5 * VAD_CHUNK_SAMPLES, SpeechEvent::Started { at: VAD_CHUNK_SAMPLES }),
                (17 * VAD_CHUNK_SAMPLES, SpeechEvent::Paused { at: 10 * VAD_CHUNK_SAMPLES }),
                (19 * VAD_CHUNK_SAMPLES, SpeechEvent::Resumed),
            ]
        );
    }
}
