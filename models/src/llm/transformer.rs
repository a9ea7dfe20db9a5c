//! The quantized decoder-only transformer (llama and qwen2 GGUF layouts) with the KV cache kept *outside* the
//! weights.
//!
//! candle's `quantized_llama` / `quantized_qwen2` keep the KV cache inside the model and take `&mut self`
//! (and the qwen2 one is not even `Clone`), so one loaded model could serve one conversation only. Here the
//! weights are immutable and shared (`&self`, `Send + Sync`) and each sequence owns a [`KvCache`], which is
//! what a batching engine needs. The numerics follow candle's implementations (same kernels, same RoPE
//! conventions: interleaved for llama, NEOX for qwen2).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;
use candle_transformers::utils::{build_causal_mask, repeat_kv};

/// The longest RoPE table we precompute, whatever the GGUF claims (Qwen2.5 says 32768).
const MAX_POSITIONS: usize = 32_768;

/// Which GGUF tensor layout and RoPE convention a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `general.architecture = llama` (SmolLM2, Llama, Mistral): interleaved RoPE, no attention biases.
    Llama,
    /// `general.architecture = qwen2`: NEOX RoPE, biases on the q/k/v projections.
    Qwen2,
}

impl Architecture {
    /// The GGUF metadata prefix of this architecture.
    pub fn key(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }
}

/// Per-sequence attention state: for every layer the keys and values of all tokens fed so far,
/// shaped `[1, n_kv_head, len, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    /// Number of positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forget everything after the first `len` positions (used when a new turn diverges from history).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        if len == 0 {
            self.clear();
            return Ok(());
        }
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.narrow(2, 0, len)?;
            *v = v.narrow(2, 0, len)?;
        }
        self.len = len;
        Ok(())
    }

    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
        self.len = 0;
    }

    /// Brings every layer back to `len` positions after a failed forward pass (some layers may hold more).
    fn restore(&mut self, len: usize) {
        if len == 0 {
            return self.clear();
        }
        for layer in &mut self.layers {
            if let Some((k, v)) = layer {
                match (k.narrow(2, 0, len), v.narrow(2, 0, len)) {
                    (Ok(k2), Ok(v2)) => (*k, *v) = (k2, v2),
                    _ => *layer = None,
                }
            }
        }
        if self.layers.iter().any(Option::is_none) {
            // A layer lost its state: nothing consistent is left.
            self.clear();
        } else {
            self.len = len;
        }
    }
}

#[derive(Debug)]
struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    /// q, k, v biases (qwen2 only).
    qkv_bias: Option<(Tensor, Tensor, Tensor)>,
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

/// The loaded weights. Immutable after loading; every method takes `&self`.
#[derive(Debug)]
pub struct Transformer {
    arch: Architecture,
    embed: candle_nn::Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    cos: Tensor,
    sin: Tensor,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    max_positions: usize,
    vocab_size: usize,
    device: Device,
}

fn md_u32(ct: &gguf_file::Content, key: &str) -> Result<usize> {
    match ct.metadata.get(key) {
        Some(v) => Ok(v.to_u32()? as usize),
        None => candle_core::bail!("missing metadata `{key}`"),
    }
}

fn md_f32(ct: &gguf_file::Content, key: &str) -> Option<f32> {
    ct.metadata.get(key).and_then(|v| v.to_f32().ok())
}

impl Transformer {
    /// Reads the weights of a llama or qwen2 GGUF file. With `requantize`, matrices stored in formats that
    /// candle multiplies with scalar code only (Q4_1, Q5_0, Q5_1) are converted once to Q8_0, which has
    /// AVX2/AVX-512 kernels: more bytes per weight, but several times faster on CPU.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        arch: Architecture,
        ct: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
        requantize: bool,
    ) -> Result<Self> {
        let matmul = |t: QTensor| -> Result<QMatMul> {
            let slow = matches!(t.dtype(), GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1);
            let fits = t.shape().dims().last().is_some_and(|k| k % GgmlDType::Q8_0.block_size() == 0);
            if requantize && slow && fits {
                QMatMul::from_qtensor(QTensor::quantize(&t.dequantize(device)?, GgmlDType::Q8_0)?)
            } else {
                QMatMul::from_qtensor(t)
            }
        };
        let a = arch.key();
        let n_head = md_u32(ct, &format!("{a}.attention.head_count"))?;
        let n_kv_head = md_u32(ct, &format!("{a}.attention.head_count_kv"))?;
        let n_layer = md_u32(ct, &format!("{a}.block_count"))?;
        let hidden = md_u32(ct, &format!("{a}.embedding_length"))?;
        let context = md_u32(ct, &format!("{a}.context_length")).unwrap_or(4096);
        let eps = md_f32(ct, &format!("{a}.attention.layer_norm_rms_epsilon")).unwrap_or(1e-6) as f64;
        let rope_base = md_f32(ct, &format!("{a}.rope.freq_base")).unwrap_or(10_000.0);
        if n_head == 0 || n_kv_head == 0 || hidden % n_head != 0 || n_head % n_kv_head != 0 {
            candle_core::bail!("inconsistent head counts: {n_head} heads, {n_kv_head} kv heads, hidden {hidden}");
        }
        let head_dim = hidden / n_head;
        let rope_dim = md_u32(ct, &format!("{a}.rope.dimension_count")).unwrap_or(head_dim);
        let max_positions = context.clamp(1, MAX_POSITIONS);

        // RoPE tables, [max_positions, rope_dim / 2].
        let theta: Vec<f32> =
            (0..rope_dim).step_by(2).map(|i| 1f32 / rope_base.powf(i as f32 / rope_dim as f32)).collect();
        let theta = Tensor::new(theta.as_slice(), device)?;
        let positions = Tensor::arange(0, max_positions as u32, device)?.to_dtype(DType::F32)?;
        let angles = positions.reshape((max_positions, 1))?.matmul(&theta.reshape((1, theta.elem_count()))?)?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);

        let embed_q = ct.tensor(reader, "token_embd.weight", device)?;
        let vocab_size = embed_q.shape().dims().first().copied().unwrap_or(0);
        let embed = candle_nn::Embedding::new(embed_q.dequantize(device)?, hidden);
        let norm = RmsNorm::from_qtensor(ct.tensor(reader, "output_norm.weight", device)?, eps)?;
        let output = match ct.tensor(reader, "output.weight", device) {
            Ok(t) => matmul(t)?,
            // Tied embeddings.
            Err(_) => matmul(embed_q)?,
        };

        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let mut q = |name: &str| ct.tensor(reader, &format!("blk.{i}.{name}"), device);
            let wq = matmul(q("attn_q.weight")?)?;
            let wk = matmul(q("attn_k.weight")?)?;
            let wv = matmul(q("attn_v.weight")?)?;
            let wo = matmul(q("attn_output.weight")?)?;
            let qkv_bias = match arch {
                Architecture::Llama => None,
                Architecture::Qwen2 => Some((
                    q("attn_q.bias")?.dequantize(device)?,
                    q("attn_k.bias")?.dequantize(device)?,
                    q("attn_v.bias")?.dequantize(device)?,
                )),
            };
            let attn_norm = RmsNorm::from_qtensor(q("attn_norm.weight")?, eps)?;
            let ffn_norm = RmsNorm::from_qtensor(q("ffn_norm.weight")?, eps)?;
            let gate = matmul(q("ffn_gate.weight")?)?;
            let up = matmul(q("ffn_up.weight")?)?;
            let down = matmul(q("ffn_down.weight")?)?;
            layers.push(Layer { wq, wk, wv, wo, qkv_bias, attn_norm, ffn_norm, gate, up, down });
        }
        Ok(Self {
            arch,
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
            n_head,
            n_kv_head,
            head_dim,
            max_positions,
            vocab_size,
            device: device.clone(),
        })
    }

    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    /// The most positions one sequence can hold.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// An empty cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache { layers: vec![None; self.layers.len()], len: 0 }
    }

    /// Feeds `tokens` after the `cache.len()` positions already in `cache` and returns the logits (f32,
    /// `[vocab]`) of the last one. On error the cache is left as it was before the call.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        let start = cache.len;
        if tokens.is_empty() {
            candle_core::bail!("no tokens to feed");
        }
        if start + tokens.len() > self.max_positions {
            candle_core::bail!("{} positions exceed the context of {}", start + tokens.len(), self.max_positions);
        }
        if cache.layers.len() != self.layers.len() {
            cache.layers = vec![None; self.layers.len()];
        }
        let result = self.forward_inner(tokens, cache, start);
        match result {
            Ok(logits) => {
                cache.len = start + tokens.len();
                Ok(logits)
            }
            Err(e) => {
                // Layers before the failure already appended their keys and values; cut them back.
                cache.restore(start);
                Err(e)
            }
        }
    }

    /// Feeds several sequences in one pass — continuous batching: each item is a sequence's next token (decode)
    /// or a chunk of its prompt (prefill), and all of them share every weight matmul; only attention runs per
    /// sequence, on its own cache and positions. Returns each item's last-position logits (f32, `[vocab]`), in
    /// order. On error every cache is left as it was before the call.
    pub fn forward_batch(&self, items: &mut [(&[u32], &mut KvCache)]) -> Result<Vec<Tensor>> {
        let mut starts = Vec::with_capacity(items.len());
        for (tokens, cache) in items.iter_mut() {
            if tokens.is_empty() {
                candle_core::bail!("no tokens to feed");
            }
            if cache.len + tokens.len() > self.max_positions {
                candle_core::bail!(
                    "{} positions exceed the context of {}",
                    cache.len + tokens.len(),
                    self.max_positions
                );
            }
            if cache.layers.len() != self.layers.len() {
                cache.layers = vec![None; self.layers.len()];
            }
            starts.push(cache.len);
        }
        match self.forward_batch_inner(items, &starts) {
            Ok(logits) => {
                for ((tokens, cache), start) in items.iter_mut().zip(&starts) {
                    cache.len = start + tokens.len();
                }
                Ok(logits)
            }
            Err(e) => {
                for ((_, cache), start) in items.iter_mut().zip(&starts) {
                    cache.restore(*start);
                }
                Err(e)
            }
        }
    }

    fn forward_batch_inner(&self, items: &mut [(&[u32], &mut KvCache)], starts: &[usize]) -> Result<Vec<Tensor>> {
        let all: Vec<u32> = items.iter().flat_map(|(t, _)| t.iter().copied()).collect();
        let total = all.len();
        // Per item: offset in the packed batch, length, rotary tables and causal mask.
        let mut spans = Vec::with_capacity(items.len());
        let mut offset = 0;
        for ((tokens, _), &start) in items.iter().zip(starts) {
            let n = tokens.len();
            let mask = if n == 1 { None } else { Some(build_causal_mask(n, start, &self.device)?) };
            spans.push((offset, n, self.cos.narrow(0, start, n)?, self.sin.narrow(0, start, n)?, mask));
            offset += n;
        }
        let input = Tensor::new(all.as_slice(), &self.device)?.unsqueeze(0)?;
        let mut h = self.embed.forward(&input)?;
        for (l, layer) in self.layers.iter().enumerate() {
            let x = layer.attn_norm.forward(&h)?;
            let (q, k, v) = self.qkv(layer, &x)?;
            let mut ys = Vec::with_capacity(items.len());
            for ((_, cache), (offset, n, cos, sin, mask)) in items.iter_mut().zip(&spans) {
                let part = |t: &Tensor| t.narrow(1, *offset, *n);
                let kv = &mut cache.layers[l];
                ys.push(self.attend(&part(&q)?, &part(&k)?, &part(&v)?, mask.as_ref(), cos, sin, kv)?);
            }
            let y = if ys.len() == 1 { ys.pop().unwrap_or_else(|| unreachable!()) } else { Tensor::cat(&ys, 1)? };
            let h_attn = (layer.wo.forward(&y)? + &h)?;
            let x = layer.ffn_norm.forward(&h_attn)?;
            let gate = candle_nn::ops::silu(&layer.gate.forward(&x)?)?;
            let mlp = layer.down.forward(&(gate * layer.up.forward(&x)?)?)?;
            h = (mlp + h_attn)?;
        }
        debug_assert_eq!(offset, total);
        let lasts: Vec<Tensor> =
            spans.iter().map(|(offset, n, ..)| h.narrow(1, offset + n - 1, 1)).collect::<Result<_>>()?;
        let last = Tensor::cat(&lasts, 1)?;
        let logits = self.output.forward(&self.norm.forward(&last)?)?.to_dtype(DType::F32)?;
        (0..items.len()).map(|i| logits.i((0, i))).collect()
    }

    fn forward_inner(&self, tokens: &[u32], cache: &mut KvCache, start: usize) -> Result<Tensor> {
        let seq_len = tokens.len();
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let mask = if seq_len == 1 { None } else { Some(build_causal_mask(seq_len, start, &self.device)?) };
        let cos = self.cos.narrow(0, start, seq_len)?;
        let sin = self.sin.narrow(0, start, seq_len)?;
        let mut h = self.embed.forward(&input)?;
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let x = layer.attn_norm.forward(&h)?;
            let attn = self.attention(layer, &x, mask.as_ref(), &cos, &sin, kv)?;
            let h_attn = (attn + &h)?;
            let x = layer.ffn_norm.forward(&h_attn)?;
            let gate = candle_nn::ops::silu(&layer.gate.forward(&x)?)?;
            let mlp = layer.down.forward(&(gate * layer.up.forward(&x)?)?)?;
            h = (mlp + h_attn)?;
        }
        // Only the last position's logits are needed; the norm is per position.
        let last = h.i((.., seq_len - 1..seq_len, ..))?;
        let last = self.norm.forward(&last)?;
        let logits = self.output.forward(&last)?;
        logits.flatten_all()?.to_dtype(DType::F32)
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        cos: &Tensor,
        sin: &Tensor,
        kv: &mut Option<(Tensor, Tensor)>,
    ) -> Result<Tensor> {
        let (q, k, v) = self.qkv(layer, x)?;
        let y = self.attend(&q, &k, &v, mask, cos, sin, kv)?;
        layer.wo.forward(&y)
    }

    /// The q, k, v projections (with qwen2's biases), `[1, seq, n_heads * head_dim]` each.
    fn qkv(&self, layer: &Layer, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let mut q = layer.wq.forward(x)?;
        let mut k = layer.wk.forward(x)?;
        let mut v = layer.wv.forward(x)?;
        if let Some((bq, bk, bv)) = &layer.qkv_bias {
            q = q.broadcast_add(bq)?;
            k = k.broadcast_add(bk)?;
            v = v.broadcast_add(bv)?;
        }
        Ok((q, k, v))
    }

    /// Attention of one sequence's new positions over its cache (which it extends); returns the heads merged,
    /// `[1, seq, hidden]`, before the output projection.
    #[allow(clippy::too_many_arguments)]
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        cos: &Tensor,
        sin: &Tensor,
        kv: &mut Option<(Tensor, Tensor)>,
    ) -> Result<Tensor> {
        let (b, seq_len, _) = q.dims3()?;
        let hidden = self.n_head * self.head_dim;
        let heads = |t: &Tensor, n: usize| -> Result<Tensor> {
            t.reshape((b, seq_len, n, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let q = self.rope(&heads(q, self.n_head)?, cos, sin)?;
        let k = self.rope(&heads(k, self.n_kv_head)?, cos, sin)?;
        let v = heads(v, self.n_kv_head)?;
        let (k, v) = match kv.as_ref() {
            Some((k_cache, v_cache)) if k_cache.dim(2)? > 0 => {
                (Tensor::cat(&[k_cache, &k], 2)?, Tensor::cat(&[v_cache, &v], 2)?)
            }
            _ => (k, v),
        };
        *kv = Some((k.clone(), v.clone()));

        let rep = self.n_head / self.n_kv_head;
        let k = repeat_kv(k, rep)?;
        let v = repeat_kv(v, rep)?;
        let att = (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?;
        let att = match mask {
            None => att,
            Some(mask) => {
                let mask = mask.broadcast_as(att.shape())?;
                let neg_inf = Tensor::new(f32::NEG_INFINITY, &self.device)?.broadcast_as(att.shape())?;
                mask.where_cond(&neg_inf, &att)?
            }
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let y = att.matmul(&v.contiguous()?)?;
        y.transpose(1, 2)?.reshape((b, seq_len, hidden))
    }

    fn rope(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        match self.arch {
            Architecture::Llama => candle_nn::rotary_emb::rope_i(x, cos, sin),
            Architecture::Qwen2 => candle_nn::rotary_emb::rope(x, cos, sin),
        }
    }
}
