//! Whisper's text decoder on parley-kernels, with a self-attention KV cache: each step feeds one token and
//! attends to the keys and values kept from earlier steps, and the cross-attention keys and values of the
//! audio are computed once per clip, so a step's cost no longer grows with the tokens decoded so far.
//!
//! candle-transformers' `TextDecoder` re-feeds the whole token sequence every step (it caches only the
//! cross-attention), and even with a cache a step in candle is ~150 small tensor ops whose dispatch costs more
//! than their arithmetic. Here a step is a fixed sequence of loops over buffers the clip's state owns: the
//! weights stay in their stored `f16` ([`F16Matrix`], exact), products accumulate in `f32`, and the same
//! function is computed (pre-norm blocks, attention scaled by `1/√head_dim`, tanh-GELU, logits from the tied
//! token embedding). Only the per-clip cross-attention projection of the audio (frames × d, a large matrix
//! product) stays in candle.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::whisper::Config;
use parley_kernels::attention::{attend_all_positions, gelu_tanh, layer_norm};
use parley_kernels::dense::F16Matrix;

/// A product with its bias.
struct Dense {
    weight: F16Matrix,
    bias: Vec<f32>,
}

impl Dense {
    fn load(rows: usize, cols: usize, vb: &VarBuilder, bias: bool) -> Result<Self> {
        let w = vb.get((rows, cols), "weight")?.flatten_all()?.to_vec1::<f32>()?;
        let weight = F16Matrix::from_f32(rows, cols, &w).map_err(candle_core::Error::wrap)?;
        let bias = if bias { vb.get(rows, "bias")?.to_vec1::<f32>()? } else { vec![0.0; rows] };
        Ok(Self { weight, bias })
    }

    /// Stacks products of the same input (q, k, v) into one.
    fn stack(parts: &[Dense]) -> Result<Self> {
        let cols = parts[0].weight.cols();
        let rows: usize = parts.iter().map(|p| p.weight.rows()).sum();
        let mut w = vec![0f32; rows * cols];
        let mut at = 0;
        for p in parts {
            for r in 0..p.weight.rows() {
                p.weight.row_into(r, &mut w[(at + r) * cols..(at + r + 1) * cols]);
            }
            at += p.weight.rows();
        }
        let weight = F16Matrix::from_f32(rows, cols, &w).map_err(candle_core::Error::wrap)?;
        Ok(Self { weight, bias: parts.iter().flat_map(|p| p.bias.iter().copied()).collect() })
    }

    /// `out = W x + b`.
    fn forward(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        self.weight.matmul(x, out).map_err(candle_core::Error::wrap)?;
        for (o, b) in out.iter_mut().zip(&self.bias) {
            *o += b;
        }
        Ok(())
    }

    /// `x += W input + b`, through `scratch`.
    fn add_to(&self, input: &[f32], scratch: &mut [f32], x: &mut [f32]) -> Result<()> {
        self.forward(input, scratch)?;
        for (x, s) in x.iter_mut().zip(scratch.iter()) {
            *x += s;
        }
        Ok(())
    }
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Norm {
    fn load(d: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get(d, "weight")?.to_vec1()?, bias: vb.get(d, "bias")?.to_vec1()? })
    }

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        layer_norm(x, &self.weight, &self.bias, 1e-5, out);
    }
}

struct Block {
    self_ln: Norm,
    /// q, k, v of the self-attention stacked (k has no bias: zeros).
    self_qkv: Dense,
    self_out: Dense,
    cross_ln: Norm,
    cross_q: Dense,
    /// The audio's keys and values, once per clip (candle: a frames × d product).
    cross_k: Linear,
    cross_v: Linear,
    cross_out: Dense,
    mlp_ln: Norm,
    fc1: Dense,
    fc2: Dense,
}

/// The decoder's weights.
pub struct CachedDecoder {
    /// The token embedding, also the output projection (tied).
    embedding: F16Matrix,
    positions: Vec<f32>,
    max_positions: usize,
    blocks: Vec<Block>,
    ln: Norm,
    heads: usize,
    d: usize,
}

/// One clip's decoding state: the audio's cross-attention keys/values, the self-attention cache and the
/// step's scratch buffers (allocated once per clip).
pub struct DecoderState {
    /// Per layer, `frames × d` keys and values.
    cross: Vec<(Vec<f32>, Vec<f32>)>,
    /// Per layer, `len × d` keys and values so far.
    cache: Vec<(Vec<f32>, Vec<f32>)>,
    len: usize,
    x: Vec<f32>,
    h: Vec<f32>,
    qkv: Vec<f32>,
    attn: Vec<f32>,
    scratch: Vec<f32>,
    ff: Vec<f32>,
    logits: Vec<f32>,
}

impl CachedDecoder {
    /// Loads `model.decoder.*` from the Whisper weights.
    pub fn load(vb: &VarBuilder, config: &Config) -> Result<Self> {
        let vb = vb.pp("model.decoder");
        let d = config.d_model;
        let blocks = (0..config.decoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                let (sa, ca) = (vb.pp("self_attn"), vb.pp("encoder_attn"));
                Ok(Block {
                    self_ln: Norm::load(d, vb.pp("self_attn_layer_norm"))?,
                    self_qkv: Dense::stack(&[
                        Dense::load(d, d, &sa.pp("q_proj"), true)?,
                        Dense::load(d, d, &sa.pp("k_proj"), false)?,
                        Dense::load(d, d, &sa.pp("v_proj"), true)?,
                    ])?,
                    self_out: Dense::load(d, d, &sa.pp("out_proj"), true)?,
                    cross_ln: Norm::load(d, vb.pp("encoder_attn_layer_norm"))?,
                    cross_q: Dense::load(d, d, &ca.pp("q_proj"), true)?,
                    cross_k: candle_nn::linear_no_bias(d, d, ca.pp("k_proj"))?,
                    cross_v: candle_nn::linear(d, d, ca.pp("v_proj"))?,
                    cross_out: Dense::load(d, d, &ca.pp("out_proj"), true)?,
                    mlp_ln: Norm::load(d, vb.pp("final_layer_norm"))?,
                    fc1: Dense::load(4 * d, d, &vb.pp("fc1"), true)?,
                    fc2: Dense::load(d, 4 * d, &vb.pp("fc2"), true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embedding = vb.get((config.vocab_size, d), "embed_tokens.weight")?.flatten_all()?.to_vec1::<f32>()?;
        let positions = vb.get((config.max_target_positions, d), "embed_positions.weight")?;
        Ok(Self {
            embedding: F16Matrix::from_f32(config.vocab_size, d, &embedding).map_err(candle_core::Error::wrap)?,
            positions: positions.flatten_all()?.to_vec1()?,
            max_positions: config.max_target_positions,
            blocks,
            ln: Norm::load(d, vb.pp("layer_norm"))?,
            heads: config.decoder_attention_heads,
            d,
        })
    }

    /// A new clip: projects the encoder output (`[1, frames, d]`) to each layer's cross-attention keys and
    /// values, once.
    pub fn start(&self, audio: &Tensor) -> Result<DecoderState> {
        let flat = |t: Tensor| t.flatten_all()?.to_vec1::<f32>();
        let cross = self
            .blocks
            .iter()
            .map(|b| Ok((flat(b.cross_k.forward(audio)?)?, flat(b.cross_v.forward(audio)?)?)))
            .collect::<Result<Vec<_>>>()?;
        let d = self.d;
        let cache_len = self.max_positions * d;
        Ok(DecoderState {
            cross,
            cache: (0..self.blocks.len())
                .map(|_| (Vec::with_capacity(cache_len), Vec::with_capacity(cache_len)))
                .collect(),
            len: 0,
            x: vec![0.0; d],
            h: vec![0.0; d],
            qkv: vec![0.0; 3 * d],
            attn: vec![0.0; d],
            scratch: vec![0.0; d],
            ff: vec![0.0; 4 * d],
            logits: vec![0.0; self.embedding.rows()],
        })
    }

    /// Feeds one token at the next position; the logits (`vocab` values) for the token after it.
    pub fn step<'s>(&self, state: &'s mut DecoderState, token: u32) -> Result<&'s [f32]> {
        if state.len >= self.max_positions {
            candle_core::bail!("the decoder holds at most {} tokens", self.max_positions);
        }
        if token as usize >= self.embedding.rows() {
            candle_core::bail!("token {token} is outside the vocabulary of {}", self.embedding.rows());
        }
        let d = self.d;
        let DecoderState { cross, cache, len, x, h, qkv, attn, scratch, ff, logits } = state;
        self.embedding.row_into(token as usize, x);
        for (x, p) in x.iter_mut().zip(&self.positions[*len * d..(*len + 1) * d]) {
            *x += p;
        }
        for (block, ((ck, cv), (k, v))) in self.blocks.iter().zip(cross.iter().zip(cache.iter_mut())) {
            // Self-attention over every position so far, the new one included (no mask needed).
            block.self_ln.forward(x, h);
            block.self_qkv.forward(h, qkv)?;
            k.extend_from_slice(&qkv[d..2 * d]);
            v.extend_from_slice(&qkv[2 * d..]);
            attend_all_positions(&qkv[..d], k, v, self.heads, attn);
            block.self_out.add_to(attn, scratch, x)?;
            // Cross-attention over the audio.
            block.cross_ln.forward(x, h);
            block.cross_q.forward(h, &mut qkv[..d])?;
            attend_all_positions(&qkv[..d], ck, cv, self.heads, attn);
            block.cross_out.add_to(attn, scratch, x)?;
            // MLP.
            block.mlp_ln.forward(x, h);
            block.fc1.forward(h, ff)?;
            gelu_tanh(ff);
            block.fc2.add_to(ff, scratch, x)?;
        }
        *len += 1;
        self.ln.forward(x, h);
        self.embedding.matmul(h, logits).map_err(candle_core::Error::wrap)?;
        Ok(logits)
    }
}
