//! Helpers for the real-model conversation tests: an engine on the model store, questions spoken by the
//! Piper voice, and listening to a call's events and audio.

use std::time::Duration;

use parley_media::MediaEvent;
use parley_models::engine::{EngineHandle, EngineOptions, TtsEvent};
use tokio::time::Instant;

use crate::caller::Caller;
use crate::fixtures;

/// An engine for two sessions on the model store; None without the store on a developer machine (a
/// `SKIPPED:` line; a failure under CI: [`fixtures::model_store`]).
pub fn engine() -> Option<EngineHandle> {
    let store = fixtures::model_store()?;
    Some(EngineHandle::start(&store, EngineOptions { max_sessions: 2, ..Default::default() }).expect("engine"))
}

/// Piper speech for `text` at 16 kHz.
pub fn speak(engine: &EngineHandle, text: &str) -> Vec<f32> {
    let (_, rx) = engine.tts().speak(text).unwrap();
    let mut samples = Vec::new();
    let mut rate = 22_050;
    while let Ok(event) = rx.recv() {
        match event {
            TtsEvent::Chunk(c) => {
                rate = c.sample_rate;
                samples.extend(c.samples);
            }
            TtsEvent::Done(r) => {
                r.unwrap();
                break;
            }
        }
    }
    parley_media::resample(&samples, rate, 16_000).unwrap()
}

/// Whisper's transcript of 16 kHz audio, through the engine.
pub fn transcribe(engine: &EngineHandle, audio: Vec<f32>) -> String {
    engine.asr().transcribe(audio).unwrap().recv().unwrap().unwrap().text
}

/// Collects events and received audio until `done` says stop or `within` passes.
pub async fn listen(
    caller: &mut Caller,
    within: Duration,
    done: impl FnMut(&serde_json::Value) -> bool,
) -> (Vec<serde_json::Value>, Vec<f32>) {
    hear(caller, Duration::MAX, within, done).await
}

/// Collects events and received audio until `heard` of audio (media time, counted frame by frame as it
/// arrives) has been received, `done` says stop, or `within` passes. "The caller has heard half a second of
/// the reply" as a signal, not a wall-clock guess.
pub async fn hear(
    caller: &mut Caller,
    heard: Duration,
    within: Duration,
    mut done: impl FnMut(&serde_json::Value) -> bool,
) -> (Vec<serde_json::Value>, Vec<f32>) {
    let end = Instant::now() + within;
    let (mut events, mut audio, mut seconds) = (Vec::new(), Vec::new(), 0.0);
    while seconds < heard.as_secs_f64()
        && let Ok(Some(event)) = tokio::time::timeout_at(end, caller.events.recv()).await
    {
        match event {
            MediaEvent::Audio { frame, .. } => {
                seconds += frame.samples.len() as f64 / frame.sample_rate.max(1) as f64;
                audio.extend(frame.samples);
            }
            MediaEvent::Message(m) => {
                let v: serde_json::Value = serde_json::from_str(&m).unwrap();
                let stop = done(&v);
                events.push(v);
                if stop {
                    break;
                }
            }
            _ => {}
        }
    }
    (events, audio)
}

/// `audio` after `pause` of silence: a pause in a scenario, played in real time by the caller's output like
/// the speech (no wall-clock sleep).
pub fn after_pause(pause: Duration, audio: Vec<f32>, rate: u32) -> Vec<f32> {
    let mut out = vec![0.0; (pause.as_secs_f64() * rate as f64) as usize];
    out.extend(audio);
    out
}

/// The `type` of each event.
pub fn types(events: &[serde_json::Value]) -> Vec<String> {
    events.iter().map(|e| e["type"].as_str().unwrap_or("").to_string()).collect()
}

/// Plays 16 kHz audio into the call.
pub async fn say(caller: &Caller, audio: Vec<f32>) {
    caller.peer.audio_output().push(audio).await.unwrap();
    caller.peer.audio_output().finish().await.unwrap();
}
