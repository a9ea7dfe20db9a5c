//! candle-transformers' own quantized llama / qwen2 models, unchanged: the reference our transformer is
//! checked against (greedy tokens) and compared with (`parley-bench llm --backend candle`). One sequence at a
//! time; the KV cache lives inside the model, so `&mut self`.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::error::{LlmError, LlmResult};
use super::transformer::Architecture;

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

/// A GGUF model run entirely by candle (its kernels, its attention, its cache).
pub struct CandleReference {
    weights: Weights,
    /// Positions fed since the last [`CandleReference::reset`].
    pos: usize,
    model: String,
}

impl CandleReference {
    /// Loads `gguf` (llama or qwen2 architecture).
    pub fn load(gguf: &Path) -> LlmResult<Self> {
        let model = format!("{} (candle)", gguf.display());
        let err = |what: &'static str| {
            let model = model.clone();
            move |e: candle_core::Error| LlmError::Compute { model, what, source: e }
        };
        let mut file = std::fs::File::open(gguf).map_err(|e| LlmError::Io {
            model: model.clone(),
            path: gguf.to_path_buf(),
            source: e,
        })?;
        let ct = gguf_file::Content::read(&mut file).map_err(err("reading the GGUF header"))?;
        let arch = ct.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned();
        let weights = match arch.as_deref() {
            Some("qwen2") => Weights::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(ct, &mut file, &Device::Cpu)
                    .map_err(err("loading the weights"))?,
            ),
            _ => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(ct, &mut file, &Device::Cpu)
                    .map_err(err("loading the weights"))?,
            ),
        };
        Ok(Self { weights, pos: 0, model })
    }

    pub fn architecture(&self) -> Architecture {
        match self.weights {
            Weights::Llama(_) => Architecture::Llama,
            Weights::Qwen2(_) => Architecture::Qwen2,
        }
    }

    /// Forgets every position (the next feed starts a new sequence).
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Feeds `tokens` after the positions already fed; the logits of the last one (`[vocab]`).
    pub fn feed(&mut self, tokens: &[u32]) -> LlmResult<Tensor> {
        let input = Tensor::new(tokens, &Device::Cpu).and_then(|t| t.unsqueeze(0)).map_err(|e| LlmError::Compute {
            model: self.model.clone(),
            what: "candle input",
            source: e,
        })?;
        let logits = match &mut self.weights {
            Weights::Llama(m) => m.forward(&input, self.pos),
            Weights::Qwen2(m) => m.forward(&input, self.pos),
        }
        .and_then(|l| l.squeeze(0));
        let logits = logits.map_err(|e| LlmError::Compute {
            model: self.model.clone(),
            what: "candle forward pass",
            source: e,
        })?;
        self.pos += tokens.len();
        Ok(logits)
    }

    /// Greedy continuation of `prompt` (from a fresh sequence): `n` token ids.
    pub fn greedy(&mut self, prompt: &[u32], n: usize) -> LlmResult<Vec<u32>> {
        self.reset();
        let mut logits = self.feed(prompt)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let next = argmax(&logits)?;
            out.push(next);
            logits = self.feed(&[next])?;
        }
        Ok(out)
    }
}

/// The index of the largest logit.
pub fn argmax(logits: &Tensor) -> LlmResult<u32> {
    logits.argmax(0).and_then(|t| t.to_scalar::<u32>()).map_err(|e| LlmError::Compute {
        model: "argmax".into(),
        what: "argmax",
        source: e,
    })
}
