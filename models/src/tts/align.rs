//! Word timing estimates: which stretch of a chunk's audio says which original word.
//!
//! Piper's ONNX export does not return phoneme durations, so spans are estimated: a chunk's samples are shared
//! among its original words in proportion to their phoneme counts (from espeak's per-word output). espeak merges
//! some words ("out of" → `ˌaʊɾəv`), so when its word count differs from the normalised text's, the shares fall
//! back to letters. Spans tile the chunk exactly: in order, no gaps, no overlaps. The conversation uses them to
//! keep in the assistant's context only the words that were actually played before a barge-in.

use super::normalize::SpokenWord;

/// One original word and its estimated samples, counted from the start of the utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordSpan {
    /// The word as written in the text ("$3.50,").
    pub word: String,
    pub start_sample: usize,
    pub end_sample: usize,
}

impl WordSpan {
    pub fn start_ms(&self, sample_rate: u32) -> f64 {
        samples_to_ms(self.start_sample, sample_rate)
    }

    pub fn end_ms(&self, sample_rate: u32) -> f64 {
        samples_to_ms(self.end_sample, sample_rate)
    }
}

pub fn samples_to_ms(samples: usize, sample_rate: u32) -> f64 {
    samples as f64 * 1000.0 / sample_rate.max(1) as f64
}

/// The words whose audio ended within the first `played` samples, joined with spaces: what the listener heard.
pub fn played_text(words: &[WordSpan], played: usize) -> String {
    words.iter().take_while(|w| w.end_sample <= played).map(|w| w.word.as_str()).collect::<Vec<_>>().join(" ")
}

/// Shares `len` samples starting at `start` among `words`, by phoneme counts when espeak's words line up with
/// the spoken words, by letters otherwise.
pub fn word_spans(words: &[SpokenWord], espeak_word_lengths: &[usize], start: usize, len: usize) -> Vec<WordSpan> {
    let spoken_counts: Vec<usize> = words.iter().map(|w| w.spoken.split_whitespace().count()).collect();
    let total_spoken: usize = spoken_counts.iter().sum();
    let weights: Vec<usize> = if total_spoken == espeak_word_lengths.len() {
        let mut lengths = espeak_word_lengths.iter();
        spoken_counts.iter().map(|&n| lengths.by_ref().take(n).sum()).collect()
    } else {
        words.iter().map(|w| w.spoken.chars().filter(|c| c.is_alphanumeric()).count()).collect()
    };
    let total: usize = weights.iter().sum();
    let (weights, total) = if total == 0 { (vec![1; words.len()], words.len()) } else { (weights, total) };
    let mut spans = Vec::with_capacity(words.len());
    let mut cumulative = 0usize;
    let mut previous = start;
    for (word, weight) in words.iter().zip(weights) {
        cumulative += weight;
        let end = start + ((len as u128 * cumulative as u128) / total.max(1) as u128) as usize;
        spans.push(WordSpan { word: word.original.clone(), start_sample: previous, end_sample: end });
        previous = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(original: &str, spoken: &str) -> SpokenWord {
        SpokenWord { original: original.into(), spoken: spoken.into() }
    }

    #[test]
    fn phoneme_counts_share_the_samples() {
        let words = [w("Pay", "Pay"), w("$2", "two dollars")];
        let spans = word_spans(&words, &[2, 2, 6], 100, 1000);
        assert_eq!(spans[0], WordSpan { word: "Pay".into(), start_sample: 100, end_sample: 300 });
        assert_eq!(spans[1], WordSpan { word: "$2".into(), start_sample: 300, end_sample: 1100 });
    }

    #[test]
    fn mismatched_counts_fall_back_to_letters() {
        let words = [w("out", "out"), w("of", "of"), w("here", "here")];
        let spans = word_spans(&words, &[5, 4], 0, 90);
        assert_eq!(spans.iter().map(|s| s.end_sample).collect::<Vec<_>>(), [30, 50, 90]);
    }

    #[test]
    fn spans_tile_the_chunk_even_without_weights() {
        let words = [w("\"", ""), w("—", "")];
        let spans = word_spans(&words, &[], 10, 7);
        assert_eq!((spans[0].start_sample, spans[1].end_sample), (10, 17));
        assert_eq!(spans[0].end_sample, spans[1].start_sample);
        assert!(word_spans(&[], &[], 0, 5).is_empty());
    }

    #[test]
    fn played_text_stops_at_the_cut() {
        let words = [w("a", "a"), w("b", "b"), w("c", "c")];
        let spans = word_spans(&words, &[1, 1, 1], 0, 30);
        assert_eq!(played_text(&spans, 25), "a b");
        assert_eq!(played_text(&spans, 0), "");
    }
}
