//! A weight matrix of the transformer and its product with activations: matrices in the block formats
//! parley-kernels implements (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) go through its quantized kernels (the GGUF
//! bytes as stored, activations quantized once per product, each weight row read once for every row of a
//! batch); any other stored type, or `own_kernels = false`, keeps candle's quantized matmul.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Result, Tensor};
use parley_kernels::quant::{QMatrix, QType};

/// `y = x · Wᵀ` for a quantized `W` of `[outputs, inputs]`.
#[derive(Debug)]
pub enum Linear {
    /// parley-kernels.
    Own(QMatrix),
    /// candle's kernels.
    Candle(QMatMul),
}

/// Our format for a candle type, when we have kernels for it.
pub(crate) fn own_type(t: GgmlDType) -> Option<QType> {
    Some(match t {
        GgmlDType::Q4_0 => QType::Q4_0,
        GgmlDType::Q4_1 => QType::Q4_1,
        GgmlDType::Q5_0 => QType::Q5_0,
        GgmlDType::Q8_0 => QType::Q8_0,
        GgmlDType::Q4K => QType::Q4_K,
        GgmlDType::Q6K => QType::Q6_K,
        _ => return None,
    })
}

impl Linear {
    /// Wraps a loaded tensor, choosing our kernels when they apply and `own_kernels` allows it (for the
    /// K-quants only with `own_kquant` too).
    pub fn new(t: QTensor, device: &Device, own_kernels: bool, own_kquant: bool) -> Result<Self> {
        if own_kernels
            && device.is_cpu()
            && let Some(ty) = own_type(t.dtype())
            && (own_kquant || !ty.is_k_quant())
            && let [rows, cols] = t.shape().dims()
        {
            let matrix = QMatrix::from_ggml_bytes(ty, *rows, *cols, &t.data()?)
                .map_err(|e| candle_core::Error::Msg(format!("{ty} weights: {e}")))?;
            return Ok(Linear::Own(matrix));
        }
        Ok(Linear::Candle(QMatMul::from_qtensor(t)?))
    }

    /// Several matrices with the same inputs as one (their outputs side by side in each row), when all use our
    /// kernels with one format; `None` otherwise.
    pub fn stack(parts: &[&Linear]) -> Option<Linear> {
        let own: Option<Vec<&QMatrix>> =
            parts.iter().map(|p| if let Linear::Own(m) = p { Some(m) } else { None }).collect();
        QMatrix::stack(&own?).ok().map(Linear::Own)
    }

    /// Bytes of weights one product reads (for bandwidth figures).
    pub fn weight_bytes(&self) -> usize {
        match self {
            Linear::Own(m) => m.bytes().len(),
            Linear::Candle(QMatMul::QTensor(t)) => t.storage_size_in_bytes(),
            Linear::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) => t.elem_count() * t.dtype().size_in_bytes(),
        }
    }

    /// `rows` rows of activations (`rows × inputs`, row-major) to `rows × outputs`.
    pub fn forward_rows(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        match self {
            Linear::Own(w) => {
                let mut out = vec![0f32; rows * w.rows()];
                w.matmul(x, &mut out).map_err(|e| candle_core::Error::Msg(format!("{} matmul: {e}", w.qtype())))?;
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
