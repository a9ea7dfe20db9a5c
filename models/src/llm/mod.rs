//! Large language models (GGUF via candle quantized models): chat templates, tokenizers, sampling, streaming
//! detokenisation, per-sequence KV caches.
