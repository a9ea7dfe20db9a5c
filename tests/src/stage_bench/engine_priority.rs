//! The priority check of `parley-bench engine --slow`: the fast model's time to first token alone, then while
//! the slow model prefills a long prompt.

use std::time::{Duration, Instant};

use anyhow::Context;
use parley_models::engine::{EngineHandle, EngineOptions, LlmEvent, LlmRequest, Priority};
use parley_models::llm::{ChatMessage, SamplingParams};
use serde_json::{Value, json};

use super::engine::{SYSTEM, UTTERANCES, percentiles, round};

/// The fast model's time to first token alone, then while the slow model prefills a long prompt.
pub(super) fn priority_check(store: &parley_models::store::ModelStore, base: &EngineOptions) -> anyhow::Result<Value> {
    eprintln!("priority check: loading both LLMs…");
    let options = EngineOptions { slow_model: true, max_sessions: 4, ..base.clone() };
    let engine = EngineHandle::start(store, options).context("starting the engine with the slow model")?;
    let slow = engine.slow().context("the slow model is loaded")?.clone();
    let ask = |session: u64, question: &str| -> anyhow::Result<f64> {
        let request = LlmRequest {
            session,
            messages: vec![ChatMessage::system(SYSTEM), ChatMessage::user(question)],
            sampling: SamplingParams::greedy(),
            max_tokens: 1,
            stop: Vec::new(),
            priority: Priority::Interactive,
            deadline: Duration::from_millis(1000),
        };
        let t = Instant::now();
        let (_, events) = engine.fast().generate(request)?;
        for event in events {
            match event {
                LlmEvent::Text(_) => {}
                LlmEvent::Done(d) => {
                    d?;
                    break;
                }
            }
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    // Distinct sessions so nothing is reused from a cached prefix.
    let questions: Vec<String> = (0..10).map(|i| format!("Question number {i}: {}", UTTERANCES[i % 4])).collect();
    let idle: Vec<f64> =
        questions.iter().enumerate().map(|(i, q)| ask(1000 + i as u64, q)).collect::<Result<_, _>>()?;
    let long = "Summarise the following notes. ".to_string()
        + &"The meeting covered the budget, the schedule, the hiring plan and the office move. ".repeat(40);
    let mut loaded = Vec::new();
    let mut slow_runs = 0;
    for (i, q) in questions.iter().enumerate() {
        // Keep a slow prefill running behind every fast request.
        let request = LlmRequest {
            session: 2000 + i as u64,
            messages: vec![ChatMessage::user(long.clone())],
            sampling: SamplingParams::greedy(),
            max_tokens: 1,
            stop: Vec::new(),
            priority: Priority::Slow,
            deadline: Duration::from_secs(60),
        };
        let (slow_id, slow_events) = slow.generate(request)?;
        slow_runs += 1;
        std::thread::sleep(Duration::from_millis(300));
        loaded.push(ask(3000 + i as u64, q)?);
        slow.cancel(slow_id);
        for event in slow_events {
            if let LlmEvent::Done(_) = event {
                break;
            }
        }
    }
    engine.shutdown();
    let p90 = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * 0.9).round() as usize]
    };
    Ok(json!({
        "check": "fast first token under slow prefill",
        "idle_ttft_ms": percentiles(&idle),
        "loaded_ttft_ms": percentiles(&loaded),
        "slow_prefills": slow_runs,
        "p90_ratio": round(p90(&loaded) / p90(&idle)),
    }))
}
