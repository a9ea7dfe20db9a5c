//! Streaming synthesis: text in (whole or token by token), audio out clause by clause.
//!
//! [`TtsStream`] is the per-utterance state; the [`PiperVoice`] is passed to [`TtsStream::next_chunk`], so one
//! loaded voice serves any number of streams. Text goes in with [`push_text`](TtsStream::push_text) and
//! [`finish`](TtsStream::finish); complete clauses are normalised and their `espeak-ng` processes started at
//! once, up to [`LOOKAHEAD`] clauses ahead of synthesis. `next_chunk` synthesises the next clause — while the
//! following clauses' phonemes are being computed in their own processes — and returns `Ok(None)` when no
//! complete clause is waiting ("no output yet" or, after `finish`, "done": see [`is_done`](TtsStream::is_done)).

use std::collections::VecDeque;
use std::time::Duration;

use super::TtsError;
use super::align::{WordSpan, samples_to_ms, word_spans};
use super::clauses::ClauseSplitter;
use super::normalize::{SpokenWord, normalize_clause, spoken_text};
use super::phonemize::{PendingPhonemes, Phonemizer};
use super::piper::PiperVoice;

/// Clauses whose phonemes are computed ahead of synthesis (each is one short-lived `espeak-ng` process).
pub const LOOKAHEAD: usize = 2;

/// One clause of audio.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Position of the chunk in the utterance, from 0.
    pub index: usize,
    /// The clause as written.
    pub text: String,
    /// The IPA the voice spoke (Piper style).
    pub phonemes: String,
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Where the chunk starts in the utterance, in samples.
    pub start_sample: usize,
    /// The clause's original words with estimated spans, tiling `start_sample..end_sample()`.
    pub words: Vec<WordSpan>,
    /// Time spent in the ONNX model for this chunk.
    pub synthesis_time: Duration,
}

impl Chunk {
    pub fn end_sample(&self) -> usize {
        self.start_sample + self.samples.len()
    }

    pub fn start_ms(&self) -> f64 {
        samples_to_ms(self.start_sample, self.sample_rate)
    }

    pub fn end_ms(&self) -> f64 {
        samples_to_ms(self.end_sample(), self.sample_rate)
    }
}

/// A whole utterance's audio.
#[derive(Debug, Clone, Default)]
pub struct Speech {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Every original word with its estimated span in `samples`.
    pub words: Vec<WordSpan>,
    /// The clauses, as written, in order.
    pub clauses: Vec<String>,
}

impl Speech {
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate.max(1) as f64
    }

    /// Appends a chunk (chunks must come in order).
    pub fn push(&mut self, chunk: Chunk) {
        self.sample_rate = chunk.sample_rate;
        self.samples.extend_from_slice(&chunk.samples);
        self.words.extend(chunk.words);
        self.clauses.push(chunk.text);
    }
}

struct QueuedClause {
    text: String,
    words: Vec<SpokenWord>,
    spoken: String,
    phonemes: Option<PendingPhonemes>,
}

/// Per-utterance streaming state. `Send`; holds no reference to the voice.
pub struct TtsStream {
    splitter: ClauseSplitter,
    phonemizer: Phonemizer,
    queue: VecDeque<QueuedClause>,
    finished: bool,
    next_index: usize,
    position: usize,
}

impl TtsStream {
    /// An empty stream whose clauses will be phonemised by `phonemizer` (normally the voice's).
    pub fn new(phonemizer: Phonemizer) -> Self {
        Self {
            splitter: ClauseSplitter::new(),
            phonemizer,
            queue: VecDeque::new(),
            finished: false,
            next_index: 0,
            position: 0,
        }
    }

    /// Adds text (any piece: a token, a sentence). Clauses it completes start phonemising.
    pub fn push_text(&mut self, text: &str) -> Result<(), TtsError> {
        for clause in self.splitter.push(text) {
            self.enqueue(clause);
        }
        self.start_phonemes()
    }

    /// Marks the end of the text; the remainder becomes the last clause.
    pub fn finish(&mut self) -> Result<(), TtsError> {
        if let Some(clause) = self.splitter.finish() {
            self.enqueue(clause);
        }
        self.finished = true;
        self.start_phonemes()
    }

    /// True once `finish` was called and every clause has been returned.
    pub fn is_done(&self) -> bool {
        self.finished && self.queue.is_empty()
    }

    /// Complete clauses not yet synthesised.
    pub fn queued_clauses(&self) -> usize {
        self.queue.len()
    }

    /// Queued clauses whose `espeak-ng` process has been started (at most [`LOOKAHEAD`]).
    pub fn clauses_phonemising(&self) -> usize {
        self.queue.iter().filter(|c| c.phonemes.is_some()).count()
    }

    /// Samples returned so far.
    pub fn position(&self) -> usize {
        self.position
    }

    fn enqueue(&mut self, text: String) {
        let words = normalize_clause(&text);
        let spoken = spoken_text(&words);
        self.queue.push_back(QueuedClause { text, words, spoken, phonemes: None });
    }

    /// Starts `espeak-ng` for the first [`LOOKAHEAD`] queued clauses that have no process yet.
    fn start_phonemes(&mut self) -> Result<(), TtsError> {
        for clause in self.queue.iter_mut().take(LOOKAHEAD) {
            if clause.phonemes.is_none() && !clause.spoken.is_empty() {
                clause.phonemes = Some(self.phonemizer.spawn(&clause.spoken)?);
            }
        }
        Ok(())
    }

    /// Synthesises the next complete clause. `Ok(None)`: nothing complete is waiting (push more text, or, if
    /// [`is_done`](Self::is_done), the utterance is over). Clauses with nothing to say (only punctuation) are
    /// skipped.
    pub fn next_chunk(&mut self, voice: &PiperVoice) -> Result<Option<Chunk>, TtsError> {
        while let Some(mut clause) = self.queue.pop_front() {
            let phonemes = match clause.phonemes.take() {
                Some(pending) => pending.wait()?,
                None if clause.spoken.is_empty() => Default::default(),
                None => self.phonemizer.phonemize(&clause.spoken)?,
            };
            // Keep the next clauses' phonemes running while this one is synthesised.
            self.start_phonemes()?;
            let ids = voice.phoneme_ids().encode(&phonemes.text);
            if voice.phoneme_ids().is_empty_utterance(&ids) {
                tracing::debug!(clause = %clause.text, "nothing to say; clause skipped");
                continue;
            }
            let started = std::time::Instant::now();
            let samples = voice.synthesize_ids(&ids)?;
            let synthesis_time = started.elapsed();
            let start_sample = self.position;
            let words = word_spans(&clause.words, &phonemes.word_lengths, start_sample, samples.len());
            self.position += samples.len();
            let index = self.next_index;
            self.next_index += 1;
            return Ok(Some(Chunk {
                index,
                text: clause.text,
                phonemes: phonemes.text,
                samples,
                sample_rate: voice.sample_rate(),
                start_sample,
                words,
                synthesis_time,
            }));
        }
        Ok(None)
    }
}

/// Iterates over a finished stream's chunks with its voice.
pub struct Chunks<'v> {
    stream: TtsStream,
    voice: &'v PiperVoice,
}

impl Iterator for Chunks<'_> {
    type Item = Result<Chunk, TtsError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.stream.next_chunk(self.voice).transpose()
    }
}

impl PiperVoice {
    /// A new, empty stream for incremental text (an LLM reply as it is generated).
    pub fn stream(&self) -> TtsStream {
        TtsStream::new(self.phonemizer().clone())
    }

    /// The chunks of a whole text, clause by clause: the first is ready after one clause's synthesis.
    pub fn chunks(&self, text: &str) -> Result<Chunks<'_>, TtsError> {
        let mut stream = self.stream();
        stream.push_text(text)?;
        stream.finish()?;
        Ok(Chunks { stream, voice: self })
    }

    /// The whole text as one piece of audio, with every word's span.
    pub fn synthesize_all(&self, text: &str) -> Result<Speech, TtsError> {
        let mut speech = Speech { sample_rate: self.sample_rate(), ..Default::default() };
        for chunk in self.chunks(text)? {
            speech.push(chunk?);
        }
        Ok(speech)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phonemes_start_early_with_bounded_lookahead() {
        let phonemizer = Phonemizer::new("en-us");
        if let Err(e) = phonemizer.check() {
            eprintln!("SKIPPED: {e}");
            return;
        }
        let mut stream = TtsStream::new(phonemizer);
        stream.push_text("One. Two").unwrap();
        assert_eq!((stream.queued_clauses(), stream.clauses_phonemising()), (1, 1), "the first clause starts at once");
        stream.push_text(". Three. Four. Five.").unwrap();
        stream.finish().unwrap();
        assert_eq!(stream.queued_clauses(), 5);
        assert_eq!(stream.clauses_phonemising(), LOOKAHEAD);
        assert!(!stream.is_done());
        // Dropping the stream (barge-in) kills and reaps the running processes.
        drop(stream);
    }
}
