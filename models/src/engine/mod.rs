//! The shared engine (in progress): one scheduler per model family serving every session's requests, batched
//! across sessions, under deadlines and priority classes.
//!
//! Built so far, each an executor thread with a cloneable handle and bounded queues (a full queue is a typed
//! `Overloaded` error, never an unbounded wait):
//!
//! - [`LlmExecutorHandle`] runs the LLM scheduling state ([`LlmScheduler`]: classes, deadlines, budgeted chunked
//!   prefill riding with decode steps, admission, cancellation) with continuous batching over per-session KV
//!   caches kept between turns;
//! - [`AudioExecutorHandle`] batches every session's VAD chunks and end-of-turn checks per tick;
//! - [`AsrExecutorHandle`] batches concurrent utterances through one Whisper encoder pass;
//! - [`TtsExecutorHandle`] interleaves every session's speech clause by clause, first audio first.
//!
//! They record queue wait, step time, batch size, tokens, time to first token and deadline misses through the
//! `metrics` facade. Still to come: priorities across executors (they share the CPU), one engine-wide handle
//! built from the configuration, and the `parley bench engine` load test.

mod asr_executor;
mod audio_executor;
mod executor_thread;
mod handle;
mod llm_executor;
mod metrics;
mod priority;
mod scheduler;
mod tts_executor;

pub use asr_executor::AsrExecutorHandle;
pub use audio_executor::{AudioExecutorHandle, AudioExecutorStats};
pub use handle::{BatchMode, EngineHandle, EngineOptions, SessionPermit};
pub use llm_executor::{EngineError, LlmEvent, LlmExecutorConfig, LlmExecutorHandle, LlmRequest};
pub use metrics::{BatchStats, batch_stats, reset_batch_stats};
pub use priority::{BusyGuard, GateRole, PriorityGate};
pub use scheduler::{Admission, LlmScheduler, Priority, RequestId, SchedulerConfig, Work};
pub use tts_executor::{TtsEvent, TtsExecutorHandle};
