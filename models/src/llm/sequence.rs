//! Per-conversation state: the KV cache and the tokens it holds.
//!
//! A sequence lives as long as a conversation. Each turn's prompt is the whole conversation rendered again;
//! [`LlmSequence::prefill`] keeps the cached positions that match it and feeds only the rest, so history is
//! never recomputed. The `feed` → logits, `sample` → token steps are separate so that a batching engine can
//! drive many sequences itself.

use candle_core::Tensor;

use super::error::{LlmError, LlmResult};
use super::model::LlmModel;
use super::transformer::KvCache;

/// The result of bringing a sequence up to a prompt.
#[derive(Debug, Clone)]
pub struct Prefill {
    /// Logits (f32, `[vocab]`) after the prompt's last token.
    pub logits: Tensor,
    /// Prompt tokens whose keys/values were already cached.
    pub reused: usize,
    /// Prompt tokens computed now.
    pub fed: usize,
}

/// One conversation's attention state, tied to the model that created it.
#[derive(Debug, Clone)]
pub struct LlmSequence {
    model_id: String,
    model_instance: u64,
    cache: KvCache,
    tokens: Vec<u32>,
}

impl LlmSequence {
    pub(crate) fn new(model_id: String, model_instance: u64, cache: KvCache) -> Self {
        Self { model_id, model_instance, cache, tokens: Vec::new() }
    }

    /// The tokens whose keys and values are in the cache, in order.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Bytes of KV cache this sequence holds.
    pub fn kv_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Appends `tokens` (computing their keys and values) and returns the logits after the last one.
    pub fn feed(&mut self, model: &LlmModel, tokens: &[u32]) -> LlmResult<Tensor> {
        self.check_model(model)?;
        if tokens.is_empty() {
            return Err(LlmError::InvalidOption("nothing to feed: the token list is empty".into()));
        }
        let needed = self.tokens.len() + tokens.len();
        if needed > model.context_length() {
            return Err(LlmError::ContextFull { model: model.id().into(), needed, limit: model.context_length() });
        }
        let logits = model.transformer().forward(tokens, &mut self.cache).map_err(|source| LlmError::Compute {
            model: model.id().into(),
            what: "forward pass",
            source,
        })?;
        self.tokens.extend_from_slice(tokens);
        Ok(logits)
    }

    /// Brings the sequence to exactly `prompt`: keeps the longest cached prefix of it, drops any cached
    /// positions after that, and feeds the remainder (at least one token, to have logits).
    pub fn prefill(&mut self, model: &LlmModel, prompt: &[u32]) -> LlmResult<Prefill> {
        self.check_model(model)?;
        if prompt.is_empty() {
            return Err(LlmError::InvalidOption("the prompt has no tokens".into()));
        }
        let common = self.tokens.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let keep = common.min(prompt.len() - 1);
        self.truncate(model, keep)?;
        let logits = self.feed(model, &prompt[keep..])?;
        Ok(Prefill { logits, reused: keep, fed: prompt.len() - keep })
    }

    /// Keeps only the first `len` positions.
    pub fn truncate(&mut self, model: &LlmModel, len: usize) -> LlmResult<()> {
        if len >= self.tokens.len() {
            return Ok(());
        }
        self.cache.truncate(len).map_err(|source| LlmError::Compute {
            model: model.id().into(),
            what: "truncating the KV cache",
            source,
        })?;
        self.tokens.truncate(len);
        Ok(())
    }

    /// Forgets the whole conversation (the cache memory is released).
    pub fn reset(&mut self) {
        self.cache.clear();
        self.tokens.clear();
    }

    /// Feeds several sequences in one batched forward pass (continuous batching): each item's tokens are its
    /// next decoded token or a chunk of its prompt. Returns each item's logits after its last token, in order.
    /// On error no sequence changes.
    pub fn feed_batch(model: &LlmModel, items: &mut [(&mut LlmSequence, &[u32])]) -> LlmResult<Vec<Tensor>> {
        for (seq, tokens) in items.iter() {
            seq.check_model(model)?;
            if tokens.is_empty() {
                return Err(LlmError::InvalidOption("nothing to feed: a token list is empty".into()));
            }
            let needed = seq.tokens.len() + tokens.len();
            if needed > model.context_length() {
                return Err(LlmError::ContextFull { model: model.id().into(), needed, limit: model.context_length() });
            }
        }
        let mut batch: Vec<(&[u32], &mut KvCache)> =
            items.iter_mut().map(|(seq, tokens)| (*tokens, &mut seq.cache)).collect();
        let logits = model.transformer().forward_batch(&mut batch).map_err(|source| LlmError::Compute {
            model: model.id().into(),
            what: "batched forward pass",
            source,
        })?;
        for (seq, tokens) in items.iter_mut() {
            seq.tokens.extend_from_slice(tokens);
        }
        Ok(logits)
    }

    fn check_model(&self, model: &LlmModel) -> LlmResult<()> {
        if model.instance() == self.model_instance {
            Ok(())
        } else {
            Err(LlmError::WrongModel { model: model.id().into(), sequence_model: self.model_id.clone() })
        }
    }
}
