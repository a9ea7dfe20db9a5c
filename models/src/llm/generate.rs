//! The convenience loop: prompt → prefill → sample/feed token by token, streaming text through a callback,
//! with stop tokens, stop strings, a token budget and cancellation between tokens.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::chat_template::ChatMessage;
use super::detokenizer::IncrementalDetokenizer;
use super::error::{LlmError, LlmResult};
use super::model::LlmModel;
use super::sampling::{Sampler, SamplingParams};
use super::sequence::LlmSequence;
use super::stop::StopMatcher;

/// How one reply is generated.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub sampling: SamplingParams,
    /// Most tokens to sample (an end-of-text token counts).
    pub max_tokens: usize,
    /// Texts that end the reply; they are not part of it.
    pub stop: Vec<String>,
    /// Set it from anywhere to stop before the next token.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self { sampling: SamplingParams::greedy(), max_tokens: 256, stop: Vec::new(), cancel: None }
    }
}

/// Why a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-text / end-of-turn token.
    EndOfText,
    /// A stop string appeared.
    StopString,
    /// `max_tokens` were sampled.
    MaxTokens,
    /// The cancel flag was set or the callback returned `Break`.
    Cancelled,
}

/// Timings and counts of one reply.
#[derive(Debug, Clone, Default)]
pub struct GenerationStats {
    /// Tokens in the prompt (the whole conversation so far).
    pub prompt_tokens: usize,
    /// Of those, tokens already in the sequence's KV cache.
    pub reused_prompt_tokens: usize,
    /// Time to compute the new prompt tokens.
    pub prefill: Duration,
    /// From the call to the first sampled token.
    pub time_to_first_token: Duration,
    pub generated_tokens: usize,
    /// From the first sampled token to the end.
    pub decode: Duration,
}

impl GenerationStats {
    /// Prompt tokens computed per second (reused ones excluded).
    pub fn prefill_tokens_per_s(&self) -> f64 {
        rate(self.prompt_tokens - self.reused_prompt_tokens, self.prefill)
    }

    /// Tokens per second after the first one (each needed one forward pass).
    pub fn decode_tokens_per_s(&self) -> f64 {
        rate(self.generated_tokens.saturating_sub(1), self.decode)
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    if d.is_zero() { 0.0 } else { n as f64 / d.as_secs_f64() }
}

/// A finished reply.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The text shown (stop strings removed).
    pub text: String,
    /// Every sampled token, including a final end-of-text one.
    pub tokens: Vec<u32>,
    pub finish: FinishReason,
    pub stats: GenerationStats,
}

impl LlmModel {
    /// Generates the assistant's reply to `messages`, reusing whatever of the conversation `seq` has cached.
    /// `on_text` receives the reply in whole-character pieces as it is generated; returning `Break` cancels.
    pub fn generate(
        &self,
        seq: &mut LlmSequence,
        messages: &[ChatMessage],
        options: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> LlmResult<Generation> {
        let prompt = self.encode_chat(messages)?;
        self.generate_from_tokens(seq, &prompt, options, on_text)
    }

    /// Like [`generate`](Self::generate) for an already tokenised prompt.
    pub fn generate_from_tokens(
        &self,
        seq: &mut LlmSequence,
        prompt: &[u32],
        options: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> LlmResult<Generation> {
        let start = Instant::now();
        let mut sampler = Sampler::new(&options.sampling)?;
        let cancelled = || options.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
        let mut stats = GenerationStats { prompt_tokens: prompt.len(), ..Default::default() };
        let mut text = String::new();
        let mut tokens = Vec::new();
        let finish = |finish, text, tokens, stats| Ok(Generation { text, tokens, finish, stats });

        if cancelled() {
            return finish(FinishReason::Cancelled, text, tokens, stats);
        }
        let prefill = seq.prefill(self, prompt)?;
        stats.prefill = start.elapsed();
        stats.reused_prompt_tokens = prefill.reused;
        let mut logits = prefill.logits;

        let mut detok = IncrementalDetokenizer::new();
        let mut stops = StopMatcher::new(&options.stop);
        let mut first_token_at = None;
        let tokenizer_err = |message: String| LlmError::Tokenizer {
            model: self.id().into(),
            what: "decoding generated tokens",
            message,
        };
        let reason = loop {
            if tokens.len() >= options.max_tokens {
                break FinishReason::MaxTokens;
            }
            if cancelled() {
                break FinishReason::Cancelled;
            }
            let token = sampler.sample(&logits).map_err(|source| LlmError::Compute {
                model: self.id().into(),
                what: "sampling",
                source,
            })?;
            tokens.push(token);
            if first_token_at.is_none() {
                first_token_at = Some(Instant::now());
                stats.time_to_first_token = start.elapsed();
            }
            if self.stop_token_ids().contains(&token) {
                break FinishReason::EndOfText;
            }
            let piece = detok.push(self.tokenizer(), token).map_err(tokenizer_err)?;
            let scan = stops.push(&piece);
            text.push_str(&scan.emit);
            if !scan.emit.is_empty() && on_text(&scan.emit).is_break() {
                break FinishReason::Cancelled;
            }
            if scan.stopped {
                break FinishReason::StopString;
            }
            if tokens.len() >= options.max_tokens {
                break FinishReason::MaxTokens;
            }
            logits = seq.feed(self, &[token])?;
        };

        if matches!(reason, FinishReason::EndOfText | FinishReason::MaxTokens) {
            // Release what was held back: a trailing incomplete character, a possible stop-string prefix.
            let tail = detok.finish(self.tokenizer()).map_err(tokenizer_err)?;
            let mut scan = stops.push(&tail);
            if !scan.stopped {
                scan.emit.push_str(&stops.finish());
            }
            text.push_str(&scan.emit);
            if !scan.emit.is_empty() {
                let _ = on_text(&scan.emit);
            }
        }
        stats.generated_tokens = tokens.len();
        stats.decode = first_token_at.map(|t| t.elapsed()).unwrap_or_default();
        finish(reason, text, tokens, stats)
    }
}
