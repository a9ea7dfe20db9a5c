//! The Piper voice on the real model store with the real `espeak-ng`. Without the store or `espeak-ng` the
//! tests skip with a printed reason on a developer machine and fail under CI
//! (`parley_models::store::{test_store, require_tool}`).

use parley_models::store::{require_tool, test_store};
use parley_models::tts::{Chunk, Phonemizer, PiperVoice, Scales, Speech, WordSpan, split_clauses};

fn voice() -> Option<PiperVoice> {
    let store = test_store()?;
    if !require_tool(Phonemizer::new("en-us").check().err().map(|e| e.to_string())) {
        return None;
    }
    Some(PiperVoice::load(&store, 2).expect("the voice loads"))
}

/// The same voice with no noise: the same ids always give the same audio.
fn deterministic_voice() -> Option<PiperVoice> {
    let mut v = voice()?;
    v.set_scales(v.scales().deterministic());
    Some(v)
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

fn assert_tiles(words: &[WordSpan], start: usize, end: usize) {
    assert!(!words.is_empty());
    assert_eq!(words[0].start_sample, start);
    assert_eq!(words.last().unwrap().end_sample, end);
    for pair in words.windows(2) {
        assert_eq!(pair[0].end_sample, pair[1].start_sample, "{pair:?}");
        assert!(pair[0].start_sample <= pair[0].end_sample);
    }
}

const REPLY: &str = "Hello there! The meeting with Dr. Smith is at 3:30 pm on March 21st. \
                     It will cost about $12.50, which is 20% less than last year.";

#[test]
fn sentences_have_plausible_duration_and_energy() {
    let Some(voice) = voice() else { return };
    assert_eq!(voice.sample_rate(), 22050);
    assert_eq!(voice.scales(), Scales { noise_scale: 0.667, length_scale: 1.0, noise_w: 0.8 });
    let text = "The quick brown fox jumps over the lazy dog. I hope you are having a wonderful day.";
    let speech = voice.synthesize_all(text).unwrap();
    let words = text.split_whitespace().count() as f64;
    let rate = words / speech.duration_secs();
    assert!((2.0..=4.5).contains(&rate), "{rate:.2} words/s over {:.2} s", speech.duration_secs());
    assert!(rms(&speech.samples) > 0.02, "rms {}", rms(&speech.samples));
    assert!(speech.samples.iter().all(|s| s.is_finite()));
    assert_eq!(speech.words.len() as f64, words);
    assert_tiles(&speech.words, 0, speech.samples.len());
}

#[test]
fn noise_makes_output_random_and_zero_noise_is_deterministic() {
    let Some(mut voice) = voice() else { return };
    let text = "Is this the same every time?";
    let a = voice.synthesize_all(text).unwrap().samples;
    let b = voice.synthesize_all(text).unwrap().samples;
    assert_ne!(a, b, "Piper's default noise scales make every run different");
    voice.set_scales(voice.scales().deterministic());
    let a = voice.synthesize_all(text).unwrap().samples;
    let b = voice.synthesize_all(text).unwrap().samples;
    assert_eq!(a, b);
}

#[test]
fn streaming_chunks_equal_synthesize_all() {
    let Some(voice) = deterministic_voice() else { return };
    let mut chunks = voice.chunks(REPLY).unwrap();
    // The first chunk comes back while later clauses are still waiting.
    let first = chunks.next().unwrap().unwrap();
    assert_eq!(first.index, 0);
    assert_eq!(first.text, "Hello there!");
    let rest: Vec<Chunk> = chunks.map(Result::unwrap).collect();
    assert!(rest.len() >= 2, "{} chunks after the first", rest.len());

    let mut streamed = Speech::default();
    let mut expected_start = 0;
    for chunk in std::iter::once(first).chain(rest) {
        assert_eq!(chunk.start_sample, expected_start);
        assert!(chunk.phonemes.contains('ˈ'), "stress marks in {:?}", chunk.phonemes);
        assert_tiles(&chunk.words, chunk.start_sample, chunk.end_sample());
        let words: Vec<&str> = chunk.words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(words, chunk.text.split_whitespace().collect::<Vec<_>>(), "original words kept");
        expected_start = chunk.end_sample();
        streamed.push(chunk);
    }
    let whole = voice.synthesize_all(REPLY).unwrap();
    assert_eq!(streamed.clauses, whole.clauses);
    assert_eq!(streamed.clauses, split_clauses(REPLY));
    assert_eq!(streamed.samples, whole.samples);
    assert_eq!(streamed.words, whole.words);
}

#[test]
fn token_by_token_input_gives_the_same_clauses_and_audio() {
    let Some(voice) = deterministic_voice() else { return };
    let whole = voice.synthesize_all(REPLY).unwrap();

    let mut stream = voice.stream();
    let mut got = Speech::default();
    let mut first_chunk_after_chars = None;
    let mut fed = 0;
    // LLM-like tokens: a few characters at a time.
    let chars: Vec<char> = REPLY.chars().collect();
    for piece in chars.chunks(4) {
        let piece: String = piece.iter().collect();
        fed += piece.len();
        stream.push_text(&piece).unwrap();
        while let Some(chunk) = stream.next_chunk(&voice).unwrap() {
            first_chunk_after_chars.get_or_insert(fed);
            got.push(chunk);
        }
    }
    assert!(!stream.is_done());
    stream.finish().unwrap();
    while let Some(chunk) = stream.next_chunk(&voice).unwrap() {
        got.push(chunk);
    }
    assert!(stream.is_done());
    let first = first_chunk_after_chars.expect("audio before the end of the text");
    assert!(first < REPLY.len() / 2, "first audio after {first} of {} bytes", REPLY.len());
    assert_eq!(got.clauses, whole.clauses);
    assert_eq!(got.samples, whole.samples);
    assert_eq!(got.words, whole.words);
}

#[test]
fn odd_text_never_panics() {
    let Some(voice) = voice() else { return };
    for text in ["", "   ", "...", "?!", "😀", "$", "-- --", "Hi 😀 there."] {
        let speech = voice.synthesize_all(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(speech.samples.iter().all(|s| s.is_finite()), "{text:?}");
    }
    assert!(voice.synthesize_all("").unwrap().samples.is_empty());
    assert!(voice.synthesize_all("...").unwrap().samples.is_empty());
    // Long text with no punctuation is cut into bounded clauses.
    let long = "and then we walked a little further ".repeat(15);
    let speech = voice.synthesize_all(&long).unwrap();
    assert!(speech.clauses.len() >= 3);
    assert_eq!(speech.words.len(), long.split_whitespace().count());
}
