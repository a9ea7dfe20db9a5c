//! # parley-kernels
//!
//! Owns parley's numeric kernels and quantized formats: quantized matrix products in ggml's block formats
//! ([`quant`]), `f16` dense products ([`dense`]), attention, norms and RoPE ([`attention`]), the mel front end
//! ([`mel`]), and the spinning thread pool they split work over ([`parallel`]). Each kernel has a scalar
//! reference twin and SIMD paths (AVX2/FMA/F16C, AVX-512 VNNI) chosen at run time from [`CpuFeatures`], so
//! callers never write `cfg`. Everything runs on the CPU: there is no CUDA backend yet ([`cuda`] is the stub
//! that says so).
//!
//! Most of parley's `unsafe` lives here (SIMD intrinsics, raw row pointers inside products, the kernel pool's
//! type-erased jobs); `docs/architecture.md` lists every site in the workspace. It knows nothing about models,
//! sessions or async runtimes.
//!
//! ```
//! use parley_kernels::{CpuFeatures, cuda};
//!
//! // What the kernels will use on this machine, for logs and `/healthz`.
//! println!("cpu ({})", CpuFeatures::detect().describe());
//! // There is no CUDA backend: asking for a device is an ordinary error that says so.
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
