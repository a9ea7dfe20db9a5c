//! # parley-kernels
//!
//! Owns parley's numeric kernels and quantized formats: quantized matrix-vector and matrix-matrix products,
//! attention, norms, the mel front end, each with a scalar reference twin, SIMD paths chosen at run time,
//! and CUDA paths (through cudarc) where a GPU exists. It is the only crate allowed `unsafe` SIMD or CUDA
//! code and the only one with `cfg` switches for them: callers pick a [`Backend`] value and never write
//! `cfg` themselves.
//!
//! It knows nothing about models, sessions or async runtimes.
//!
//! ```
//! use parley_kernels::{Backend, cuda};
//!
//! let backend = Backend::detect();
//! assert!(matches!(backend, Backend::Cpu(_)));
//! // Without a CUDA build, asking for CUDA is an ordinary error that says why.
//! assert!(cuda::CudaDevice::open(0).is_err());
//! ```

pub mod attention;
pub mod cpu;
pub mod cuda;
pub mod dense;
pub mod mel;
pub mod parallel;
pub mod quant;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use cpu::CpuFeatures;

/// Where kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu(CpuFeatures),
    Cuda { ordinal: usize },
}

impl Backend {
    /// The best backend available on this machine: CUDA only when built with it and a device answers.
    pub fn detect() -> Backend {
        match cuda::CudaDevice::open(0) {
            Ok(dev) => Backend::Cuda { ordinal: dev.ordinal() },
            Err(_) => Backend::Cpu(CpuFeatures::detect()),
        }
    }

    /// A short human description, for logs and `/healthz`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu(f) => format!("cpu ({})", f.describe()),
            Backend::Cuda { ordinal } => format!("cuda:{ordinal}"),
        }
    }
}
