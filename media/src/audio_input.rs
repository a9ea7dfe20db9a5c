//! Incoming call audio, sans-IO: RTP Opus packets in (with their arrival time as a parameter) → a jitter buffer
//! (reordering, duplicates, loss) → the Opus decoder at 48 kHz mono (libopus downmixes a stereo stream) with
//! forward error correction from the next packet or packet-loss concealment for a lost one → 16 kHz → the
//! pipeline's 20 ms [`AudioFrame`]s stamped with media time (samples since the stream started).

use crate::audio_frame::AudioFrame;
use crate::decimator::Decimator48To16;
use crate::jitter_buffer::{JitterBuffer, JitterStats, Pop};

/// Largest Opus packet duration: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5_760;
/// A lost packet is concealed with this many samples when no packet has been decoded yet.
const DEFAULT_PACKET_SAMPLES: usize = 960;

/// A 20 ms frame for the pipeline and when the packet that began it arrived (seconds on the caller's clock).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedFrame {
    pub frame: AudioFrame,
    pub arrival_s: f64,
}

/// Counters since the stream started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AudioInputStats {
    pub jitter: JitterStats,
    /// Packets decoded normally.
    pub decoded: u64,
    /// Lost packets rebuilt from the next packet's forward error correction.
    pub recovered_fec: u64,
    /// Lost packets concealed (PLC).
    pub concealed: u64,
    /// Packets the decoder refused (corrupt); each is concealed instead.
    pub corrupt: u64,
}

/// Error creating the decoder.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the Opus decoder: {0}")]
pub struct DecoderError(String);

/// See the module docs.
pub struct AudioInput {
    jitter: JitterBuffer,
    decoder: opus::Decoder,
    decimator: Decimator48To16,
    pcm48: Vec<f32>,
    pending: Vec<f32>,
    next_sample: u64,
    pending_arrival: Option<f64>,
    last_packet_samples: usize,
    stats: AudioInputStats,
}

impl AudioInput {
    /// `jitter_depth` packets are held before playing starts and decide when a missing one is lost.
    pub fn new(jitter_depth: usize) -> Result<Self, DecoderError> {
        let decoder = opus::Decoder::new(48_000, opus::Channels::Mono).map_err(|e| DecoderError(e.to_string()))?;
        Ok(Self {
            jitter: JitterBuffer::new(jitter_depth, 50, 48_000),
            decoder,
            decimator: Decimator48To16::new(),
            pcm48: vec![0.0; MAX_PACKET_SAMPLES],
            pending: Vec::with_capacity(2 * AudioFrame::PIPELINE_SAMPLES),
            next_sample: 0,
            pending_arrival: None,
            last_packet_samples: DEFAULT_PACKET_SAMPLES,
            stats: AudioInputStats::default(),
        })
    }

    pub fn stats(&self) -> AudioInputStats {
        AudioInputStats { jitter: self.jitter.stats(), ..self.stats }
    }

    /// Takes one arriving RTP packet and appends every 20 ms frame it completes to `out`.
    pub fn push_packet(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
        arrival_s: f64,
        out: &mut Vec<ReceivedFrame>,
    ) {
        self.jitter.push(seq, timestamp, payload.to_vec(), arrival_s);
        loop {
            match self.jitter.pop() {
                Pop::Empty => break,
                Pop::Packet { payload, .. } => {
                    let n = match self.decoder.decode_float(&payload, &mut self.pcm48, false) {
                        Ok(n) => {
                            self.stats.decoded += 1;
                            self.last_packet_samples = n.clamp(120, MAX_PACKET_SAMPLES);
                            n
                        }
                        Err(_) => {
                            self.stats.corrupt += 1;
                            self.conceal()
                        }
                    };
                    self.emit(n, arrival_s, out);
                }
                Pop::Lost { .. } => {
                    let len = self.last_packet_samples;
                    let recovered = match self.jitter.peek_next() {
                        Some(next) => self.decoder.decode_float(next, &mut self.pcm48[..len], true).ok(),
                        None => None,
                    };
                    let n = match recovered {
                        Some(n) if n > 0 => {
                            self.stats.recovered_fec += 1;
                            n
                        }
                        _ => self.conceal(),
                    };
                    self.emit(n, arrival_s, out);
                }
            }
        }
    }

    fn conceal(&mut self) -> usize {
        self.stats.concealed += 1;
        let len = self.last_packet_samples;
        match self.decoder.decode_float(&[], &mut self.pcm48[..len], false) {
            Ok(n) => n,
            Err(_) => {
                self.pcm48[..len].fill(0.0);
                len
            }
        }
    }

    fn emit(&mut self, n: usize, arrival_s: f64, out: &mut Vec<ReceivedFrame>) {
        if self.pending_arrival.is_none() {
            self.pending_arrival = Some(arrival_s);
        }
        self.decimator.process(&self.pcm48[..n], &mut self.pending);
        while self.pending.len() >= AudioFrame::PIPELINE_SAMPLES {
            let samples: Vec<f32> = self.pending.drain(..AudioFrame::PIPELINE_SAMPLES).collect();
            let frame = AudioFrame::new(AudioFrame::PIPELINE_RATE, self.next_sample, samples);
            self.next_sample += AudioFrame::PIPELINE_SAMPLES as u64;
            out.push(ReceivedFrame { frame, arrival_s: self.pending_arrival.unwrap_or(arrival_s) });
            self.pending_arrival = if self.pending.is_empty() { None } else { Some(arrival_s) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_tone(freq: f64, packets: usize, fec: bool) -> Vec<Vec<u8>> {
        let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        if fec {
            enc.set_inband_fec(true).unwrap();
            enc.set_packet_loss_perc(20).unwrap();
        }
        (0..packets)
            .map(|p| {
                let pcm: Vec<f32> = (0..960)
                    .map(|i| {
                        let t = (p * 960 + i) as f64 / 48_000.0;
                        ((2.0 * std::f64::consts::PI * freq * t).sin() * 0.3) as f32
                    })
                    .collect();
                enc.encode_vec_float(&pcm, 1500).unwrap()
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn packets_become_20ms_frames_with_media_time() {
        let packets = encode_tone(440.0, 50, false);
        let mut input = AudioInput::new(1).unwrap();
        let mut frames = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            input.push_packet(i as u16, i as u32 * 960, p, i as f64 * 0.02, &mut frames);
        }
        assert_eq!(frames.len(), 50);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.frame.start_sample, i as u64 * 320);
            assert_eq!(f.frame.samples.len(), 320);
            assert_eq!(f.frame.sample_rate, 16_000);
        }
        // A 440 Hz tone at 0.3 has RMS 0.21 once the codec has settled.
        let level = rms(&frames[10].frame.samples);
        assert!((level - 0.212).abs() < 0.03, "level {level}");
        assert_eq!(input.stats().decoded, 50);
    }

    #[test]
    fn reordered_packets_play_in_order_and_a_lost_one_is_recovered_or_concealed() {
        let packets = encode_tone(300.0, 40, true);
        let mut input = AudioInput::new(2).unwrap();
        let mut frames = Vec::new();
        let order: Vec<usize> = (0..40)
            .filter(|&i| i != 20)
            .map(|i| {
                if i == 11 {
                    12
                } else if i == 12 {
                    11
                } else {
                    i
                }
            })
            .collect();
        for (k, &i) in order.iter().enumerate() {
            input.push_packet(i as u16, i as u32 * 960, &packets[i], k as f64 * 0.02, &mut frames);
        }
        let stats = input.stats();
        assert_eq!(stats.jitter.lost, 1);
        assert_eq!(stats.recovered_fec + stats.concealed, 1, "{stats:?}");
        assert_eq!(stats.recovered_fec, 1, "the next packet carried FEC: {stats:?}");
        // Every packet's audio came out (the lost one rebuilt), less what the depth still holds.
        assert!(frames.len() >= 38, "{} frames", frames.len());
        // No silent hole where packet 20 was lost.
        let around: Vec<f32> = frames[19..22].iter().flat_map(|f| f.frame.samples.clone()).collect();
        assert!(rms(&around) > 0.1, "gap at the lost packet: {}", rms(&around));
    }

    #[test]
    fn corrupt_packets_are_concealed_not_fatal() {
        let mut input = AudioInput::new(1).unwrap();
        let mut frames = Vec::new();
        let good = encode_tone(440.0, 3, false);
        input.push_packet(0, 0, &good[0], 0.0, &mut frames);
        input.push_packet(1, 960, &[0xff, 0xff, 0xff, 0xff, 0xff], 0.02, &mut frames);
        input.push_packet(2, 1920, &good[2], 0.04, &mut frames);
        assert_eq!(frames.len(), 3);
        assert_eq!(input.stats().corrupt, 1);
    }
}
