//! Whisper's text decoder with a self-attention KV cache: each step feeds one token and attends to the keys
//! and values kept from earlier steps, and the cross-attention keys and values of the audio are computed once
//! per clip, so a step's cost no longer grows with the tokens decoded so far.
//!
//! candle-transformers' `TextDecoder` re-feeds the whole token sequence every step (it caches only the
//! cross-attention). This module loads the same weights (`model.decoder.*` of the safetensors) and computes
//! the same function with candle's ops in the same order per position (pre-norm blocks, `q · d^-¼` and
//! `k · d^-¼`, tanh-GELU), so the logits agree with it to float rounding.

use candle_core::{D, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::whisper::Config;

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl Attention {
    fn load(d: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            q: candle_nn::linear(d, d, vb.pp("q_proj"))?,
            k: candle_nn::linear_no_bias(d, d, vb.pp("k_proj"))?,
            v: candle_nn::linear(d, d, vb.pp("v_proj"))?,
            out: candle_nn::linear(d, d, vb.pp("out_proj"))?,
        })
    }
}

struct Block {
    self_attn: Attention,
    self_ln: LayerNorm,
    cross_attn: Attention,
    cross_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    mlp_ln: LayerNorm,
}

fn layer_norm(d: usize, vb: VarBuilder) -> Result<LayerNorm> {
    Ok(LayerNorm::new(vb.get(d, "weight")?, vb.get(d, "bias")?, 1e-5))
}

/// The decoder's weights.
pub struct CachedDecoder {
    embedding: Embedding,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    heads: usize,
    d: usize,
}

/// One clip's decoding state: the audio's cross-attention keys/values and the self-attention cache.
pub struct DecoderState {
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl CachedDecoder {
    /// Loads `model.decoder.*` from the Whisper weights.
    pub fn load(vb: &VarBuilder, config: &Config) -> Result<Self> {
        let vb = vb.pp("model.decoder");
        let d = config.d_model;
        let blocks = (0..config.decoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    self_attn: Attention::load(d, vb.pp("self_attn"))?,
                    self_ln: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
                    cross_attn: Attention::load(d, vb.pp("encoder_attn"))?,
                    cross_ln: layer_norm(d, vb.pp("encoder_attn_layer_norm"))?,
                    fc1: candle_nn::linear(d, 4 * d, vb.pp("fc1"))?,
                    fc2: candle_nn::linear(4 * d, d, vb.pp("fc2"))?,
                    mlp_ln: layer_norm(d, vb.pp("final_layer_norm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embedding: candle_nn::embedding(config.vocab_size, d, vb.pp("embed_tokens"))?,
            positions: vb.get((config.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            ln: layer_norm(d, vb.pp("layer_norm"))?,
            heads: config.decoder_attention_heads,
            d,
        })
    }

    /// The most tokens one clip can decode.
    pub fn max_positions(&self) -> usize {
        self.positions.dim(0).unwrap_or(0)
    }

    /// A new clip: projects the encoder output (`[1, frames, d]`) to each layer's cross-attention keys and
    /// values, once.
    pub fn start(&self, audio: &Tensor) -> Result<DecoderState> {
        let cross = self
            .blocks
            .iter()
            .map(|b| {
                Ok((self.heads_of(&b.cross_attn.k.forward(audio)?)?, self.heads_of(&b.cross_attn.v.forward(audio)?)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DecoderState { cross, cache: vec![None; self.blocks.len()], len: 0 })
    }

    /// `[1, n, d]` → `[1, heads, n, d / heads]`.
    fn heads_of(&self, x: &Tensor) -> Result<Tensor> {
        let (b, n, _) = x.dims3()?;
        x.reshape((b, n, self.heads, self.d / self.heads))?.transpose(1, 2)?.contiguous()
    }

    /// Feeds one token at the next position; the logits (`[vocab]`) for the token after it.
    pub fn step(&self, state: &mut DecoderState, token: u32) -> Result<Tensor> {
        if state.len >= self.max_positions() {
            candle_core::bail!("the decoder holds at most {} tokens", self.max_positions());
        }
        let device = self.positions.device();
        let input = Tensor::new(&[[token]], device)?;
        let mut x = self.embedding.forward(&input)?.broadcast_add(&self.positions.narrow(0, state.len, 1)?)?;
        let scale = ((self.d / self.heads) as f64).powf(-0.25);
        for (l, block) in self.blocks.iter().enumerate() {
            // Self-attention over every position so far (the new one included): no mask needed.
            let h = block.self_ln.forward(&x)?;
            let q = self.heads_of(&block.self_attn.q.forward(&h)?)?;
            let k = self.heads_of(&block.self_attn.k.forward(&h)?)?;
            let v = self.heads_of(&block.self_attn.v.forward(&h)?)?;
            let (k, v) = match state.cache[l].take() {
                Some((ck, cv)) => (Tensor::cat(&[&ck, &k], 2)?, Tensor::cat(&[&cv, &v], 2)?),
                None => (k, v),
            };
            let a = attend(&q, &k, &v, scale)?;
            state.cache[l] = Some((k, v));
            x = (&x + block.self_attn.out.forward(&a)?)?;
            // Cross-attention over the audio.
            let h = block.cross_ln.forward(&x)?;
            let q = self.heads_of(&block.cross_attn.q.forward(&h)?)?;
            let (ck, cv) = &state.cross[l];
            let a = attend(&q, ck, cv, scale)?;
            x = (&x + block.cross_attn.out.forward(&a)?)?;
            let mlp = block.fc2.forward(&block.fc1.forward(&block.mlp_ln.forward(&x)?)?.gelu()?)?;
            x = (x + mlp)?;
        }
        state.len += 1;
        let x = self.ln.forward(&x)?;
        x.matmul(&self.embedding.embeddings().t()?.unsqueeze(0)?)?.flatten_all()
    }
}

/// `softmax((q·s)(k·s)ᵀ) v` for `[1, heads, n, hd]` tensors, back to `[1, n, heads · hd]`.
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    let w = (q * scale)?.matmul(&(k.transpose(2, 3)? * scale)?)?;
    let w = candle_nn::ops::softmax_last_dim(&w)?;
    w.matmul(v)?.transpose(1, 2)?.flatten_from(D::Minus2)
}
