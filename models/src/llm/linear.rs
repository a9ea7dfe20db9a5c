//! A weight matrix of the transformer and its product with activations: Q8_0 matrices go through
//! parley-kernels' batched Q8_0 kernel (each weight block read once for every row of a batch, bit-identical
//! to candle's per-row results); every other stored type keeps candle's quantized matmul.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Result, Tensor};
use parley_kernels::q8_0::Q8Matrix;

/// `y = x · Wᵀ` for a quantized `W` of `[outputs, inputs]`.
#[derive(Debug)]
pub enum Linear {
    /// Our kernel (Q8_0 weights on the CPU).
    Q8(Q8Matrix),
    /// candle's kernels (every other type).
    Candle(QMatMul),
}

impl Linear {
    /// Wraps a loaded tensor, choosing our kernel when it applies and `own_kernels` allows it.
    pub fn new(t: QTensor, device: &Device, own_kernels: bool) -> Result<Self> {
        if own_kernels
            && device.is_cpu()
            && t.dtype() == GgmlDType::Q8_0
            && let [rows, cols] = t.shape().dims()
        {
            let matrix = Q8Matrix::from_ggml_bytes(*rows, *cols, &t.data()?)
                .map_err(|e| candle_core::Error::Msg(format!("Q8_0 weights: {e}")))?;
            return Ok(Linear::Q8(matrix));
        }
        Ok(Linear::Candle(QMatMul::from_qtensor(t)?))
    }

    /// Several matrices with the same inputs as one (their outputs side by side in each row), when all use our
    /// kernel; `None` otherwise.
    pub fn stack(parts: &[&Linear]) -> Option<Linear> {
        let q8: Option<Vec<&Q8Matrix>> =
            parts.iter().map(|p| if let Linear::Q8(m) = p { Some(m) } else { None }).collect();
        Q8Matrix::stack(&q8?).ok().map(Linear::Q8)
    }

    /// `rows` rows of activations (`rows × inputs`, row-major) to `rows × outputs`.
    pub fn forward_rows(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        match self {
            Linear::Q8(w) => {
                let mut out = vec![0f32; rows * w.rows()];
                w.matmul(x, &mut out).map_err(|e| candle_core::Error::Msg(format!("Q8_0 matmul: {e}")))?;
                Ok(out)
            }
            Linear::Candle(m) => {
                let inputs = x.len() / rows.max(1);
                let t = Tensor::from_slice(x, (rows, inputs), &Device::Cpu)?;
                m.forward(&t)?.flatten_all()?.to_vec1::<f32>()
            }
        }
    }
}
