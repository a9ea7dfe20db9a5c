//! Streaming transcription of one utterance: audio grows, the whole utterance is re-decoded every
//! `redecode_every` samples, and words become *stable* once two consecutive decodes agree on them. Stable
//! words are never retracted. [`StreamingTranscriber::finish`] decodes the complete utterance once more, so
//! the final equals an offline transcript of the same audio.
//!
//! Sans-IO: the caller pushes samples and decides when to call `step` (the engine will schedule it).

use super::whisper::{Transcript, WhisperAsr};
use crate::stage_error::StageError;

/// A partial result: the stable prefix and the whole current hypothesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialTranscript {
    /// Words that two decodes in a row agreed on; only ever grows.
    pub stable: String,
    /// The latest hypothesis (starts with `stable` in the usual case).
    pub text: String,
    /// Audio decoded so far, in milliseconds.
    pub audio_ms: u64,
}

/// Per-utterance streaming state.
#[derive(Debug, Clone)]
pub struct StreamingTranscriber {
    audio: Vec<f32>,
    redecode_every: usize,
    decoded_len: usize,
    previous: Vec<String>,
    stable: Vec<String>,
}

impl StreamingTranscriber {
    /// `redecode_every`: new samples (16 kHz) between decodes, e.g. 8000 for every 0.5 s.
    pub fn new(redecode_every: usize) -> Self {
        Self {
            audio: Vec::new(),
            redecode_every: redecode_every.max(1),
            decoded_len: 0,
            previous: Vec::new(),
            stable: Vec::new(),
        }
    }

    pub fn push(&mut self, samples: &[f32]) {
        self.audio.extend_from_slice(samples);
    }

    pub fn audio(&self) -> &[f32] {
        &self.audio
    }

    /// Whether enough new audio arrived for another decode.
    pub fn wants_decode(&self) -> bool {
        self.audio.len() >= self.decoded_len + self.redecode_every
    }

    /// Re-decodes when due; returns a partial when the hypothesis or the stable prefix changed.
    pub fn step(&mut self, asr: &mut WhisperAsr) -> Result<Option<PartialTranscript>, StageError> {
        if !self.wants_decode() {
            return Ok(None);
        }
        self.decoded_len = self.audio.len();
        let hypothesis = asr.transcribe(&self.audio)?;
        Ok(self.update(&hypothesis.text))
    }

    /// Folds a new hypothesis into the stable prefix (pure; `step` calls it).
    pub fn update(&mut self, text: &str) -> Option<PartialTranscript> {
        let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        let agreed = self.previous.iter().zip(&words).take_while(|(a, b)| normalise(a) == normalise(b)).count();
        let keeps_stable = words.len() >= self.stable.len()
            && self.stable.iter().zip(&words).all(|(a, b)| normalise(a) == normalise(b));
        let grew = keeps_stable && agreed > self.stable.len();
        if grew {
            self.stable = words[..agreed].to_vec();
        }
        let changed = grew || words != self.previous;
        self.previous = words;
        changed.then(|| PartialTranscript {
            stable: self.stable.join(" "),
            text: text.trim().to_string(),
            audio_ms: (self.decoded_len / 16) as u64,
        })
    }

    /// Decodes the whole utterance: the final transcript.
    pub fn finish(&mut self, asr: &mut WhisperAsr) -> Result<Transcript, StageError> {
        self.decoded_len = self.audio.len();
        asr.transcribe(&self.audio)
    }

    /// Starts a new utterance.
    pub fn reset(&mut self) {
        self.audio.clear();
        self.decoded_len = 0;
        self.previous.clear();
        self.stable.clear();
    }
}

fn normalise(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_stable_when_two_decodes_agree_and_never_retract() {
        let mut s = StreamingTranscriber::new(1);
        let p = s.update("What is").unwrap();
        assert_eq!(p.stable, "");
        let p = s.update("What is the whether").unwrap();
        assert_eq!(p.stable, "What is");
        let p = s.update("What is the weather like").unwrap();
        assert_eq!(p.stable, "What is the");
        // A later decode that rewrites a stable word does not retract it.
        let p = s.update("Was it the weather like in").unwrap();
        assert_eq!(p.stable, "What is the");
        assert_eq!(p.text, "Was it the weather like in");
        assert!(s.update("Was it the weather like in").is_none());
    }

    #[test]
    fn punctuation_and_case_do_not_break_agreement() {
        let mut s = StreamingTranscriber::new(1);
        s.update("hello there");
        let p = s.update("Hello, there.").unwrap();
        assert_eq!(p.stable, "Hello, there.");
    }
}
