//! Reading and writing WAV files.
//!
//! Any PCM WAV a user is likely to have is accepted: mono or multi-channel (mixed down to mono), 8–48 kHz
//! (or any rate up to 192 kHz), 8/16/24/32-bit integer or 32-bit float. [`read_wav_at`] resamples to the rate a
//! model wants with [`crate::resample`].

use std::path::{Path, PathBuf};

use crate::resample::{ResampleError, resample};

/// Mono audio decoded from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MonoAudio {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl MonoAudio {
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Why an audio file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a readable WAV file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: unsupported WAV: {message}")]
    Unsupported { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Resample { path: PathBuf, source: ResampleError },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// Reads a WAV file and mixes it to mono at its own rate.
pub fn read_wav(path: &Path) -> Result<MonoAudio, AudioFileError> {
    let file = std::fs::File::open(path).map_err(|source| AudioFileError::Open { path: path.into(), source })?;
    let reader = hound::WavReader::new(std::io::BufReader::new(file))
        .map_err(|e| AudioFileError::Format { path: path.into(), message: e.to_string() })?;
    let spec = reader.spec();
    let unsupported = |message: String| AudioFileError::Unsupported { path: path.into(), message };
    if spec.channels == 0 {
        return Err(unsupported("zero channels".into()));
    }
    if !(4_000..=192_000).contains(&spec.sample_rate) {
        return Err(unsupported(format!("sample rate {} Hz (expected 4000..192000)", spec.sample_rate)));
    }
    let bad = |e: hound::Error| AudioFileError::Format { path: path.into(), message: e.to_string() };
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(bad)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>().map_err(bad)?
        }
        (format, bits) => return Err(unsupported(format!("{bits}-bit {format:?} samples"))),
    };
    let channels = spec.channels as usize;
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect()
    };
    Ok(MonoAudio { sample_rate: spec.sample_rate, samples })
}

/// Reads a WAV file as mono at `rate` Hz (resampling when the file has another rate).
pub fn read_wav_at(path: &Path, rate: u32) -> Result<MonoAudio, AudioFileError> {
    let audio = read_wav(path)?;
    if audio.sample_rate == rate {
        return Ok(audio);
    }
    let samples = resample(&audio.samples, audio.sample_rate, rate)
        .map_err(|source| AudioFileError::Resample { path: path.into(), source })?;
    Ok(MonoAudio { sample_rate: rate, samples })
}

/// Writes mono samples as a 16-bit PCM WAV file (clipping to [-1, 1]).
pub fn write_wav(path: &Path, sample_rate: u32, samples: &[f32]) -> Result<(), AudioFileError> {
    let err = |message: String| AudioFileError::Write { path: path.into(), message };
    let spec =
        hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).map_err(|e| err(e.to_string()))?;
    for &s in samples {
        writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).map_err(|e| err(e.to_string()))?;
    }
    writer.finalize().map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, spec: hound::WavSpec, frames: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames {
            for c in 0..spec.channels {
                let v = ((i as f32 * 0.05).sin() * 0.5) * if c == 0 { 1.0 } else { 0.0 };
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample(v).unwrap(),
                    hound::SampleFormat::Int => {
                        w.write_sample((v * ((1i64 << (spec.bits_per_sample - 1)) - 1) as f32) as i32).unwrap()
                    }
                }
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_every_common_layout_and_resamples() {
        let dir = tempfile::tempdir().unwrap();
        for (channels, rate, bits, format) in [
            (1, 16_000, 16, hound::SampleFormat::Int),
            (2, 48_000, 16, hound::SampleFormat::Int),
            (1, 8_000, 24, hound::SampleFormat::Int),
            (2, 44_100, 32, hound::SampleFormat::Float),
        ] {
            let path = dir.path().join(format!("{channels}-{rate}-{bits}.wav"));
            let spec = hound::WavSpec { channels, sample_rate: rate, bits_per_sample: bits, sample_format: format };
            write(&path, spec, rate as usize / 2);
            let audio = read_wav_at(&path, 16_000).unwrap();
            assert_eq!(audio.sample_rate, 16_000);
            assert!(audio.samples.len().abs_diff(8_000) <= 2, "{path:?}: {}", audio.samples.len());
            let peak = audio.samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let expected = if channels == 2 { 0.25 } else { 0.5 };
            assert!((peak - expected).abs() < 0.05, "{path:?}: peak {peak}");
        }
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_wav(&dir.path().join("nope.wav")).unwrap_err();
        assert!(missing.to_string().contains("cannot open"), "{missing}");
        let text = dir.path().join("text.wav");
        std::fs::write(&text, "hello, not audio").unwrap();
        let err = read_wav(&text).unwrap_err();
        assert!(err.to_string().contains("not a readable WAV"), "{err}");
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let samples: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.01).sin() * 0.8).collect();
        write_wav(&path, 22_050, &samples).unwrap();
        let back = read_wav(&path).unwrap();
        assert_eq!(back.sample_rate, 22_050);
        let err = samples.iter().zip(&back.samples).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err < 1e-3, "{err}");
    }
}
