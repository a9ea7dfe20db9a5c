//! The quantized decoder-only transformer (llama and qwen2 GGUF layouts) with the KV cache kept *outside* the
//! weights.
//!
//! candle's `quantized_llama` / `quantized_qwen2` keep the KV cache inside the model and take `&mut self`
//! (and the qwen2 one is not even `Clone`), so one loaded model could serve one conversation only. Here the
//! weights are immutable and shared (`&self`, `Send + Sync`) and each sequence owns a [`KvCache`], which is
//! what a batching engine needs. The numerics follow candle's implementations (same kernels, same RoPE
//! conventions: interleaved for llama, NEOX for qwen2).

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Result, Tensor};
use parley_kernels::attention::{AttentionShape, RopeLayout, causal_attention, rms_norm, rope};
use parley_kernels::parallel;

use super::embedding::Embedding;
use super::linear::Linear;

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

/// Per-sequence attention state: for every layer the keys and values of all tokens fed so far, position
/// major (`[len, n_kv_head, head_dim]`), so a new position is an append and a rollback a truncate.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
    /// Values per position per layer (`n_kv_head × head_dim`).
    kv_dim: usize,
}

#[derive(Debug, Clone, Default)]
struct LayerKv {
    k: Vec<f32>,
    v: Vec<f32>,
}

impl KvCache {
    /// Number of positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of keys and values held (for the engine's KV memory budget).
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(|l| (l.k.len() + l.v.len()) * std::mem::size_of::<f32>()).sum()
    }

    /// Forget everything after the first `len` positions (used when a new turn diverges from history).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len < self.len {
            self.restore(len);
        }
        Ok(())
    }

    /// Forgets everything and releases the memory.
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = LayerKv::default());
        self.len = 0;
    }

    /// Brings every layer back to `len` positions (after a failed forward pass some layers may hold more).
    fn restore(&mut self, len: usize) {
        if len == 0 {
            return self.clear();
        }
        let keep = len * self.kv_dim;
        for layer in &mut self.layers {
            layer.k.truncate(keep);
            layer.v.truncate(keep);
        }
        self.len = len;
    }
}

#[derive(Debug)]
struct Layer {
    qkv: Projections<3>,
    wo: Linear,
    /// q, k, v biases (qwen2 only).
    qkv_bias: Option<(Vec<f32>, Vec<f32>, Vec<f32>)>,
    attn_norm: Vec<f32>,
    ffn_norm: Vec<f32>,
    gate_up: Projections<2>,
    down: Linear,
}

/// Matrices applied to the same input: q, k, v; gate, up.
#[derive(Debug)]
enum Projections<const N: usize> {
    /// As one matrix, when our kernel runs them (one call instead of N: fewer hand-offs to the kernel threads
    /// per layer); each output row holds the N results side by side.
    Stacked(Linear),
    Separate([Linear; N]),
}

impl<const N: usize> Projections<N> {
    fn new(parts: [Linear; N]) -> Self {
        match Linear::stack(&parts.each_ref()) {
            Some(stacked) => Projections::Stacked(stacked),
            None => Projections::Separate(parts),
        }
    }

    /// The N outputs, each `rows × its width`.
    fn forward_rows(&self, x: &[f32], rows: usize, widths: [usize; N]) -> Result<[Vec<f32>; N]> {
        match self {
            Projections::Separate(parts) => {
                let mut out: [Vec<f32>; N] = std::array::from_fn(|_| Vec::new());
                for (o, p) in out.iter_mut().zip(parts) {
                    *o = p.forward_rows(x, rows)?;
                }
                Ok(out)
            }
            Projections::Stacked(m) => {
                let all = m.forward_rows(x, rows)?;
                let mut out: [Vec<f32>; N] = std::array::from_fn(|i| Vec::with_capacity(rows * widths[i]));
                let width: usize = widths.iter().sum();
                for row in all.chunks_exact(width) {
                    let mut at = 0;
                    for (o, w) in out.iter_mut().zip(widths) {
                        o.extend_from_slice(&row[at..at + w]);
                        at += w;
                    }
                }
                Ok(out)
            }
        }
    }
}

/// The loaded weights. Immutable after loading; every method takes `&self`.
#[derive(Debug)]
pub struct Transformer {
    arch: Architecture,
    /// `[vocab, hidden]`.
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    eps: f32,
    output: Linear,
    /// `[max_positions, rope_dim / 2]` each.
    cos: Vec<f32>,
    sin: Vec<f32>,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    hidden: usize,
    ffn_dim: usize,
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
        options: &super::LoadOptions,
    ) -> Result<Self> {
        let (requantize, own_kernels, own_kquant) =
            (options.requantize, options.own_kernels, options.own_kquant_kernels);
        let matmul = |t: QTensor| -> Result<Linear> {
            let slow = matches!(t.dtype(), GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1);
            let fits = t.shape().dims().last().is_some_and(|k| k % GgmlDType::Q8_0.block_size() == 0);
            let t = if requantize && slow && fits {
                QTensor::quantize(&t.dequantize(device)?, GgmlDType::Q8_0)?
            } else {
                t
            };
            Linear::new(t, device, own_kernels, own_kquant)
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
        let angles: Vec<f32> = (0..max_positions).flat_map(|p| theta.iter().map(move |t| p as f32 * t)).collect();
        let cos = angles.iter().map(|a| a.cos()).collect();
        let sin = angles.iter().map(|a| a.sin()).collect();
        let vector = |t: QTensor| -> Result<Vec<f32>> { t.dequantize(device)?.flatten_all()?.to_vec1::<f32>() };

        let embed_q = ct.tensor(reader, "token_embd.weight", device)?;
        let vocab_size = embed_q.shape().dims().first().copied().unwrap_or(0);
        let embed = Embedding::new(ct.tensor(reader, "token_embd.weight", device)?, device)?;
        if embed.vocab() != vocab_size || embed_q.shape().dims().get(1) != Some(&hidden) {
            candle_core::bail!("token_embd.weight has shape {:?}, not {vocab_size} × {hidden}", embed_q.shape().dims());
        }
        let norm = vector(ct.tensor(reader, "output_norm.weight", device)?)?;
        let output = match ct.tensor(reader, "output.weight", device) {
            Ok(t) => matmul(t)?,
            // Tied embeddings.
            Err(_) => matmul(embed_q)?,
        };

        let ffn_dim = md_u32(ct, &format!("{a}.feed_forward_length"))?;
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let mut q = |name: &str| ct.tensor(reader, &format!("blk.{i}.{name}"), device);
            let wq = matmul(q("attn_q.weight")?)?;
            let wk = matmul(q("attn_k.weight")?)?;
            let wv = matmul(q("attn_v.weight")?)?;
            let wo = matmul(q("attn_output.weight")?)?;
            let qkv_bias = match arch {
                Architecture::Llama => None,
                Architecture::Qwen2 => {
                    Some((vector(q("attn_q.bias")?)?, vector(q("attn_k.bias")?)?, vector(q("attn_v.bias")?)?))
                }
            };
            let attn_norm = vector(q("attn_norm.weight")?)?;
            let ffn_norm = vector(q("ffn_norm.weight")?)?;
            let gate = matmul(q("ffn_gate.weight")?)?;
            let up = matmul(q("ffn_up.weight")?)?;
            let down = matmul(q("ffn_down.weight")?)?;
            let qkv = Projections::new([wq, wk, wv]);
            let gate_up = Projections::new([gate, up]);
            layers.push(Layer { qkv, wo, qkv_bias, attn_norm, ffn_norm, gate_up, down });
        }
        Ok(Self {
            arch,
            embed,
            layers,
            norm,
            eps: eps as f32,
            output,
            cos,
            sin,
            n_head,
            n_kv_head,
            head_dim,
            hidden,
            ffn_dim,
            max_positions,
            vocab_size,
            device: device.clone(),
        })
    }

    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    /// Bytes of weight matrices one decode step reads (every layer's projections and the output head; the
    /// embedding row is one row): what bounds decode speed by memory bandwidth.
    pub fn weight_bytes_per_token(&self) -> usize {
        let projections = |p: &Projections<3>| match p {
            Projections::Stacked(m) => m.weight_bytes(),
            Projections::Separate(ms) => ms.iter().map(Linear::weight_bytes).sum(),
        };
        let pair = |p: &Projections<2>| match p {
            Projections::Stacked(m) => m.weight_bytes(),
            Projections::Separate(ms) => ms.iter().map(Linear::weight_bytes).sum(),
        };
        let layers: usize = self
            .layers
            .iter()
            .map(|l| projections(&l.qkv) + pair(&l.gate_up) + l.wo.weight_bytes() + l.down.weight_bytes())
            .sum();
        layers + self.output.weight_bytes()
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
        KvCache { layers: vec![LayerKv::default(); self.layers.len()], len: 0, kv_dim: self.kv_dim() }
    }

    fn kv_dim(&self) -> usize {
        self.n_kv_head * self.head_dim
    }

    /// Feeds `tokens` after the `cache.len()` positions already in `cache` and returns the logits (f32,
    /// `[vocab]`) of the last one. On error the cache is left as it was before the call.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        let mut logits = self.forward_batch(&mut [(tokens, cache)])?;
        logits.pop().ok_or_else(|| candle_core::Error::Msg("no logits".into()))
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
            if let Some(&t) = tokens.iter().find(|&&t| t as usize >= self.vocab_size) {
                candle_core::bail!("token {t} is outside the vocabulary of {}", self.vocab_size);
            }
            if cache.layers.len() != self.layers.len() || cache.kv_dim != self.kv_dim() {
                **cache = self.new_cache();
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
        let hidden = self.hidden;
        let total: usize = items.iter().map(|(t, _)| t.len()).sum();
        let (q_dim, kv_dim) = (self.n_head * self.head_dim, self.kv_dim());
        let shape = AttentionShape { heads: self.n_head, kv_heads: self.n_kv_head, head_dim: self.head_dim };
        let layout = match self.arch {
            Architecture::Llama => RopeLayout::Interleaved,
            Architecture::Qwen2 => RopeLayout::Halves,
        };
        let half = self.cos.len() / self.max_positions;

        let mut h = Vec::with_capacity(total * hidden);
        for (tokens, _) in items.iter() {
            for &t in tokens.iter() {
                let at = h.len();
                h.resize(at + hidden, 0.0);
                self.embed.row_into(t as usize, &mut h[at..]);
            }
        }
        let mut x = vec![0f32; total * hidden];
        let mut attn = vec![0f32; total * q_dim];
        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&h, &layer.attn_norm, self.eps, &mut x);
            let [mut q, mut k, mut v] = layer.qkv.forward_rows(&x, total, [q_dim, kv_dim, kv_dim])?;
            if let Some((bq, bk, bv)) = &layer.qkv_bias {
                add_rows(&mut q, bq);
                add_rows(&mut k, bk);
                add_rows(&mut v, bv);
            }
            // Per sequence: rotate its new queries and keys, append keys and values to its cache (serial,
            // cheap), then attention for all sequences at once on the kernel threads.
            let mut work = Vec::with_capacity(items.len());
            let mut q_rest: &mut [f32] = &mut q;
            let mut out_rest: &mut [f32] = &mut attn;
            let mut row = 0;
            for ((tokens, cache), &start) in items.iter_mut().zip(starts) {
                let n = tokens.len();
                let (q_item, rest) = std::mem::take(&mut q_rest).split_at_mut(n * q_dim);
                q_rest = rest;
                let (out_item, rest) = std::mem::take(&mut out_rest).split_at_mut(n * q_dim);
                out_rest = rest;
                for t in 0..n {
                    let angles = (start + t) * half..(start + t + 1) * half;
                    let (cos, sin) = (&self.cos[angles.clone()], &self.sin[angles]);
                    rope(&mut q_item[t * q_dim..][..q_dim], self.head_dim, cos, sin, layout);
                    rope(&mut k[(row + t) * kv_dim..][..kv_dim], self.head_dim, cos, sin, layout);
                }
                let kv = &mut cache.layers[l];
                kv.k.truncate(start * kv_dim);
                kv.v.truncate(start * kv_dim);
                kv.k.extend_from_slice(&k[row * kv_dim..(row + n) * kv_dim]);
                kv.v.extend_from_slice(&v[row * kv_dim..(row + n) * kv_dim]);
                work.push((&*q_item, &*kv, start, out_item));
                row += n;
            }
            parallel::pool().for_each_mut(&mut work, |(q, kv, start, out)| {
                SCORES.with(|scores| causal_attention(q, &kv.k, &kv.v, shape, *start, &mut scores.borrow_mut(), out));
            });
            drop(work);
            let o = layer.wo.forward_rows(&attn, total)?;
            add_in_place(&mut h, &o);
            rms_norm(&h, &layer.ffn_norm, self.eps, &mut x);
            let [mut gate, up] = layer.gate_up.forward_rows(&x, total, [self.ffn_dim, self.ffn_dim])?;
            for (g, u) in gate.iter_mut().zip(&up) {
                *g = *g / (1.0 + (-*g).exp()) * u;
            }
            let mlp = layer.down.forward_rows(&gate, total)?;
            add_in_place(&mut h, &mlp);
        }
        // Only each item's last position needs logits; the norm is per position.
        let mut lasts = Vec::with_capacity(items.len() * hidden);
        let mut end = 0;
        for (tokens, _) in items.iter() {
            end += tokens.len();
            lasts.extend_from_slice(&h[(end - 1) * hidden..end * hidden]);
        }
        let mut normed = vec![0f32; lasts.len()];
        rms_norm(&lasts, &self.norm, self.eps, &mut normed);
        let logits = self.output.forward_rows(&normed, items.len())?;
        logits.chunks_exact(self.vocab_size).map(|l| Tensor::from_slice(l, self.vocab_size, &self.device)).collect()
    }
}

thread_local! {
    /// Attention scores, reused by each thread.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn add_in_place(h: &mut [f32], x: &[f32]) {
    for (a, b) in h.iter_mut().zip(x) {
        *a += b;
    }
}

/// Adds `bias` to every row of `x`.
fn add_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        add_in_place(row, bias);
    }
}
