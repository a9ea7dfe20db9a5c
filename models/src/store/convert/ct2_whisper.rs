//! CTranslate2 Whisper `model.bin` → `model.safetensors` + the Hugging Face `config.json` that
//! `candle-transformers`' whisper module reads.
//!
//! CTranslate2 fuses projections: self-attention `linear_0` is q,k,v stacked along dim 0 (the k bias is zero
//! and dropped), cross-attention `linear_1` is k,v. Names map as documented in the model notes
//! (`docs/models.md`). Tensors keep their stored dtype (fp16 here); candle converts on load.

use safetensors::{Dtype, tensor::TensorView};
use std::collections::BTreeMap;
use std::path::Path;

/// One variable of a CTranslate2 model.
#[derive(Debug, Clone)]
pub struct Ct2Variable {
    pub dims: Vec<usize>,
    /// 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16.
    pub dtype: u8,
    pub data: Vec<u8>,
}

/// A parsed CTranslate2 `model.bin`.
#[derive(Debug, Clone)]
pub struct Ct2Model {
    pub spec: String,
    pub variables: BTreeMap<String, Ct2Variable>,
    pub aliases: BTreeMap<String, String>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("model.bin truncated at byte {} (wanted {n} more)", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        let raw = self.take(n)?;
        let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
        String::from_utf8(raw.to_vec()).map_err(|_| "model.bin has a name that is not UTF-8".to_string())
    }
}

fn dtype_size(dtype: u8) -> Result<usize, String> {
    match dtype {
        0 | 3 => Ok(4),
        1 => Ok(1),
        2 | 4 | 5 => Ok(2),
        other => Err(format!("unknown CTranslate2 dtype {other}")),
    }
}

impl Ct2Model {
    /// Parses the little-endian CTranslate2 format (versions 1–6).
    pub fn parse(bytes: &[u8]) -> Result<Ct2Model, String> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u32()?;
        if !(1..=6).contains(&version) {
            return Err(format!("unsupported CTranslate2 model version {version}"));
        }
        let mut spec = String::new();
        if version >= 2 {
            spec = r.string()?;
            let _revision = r.u32()?;
        }
        let count = r.u32()? as usize;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = r.string()?;
            let rank = r.u8()? as usize;
            let dims = (0..rank).map(|_| r.u32().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let (dtype, nbytes) = if version >= 4 {
                let dtype = r.u8()?;
                (dtype, r.u32()? as usize)
            } else {
                let item = r.u8()? as usize;
                let n = r.u32()? as usize;
                let dtype = match item {
                    4 => 0,
                    1 => 1,
                    2 => 2,
                    _ => return Err(format!("unsupported item size {item} in a version {version} model")),
                };
                (dtype, n * item)
            };
            let elems: usize = dims.iter().product();
            if elems * dtype_size(dtype)? != nbytes {
                return Err(format!("variable {name}: {nbytes} bytes do not match dims {dims:?}"));
            }
            let data = r.take(nbytes)?.to_vec();
            variables.insert(name, Ct2Variable { dims, dtype, data });
        }
        let mut aliases = BTreeMap::new();
        if version >= 3 {
            let n = r.u32()?;
            for _ in 0..n {
                let alias = r.string()?;
                let target = r.string()?;
                aliases.insert(alias, target);
            }
        }
        Ok(Ct2Model { spec, variables, aliases })
    }

    fn get(&self, name: &str) -> Result<&Ct2Variable, String> {
        self.variables.get(name).ok_or_else(|| format!("model.bin has no variable {name}"))
    }

    fn scalar(&self, name: &str) -> Result<i64, String> {
        let v = self.get(name)?;
        Ok(match (v.dtype, v.data.as_slice()) {
            (1, [b]) => *b as i8 as i64,
            (2, [a, b]) => i16::from_le_bytes([*a, *b]) as i64,
            (3, [a, b, c, d]) => i32::from_le_bytes([*a, *b, *c, *d]) as i64,
            _ => return Err(format!("{name} is not an integer scalar")),
        })
    }

    fn layer_count(&self, prefix: &str) -> usize {
        (0..).take_while(|i| self.variables.keys().any(|k| k.starts_with(&format!("{prefix}/layer_{i}/")))).count()
    }
}

/// A tensor to write: name, dtype, shape, bytes.
struct Out {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn st_dtype(dtype: u8) -> Result<Dtype, String> {
    Ok(match dtype {
        0 => Dtype::F32,
        1 => Dtype::I8,
        2 => Dtype::I16,
        3 => Dtype::I32,
        4 => Dtype::F16,
        5 => Dtype::BF16,
        other => return Err(format!("unknown dtype {other}")),
    })
}

/// Rows `[start, start + n)` of a tensor along dim 0.
fn rows(v: &Ct2Variable, start: usize, n: usize) -> Result<Out, String> {
    if v.dims.is_empty() {
        return Err("cannot take rows of a scalar".into());
    }
    let row: usize = v.dims[1..].iter().product::<usize>() * dtype_size(v.dtype)?;
    let (a, b) = (start * row, (start + n) * row);
    if b > v.data.len() {
        return Err(format!("cannot take rows {start}..{} of a tensor with dims {:?}", start + n, v.dims));
    }
    let mut shape = v.dims.clone();
    shape[0] = n;
    Ok(Out { dtype: st_dtype(v.dtype)?, shape, data: v.data[a..b].to_vec() })
}

fn whole(v: &Ct2Variable) -> Result<Out, String> {
    rows(v, 0, v.dims.first().copied().unwrap_or(0))
}

/// Builds the Hugging Face-named tensors from a parsed model.
fn hf_tensors(m: &Ct2Model, d: usize) -> Result<BTreeMap<String, Out>, String> {
    let mut out = BTreeMap::new();
    let mut put = |name: String, t: Out| {
        out.insert(name, t);
    };
    let norm = |put: &mut dyn FnMut(String, Out), src: &str, dst: &str| -> Result<(), String> {
        put(format!("{dst}.weight"), whole(m.get(&format!("{src}/gamma"))?)?);
        put(format!("{dst}.bias"), whole(m.get(&format!("{src}/beta"))?)?);
        Ok(())
    };
    let linear = |put: &mut dyn FnMut(String, Out), src: &str, dst: &str| -> Result<(), String> {
        put(format!("{dst}.weight"), whole(m.get(&format!("{src}/weight"))?)?);
        put(format!("{dst}.bias"), whole(m.get(&format!("{src}/bias"))?)?);
        Ok(())
    };
    for side in ["encoder", "decoder"] {
        let hf = format!("model.{side}");
        for i in 0..m.layer_count(side) {
            let (src, dst) = (format!("{side}/layer_{i}"), format!("{hf}.layers.{i}"));
            // Fused self-attention q,k,v.
            let w = m.get(&format!("{src}/self_attention/linear_0/weight"))?;
            let b = m.get(&format!("{src}/self_attention/linear_0/bias"))?;
            put(format!("{dst}.self_attn.q_proj.weight"), rows(w, 0, d)?);
            put(format!("{dst}.self_attn.k_proj.weight"), rows(w, d, d)?);
            put(format!("{dst}.self_attn.v_proj.weight"), rows(w, 2 * d, d)?);
            put(format!("{dst}.self_attn.q_proj.bias"), rows(b, 0, d)?);
            put(format!("{dst}.self_attn.v_proj.bias"), rows(b, 2 * d, d)?);
            linear(&mut put, &format!("{src}/self_attention/linear_1"), &format!("{dst}.self_attn.out_proj"))?;
            norm(&mut put, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.self_attn_layer_norm"))?;
            if side == "decoder" {
                linear(&mut put, &format!("{src}/attention/linear_0"), &format!("{dst}.encoder_attn.q_proj"))?;
                let w = m.get(&format!("{src}/attention/linear_1/weight"))?;
                let b = m.get(&format!("{src}/attention/linear_1/bias"))?;
                put(format!("{dst}.encoder_attn.k_proj.weight"), rows(w, 0, d)?);
                put(format!("{dst}.encoder_attn.v_proj.weight"), rows(w, d, d)?);
                put(format!("{dst}.encoder_attn.v_proj.bias"), rows(b, d, d)?);
                linear(&mut put, &format!("{src}/attention/linear_2"), &format!("{dst}.encoder_attn.out_proj"))?;
                norm(&mut put, &format!("{src}/attention/layer_norm"), &format!("{dst}.encoder_attn_layer_norm"))?;
            }
            linear(&mut put, &format!("{src}/ffn/linear_0"), &format!("{dst}.fc1"))?;
            linear(&mut put, &format!("{src}/ffn/linear_1"), &format!("{dst}.fc2"))?;
            norm(&mut put, &format!("{src}/ffn/layer_norm"), &format!("{dst}.final_layer_norm"))?;
        }
        norm(&mut put, &format!("{side}/layer_norm"), &format!("{hf}.layer_norm"))?;
        put(format!("{hf}.embed_positions.weight"), whole(m.get(&format!("{side}/position_encodings/encodings"))?)?);
    }
    linear(&mut put, "encoder/conv1", "model.encoder.conv1")?;
    linear(&mut put, "encoder/conv2", "model.encoder.conv2")?;
    put("model.decoder.embed_tokens.weight".into(), whole(m.get("decoder/embeddings/weight")?)?);
    Ok(out)
}

/// Reads `model_bin` and the CTranslate2 `ct2_config` (for suppressed tokens) and writes `model.safetensors`
/// and `config.json` into `out_dir`.
pub fn convert_ct2_whisper(model_bin: &Path, ct2_config: &Path, out_dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(model_bin).map_err(|e| format!("reading {}: {e}", model_bin.display()))?;
    let model = Ct2Model::parse(&bytes)?;
    drop(bytes);
    if model.spec != "WhisperSpec" {
        return Err(format!("expected a WhisperSpec model, found `{}`", model.spec));
    }
    let conv1 = model.get("encoder/conv1/weight")?;
    let embed = model.get("decoder/embeddings/weight")?;
    let (&[d_model_c, n_mels, _], &[vocab, d_model]) = (conv1.dims.as_slice(), embed.dims.as_slice()) else {
        return Err("unexpected shapes for conv1 or the token embedding".into());
    };
    if d_model_c != d_model {
        return Err(format!("encoder width {d_model_c} differs from decoder width {d_model}"));
    }
    let positions = |side: &str| -> Result<usize, String> {
        Ok(model.get(&format!("{side}/position_encodings/encodings"))?.dims[0])
    };
    let ct2: serde_json::Value = std::fs::read(ct2_config)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("reading {}: {e}", ct2_config.display()))?;
    let suppress = ct2.get("suppress_ids").cloned().unwrap_or(serde_json::json!([]));
    let suppress_begin = ct2.get("suppress_ids_begin").cloned().unwrap_or(serde_json::json!([]));
    let config = serde_json::json!({
        "model_type": "whisper",
        "num_mel_bins": n_mels,
        "max_source_positions": positions("encoder")?,
        "max_target_positions": positions("decoder")?,
        "d_model": d_model,
        "encoder_attention_heads": model.scalar("encoder/num_heads")?,
        "decoder_attention_heads": model.scalar("decoder/num_heads")?,
        "encoder_layers": model.layer_count("encoder"),
        "decoder_layers": model.layer_count("decoder"),
        "encoder_ffn_dim": 4 * d_model,
        "decoder_ffn_dim": 4 * d_model,
        "vocab_size": vocab,
        "suppress_tokens": suppress,
        "begin_suppress_tokens": suppress_begin,
        "torch_dtype": "float16",
    });
    let tensors = hf_tensors(&model, d_model)?;
    let views = tensors
        .iter()
        .map(|(name, t)| {
            TensorView::new(t.dtype, t.shape.clone(), &t.data).map(|v| (name.clone(), v)).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tmp = out_dir.join("model.safetensors.tmp");
    safetensors::serialize_to_file(views, None, &tmp).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out_dir.join("model.safetensors")).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&config).expect("config serialises");
    super::write_atomic(&out_dir.join("config.json"), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tiny version-6 model.bin with one encoder and one decoder layer.
    fn tiny_model(d: usize) -> Vec<u8> {
        let mut vars: Vec<(String, Vec<usize>, u8, Vec<u8>)> = Vec::new();
        let mut counter = 0u16;
        let mut f16 = |dims: &[usize]| {
            let n: usize = dims.iter().product();
            (0..n)
                .flat_map(|_| {
                    counter = counter.wrapping_add(1);
                    half::f16::from_f32(counter as f32).to_le_bytes()
                })
                .collect::<Vec<u8>>()
        };
        let mut add = |name: &str, dims: &[usize], vars: &mut Vec<_>| {
            let data = f16(dims);
            vars.push((name.to_string(), dims.to_vec(), 4u8, data));
        };
        for side in ["encoder", "decoder"] {
            let l = format!("{side}/layer_0");
            add(&format!("{l}/self_attention/linear_0/weight"), &[3 * d, d], &mut vars);
            add(&format!("{l}/self_attention/linear_0/bias"), &[3 * d], &mut vars);
            add(&format!("{l}/self_attention/linear_1/weight"), &[d, d], &mut vars);
            add(&format!("{l}/self_attention/linear_1/bias"), &[d], &mut vars);
            for n in ["self_attention/layer_norm", "ffn/layer_norm"] {
                add(&format!("{l}/{n}/gamma"), &[d], &mut vars);
                add(&format!("{l}/{n}/beta"), &[d], &mut vars);
            }
            add(&format!("{l}/ffn/linear_0/weight"), &[4 * d, d], &mut vars);
            add(&format!("{l}/ffn/linear_0/bias"), &[4 * d], &mut vars);
            add(&format!("{l}/ffn/linear_1/weight"), &[d, 4 * d], &mut vars);
            add(&format!("{l}/ffn/linear_1/bias"), &[d], &mut vars);
            if side == "decoder" {
                add(&format!("{l}/attention/linear_0/weight"), &[d, d], &mut vars);
                add(&format!("{l}/attention/linear_0/bias"), &[d], &mut vars);
                add(&format!("{l}/attention/linear_1/weight"), &[2 * d, d], &mut vars);
                add(&format!("{l}/attention/linear_1/bias"), &[2 * d], &mut vars);
                add(&format!("{l}/attention/linear_2/weight"), &[d, d], &mut vars);
                add(&format!("{l}/attention/linear_2/bias"), &[d], &mut vars);
                add(&format!("{l}/attention/layer_norm/gamma"), &[d], &mut vars);
                add(&format!("{l}/attention/layer_norm/beta"), &[d], &mut vars);
            }
            add(&format!("{side}/layer_norm/gamma"), &[d], &mut vars);
            add(&format!("{side}/layer_norm/beta"), &[d], &mut vars);
            add(&format!("{side}/position_encodings/encodings"), &[6, d], &mut vars);
            vars.push((format!("{side}/num_heads"), vec![], 2, 2i16.to_le_bytes().to_vec()));
        }
        add("encoder/conv1/weight", &[d, 5, 3], &mut vars);
        add("encoder/conv1/bias", &[d], &mut vars);
        add("encoder/conv2/weight", &[d, d, 3], &mut vars);
        add("encoder/conv2/bias", &[d], &mut vars);
        add("decoder/embeddings/weight", &[11, d], &mut vars);
        let mut b = Vec::new();
        let s = |b: &mut Vec<u8>, s: &str| {
            b.extend((s.len() as u16 + 1).to_le_bytes());
            b.extend(s.as_bytes());
            b.push(0);
        };
        b.extend(6u32.to_le_bytes());
        s(&mut b, "WhisperSpec");
        b.extend(3u32.to_le_bytes());
        b.extend((vars.len() as u32).to_le_bytes());
        for (name, dims, dtype, data) in &vars {
            s(&mut b, name);
            b.push(dims.len() as u8);
            for d in dims {
                b.extend((*d as u32).to_le_bytes());
            }
            b.push(*dtype);
            b.extend((data.len() as u32).to_le_bytes());
            b.extend(data);
        }
        b.extend(1u32.to_le_bytes());
        s(&mut b, "decoder/projection/weight");
        s(&mut b, "decoder/embeddings/weight");
        b
    }

    #[test]
    fn converts_and_splits_fused_projections() {
        let d = 4;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("model.bin"), tiny_model(d)).unwrap();
        std::fs::write(dir.path().join("ct2.json"), r#"{"suppress_ids": [1, 2], "suppress_ids_begin": [220]}"#)
            .unwrap();
        convert_ct2_whisper(&dir.path().join("model.bin"), &dir.path().join("ct2.json"), dir.path()).unwrap();

        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(cfg["d_model"], 4);
        assert_eq!(cfg["num_mel_bins"], 5);
        assert_eq!(cfg["vocab_size"], 11);
        assert_eq!(cfg["encoder_layers"], 1);
        assert_eq!(cfg["decoder_attention_heads"], 2);
        assert_eq!(cfg["max_target_positions"], 6);
        assert_eq!(cfg["suppress_tokens"], serde_json::json!([1, 2]));

        let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let q = st.tensor("model.encoder.layers.0.self_attn.q_proj.weight").unwrap();
        let k = st.tensor("model.encoder.layers.0.self_attn.k_proj.weight").unwrap();
        assert_eq!(q.shape(), &[d, d]);
        // k starts where q ends in the fused matrix: the (d*d+1)-th value written.
        let first_k = half::f16::from_le_bytes([k.data()[0], k.data()[1]]).to_f32();
        let first_q = half::f16::from_le_bytes([q.data()[0], q.data()[1]]).to_f32();
        assert_eq!(first_k - first_q, (d * d) as f32);
        assert!(st.tensor("model.encoder.layers.0.self_attn.k_proj.bias").is_err(), "k bias is dropped");
        assert_eq!(st.tensor("model.decoder.layers.0.encoder_attn.v_proj.bias").unwrap().shape(), &[d]);
        assert_eq!(st.tensor("model.decoder.embed_tokens.weight").unwrap().shape(), &[11, d]);
    }

    #[test]
    fn truncated_file_is_an_error_not_a_panic() {
        let bytes = tiny_model(4);
        for cut in [0, 3, 10, 50, bytes.len() / 2, bytes.len() - 1] {
            assert!(Ct2Model::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
