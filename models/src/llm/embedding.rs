//! The token embedding table. Where parley-kernels reads its stored block format it stays quantized and a
//! token's row is dequantized when looked up (Qwen2.5-1.5B's Q4_K table is 131 MB; dequantized up front it
//! was 933 MB of `f32`); any other stored type is dequantized once at load.

use candle_core::quantized::QTensor;
use candle_core::{Device, Result};
use parley_kernels::quant::QMatrix;

use super::linear::own_type;

#[derive(Debug)]
pub enum Embedding {
    /// `[vocab, hidden]` in its block format.
    Quantized(QMatrix),
    /// `[vocab, hidden]`, row-major.
    Dense { values: Vec<f32>, hidden: usize },
}

impl Embedding {
    /// The table `t` (`[vocab, hidden]`).
    pub fn new(t: QTensor, device: &Device) -> Result<Self> {
        let [vocab, hidden] = t.shape().dims() else {
            candle_core::bail!("token_embd.weight has shape {:?}, not [vocab, hidden]", t.shape().dims())
        };
        let (vocab, hidden) = (*vocab, *hidden);
        if device.is_cpu()
            && let Some(ty) = own_type(t.dtype())
        {
            let m = QMatrix::from_ggml_bytes(ty, vocab, hidden, &t.data()?)
                .map_err(|e| candle_core::Error::Msg(format!("token_embd.weight ({ty}): {e}")))?;
            return Ok(Embedding::Quantized(m));
        }
        let values = t.dequantize(device)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Embedding::Dense { values, hidden })
    }

    /// Rows in the table.
    pub fn vocab(&self) -> usize {
        match self {
            Embedding::Quantized(m) => m.rows(),
            Embedding::Dense { values, hidden } => values.len() / (*hidden).max(1),
        }
    }

    /// Token `token`'s row into `out` (`hidden` values).
    pub fn row_into(&self, token: usize, out: &mut [f32]) {
        match self {
            Embedding::Quantized(m) => m.dequantize_row(token, out),
            Embedding::Dense { values, hidden } => out.copy_from_slice(&values[token * hidden..][..*hidden]),
        }
    }
}
