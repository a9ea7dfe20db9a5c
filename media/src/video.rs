//! Incoming video: RTP VP8 packets are reassembled into frames (RFC 7741 payload descriptors), every frame is
//! decoded on the track's own thread (a decoder needs every frame to keep its references), and frames are
//! handed on as RGB [`VideoFrame`]s only at the configured sampling rate — default one per second — plus one
//! whenever [`VideoRequest::request`] asks. A lost packet drops the frame it belonged to and frames until the
//! next key frame (the browser sends one at start and on picture-loss requests).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use crate::vp8_decoder::Vp8Decoder;

/// A decoded picture, packed RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    /// Milliseconds since the session started when the frame was complete.
    pub received_ms: u64,
    /// The RTP timestamp (90 kHz) of the frame.
    pub rtp_timestamp: u32,
}

/// Video options.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoConfig {
    /// Hand on at most one frame per interval; `None`: only frames asked for.
    pub sample_interval: Option<Duration>,
    pub request: VideoRequest,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self { sample_interval: Some(Duration::from_secs(1)), request: VideoRequest::default() }
    }
}

/// Asks for the next decoded frame now, regardless of the sampling interval.
#[derive(Debug, Clone, Default)]
pub struct VideoRequest(Arc<AtomicBool>);

impl PartialEq for VideoRequest {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl VideoRequest {
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Reassembles VP8 frames from RTP payloads (sans-IO).
#[derive(Debug, Default)]
pub struct Vp8Depacketizer {
    frame: Vec<u8>,
    assembling: bool,
    last_seq: Option<u16>,
    need_key: bool,
}

impl Vp8Depacketizer {
    pub fn new() -> Self {
        Self { need_key: true, ..Default::default() }
    }

    /// Takes one packet; returns a whole frame when `marker` ends one that arrived without gaps.
    pub fn push(&mut self, seq: u16, payload: &[u8], marker: bool) -> Option<Vec<u8>> {
        let in_order = self.last_seq.is_none_or(|last| seq == last.wrapping_add(1));
        self.last_seq = Some(seq);
        let (start, data) = parse_descriptor(payload)?;
        if start {
            self.frame.clear();
            self.assembling = true;
        } else if !in_order || !self.assembling {
            // A packet of this frame was lost: drop it and wait for a key frame.
            self.assembling = false;
            self.need_key = true;
            return None;
        }
        self.frame.extend_from_slice(data);
        if !marker {
            return None;
        }
        self.assembling = false;
        let key = self.frame.first().is_some_and(|b| b & 1 == 0);
        if self.need_key && !key {
            return None;
        }
        self.need_key = false;
        Some(std::mem::take(&mut self.frame))
    }
}

/// RFC 7741 §4.2: returns (start of a frame, the VP8 data).
fn parse_descriptor(p: &[u8]) -> Option<(bool, &[u8])> {
    let first = *p.first()?;
    let mut i = 1;
    if first & 0x80 != 0 {
        let ext = *p.get(i)?;
        i += 1;
        if ext & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            i += if *p.get(i)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            i += 1; // TID/KEYIDX
        }
    }
    let start = first & 0x10 != 0 && first & 0x07 == 0;
    Some((start, p.get(i..)?))
}

struct Complete {
    data: Vec<u8>,
    received_ms: u64,
    rtp_timestamp: u32,
}

/// One video track: reassembly here, decoding on a thread, sampled frames to `on_frame`.
pub struct VideoReceiver {
    depacketizer: Vp8Depacketizer,
    frames: SyncSender<Complete>,
}

impl VideoReceiver {
    pub fn spawn(config: VideoConfig, on_frame: impl Fn(VideoFrame) + Send + 'static) -> Self {
        let (frames, rx) = sync_channel::<Complete>(30);
        std::thread::Builder::new()
            .name("parley-vp8".into())
            .spawn(move || {
                let mut decoder = match Vp8Decoder::new() {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!("{e}");
                        return;
                    }
                };
                let mut next_sample_ms = 0u64;
                while let Ok(c) = rx.recv() {
                    let due = config.sample_interval.is_some_and(|_| c.received_ms >= next_sample_ms);
                    let convert = due || config.request.take();
                    match decoder.decode(&c.data, convert) {
                        Ok(Some(img)) => {
                            if let Some(interval) = config.sample_interval {
                                next_sample_ms = c.received_ms + interval.as_millis() as u64;
                            }
                            metrics::counter!("parley_video_frames_sampled_total").increment(1);
                            on_frame(VideoFrame {
                                width: img.width,
                                height: img.height,
                                rgb: img.rgb,
                                received_ms: c.received_ms,
                                rtp_timestamp: c.rtp_timestamp,
                            });
                        }
                        Ok(None) => {}
                        Err(e) => tracing::debug!("{e}"),
                    }
                    metrics::counter!("parley_video_frames_decoded_total").increment(1);
                }
            })
            .expect("spawn the video decoder thread");
        Self { depacketizer: Vp8Depacketizer::new(), frames }
    }

    /// Takes one RTP packet of the track.
    pub fn push_packet(&mut self, seq: u16, payload: &[u8], marker: bool, rtp_timestamp: u32, now_ms: u64) {
        if let Some(data) = self.depacketizer.push(seq, payload, marker) {
            match self.frames.try_send(Complete { data, received_ms: now_ms, rtp_timestamp }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    // The decoder fell behind: the chain is broken until the next key frame.
                    self.depacketizer.need_key = true;
                    metrics::counter!("parley_video_frames_dropped_total").increment(1);
                }
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Whether the receiver waits for a key frame (send the sender a picture-loss indication).
    pub fn needs_key_frame(&self) -> bool {
        self.depacketizer.need_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vp8_decoder::test_encoder::Vp8Encoder;

    /// Splits a frame into RTP payloads the way browsers do (1-byte descriptor, S on the first).
    fn packetize(frame: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        frame
            .chunks(mtu)
            .enumerate()
            .map(|(i, chunk)| {
                let mut p = vec![if i == 0 { 0x10 } else { 0x00 }];
                p.extend_from_slice(chunk);
                p
            })
            .collect()
    }

    #[test]
    fn descriptors_with_extensions_parse() {
        // X=1, S=1; I=1 with a 15-bit picture id, L=1, T=1.
        let p = [0x90, 0xE0, 0x81, 0x23, 0x05, 0x20, 0xAA, 0xBB];
        assert_eq!(parse_descriptor(&p), Some((true, &[0xAA, 0xBB][..])));
        assert_eq!(parse_descriptor(&[0x00, 0x01]), Some((false, &[0x01][..])));
        assert_eq!(parse_descriptor(&[0x80]), None);
    }

    #[test]
    fn frames_reassemble_decode_and_sample() {
        let mut enc = Vp8Encoder::new(160, 120);
        let (tx, rx) = std::sync::mpsc::channel();
        let request = VideoRequest::default();
        let config = VideoConfig { sample_interval: Some(Duration::from_millis(100)), request: request.clone() };
        let mut receiver = VideoReceiver::spawn(config, move |f| tx.send(f).unwrap());
        let mut seq = 0u16;
        // 30 frames 33 ms apart: sampled at 0, 132, 264, … 924 ms (the first frame at least 100 ms after the last).
        for n in 0..30u32 {
            let frame = enc.encode_flat(81, 90, 240);
            let packets = packetize(&frame, 200);
            let count = packets.len();
            for (i, p) in packets.into_iter().enumerate() {
                receiver.push_packet(seq, &p, i + 1 == count, n * 3000, n as u64 * 33);
                seq = seq.wrapping_add(1);
            }
        }
        drop(receiver);
        let frames: Vec<VideoFrame> = rx.iter().collect();
        assert_eq!(frames.len(), 8, "sampled frames");
        let f = &frames[0];
        assert_eq!((f.width, f.height, f.rgb.len()), (160, 120, 160 * 120 * 3));
        assert!(f.rgb[0] > 230 && f.rgb[1] < 25 && f.rgb[2] < 25, "red: {:?}", &f.rgb[..3]);
    }

    #[test]
    fn a_lost_packet_drops_frames_until_a_key_frame() {
        let mut enc = Vp8Encoder::new(160, 120);
        let mut d = Vp8Depacketizer::new();
        let key = packetize(&enc.encode_flat(100, 128, 128), 8);
        assert!(key.len() >= 2);
        let mut seq = 0u16;
        let mut out = Vec::new();
        for (i, p) in key.iter().enumerate() {
            out.extend(d.push(seq, p, i + 1 == key.len()));
            seq += 1;
        }
        assert_eq!(out.len(), 1, "the key frame");
        // A delta frame with its first packet lost.
        let delta = packetize(&enc.encode_flat(110, 128, 128), 2);
        assert!(delta.len() >= 2);
        seq += 1;
        for (i, p) in delta.iter().enumerate().skip(1) {
            assert!(d.push(seq, p, i + 1 == delta.len()).is_none());
            seq += 1;
        }
        // The next delta frame is complete but cannot be decoded without the lost one: dropped too.
        let next = packetize(&enc.encode_flat(120, 128, 128), 1000);
        for (i, p) in next.iter().enumerate() {
            assert!(d.push(seq, p, i + 1 == next.len()).is_none());
            seq += 1;
        }
        assert!(d.need_key);
    }
}
