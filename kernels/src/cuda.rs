//! The place for CUDA kernels, which do not exist yet: parley has no CUDA backend in any build (no cargo
//! feature enables one; a CUDA engine is future work), so every entry point returns [`CudaError::NotBuilt`].
//! Callers handle it like any other error and never need `cfg`.

/// Why a CUDA call failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CudaError {
    #[error("parley has no CUDA backend yet (it is future work); every model runs on the CPU")]
    NotBuilt,
}

/// A CUDA device handle. None can be opened in this build.
#[derive(Debug)]
pub struct CudaDevice {
    ordinal: usize,
}

impl CudaDevice {
    /// Opens device `ordinal`; always [`CudaError::NotBuilt`] until a CUDA backend exists.
    pub fn open(ordinal: usize) -> Result<CudaDevice, CudaError> {
        let _ = ordinal;
        Err(CudaError::NotBuilt)
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_says_plainly_that_there_is_no_cuda_backend() {
        let err = CudaDevice::open(0).unwrap_err();
        assert_eq!(err, CudaError::NotBuilt);
        let message = err.to_string();
        assert!(message.contains("no CUDA backend"), "{message}");
        assert!(!message.contains("--features"), "names a feature that does not exist: {message}");
    }
}
