//! The LLM executor on the real fast model: concurrent sessions are batched together and each gets exactly
//! the reply it would get alone; cancellation and overload answer promptly.

use std::sync::Arc;
use std::time::Duration;

use parley_models::engine::{
    EngineError, LlmEvent, LlmExecutorConfig, LlmExecutorHandle, LlmRequest, Priority, SchedulerConfig,
};
use parley_models::llm::{ChatMessage, FAST_MODEL, FinishReason, GenerateOptions, LlmModel, SamplingParams};
use parley_models::store::test_store;

fn model() -> Option<Arc<LlmModel>> {
    let store = test_store()?;
    Some(Arc::new(LlmModel::load(&store, FAST_MODEL).unwrap()))
}

fn request(session: u64, question: &str, max_tokens: usize) -> LlmRequest {
    LlmRequest {
        session,
        messages: vec![ChatMessage::system("You are a helpful assistant."), ChatMessage::user(question)],
        sampling: SamplingParams::greedy(),
        max_tokens,
        stop: Vec::new(),
        priority: Priority::Interactive,
        deadline: Duration::from_millis(500),
    }
}

fn collect(rx: std::sync::mpsc::Receiver<LlmEvent>) -> (String, Result<(FinishReason, usize), EngineError>) {
    let mut text = String::new();
    for event in rx {
        match event {
            LlmEvent::Text(t) => text.push_str(&t),
            LlmEvent::Done(outcome) => return (text, outcome),
        }
    }
    panic!("stream ended without Done");
}

#[test]
fn concurrent_sessions_get_the_replies_they_would_get_alone() {
    let Some(model) = model() else { return };
    let config = LlmExecutorConfig {
        scheduler: SchedulerConfig { max_running: 8, token_budget: 1024, max_waiting: 8 },
        ..Default::default()
    };
    let engine = LlmExecutorHandle::spawn(model.clone(), config);
    let questions = ["What is the capital of France?", "Name three colours.", "What is 2 + 2?", "Say hi."];
    let streams: Vec<_> =
        questions.iter().enumerate().map(|(i, q)| engine.generate(request(i as u64, q, 16)).unwrap().1).collect();
    let replies: Vec<_> = streams.into_iter().map(collect).collect();
    for (q, (text, outcome)) in questions.iter().zip(&replies) {
        let r = request(0, q, 16);
        let options = GenerateOptions { max_tokens: 16, ..Default::default() };
        let solo = model
            .generate(&mut model.new_sequence(), &r.messages, &options, &mut |_| std::ops::ControlFlow::Continue(()))
            .unwrap();
        eprintln!("{q:?} → {text:?}");
        assert_eq!(text, &solo.text, "{q}");
        let (reason, tokens) = outcome.as_ref().unwrap();
        assert_eq!((*reason, *tokens), (solo.finish, solo.tokens.len()), "{q}");
    }
    // A second turn of session 0 continues from its cached history.
    let mut second = request(0, questions[0], 16);
    second.messages.push(ChatMessage::assistant(&replies[0].0));
    second.messages.push(ChatMessage::user("And of Italy?"));
    let (text, outcome) = collect(engine.generate(second).unwrap().1);
    assert!(outcome.is_ok() && !text.is_empty(), "{text:?} {outcome:?}");
    engine.shutdown();
}

#[test]
fn cancellation_and_overload_answer_promptly() {
    let Some(model) = model() else { return };
    let config = LlmExecutorConfig {
        scheduler: SchedulerConfig { max_running: 1, token_budget: 64, max_waiting: 0 },
        ..Default::default()
    };
    let engine = LlmExecutorHandle::spawn(model, config);
    let (id, long) = engine.generate(request(1, "Tell me a long story about a dragon.", 200)).unwrap();
    // The signal that the long request holds the only slot: its first text.
    match long.recv_timeout(Duration::from_secs(60)).expect("the long reply starts") {
        LlmEvent::Text(_) => {}
        LlmEvent::Done(outcome) => panic!("the long reply ended before it began: {outcome:?}"),
    }
    // The only slot is taken and nothing may wait: the next request is refused with a typed error.
    let (_, refused) = engine.generate(request(2, "Hello?", 8)).unwrap();
    let (_, outcome) = collect(refused);
    assert!(matches!(outcome, Err(EngineError::Overloaded { .. })), "{outcome:?}");
    engine.cancel(id);
    let (_, outcome) = collect(long);
    let (reason, generated) = outcome.unwrap();
    assert_eq!(reason, FinishReason::Cancelled);
    assert!(generated < 200);
    // The slot is free again.
    let (text, outcome) = collect(engine.generate(request(3, "Say hi.", 4)).unwrap().1);
    assert!(outcome.is_ok() && !text.is_empty());
    engine.shutdown();
}

#[test]
fn kept_caches_are_reused_and_dropped_least_recently_used_under_the_memory_budget() {
    let Some(model) = model() else { return };
    // Each turn generates one token and the history holds a fixed answer, so every session's cache has the
    // same size whatever the model says (a generated answer made the sizes vary between runs).
    let two_turns = |engine: &LlmExecutorHandle, session: u64| {
        let first = request(session, "What is the capital of France?", 1);
        collect(engine.generate(first.clone()).unwrap().1).1.unwrap();
        let mut second = first;
        second.messages.push(ChatMessage::assistant("The capital of France is Paris."));
        second.messages.push(ChatMessage::user("And of Italy?"));
        collect(engine.generate(second).unwrap().1).1.unwrap();
    };

    // Room for everything: the second turn reuses the first turn's prompt from the cache.
    let engine = LlmExecutorHandle::spawn(model.clone(), LlmExecutorConfig::default());
    two_turns(&engine, 1);
    let stats = engine.stats();
    assert!(stats.reused_prompt_tokens >= 20, "{stats:?}");
    assert_eq!((stats.cached_sessions, stats.evicted), (1, 0), "{stats:?}");
    // ~46 KB per position for SmolLM2 (30 layers × 2 × 192 values × 4 bytes).
    assert!(stats.cached_kv_bytes > 30 * 46_000, "{stats:?}");
    let one_session = stats.cached_kv_bytes;
    engine.shutdown();

    // Room for about one conversation: a second session pushes the first one's cache out (least recently
    // used), and the first session's next turn starts from nothing.
    let config = LlmExecutorConfig { cached_kv_bytes: one_session * 3 / 2, ..Default::default() };
    let engine = LlmExecutorHandle::spawn(model, config);
    two_turns(&engine, 1);
    two_turns(&engine, 2);
    let before = engine.stats();
    assert_eq!(before.cached_sessions, 1, "{before:?}");
    assert!(before.evicted >= 1 && before.cached_kv_bytes <= one_session * 3 / 2, "{before:?}");
    let (_, outcome) = collect(engine.generate(request(1, "Hello again.", 4)).unwrap().1);
    outcome.unwrap();
    let after = engine.stats();
    assert_eq!(after.reused_prompt_tokens, before.reused_prompt_tokens, "session 1 was evicted: {after:?}");
    engine.shutdown();
}
