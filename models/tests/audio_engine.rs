//! The audio executor on the real VAD and Smart Turn: eight sessions streaming 20 ms frames at once are
//! batched into shared Silero calls and get exactly the probabilities each stream gets alone; end-of-turn
//! checks from several sessions share one call.

use std::time::Duration;

use parley_models::engine::AudioExecutorHandle;
use parley_models::turn::SmartTurn;
use parley_models::vad::{SileroVad, VadStream};

mod common;
use common::store;

fn speech(seed: usize) -> Vec<f32> {
    // Deterministic voiced-like signal with pauses, different per session.
    (0..16_000 * 2)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let on = ((t * (1.5 + seed as f32 * 0.2)) as usize).is_multiple_of(2);
            if on { ((t * (140.0 + 10.0 * seed as f32)) * std::f32::consts::TAU).sin() * 0.3 } else { 0.0 }
        })
        .collect()
}

#[test]
fn eight_sessions_are_batched_and_match_each_stream_alone() {
    let Some(store) = store() else { return };
    let engine =
        AudioExecutorHandle::spawn(SileroVad::load(&store, 1).unwrap(), SmartTurn::load(&store, 1).unwrap(), 256);
    let audio: Vec<Vec<f32>> = (0..8).map(speech).collect();
    let mut from_engine: Vec<Vec<f32>> = vec![Vec::new(); 8];
    for frame in 0..audio[0].len() / 320 {
        let replies: Vec<_> =
            (0..8).map(|s| engine.vad(s as u64, audio[s][frame * 320..(frame + 1) * 320].to_vec()).unwrap()).collect();
        for (s, rx) in replies.into_iter().enumerate() {
            let probs = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
            from_engine[s].extend(probs.iter().map(|p| p.probability));
        }
    }
    let mut vad = SileroVad::load(&store, 1).unwrap();
    for (s, a) in audio.iter().enumerate() {
        let alone: Vec<f32> =
            vad.process(&mut VadStream::new(), a).unwrap().into_iter().map(|p| p.probability).collect();
        assert_eq!(alone.len(), from_engine[s].len());
        for (x, y) in alone.iter().zip(&from_engine[s]) {
            assert!((x - y).abs() < 1e-4, "session {s}: {x} vs {y}");
        }
    }
    let stats = engine.stats();
    eprintln!("{stats:?}");
    assert!(stats.max_vad_batch >= 4, "sessions were not batched: {stats:?}");
    assert!(stats.vad_calls < stats.vad_chunks, "{stats:?}");

    // End-of-turn checks submitted together share a call and match single calls.
    let clips: Vec<Vec<f32>> = (0..4).map(speech).collect();
    let replies: Vec<_> = clips.iter().map(|c| engine.end_of_turn(c.clone()).unwrap()).collect();
    let together: Vec<f32> = replies.into_iter().map(|r| r.recv().unwrap().unwrap()).collect();
    let mut turn = SmartTurn::load(&store, 1).unwrap();
    for (c, p) in clips.iter().zip(&together) {
        assert!((turn.probability(c).unwrap() - p).abs() < 1e-4);
    }
    assert!(engine.stats().turn_calls < 4, "{:?}", engine.stats());
    engine.shutdown();
}
