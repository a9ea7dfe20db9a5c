//! Whisper tiny.en on the real weights and the golden fixtures: word error rate, timestamps, no text from
//! noise or silence, streaming final equals offline.

use parley_models::asr::{StreamingTranscriber, WhisperAsr, WhisperBackend};
use parley_models::vad::SileroVad;
use parley_tests::fixtures::{fixture, fixtures, model_store, word_error_rate};
use parley_web::stage_cmds::transcribe::transcribe_speech;

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

/// Our encoder (parley-kernels' softmax and GELU) and decoder (parley-kernels, a self-attention KV cache)
/// against candle-transformers' (which re-feeds every token each step): the same transcripts, segment times and no-speech probabilities on every fixture, and the same
/// rejection of noise.
#[test]
fn our_encoder_and_decoder_transcribe_exactly_like_candles() {
    let Some(store) = model_store() else { return };
    let mut ours = WhisperAsr::load(&store).unwrap();
    let mut candle = WhisperAsr::load(&store).unwrap();
    candle.set_backend(WhisperBackend::Candle);
    for f in fixtures().into_iter().filter(|f| f.asr || f.file == "noise.wav") {
        let audio = f.audio_16k();
        let (a, b) = (ours.transcribe(&audio).unwrap(), candle.transcribe(&audio).unwrap());
        eprintln!("{}: {:?} / candle {:?}", f.file, a.text, b.text);
        assert_eq!(a.text, b.text, "{}", f.file);
        assert_eq!(a.segments, b.segments, "{}", f.file);
        assert_eq!(a.rejected_as_no_speech, b.rejected_as_no_speech, "{}", f.file);
        assert!((a.no_speech_probability - b.no_speech_probability).abs() < 1e-3, "{}", f.file);
        assert!((a.average_logprob - b.average_logprob).abs() < 1e-2, "{}", f.file);
    }
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
    // Each session gets what Whisper alone makes of its own audio.
    let mut alone = WhisperAsr::load(&store).unwrap();
    for (file, text) in files.iter().zip(&texts) {
        let f = fixture(file);
        assert_eq!(*text, alone.transcribe(&f.audio_16k()).unwrap().text, "{file}");
        if f.text.is_empty() {
            assert!(text.split_whitespace().count() <= 1, "{file}: {text:?}");
        } else {
            assert!(word_error_rate(&f.text, text) <= 0.15, "{file}: {:?} → {text:?}", f.text);
        }
    }
    engine.shutdown();
}

/// Figures for docs/models.md: word error rate and time per utterance by encoder window
/// (`cargo test --release -p parley-tests --test asr -- --ignored --nocapture window_sweep`).
#[test]
#[ignore = "a measurement, not a check"]
fn window_sweep() {
    let Some(store) = model_store() else { return };
    let mut asr = WhisperAsr::load(&store).unwrap();
    // Every fixture with speech (incomplete turns and the second speaker's voice included).
    let clips: Vec<_> =
        fixtures().into_iter().filter(|f| !f.text.is_empty()).map(|f| (f.text.clone(), f.audio_16k())).collect();
    for secs in [30, 10, 8, 6] {
        asr.set_min_window(secs * 16_000);
        let (mut errors, mut words) = (0.0, 0usize);
        let mut times = Vec::new();
        for rep in 0..3 {
            for (text, audio) in &clips {
                let started = std::time::Instant::now();
                let t = asr.transcribe(audio).unwrap();
                times.push(started.elapsed().as_secs_f64() * 1e3);
                let n = text.split_whitespace().count();
                let wer = word_error_rate(text, &t.text);
                if rep == 0 && wer > 0.0 {
                    eprintln!("  {secs:>2} s: {text:?} → {:?}", t.text);
                }
                errors += wer * n as f64;
                words += n;
            }
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "min window {secs:>2} s: WER {:.3} over {words} words, per utterance P50 {:.0} ms P90 {:.0} ms",
            errors / words as f64,
            times[times.len() / 2],
            times[times.len() * 9 / 10]
        );
    }
}
