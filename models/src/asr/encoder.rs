//! Whisper's audio encoder: candle's convolutions and matrix products, parley-kernels' softmax and
//! tanh-GELU applied in place on candle's buffers.
//!
//! candle-transformers' encoder computes the same function, but its softmax and GELU call libm's `expf` and
//! `tanhf` per value (54 M exponentials per 30 s window) and each allocates a fresh tensor (the attention
//! weights of one layer are 54 MB), so a third of its time went to those two ops and to page faults. Here
//! both are vector loops over the tensor the product just wrote. The function is the same: the two
//! convolutions with GELU, sinusoidal positions, pre-norm blocks with `q · d^-¼` and `k · d^-¼`, the final
//! layer norm.

use candle_core::{CpuStorage, D, Device, InplaceOp1, Layout, Module, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::whisper::Config;

/// `x` ← op(`x`) on a contiguous `f32` tensor's own buffer.
struct InPlace(&'static str, fn(&mut [f32], usize));

impl InplaceOp1 for InPlace {
    fn name(&self) -> &'static str {
        self.0
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("{}: needs a contiguous f32 tensor", self.0);
        };
        let cols = *layout.dims().last().unwrap_or(&1);
        (self.1)(&mut values[start..end], cols);
        Ok(())
    }
}

const GELU: InPlace = InPlace("parley-gelu-tanh", |x, _| parley_kernels::attention::gelu_tanh(x));
const SOFTMAX: InPlace = InPlace("parley-softmax-last-dim", parley_kernels::attention::softmax_rows);

/// `gelu(x)` for a tensor a product has just written (its buffer is not shared).
fn gelu(x: Tensor) -> Result<Tensor> {
    let x = x.contiguous()?;
    x.inplace_op1(&GELU)?;
    Ok(x)
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        let scale = ((d / self.heads) as f64).powf(-0.25);
        let heads = |t: Tensor| t.reshape((b, n, self.heads, d / self.heads))?.transpose(1, 2);
        let q = (heads(self.q.forward(x)?)? * scale)?;
        let k = (heads(self.k.forward(x)?)?.transpose(2, 3)? * scale)?;
        let v = heads(self.v.forward(x)?)?.contiguous()?;
        let w = q.matmul(&k)?.contiguous()?;
        w.inplace_op1(&SOFTMAX)?;
        self.out.forward(&w.matmul(&v)?.transpose(1, 2)?.flatten_from(D::Minus2)?)
    }
}

struct Block {
    attn_ln: LayerNorm,
    attn: Attention,
    mlp_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// The encoder's weights.
pub struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Tensor,
    blocks: Vec<Block>,
    ln_post: LayerNorm,
}

fn layer_norm(d: usize, vb: VarBuilder) -> Result<LayerNorm> {
    Ok(LayerNorm::new(vb.get(d, "weight")?, vb.get(d, "bias")?, 1e-5))
}

impl Encoder {
    /// Loads `model.encoder.*` from the Whisper weights.
    pub fn load(vb: &VarBuilder, config: &Config) -> Result<Self> {
        let vb = vb.pp("model.encoder");
        let d = config.d_model;
        let conv = |stride, vb| {
            let cfg = Conv1dConfig { padding: 1, stride, groups: 1, dilation: 1, cudnn_fwd_algo: None };
            candle_nn::conv1d(if stride == 1 { config.num_mel_bins } else { d }, d, 3, cfg, vb)
        };
        let blocks = (0..config.encoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                let a = vb.pp("self_attn");
                Ok(Block {
                    attn_ln: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
                    attn: Attention {
                        q: candle_nn::linear(d, d, a.pp("q_proj"))?,
                        k: candle_nn::linear_no_bias(d, d, a.pp("k_proj"))?,
                        v: candle_nn::linear(d, d, a.pp("v_proj"))?,
                        out: candle_nn::linear(d, d, a.pp("out_proj"))?,
                        heads: config.encoder_attention_heads,
                    },
                    mlp_ln: layer_norm(d, vb.pp("final_layer_norm"))?,
                    fc1: candle_nn::linear(d, 4 * d, vb.pp("fc1"))?,
                    fc2: candle_nn::linear(4 * d, d, vb.pp("fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv1: conv(1, vb.pp("conv1"))?,
            conv2: conv(2, vb.pp("conv2"))?,
            positions: sinusoids(config.max_source_positions, d, vb.device())?,
            blocks,
            ln_post: layer_norm(d, vb.pp("layer_norm"))?,
        })
    }

    /// Log-mel features `[batch, mels, frames]` → audio features `[batch, frames / 2, d]`.
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = gelu(self.conv1.forward(mel)?)?;
        let x = gelu(self.conv2.forward(&x)?)?.transpose(1, 2)?;
        let n = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, n)?)?;
        for b in &self.blocks {
            x = (&x + b.attn.forward(&b.attn_ln.forward(&x)?)?)?;
            let h = gelu(b.fc1.forward(&b.mlp_ln.forward(&x)?)?)?;
            x = (x + b.fc2.forward(&h)?)?;
        }
        self.ln_post.forward(&x)
    }
}

/// Whisper's sinusoidal positions: `[sin(t · ω_i) | cos(t · ω_i)]` with `ω_i = 10000^(−i / (d/2 − 1))`.
fn sinusoids(length: usize, channels: usize, device: &Device) -> Result<Tensor> {
    let half = channels / 2;
    let step = 10000f32.ln() / (half - 1) as f32;
    let inv: Vec<f32> = (0..half).map(|i| (i as f32 * -step).exp()).collect();
    let mut values = Vec::with_capacity(length * channels);
    for t in 0..length {
        values.extend(inv.iter().map(|w| (t as f32 * w).sin()));
        values.extend(inv.iter().map(|w| (t as f32 * w).cos()));
    }
    Tensor::from_vec(values, (length, channels), device)
}
