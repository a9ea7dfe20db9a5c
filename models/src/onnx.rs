//! The one place that loads ONNX Runtime. `ort` is built with `load-dynamic`: the library comes from the
//! model store (`onnxruntime/libonnxruntime.so.*`), never from a download at build time.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;

use crate::store::{ModelStore, StoreError};

/// Model id and file of the ONNX Runtime library in the store.
pub const RUNTIME_MODEL: &str = "onnxruntime";
pub const RUNTIME_LIBRARY: &str = "libonnxruntime.so.1.32.0";

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("ONNX Runtime library not found at {path}; run `parley models fetch`")]
    LibraryMissing { path: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("loading ONNX Runtime from {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("ONNX Runtime was already initialised from {loaded}; cannot switch to {requested}")]
    AlreadyLoaded { loaded: PathBuf, requested: PathBuf },
    #[error("opening ONNX model {path}: {message}")]
    Session { path: PathBuf, message: String },
}

struct Loaded {
    path: PathBuf,
    env: Environment,
}

static RUNTIME: OnceLock<Result<Loaded, String>> = OnceLock::new();

/// Loads the library once per process and returns the shared environment.
pub fn environment_from(library: &Path) -> Result<&'static Environment, OnnxError> {
    if !library.is_file() {
        return Err(OnnxError::LibraryMissing { path: library.to_path_buf() });
    }
    let loaded = RUNTIME.get_or_init(|| {
        ort::init_from(library)
            .map_err(|e| e.to_string())
            .and_then(|b| b.with_name("parley").with_telemetry(false).build().map_err(|e| e.to_string()))
            .map(|env| Loaded { path: library.to_path_buf(), env })
    });
    match loaded {
        Ok(l) if l.path == library => Ok(&l.env),
        Ok(l) => Err(OnnxError::AlreadyLoaded { loaded: l.path.clone(), requested: library.to_path_buf() }),
        Err(message) => Err(OnnxError::Load { path: library.to_path_buf(), message: message.clone() }),
    }
}

/// Loads the library from the model store.
pub fn environment(store: &ModelStore) -> Result<&'static Environment, OnnxError> {
    let path = store.file_path(RUNTIME_MODEL, RUNTIME_LIBRARY)?;
    environment_from(&path)
}

/// Opens an ONNX model with `threads` intra-op threads.
pub fn open_session(env: &Environment, model: &Path, threads: usize) -> Result<Session, OnnxError> {
    let err = |message: String| OnnxError::Session { path: model.to_path_buf(), message };
    Session::builder(env)
        .map_err(|e| err(e.to_string()))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| err(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_library_says_fetch() {
        let err = environment_from(Path::new("/nonexistent/libonnxruntime.so")).err().unwrap();
        assert!(err.to_string().contains("parley models fetch"), "{err}");
    }
}
