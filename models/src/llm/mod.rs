//! Large language models: GGUF weights run with candle's quantized kernels, the model's own chat template and
//! tokenizer, seeded sampling, streaming detokenisation that never splits a character, stop strings, and a KV
//! cache per conversation that is reused across turns.
//!
//! The shape is the one a batching engine needs: an [`LlmModel`] holds the immutable weights (`Send + Sync`,
//! shared by every conversation) and each conversation has an [`LlmSequence`] with its own KV cache and token
//! history. [`LlmSequence::feed`] (tokens → logits) and [`Sampler::sample`] (logits → token) are the steps;
//! [`LlmModel::generate`] is the loop for one sequence. Compute is synchronous: call it from a compute thread,
//! never from the async runtime. candle sizes its CPU thread pools itself (`RAYON_NUM_THREADS`).
//!
//! ```no_run
//! use parley_models::llm::{ChatMessage, GenerateOptions, LlmModel, FAST_MODEL};
//! use parley_models::store::{Manifest, ModelStore};
//!
//! let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
//! let model = LlmModel::load(&store, FAST_MODEL)?;
//! let mut seq = model.new_sequence();
//! let messages = [ChatMessage::user("What is the capital of France?")];
//! let reply = model.generate(&mut seq, &messages, &GenerateOptions::default(), &mut |piece| {
//!     print!("{piece}");
//!     std::ops::ControlFlow::Continue(())
//! })?;
//! eprintln!("\n{} tokens, {:.1} tok/s", reply.stats.generated_tokens, reply.stats.decode_tokens_per_s());
//! # Ok::<(), parley_models::llm::LlmError>(())
//! ```

mod candle_reference;
mod chat_template;
mod detokenizer;
mod embedding;
mod error;
mod generate;
mod linear;
mod model;
mod sampling;
mod sequence;
mod stop;
mod transformer;

pub use candle_reference::{CandleReference, argmax};
pub use chat_template::{ChatMessage, ChatTemplate, Role};
pub use detokenizer::{IncrementalDetokenizer, TokenDecoder};
pub use error::{LlmError, LlmResult};
pub use generate::{FinishReason, GenerateOptions, Generation, GenerationStats};
pub use model::{FAST_MODEL, LlmModel, LoadOptions, SLOW_MODEL};
pub use sampling::{Sampler, SamplingParams};
pub use sequence::{LlmSequence, Prefill};
pub use stop::{StopMatcher, StopScan};
pub use transformer::{Architecture, KvCache};
