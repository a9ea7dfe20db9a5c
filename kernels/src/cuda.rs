//! CUDA kernels. This build has no CUDA support (the `cuda` feature and its kernels are later work), so
//! every entry point returns [`CudaError::NotBuilt`]; callers handle it like any other error and never
//! need `cfg`.

/// Why a CUDA call failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CudaError {
    #[error("parley was built without CUDA support; rebuild with `--features cuda` on a machine with the CUDA toolkit")]
    NotBuilt,
}

/// A CUDA device handle.
#[derive(Debug)]
pub struct CudaDevice {
    ordinal: usize,
}

impl CudaDevice {
    /// Opens device `ordinal`.
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
    fn stub_says_how_to_get_cuda() {
        let err = CudaDevice::open(0).unwrap_err();
        assert_eq!(err, CudaError::NotBuilt);
        assert!(err.to_string().contains("--features cuda"));
    }
}
