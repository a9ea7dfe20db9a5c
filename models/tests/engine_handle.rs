//! The whole engine from one handle on the real models: every stage answers, sessions beyond the configured
//! capacity are refused promptly with `Overloaded` and admitted again once a place frees, and serial mode
//! gives the same answers as batched mode.

use std::time::{Duration, Instant};

use parley_models::engine::{
    BatchMode, EngineError, EngineHandle, EngineOptions, LlmEvent, LlmRequest, Priority, TtsEvent,
};
use parley_models::llm::{ChatMessage, SamplingParams};

mod common;
use common::store;

fn reply(engine: &EngineHandle, session: u64) -> String {
    let request = LlmRequest {
        session,
        // SmolLM2's template default system prompt sends the 4-bit 135M model into French trivia (and which
        // trivia flips with the last bits of the arithmetic); a plain system prompt gets a plain answer.
        messages: vec![
            ChatMessage::system("You are a helpful assistant."),
            ChatMessage::user("What is the capital of France?"),
        ],
        sampling: SamplingParams::greedy(),
        max_tokens: 8,
        stop: Vec::new(),
        priority: Priority::Interactive,
        deadline: Duration::from_secs(5),
    };
    let (_, events) = engine.fast().generate(request).unwrap();
    let mut text = String::new();
    for event in events {
        match event {
            LlmEvent::Text(t) => text.push_str(&t),
            LlmEvent::Done(d) => {
                d.unwrap();
                break;
            }
        }
    }
    text
}

#[test]
fn one_handle_serves_every_stage_and_admits_sessions_up_to_capacity() {
    let Some(store) = store() else { return };
    let mut answers = Vec::new();
    for mode in [BatchMode::Batched, BatchMode::Serial] {
        let engine =
            EngineHandle::start(&store, EngineOptions { max_sessions: 2, mode, ..Default::default() }).unwrap();
        assert!(engine.loaded().len() >= 4, "{:?}", engine.loaded());

        let a = engine.open_session().unwrap();
        let b = engine.open_session().unwrap();
        let refused = Instant::now();
        assert!(matches!(engine.open_session(), Err(EngineError::Overloaded { what: "sessions" })));
        assert!(refused.elapsed() < Duration::from_secs(1), "refused at once, not queued");
        drop(b);
        let c = engine.open_session().expect("a freed place is given again");
        assert_ne!(a.id(), c.id());

        // VAD on a second of silence: 31 whole chunks, all quiet.
        let probs = engine.audio().vad(a.id(), vec![0.0; 16_000]).unwrap().recv().unwrap().unwrap();
        assert_eq!(probs.len(), 31);
        assert!(probs.iter().all(|p| p.probability < 0.5));
        let eot = engine.audio().end_of_turn(vec![0.0; 16_000]).unwrap().recv().unwrap().unwrap();
        assert!((0.0..=1.0).contains(&eot));
        let voice = engine
            .audio()
            .speaker_embedding((0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.1).collect())
            .unwrap()
            .recv()
            .unwrap()
            .unwrap();
        assert!((voice.similarity(&voice) - 1.0).abs() < 1e-3, "unit length");
        let transcript = engine.asr().transcribe(vec![0.0; 16_000]).unwrap().recv().unwrap().unwrap();
        assert!(transcript.text.len() < 20, "{transcript:?}");
        answers.push(reply(&engine, a.id()));
        let (_, audio) = engine.tts().speak("Paris.").unwrap();
        let chunks = audio.iter().take_while(|e| matches!(e, TtsEvent::Chunk(_))).count();
        assert_eq!(chunks, 1);
        drop((a, c));
        assert_eq!(engine.sessions(), 0);
        engine.shutdown();
    }
    assert!(answers[0].contains("Paris"), "{answers:?}");
    assert_eq!(answers[0], answers[1], "serial and batched modes answer alike");
}
