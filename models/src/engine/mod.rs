//! The shared engine (in progress): one scheduler per model family serving every session's requests, batched
//! across sessions, under deadlines and priority classes.
//!
//! Built so far: the LLM scheduling state ([`LlmScheduler`]: classes, deadlines, budgeted chunked prefill riding
//! with decode steps, admission with a typed overload answer, cancellation) and the LLM executor thread
//! ([`LlmExecutorHandle`]) that runs it with continuous batching over per-session KV caches, and the audio
//! executor ([`AudioExecutorHandle`]) that batches every session's VAD chunks and end-of-turn checks per tick.
//! Both record queue wait, step time, batch size, tokens, time to first token and deadline misses through the
//! `metrics` facade. The TTS executor ([`TtsExecutorHandle`]) interleaves every session's speech clause by
//! clause, first audio first. An ASR executor, priorities across executors, the engine-wide handle and the
//! `parley bench engine` load test are still to come.

mod audio_executor;
mod llm_executor;
mod metrics;
mod scheduler;
mod tts_executor;

pub use audio_executor::{AudioExecutorHandle, AudioExecutorStats};
pub use llm_executor::{EngineError, LlmEvent, LlmExecutorConfig, LlmExecutorHandle, LlmRequest};
pub use scheduler::{Admission, LlmScheduler, Priority, RequestId, SchedulerConfig, Work};
pub use tts_executor::{TtsEvent, TtsExecutorHandle};
