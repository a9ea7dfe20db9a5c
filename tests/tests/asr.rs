//! Whisper tiny.en on the real weights and the golden fixtures: word error rate, timestamps, no text from
//! noise or silence, streaming final equals offline.

use parley_models::asr::{StreamingTranscriber, WhisperAsr, transcribe_speech};
use parley_models::vad::SileroVad;
use parley_tests::fixtures::{fixture, fixtures, model_store, word_error_rate};

#[test]
fn word_error_rate_on_the_fixture_set_is_at_most_10_percent() {
    let Some(store) = model_store() else { return };
    let mut asr = WhisperAsr::load(&store).unwrap();
    let (mut errors, mut words) = (0.0, 0usize);
    for f in fixtures().into_iter().filter(|f| f.asr) {
        let t = asr.transcribe(&f.audio_16k()).unwrap();
        let n = f.text.split_whitespace().count();
        let wer = word_error_rate(&f.text, &t.text);
        eprintln!("{}: WER {wer:.2}: {:?} → {:?}", f.file, f.text, t.text);
        errors += wer * n as f64;
        words += n;
        // Segments are timed inside the clip and cover the speech.
        assert!(!t.segments.is_empty(), "{}: no segments", f.file);
        let (speech_start, speech_end) = f.segments[0];
        let first = &t.segments[0];
        let last = t.segments.last().unwrap();
        assert!(first.start_ms <= speech_start + 300, "{}: first segment starts at {}", f.file, first.start_ms);
        assert!(last.end_ms + 500 >= speech_end, "{}: last segment ends at {}", f.file, last.end_ms);
        assert!(t.segments.windows(2).all(|w| w[0].end_ms <= w[1].start_ms + 1 && w[0].start_ms <= w[0].end_ms));
    }
    let wer = errors / words as f64;
    eprintln!("fixture-set WER {:.3} over {words} words", wer);
    assert!(wer <= 0.10, "WER {wer}");
}

#[test]
fn noise_and_silence_give_no_text() {
    let Some(store) = model_store() else { return };
    let mut asr = WhisperAsr::load(&store).unwrap();
    let mut vad = SileroVad::load(&store, 1).unwrap();
    for file in ["noise.wav", "silence.wav"] {
        let audio = fixture(file).audio_16k();
        let gated = transcribe_speech(&mut asr, &mut vad, &audio).unwrap();
        assert_eq!(gated.text, "", "{file}");
        // Whisper alone, without the VAD gate, must not invent words either (no-speech gate).
        let raw = asr.transcribe(&audio).unwrap();
        eprintln!("{file}: whisper alone {:?}, P(no speech) {:.2}", raw.text, raw.no_speech_probability);
        assert!(raw.text.split_whitespace().count() <= 1, "{file}: hallucinated {:?}", raw.text);
    }
}

#[test]
fn streaming_final_equals_offline_and_partials_grow() {
    let Some(store) = model_store() else { return };
    let mut asr = WhisperAsr::load(&store).unwrap();
    let audio = fixture("sentence_2.wav").audio_16k();
    let offline = asr.transcribe(&audio).unwrap();
    let mut stream = StreamingTranscriber::new(8_000);
    let mut partials = Vec::new();
    for piece in audio.chunks(320) {
        stream.push(piece);
        if let Some(p) = stream.step(&mut asr).unwrap() {
            partials.push(p);
        }
    }
    let last = stream.finish(&mut asr).unwrap();
    for p in &partials {
        eprintln!("{} ms: stable {:?} | {:?}", p.audio_ms, p.stable, p.text);
    }
    assert_eq!(last, offline);
    assert!(partials.len() >= 3, "{partials:?}");
    assert!(partials.windows(2).all(|w| w[1].stable.starts_with(&w[0].stable)), "stable text shrank");
    assert!(!partials.last().unwrap().stable.is_empty(), "nothing became stable");
    let final_words = last.text.to_lowercase();
    assert!(final_words.starts_with(&partials.last().unwrap().stable.to_lowercase()[..4]));
}

#[test]
fn a_batch_of_utterances_through_one_encoder_pass_gives_the_single_transcripts() {
    let Some(store) = model_store() else { return };
    let mut asr = WhisperAsr::load(&store).unwrap();
    let clips: Vec<Vec<f32>> =
        ["sentence_1.wav", "sentence_3.wav", "noise.wav"].iter().map(|f| fixture(f).audio_16k()).collect();
    let refs: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
    let batched = asr.transcribe_batch(&refs).unwrap();
    for (clip, b) in clips.iter().zip(&batched) {
        let single = asr.transcribe(clip).unwrap();
        assert_eq!(b.text, single.text);
        assert_eq!(b.segments, single.segments);
    }
}

#[test]
fn the_asr_executor_serves_concurrent_sessions() {
    let Some(store) = model_store() else { return };
    let engine = parley_models::engine::AsrExecutorHandle::spawn(WhisperAsr::load(&store).unwrap(), 16);
    let files = ["sentence_1.wav", "sentence_2.wav", "silence.wav"];
    let replies: Vec<_> = files.iter().map(|f| engine.transcribe(fixture(f).audio_16k()).unwrap()).collect();
    let texts: Vec<String> = replies.into_iter().map(|r| r.recv().unwrap().unwrap().text).collect();
    assert_eq!(texts[0], "What is the weather like in Paris today?");
    assert_eq!(texts[1], "I would like to order a large pizza with mushrooms.");
    engine.shutdown();
}
