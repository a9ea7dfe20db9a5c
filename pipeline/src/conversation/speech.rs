//! Speech from VAD probabilities, sans-IO in samples: hysteresis (a higher probability to start than to stay
//! on), a minimum speech length to start, and a pause once silence has lasted
//! [`ConversationConfig::pause_ms`]; speech after a pause is "resumed", so the turn logic decides what a pause
//! means.

use super::ConversationConfig;

const RATE: u64 = 16_000;

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
    start: f32,
    stop: f32,
    min_speech: u64,
    pause: u64,
    speaking: bool,
    paused: bool,
    run_start: Option<u64>,
    last_speech_end: u64,
    chunk: u64,
}

impl SpeechDetector {
    pub fn new(config: &ConversationConfig) -> Self {
        Self {
            start: config.vad_start,
            stop: config.vad_stop,
            min_speech: config.min_speech_ms as u64 * RATE / 1000,
            pause: config.pause_ms as u64 * RATE / 1000,
            speaking: false,
            paused: false,
            run_start: None,
            last_speech_end: 0,
            chunk: 512,
        }
    }

    /// Whether speech is on (including a pause not yet resolved).
    pub fn in_speech(&self) -> bool {
        self.speaking
    }

    /// Takes the probability of the chunk ending at `end`.
    pub fn push(&mut self, end: u64, probability: f32) -> Option<SpeechEvent> {
        let start = end.saturating_sub(self.chunk);
        if !self.speaking {
            if probability < self.start {
                self.run_start = None;
                return None;
            }
            let first = *self.run_start.get_or_insert(start);
            if end - first >= self.min_speech {
                self.speaking = true;
                self.paused = false;
                self.last_speech_end = end;
                return Some(SpeechEvent::Started { at: first });
            }
            return None;
        }
        let threshold = if self.paused { self.start } else { self.stop };
        if probability >= threshold {
            self.last_speech_end = end;
            if self.paused {
                self.paused = false;
                return Some(SpeechEvent::Resumed);
            }
            return None;
        }
        if !self.paused && end - self.last_speech_end >= self.pause {
            self.paused = true;
            return Some(SpeechEvent::Paused { at: self.last_speech_end });
        }
        None
    }

    /// The turn is over (or the speech ignored): start afresh.
    pub fn reset(&mut self) {
        self.speaking = false;
        self.paused = false;
        self.run_start = None;
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
                let end = (from_chunk + i as u64 + 1) * 512;
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
                (5 * 512, SpeechEvent::Started { at: 512 }),
                (17 * 512, SpeechEvent::Paused { at: 10 * 512 }),
                (19 * 512, SpeechEvent::Resumed),
            ]
        );
    }
}
