//! The engine's measurements, through the `metrics` facade (a no-op until a recorder is installed; the web
//! crate will export them to Prometheus). Names and units:
//!
//! - `parley_engine_queue_wait_ms{executor,model}` — from submission to the request's first computed step
//! - `parley_engine_step_ms{executor,model}` — one batched model call
//! - `parley_engine_batch_size{executor,model}` — requests (or streams) in that call
//! - `parley_engine_tokens_total{model,kind}` — LLM tokens computed, `kind` = `prefill` | `decode`
//! - `parley_engine_first_token_ms{model}` — LLM time to first token
//! - `parley_engine_deadline_misses_total{executor,model}` — first results later than their deadline
//! - `parley_engine_kv_cached_sessions{model}`, `parley_engine_kv_cached_bytes{model}` — KV caches kept
//!   between turns

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Batch sizes seen by one executor's model, also kept in process (for `parley-bench engine`, which reports
/// them without a metrics recorder).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    pub steps: u64,
    pub items: u64,
    pub max: usize,
    pub busy_ms: f64,
}

impl BatchStats {
    pub fn mean(&self) -> f64 {
        if self.steps == 0 { 0.0 } else { self.items as f64 / self.steps as f64 }
    }
}

static BATCHES: Mutex<BTreeMap<(&'static str, String), BatchStats>> = Mutex::new(BTreeMap::new());

/// Batch statistics since the last [`reset_batch_stats`], by (executor, model).
pub fn batch_stats() -> BTreeMap<(&'static str, String), BatchStats> {
    BATCHES.lock().map(|m| m.clone()).unwrap_or_default()
}

pub fn reset_batch_stats() {
    if let Ok(mut m) = BATCHES.lock() {
        m.clear();
    }
}

pub(crate) fn queue_wait(executor: &'static str, model: &str, wait: Duration) {
    metrics::histogram!("parley_engine_queue_wait_ms", "executor" => executor, "model" => model.to_string())
        .record(wait.as_secs_f64() * 1e3);
}

pub(crate) fn step(executor: &'static str, model: &str, took: Duration, batch: usize) {
    metrics::histogram!("parley_engine_step_ms", "executor" => executor, "model" => model.to_string())
        .record(took.as_secs_f64() * 1e3);
    metrics::histogram!("parley_engine_batch_size", "executor" => executor, "model" => model.to_string())
        .record(batch as f64);
    if let Ok(mut m) = BATCHES.lock() {
        let s = m.entry((executor, model.to_string())).or_default();
        s.steps += 1;
        s.items += batch as u64;
        s.max = s.max.max(batch);
        s.busy_ms += took.as_secs_f64() * 1e3;
    }
}

pub(crate) fn tokens(model: &str, prefill: usize, decode: usize) {
    if prefill > 0 {
        metrics::counter!("parley_engine_tokens_total", "model" => model.to_string(), "kind" => "prefill")
            .increment(prefill as u64);
    }
    if decode > 0 {
        metrics::counter!("parley_engine_tokens_total", "model" => model.to_string(), "kind" => "decode")
            .increment(decode as u64);
    }
}

pub(crate) fn first_token(model: &str, took: Duration, deadline: Duration) {
    metrics::histogram!("parley_engine_first_token_ms", "model" => model.to_string()).record(took.as_secs_f64() * 1e3);
    if took > deadline {
        deadline_miss("llm", model);
    }
}

pub(crate) fn deadline_miss(executor: &'static str, model: &str) {
    metrics::counter!("parley_engine_deadline_misses_total", "executor" => executor, "model" => model.to_string())
        .increment(1);
}

pub(crate) fn kv_cache(model: &str, sessions: usize, bytes: usize) {
    metrics::gauge!("parley_engine_kv_cached_sessions", "model" => model.to_string()).set(sessions as f64);
    metrics::gauge!("parley_engine_kv_cached_bytes", "model" => model.to_string()).set(bytes as f64);
}
