//! A Hugging Face `tokenizer.json` built from a GGUF file's vocabulary metadata, so that the `tokenizers`
//! crate tokenises exactly like the model was trained.
//!
//! Supported: `tokenizer.ggml.model = gpt2` (byte-level BPE with merges) with the pre-tokenizers `qwen2`,
//! `smollm`, `gpt2`/`default` and `llama-bpe`. Token types 3 (control) and 4 (user-defined) become added
//! tokens; control tokens are special.

use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::path::Path;

const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Reads the GGUF header at `path` and returns the `tokenizer.json` text.
pub fn tokenizer_json_from_gguf(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let content = Content::read(&mut file).map_err(|e| format!("reading GGUF header of {}: {e}", path.display()))?;
    tokenizer_json_from_metadata(&content.metadata)
}

fn get<'a>(md: &'a HashMap<String, Value>, key: &str) -> Result<&'a Value, String> {
    md.get(key).ok_or_else(|| format!("GGUF metadata has no `{key}`"))
}

fn strings(md: &HashMap<String, Value>, key: &str) -> Result<Vec<String>, String> {
    get(md, key)?
        .to_vec()
        .map_err(|e| format!("`{key}`: {e}"))?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| format!("`{key}`: {e}")))
        .collect()
}

/// Builds `tokenizer.json` from GGUF metadata.
pub fn tokenizer_json_from_metadata(md: &HashMap<String, Value>) -> Result<String, String> {
    let model = get(md, "tokenizer.ggml.model")?.to_string().map_err(|e| e.to_string())?;
    if model != "gpt2" {
        return Err(format!("tokenizer model `{model}` is not supported yet (only byte-level BPE, `gpt2`)"));
    }
    let pre = md.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).map(String::as_str).unwrap_or("default");
    let tokens = strings(md, "tokenizer.ggml.tokens")?;
    let merges = strings(md, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match md.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|t| t.to_i32().map(i64::from).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        None => vec![1; tokens.len()],
    };
    if types.len() != tokens.len() {
        return Err(format!("{} token types for {} tokens", types.len(), tokens.len()));
    }

    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, (token, ty)) in tokens.iter().zip(&types).enumerate() {
        vocab.insert(token.clone(), json!(id));
        if *ty == 3 || *ty == 4 {
            added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": *ty == 3,
            }));
        }
    }

    let byte_level = |trim: bool, use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": trim, "use_regex": use_regex});
    let split = |pattern: &str| json!({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false});
    let (normalizer, pre_tokenizer) = match pre {
        "qwen2" => (
            json!({"type": "NFC"}),
            json!({"type": "Sequence", "pretokenizers": [split(QWEN2_SPLIT), byte_level(false, false)]}),
        ),
        "llama-bpe" | "llama3" => {
            (Json::Null, json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_SPLIT), byte_level(false, false)]}))
        }
        "smollm" => (
            Json::Null,
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level(true, true)]}),
        ),
        "gpt2" | "default" => (Json::Null, byte_level(true, true)),
        other => {
            return Err(format!(
                "pre-tokenizer `{other}` is not supported yet (supported: qwen2, smollm, llama-bpe, gpt2, default)"
            ));
        }
    };

    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    });
    let text = serde_json::to_string(&tokenizer).expect("tokenizer serialises");
    // Validate by loading it, so a bad conversion fails here and not in the first conversation.
    tokenizers::Tokenizer::from_bytes(text.as_bytes())
        .map_err(|e| format!("the built tokenizer does not load: {e}"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pre: &str) -> HashMap<String, Value> {
        // A toy byte-level vocabulary: single characters, two merges and two control tokens.
        let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>"].iter().map(|s| s.to_string()).collect();
        tokens.extend(["H", "e", "l", "o", "Ġ", "w", "r", "d", "1", "2", "He", "Hel"].iter().map(|s| s.to_string()));
        let types: Vec<Value> = tokens.iter().enumerate().map(|(i, _)| Value::I32(if i < 2 { 3 } else { 1 })).collect();
        let mut m = HashMap::new();
        m.insert("tokenizer.ggml.model".into(), Value::String("gpt2".into()));
        m.insert("tokenizer.ggml.pre".into(), Value::String(pre.into()));
        m.insert("tokenizer.ggml.tokens".into(), Value::Array(tokens.into_iter().map(Value::String).collect()));
        m.insert("tokenizer.ggml.token_type".into(), Value::Array(types));
        m.insert(
            "tokenizer.ggml.merges".into(),
            Value::Array(vec![Value::String("H e".into()), Value::String("He l".into())]),
        );
        m
    }

    #[test]
    fn builds_a_working_bpe_tokenizer() {
        for pre in ["qwen2", "smollm", "gpt2"] {
            let json = tokenizer_json_from_metadata(&md(pre)).unwrap();
            let tok = tokenizers::Tokenizer::from_bytes(json.as_bytes()).unwrap();
            let enc = tok.encode("<|im_start|>Hello world 12", false).unwrap();
            assert_eq!(enc.get_ids()[0], 1, "control token is one id ({pre})");
            assert_eq!(enc.get_tokens()[1], "Hel", "merges apply ({pre})");
            let dec = tok.decode(enc.get_ids(), false).unwrap();
            assert_eq!(dec, "<|im_start|>Hello world 12", "{pre}");
        }
    }

    #[test]
    fn unsupported_inputs_are_errors() {
        let mut m = md("qwen2");
        m.insert("tokenizer.ggml.model".into(), Value::String("llama".into()));
        assert!(tokenizer_json_from_metadata(&m).unwrap_err().contains("not supported"));
        assert!(tokenizer_json_from_metadata(&md("mystery")).unwrap_err().contains("mystery"));
        let mut m = md("qwen2");
        m.remove("tokenizer.ggml.tokens");
        assert!(tokenizer_json_from_metadata(&m).unwrap_err().contains("tokenizer.ggml.tokens"));
    }
}
