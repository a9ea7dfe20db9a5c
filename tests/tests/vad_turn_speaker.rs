//! VAD, end-of-turn and speaker embedding on the real weights and the golden fixtures.

use parley_models::speaker::SpeakerEmbedder;
use parley_models::turn::SmartTurn;
use parley_models::vad::{CHUNK_SAMPLES, SileroVad, VadStream};
use parley_pipeline::vad_segmenter::{VadConfig, segments_from_probabilities};
use parley_tests::fixtures::{fixture, fixtures, model_store};

#[test]
fn vad_segments_match_the_annotation_within_100_ms() {
    let Some(store) = model_store() else { return };
    let mut vad = SileroVad::load(&store, 1).unwrap();
    let mut failures = Vec::new();
    for f in fixtures() {
        let audio = f.audio_16k();
        let probs = vad.probabilities(&audio).unwrap();
        let segments =
            segments_from_probabilities(&VadConfig::default(), &probs, CHUNK_SAMPLES as u64, audio.len() as u64);
        let got: Vec<(u64, u64)> = segments.iter().map(|s| (s.start_ms(16_000), s.end_ms(16_000))).collect();
        let close = got.len() == f.segments.len()
            && got
                .iter()
                .zip(&f.segments)
                .all(|((gs, ge), (es, ee))| gs.abs_diff(*es) <= 100 && ge.abs_diff(*ee) <= 100);
        eprintln!("{}: VAD {got:?}, annotation {:?}", f.file, f.segments);
        if !close {
            failures.push(f.file.clone());
        }
    }
    assert!(failures.is_empty(), "segments more than 100 ms off in {failures:?}");
}

#[test]
fn chunked_vad_equals_whole_buffer_vad_and_batching_changes_nothing() {
    let Some(store) = model_store() else { return };
    let mut vad = SileroVad::load(&store, 1).unwrap();
    let audio = fixture("two_utterances.wav").audio_16k();
    let audio = &audio[..audio.len() / CHUNK_SAMPLES * CHUNK_SAMPLES];
    let whole = vad.probabilities(audio).unwrap();

    // Odd-sized pieces, as a network would deliver them.
    let mut stream = VadStream::new();
    let mut chunked = Vec::new();
    for piece in audio.chunks(333) {
        chunked.extend(vad.process(&mut stream, piece).unwrap().into_iter().map(|p| p.probability));
    }
    assert_eq!(whole, chunked);

    // Three streams stepped together in one batch give each stream's own result.
    let others = [fixture("sentence_1.wav").audio_16k(), fixture("noise.wav").audio_16k()];
    let n = audio.len().min(others[0].len()).min(others[1].len()) / CHUNK_SAMPLES * CHUNK_SAMPLES;
    let alone: Vec<Vec<f32>> =
        [&audio[..n], &others[0][..n], &others[1][..n]].iter().map(|a| vad.probabilities(a).unwrap()).collect();
    let mut streams = [VadStream::new(), VadStream::new(), VadStream::new()];
    streams[0].push(&audio[..n]);
    streams[1].push(&others[0][..n]);
    streams[2].push(&others[1][..n]);
    let mut batched = vec![Vec::new(); 3];
    loop {
        let [a, b, c] = &mut streams;
        let out = vad.step(&mut [a, b, c]).unwrap();
        if out.iter().all(Option::is_none) {
            break;
        }
        for (i, p) in out.into_iter().enumerate() {
            batched[i].push(p.unwrap().probability);
        }
    }
    for i in 0..3 {
        for (x, y) in alone[i].iter().zip(&batched[i]) {
            assert!((x - y).abs() < 1e-4, "stream {i}: {x} vs {y}");
        }
    }
}

#[test]
fn smart_turn_tells_finished_sentences_from_mid_sentence_pauses() {
    let Some(store) = model_store() else { return };
    let mut turn = SmartTurn::load(&store, 1).unwrap();
    let clips: Vec<_> = fixtures().into_iter().filter(|f| f.turn_complete.is_some()).collect();
    assert!(clips.len() >= 4);
    let audio: Vec<Vec<f32>> = clips.iter().map(|f| f.audio_16k()).collect();
    let refs: Vec<&[f32]> = audio.iter().map(|a| a.as_slice()).collect();
    let batch = turn.probabilities(&refs).unwrap();
    for (f, p) in clips.iter().zip(&batch) {
        eprintln!("end-of-turn probability {p:.3}: {:?}", f.text);
    }
    for (f, p) in clips.iter().zip(&batch) {
        if f.turn_complete == Some(true) {
            assert!(*p > 0.5, "finished sentence {:?} scored {p}", f.text);
        } else {
            assert!(*p < 0.5, "mid-sentence pause {:?} scored {p}", f.text);
        }
    }
    // Batched and single calls agree.
    assert!((turn.probability(&audio[0]).unwrap() - batch[0]).abs() < 1e-4);
}

#[test]
fn speaker_embedding_separates_two_voices() {
    let Some(store) = model_store() else { return };
    let mut spk = SpeakerEmbedder::load(&store, 1).unwrap();
    let mut emb = |f: &str| spk.embed(&fixture(f).audio_16k()).unwrap();
    let (a1, a2, b1, b2) = (emb("speaker_a1.wav"), emb("speaker_a2.wav"), emb("speaker_b1.wav"), emb("speaker_b2.wav"));
    let same = [a1.similarity(&a2), b1.similarity(&b2)];
    let different = [a1.similarity(&b1), a1.similarity(&b2), a2.similarity(&b1), a2.similarity(&b2)];
    eprintln!("same voice {same:?}, different voices {different:?}");
    let worst_same = same.iter().copied().fold(f32::MAX, f32::min);
    let best_different = different.iter().copied().fold(f32::MIN, f32::max);
    assert!(worst_same > best_different, "same {same:?} vs different {different:?}");
    assert!((a1.similarity(&a1) - 1.0).abs() < 1e-5);
}
