//! A loaded language model: GGUF weights (shared, read-only), its tokenizer, chat template and stop tokens.
//! One `LlmModel` serves any number of [`LlmSequence`]s; it is `Send + Sync`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::Device;
use candle_core::quantized::gguf_file;
use tokenizers::Tokenizer;

use super::chat_template::{ChatMessage, ChatTemplate};
use super::error::{LlmError, LlmResult};
use super::sequence::LlmSequence;
use super::transformer::{Architecture, Transformer};
use crate::store::ModelStore;

/// Store id of the fast model (SmolLM2-135M-Instruct, llama architecture).
pub const FAST_MODEL: &str = "smollm2-135m";
/// Store id of the slow model (Qwen2.5-Coder-1.5B-Instruct, qwen2 architecture).
pub const SLOW_MODEL: &str = "qwen2.5-coder-1.5b";

/// How to load a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Convert weight matrices stored as Q4_1/Q5_0/Q5_1 to Q8_0 at load time (candle has no SIMD kernels for
    /// them; parley-kernels has). Off by default: the stored bytes are read as they are (fewer bytes per token).
    pub requantize: bool,
    /// Multiply Q4_0/Q4_1/Q5_0/Q8_0 matrices with parley-kernels' batched kernels instead of candle's (a batch
    /// of sequences reads each weight once). On by default; off is for comparisons.
    pub own_kernels: bool,
    /// Also multiply Q4_K/Q6_K matrices with parley-kernels'. On by default: on Qwen2.5-1.5B ours decode 1.4×
    /// faster than candle's matmul and prefill a 32-token chunk as fast (a 128-token one at 0.8×;
    /// docs/kernels.md). Off keeps candle's for them.
    pub own_kquant_kernels: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { requantize: false, own_kernels: true, own_kquant_kernels: true }
    }
}

/// Tells sequences apart by the model object that made them.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Weights, tokenizer and prompt format of one model.
#[derive(Debug)]
pub struct LlmModel {
    id: String,
    instance: u64,
    transformer: Transformer,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop_token_ids: Vec<u32>,
    bos_token_id: Option<u32>,
    add_bos: bool,
}

fn md_str<'a>(ct: &'a gguf_file::Content, key: &str) -> Option<&'a str> {
    ct.metadata.get(key).and_then(|v| v.to_string().ok()).map(String::as_str)
}

fn md_u32(ct: &gguf_file::Content, key: &str) -> Option<u32> {
    ct.metadata.get(key).and_then(|v| v.to_u32().ok())
}

impl LlmModel {
    /// Loads `model.gguf` and `tokenizer.json` of model `id` from the store.
    pub fn load(store: &ModelStore, id: &str) -> LlmResult<Self> {
        Self::load_with(store, id, &LoadOptions::default())
    }

    /// [`load`](Self::load) with options.
    pub fn load_with(store: &ModelStore, id: &str, options: &LoadOptions) -> LlmResult<Self> {
        let gguf = store.require(id, "model.gguf")?;
        let tokenizer = store.require(id, "tokenizer.json")?;
        Self::load_files(id, &gguf, &tokenizer, options)
    }

    /// Loads a GGUF file (llama or qwen2 architecture) and a `tokenizer.json`; `id` names it in errors.
    pub fn load_files(id: &str, gguf: &Path, tokenizer: &Path, options: &LoadOptions) -> LlmResult<Self> {
        let model = id.to_string();
        let io = |path: &Path| {
            let (model, path) = (model.clone(), path.to_path_buf());
            move |source| LlmError::Io { model, path, source }
        };
        let compute = |what| {
            let model = model.clone();
            move |source| LlmError::Compute { model, what, source }
        };
        let meta = |message: String| LlmError::Metadata { model: model.clone(), message };

        let mut file = std::fs::File::open(gguf).map_err(io(gguf))?;
        let ct = gguf_file::Content::read(&mut file).map_err(compute("reading the GGUF header"))?;
        let arch = match md_str(&ct, "general.architecture") {
            Some("llama") => Architecture::Llama,
            Some("qwen2") => Architecture::Qwen2,
            Some(other) => return Err(meta(format!("architecture `{other}` is not supported (llama, qwen2 are)"))),
            None => return Err(meta("no `general.architecture`".into())),
        };
        let source = md_str(&ct, "tokenizer.chat_template")
            .ok_or_else(|| meta("no `tokenizer.chat_template`; a chat model is needed".into()))?;

        let tokenizer = Tokenizer::from_file(tokenizer).map_err(|e| LlmError::Tokenizer {
            model: model.clone(),
            what: "loading tokenizer.json",
            message: e.to_string(),
        })?;
        let token_text = |key: &str| md_u32(&ct, key).and_then(|id| tokenizer.id_to_token(id));
        let bos_text = token_text("tokenizer.ggml.bos_token_id").unwrap_or_default();
        let eos_text = token_text("tokenizer.ggml.eos_token_id").unwrap_or_default();
        let template = ChatTemplate::new(source, &bos_text, &eos_text).map_err(|source| LlmError::Template {
            model: model.clone(),
            what: "compiling tokenizer.chat_template",
            source,
        })?;

        // Every id that ends a reply: the declared eos/eot and the ChatML turn end.
        let mut stop_token_ids: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
            .iter()
            .filter_map(|k| md_u32(&ct, k))
            .chain(["<|im_end|>", "<|endoftext|>", "<|eot_id|>"].iter().filter_map(|t| tokenizer.token_to_id(t)))
            .collect();
        stop_token_ids.sort_unstable();
        stop_token_ids.dedup();
        if stop_token_ids.is_empty() {
            return Err(meta("no end-of-text token (`tokenizer.ggml.eos_token_id`)".into()));
        }
        let bos_token_id = md_u32(&ct, "tokenizer.ggml.bos_token_id");
        let add_bos = ct.metadata.get("tokenizer.ggml.add_bos_token").and_then(|v| v.to_bool().ok()).unwrap_or(false);

        let transformer = Transformer::from_gguf(arch, &ct, &mut file, &Device::Cpu, options)
            .map_err(compute("loading the weights"))?;
        tracing::info!(model = id, ?arch, vocab = transformer.vocab_size(), "LLM loaded");
        Ok(Self {
            id: model,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            transformer,
            tokenizer,
            template,
            stop_token_ids,
            bos_token_id,
            add_bos,
        })
    }

    /// The store id (for logs and errors).
    /// Bytes of weights one decode step reads (every projection and the output head).
    pub fn weight_bytes_per_token(&self) -> usize {
        self.transformer.weight_bytes_per_token()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn architecture(&self) -> Architecture {
        self.transformer.architecture()
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn chat_template(&self) -> &ChatTemplate {
        &self.template
    }

    /// Token ids that end a reply.
    pub fn stop_token_ids(&self) -> &[u32] {
        &self.stop_token_ids
    }

    /// The most positions (prompt + reply, all turns) one sequence can hold.
    pub fn context_length(&self) -> usize {
        self.transformer.max_positions()
    }

    /// A new, empty conversation state for this model.
    pub fn new_sequence(&self) -> LlmSequence {
        LlmSequence::new(self.id.clone(), self.instance, self.transformer.new_cache())
    }

    /// The prompt text for `messages`, ending where the assistant's reply starts.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> LlmResult<String> {
        self.template.render(messages, true).map_err(|source| LlmError::Template {
            model: self.id.clone(),
            what: "rendering the conversation",
            source,
        })
    }

    /// Token ids of raw text; special-token texts in it (`<|im_start|>`) become their ids.
    pub fn encode(&self, text: &str) -> LlmResult<Vec<u32>> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| LlmError::Tokenizer {
            model: self.id.clone(),
            what: "encoding text",
            message: e.to_string(),
        })?;
        let mut ids = enc.get_ids().to_vec();
        if self.add_bos
            && let Some(bos) = self.bos_token_id
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }

    /// Token ids of the prompt for `messages`.
    pub fn encode_chat(&self, messages: &[ChatMessage]) -> LlmResult<Vec<u32>> {
        self.encode(&self.render_chat(messages)?)
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> LlmResult<String> {
        self.tokenizer.decode(ids, true).map_err(|e| LlmError::Tokenizer {
            model: self.id.clone(),
            what: "decoding tokens",
            message: e.to_string(),
        })
    }

    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    pub(crate) fn transformer(&self) -> &Transformer {
        &self.transformer
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_model_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<super::LlmModel>();
        shared::<super::LlmSequence>();
    }
}
