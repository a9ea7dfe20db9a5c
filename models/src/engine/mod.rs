//! The shared engine: one per process, serving every session's model work, batched across sessions, under
//! deadlines and priority classes.
//!
//! [`EngineHandle::start`] loads every stage model once (and warms each with one call), starts one executor
//! thread per model family and hands out admission ([`EngineHandle::open_session`]: beyond the configured
//! sessions a typed [`EngineError::Overloaded`], at once). An admitted session talks to the engine through a
//! [`SessionLink`] ([`EngineHandle::link`]): every answer to it — VAD, end of turn, transcripts, LLM text,
//! TTS chunks, embeddings, errors — arrives in its one bounded mailbox (an [`AnswerSink`] the driver
//! implements), tagged with the session's own request id; the overload policy of a full mailbox is in
//! [`mailbox`]. Each executor has a cloneable handle and bounded
//! queues (a full queue is `Overloaded`, never an unbounded wait); model compute never runs on a caller's
//! thread or an async runtime:
//!
//! - [`AudioExecutorHandle`]: every session's VAD chunks of a tick in one batched Silero call, on a thread the
//!   OS favours (real-time work), and end-of-turn checks batched on a second thread so they never delay a tick;
//! - [`AsrExecutorHandle`]: concurrent utterances through one Whisper encoder pass;
//! - [`LlmExecutorHandle`] (fast and slow model): the [`LlmScheduler`] state (classes, deadlines, budgeted
//!   chunked prefill riding with decode steps, admission, cancellation) driving continuous batching over
//!   per-session KV caches kept between turns (least recently used dropped beyond a count and a byte budget);
//! - [`TtsExecutorHandle`]: every session's speech interleaved clause by clause, first audio first.
//!
//! Between executors, a [`PriorityGate`] lets the interactive fast LLM hold off the slow one (which yields
//! before each step while fast work is pending, for a bounded time). [`BatchMode::Serial`] runs the same
//! executors one request per model call, for measuring what batching buys (`parley-bench engine`).
//!
//! Metrics go through the `metrics` facade (queue wait, step time, batch size, tokens, time to first token,
//! deadline misses; exported by the web crate at `/metrics`), and batch sizes are also kept in process
//! ([`batch_stats`]).

mod asr_executor;
mod audio_executor;
mod error;
mod executor_thread;
mod handle;
mod llm_executor;
pub mod mailbox;
mod metrics;
mod priority;
mod scheduler;
mod session_link;
mod tts_executor;

/// How often an executor retries answers held for a full mailbox when it has nothing else to do.
const OUTBOX_RETRY: std::time::Duration = std::time::Duration::from_millis(5);

pub use asr_executor::{ASR_DEFAULT_DEADLINE, AsrExecutorHandle};
pub use audio_executor::{AudioExecutorHandle, AudioExecutorStats};
pub use error::EngineError;
pub use handle::{BatchMode, EngineHandle, EngineOptions, SessionPermit};
pub use llm_executor::{LlmEvent, LlmExecutorConfig, LlmExecutorHandle, LlmExecutorStats, LlmRequest};
pub use mailbox::{Answer, AnswerSink, Refused, RequestKey, Tag};
pub use metrics::{BatchStats, batch_stats, reset_batch_stats};
pub use priority::{BusyGuard, GateRole, PriorityGate};
pub use scheduler::{Admission, LlmScheduler, Priority, RequestId, SchedulerConfig, Work};
pub use session_link::{LlmChoice, SessionLink};
pub use tts_executor::{TtsEvent, TtsExecutorHandle};
