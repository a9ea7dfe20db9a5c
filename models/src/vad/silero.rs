//! Silero VAD v6 on ONNX Runtime. Each stream owns its recurrent state and the last 64 samples of context;
//! one call steps any number of streams together (the model's batch dimension).

use ort::session::Session;
use ort::value::Tensor;

use crate::onnx;
use crate::stage_error::StageError;
use crate::store::ModelStore;

const MODEL: &str = "silero-vad";
/// New samples per chunk (32 ms at [`SAMPLE_RATE`]).
pub const CHUNK_SAMPLES: usize = 512;
/// Samples of the previous chunk the model sees again.
pub const CONTEXT_SAMPLES: usize = 64;
/// The rate the model takes.
pub const SAMPLE_RATE: u32 = 16_000;
const STATE: usize = 2 * 128;

/// One audio stream's VAD state: recurrent state, context and not-yet-chunked samples.
#[derive(Debug, Clone)]
pub struct VadStream {
    state: [f32; STATE],
    context: [f32; CONTEXT_SAMPLES],
    pending: Vec<f32>,
    /// Samples consumed by finished chunks.
    consumed: u64,
}

impl Default for VadStream {
    fn default() -> Self {
        Self::new()
    }
}

impl VadStream {
    pub fn new() -> Self {
        Self {
            state: [0.0; STATE],
            context: [0.0; CONTEXT_SAMPLES],
            pending: Vec::with_capacity(2 * CHUNK_SAMPLES),
            consumed: 0,
        }
    }

    /// Forget everything (a new utterance stream).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Queue 16 kHz samples; whole chunks are consumed by [`SileroVad::step`].
    pub fn push(&mut self, samples: &[f32]) {
        self.pending.extend_from_slice(samples);
    }

    /// Whether a whole chunk is waiting.
    pub fn has_chunk(&self) -> bool {
        self.pending.len() >= CHUNK_SAMPLES
    }

    /// Media time (in samples) at the end of the last processed chunk.
    pub fn consumed_samples(&self) -> u64 {
        self.consumed
    }
}

/// Probability for one processed chunk of one stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkProbability {
    /// First sample of the chunk in the stream.
    pub start_sample: u64,
    pub probability: f32,
}

/// The loaded Silero model. Not shared between threads at once (`&mut self`): the engine owns one.
pub struct SileroVad {
    session: Session,
    input: Vec<f32>,
    state: Vec<f32>,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SileroVad")
    }
}

impl SileroVad {
    pub fn load(store: &ModelStore, threads: usize) -> Result<Self, StageError> {
        let env = onnx::environment(store)?;
        let path = store.require(MODEL, "silero_vad.onnx")?;
        let session = onnx::open_session(env, &path, threads)?;
        Ok(Self { session, input: Vec::new(), state: Vec::new() })
    }

    /// Steps one chunk of every stream that has one waiting, in one batched call. Returns, per stream, the
    /// chunk's probability or `None` when that stream had no whole chunk.
    pub fn step(&mut self, streams: &mut [&mut VadStream]) -> Result<Vec<Option<ChunkProbability>>, StageError> {
        let ready: Vec<usize> = (0..streams.len()).filter(|&i| streams[i].has_chunk()).collect();
        let mut result = vec![None; streams.len()];
        if ready.is_empty() {
            return Ok(result);
        }
        let batch = ready.len();
        self.input.clear();
        self.state.clear();
        self.state.resize(STATE * batch, 0.0);
        for (b, &i) in ready.iter().enumerate() {
            let s = &streams[i];
            self.input.extend_from_slice(&s.context);
            self.input.extend_from_slice(&s.pending[..CHUNK_SAMPLES]);
            // state is [2, B, 128]
            for layer in 0..2 {
                let dst = (layer * batch + b) * 128;
                self.state[dst..dst + 128].copy_from_slice(&s.state[layer * 128..(layer + 1) * 128]);
            }
        }
        let err = |e: ort::Error| StageError::inference(MODEL, e);
        let outputs = self
            .session
            .run(ort::inputs![
                "input" => Tensor::from_array(([batch, CHUNK_SAMPLES + CONTEXT_SAMPLES], self.input.clone())).map_err(err)?,
                "state" => Tensor::from_array(([2usize, batch, 128], self.state.clone())).map_err(err)?,
                "sr" => Tensor::from_array(((), vec![SAMPLE_RATE as i64])).map_err(err)?,
            ])
            .map_err(err)?;
        let (_, probs) = outputs["output"].try_extract_tensor::<f32>().map_err(err)?;
        let (_, next) = outputs["stateN"].try_extract_tensor::<f32>().map_err(err)?;
        if probs.len() < batch || next.len() < STATE * batch {
            return Err(StageError::inference(
                MODEL,
                format!("unexpected output sizes {} / {}", probs.len(), next.len()),
            ));
        }
        for (b, &i) in ready.iter().enumerate() {
            let s = &mut *streams[i];
            for layer in 0..2 {
                let src = (layer * batch + b) * 128;
                s.state[layer * 128..(layer + 1) * 128].copy_from_slice(&next[src..src + 128]);
            }
            s.context.copy_from_slice(&s.pending[CHUNK_SAMPLES - CONTEXT_SAMPLES..CHUNK_SAMPLES]);
            s.pending.drain(..CHUNK_SAMPLES);
            result[i] = Some(ChunkProbability { start_sample: s.consumed, probability: probs[b] });
            s.consumed += CHUNK_SAMPLES as u64;
        }
        Ok(result)
    }

    /// Pushes `samples` into one stream and processes every whole chunk; returns their probabilities.
    pub fn process(&mut self, stream: &mut VadStream, samples: &[f32]) -> Result<Vec<ChunkProbability>, StageError> {
        stream.push(samples);
        let mut out = Vec::with_capacity(stream.pending.len() / CHUNK_SAMPLES);
        while stream.has_chunk() {
            if let Some(p) = self.step(&mut [&mut *stream])?[0] {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Probability per chunk ([`CHUNK_SAMPLES`]) of a whole buffer at [`SAMPLE_RATE`] (a trailing partial chunk is
    /// zero-padded).
    pub fn probabilities(&mut self, samples: &[f32]) -> Result<Vec<f32>, StageError> {
        let mut stream = VadStream::new();
        let mut padded = samples.to_vec();
        padded.resize(samples.len().div_ceil(CHUNK_SAMPLES) * CHUNK_SAMPLES, 0.0);
        Ok(self.process(&mut stream, &padded)?.into_iter().map(|p| p.probability).collect())
    }
}
