//! Large language models: our own decoder-only transformer (llama and qwen2 GGUF layouts) whose matrix
//! products are parley-kernels' quantized kernels, reading the GGUF blocks as stored (Q4_0, Q4_1, Q5_0, Q8_0,
//! Q4_K, Q6_K; another block type falls back to candle's quantized matmul), with parley-kernels' attention,
//! norms and RoPE, split over parley-kernels' spinning thread pool ([`parley_kernels::parallel`]); the model's
//! own chat template and tokenizer, seeded sampling, streaming detokenisation that never splits a character,
//! stop strings, and a KV cache per conversation that is reused across turns. candle still reads the GGUF file,
//! carries logits as a [`candle_core::Tensor`] and samples (candle-transformers' `LogitsProcessor`).
//!
//! The shape is the one a batching engine needs: an [`LlmModel`] holds the immutable weights (`Send + Sync`,
//! shared by every conversation) and each conversation has an [`LlmSequence`] with its own KV cache and token
//! history. [`LlmSequence::feed`] (tokens → logits) and [`Sampler::sample`] (logits → token) are the steps;
//! [`LlmSequence::feed_batch`] steps several sequences with one read of the weights; [`LlmModel::generate`] is
//! the loop for one sequence. Compute is synchronous: call it from a compute thread, never from the async
//! runtime.
//!
//! With the `reference` feature, `CandleReference` runs the same GGUF file entirely on candle-transformers'
//! own models: the reference the equivalence tests and `parley-bench llm` compare ours with.
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

#[cfg(feature = "reference")]
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

#[cfg(feature = "reference")]
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
