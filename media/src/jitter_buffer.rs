//! A jitter buffer for incoming audio packets, sans-IO: packets go in as they arrive (with their RTP sequence
//! number and timestamp and the arrival time as a parameter), and a paced reader takes one out per frame
//! period. It puts reordered packets back in order, drops duplicates and packets that come after their turn,
//! and says which packet is missing (so the decoder can conceal it, or recover it from the next packet's FEC)
//! once enough later packets show it is lost rather than late. It measures loss and the RFC 3550 interarrival
//! jitter.

use std::collections::BTreeMap;

/// What a paced read yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop {
    /// The next packet in order.
    Packet { seq: u64, timestamp: u32, payload: Vec<u8> },
    /// The next packet is missing and given up on; conceal it (the following packet, if present, may carry FEC).
    Lost { seq: u64 },
    /// Nothing to play yet (start-up, or the stream paused).
    Empty,
}

/// Counters since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    pub received: u64,
    pub duplicates: u64,
    /// Arrived after their turn had passed (already played as lost, or behind the read point).
    pub late: u64,
    pub lost: u64,
    /// Dropped because the buffer was full (the reader fell behind).
    pub overflow: u64,
    /// RFC 3550 interarrival jitter, in RTP timestamp units.
    pub jitter: f64,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    /// Packets held before reading starts, and how far past a gap later packets must reach before it is
    /// declared lost.
    depth: usize,
    /// Most packets held.
    capacity: usize,
    packets: BTreeMap<u64, (u32, Vec<u8>)>,
    /// The next sequence number to read (extended to 64 bits); `None` until the first packet.
    next: Option<u64>,
    /// The highest extended sequence number seen, for unwrapping 16-bit numbers.
    highest: Option<u64>,
    started: bool,
    /// (arrival in RTP units, RTP timestamp) of the previous packet, for the jitter estimate.
    previous: Option<(f64, u32)>,
    clock_rate: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// `depth` packets of delay (at least 1), at most `capacity` held, `clock_rate` of the RTP timestamps.
    pub fn new(depth: usize, capacity: usize, clock_rate: u32) -> Self {
        let depth = depth.max(1);
        Self {
            depth,
            capacity: capacity.max(depth + 1),
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            started: false,
            previous: None,
            clock_rate,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Takes an arriving packet; `arrival_s` is its arrival time in seconds on any steady clock.
    pub fn push(&mut self, seq: u16, timestamp: u32, payload: Vec<u8>, arrival_s: f64) {
        let seq = self.unwrap(seq);
        self.stats.received += 1;
        self.update_jitter(timestamp, arrival_s);
        if self.started && self.next.is_some_and(|next| seq < next) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&seq) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(seq, (timestamp, payload));
        // Before reading starts, the oldest packet seen is where reading will begin.
        if self.next.is_none_or(|next| !self.started && seq < next) {
            self.next = Some(seq);
        }
        while self.packets.len() > self.capacity {
            if let Some((&oldest, _)) = self.packets.iter().next() {
                self.packets.remove(&oldest);
                self.stats.overflow += 1;
                self.next = Some(oldest + 1);
            }
        }
    }

    /// The next frame's packet, a loss to conceal, or nothing yet. Call once per frame period.
    pub fn pop(&mut self) -> Pop {
        let Some(next) = self.next else { return Pop::Empty };
        if !self.started {
            if self.packets.len() < self.depth {
                return Pop::Empty;
            }
            self.started = true;
        }
        if let Some((timestamp, payload)) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            return Pop::Packet { seq: next, timestamp, payload };
        }
        match self.packets.keys().next_back() {
            // A later packet has arrived `depth` or more places past the gap: the missing one is lost.
            Some(&newest) if newest >= next + self.depth as u64 => {
                self.stats.lost += 1;
                self.next = Some(next + 1);
                Pop::Lost { seq: next }
            }
            // Wait for it a little longer (it may be reordered), or the stream paused.
            _ => Pop::Empty,
        }
    }

    /// The payload of the next packet to read, if it has arrived: after a [`Pop::Lost`] it may carry forward
    /// error correction for the lost one.
    pub fn peek_next(&self) -> Option<&[u8]> {
        self.packets.get(&self.next?).map(|(_, payload)| payload.as_slice())
    }

    /// Extends a 16-bit sequence number to the one nearest the highest seen.
    fn unwrap(&mut self, seq: u16) -> u64 {
        let extended = match self.highest {
            None => (1 << 16) + seq as u64,
            Some(highest) => {
                let base = highest & !0xFFFF;
                let candidates = [base.wrapping_sub(1 << 16), base, base + (1 << 16)].map(|b| b + seq as u64);
                candidates.into_iter().min_by_key(|c| c.abs_diff(highest)).unwrap_or(base + seq as u64)
            }
        };
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
        extended
    }

    /// RFC 3550 §6.4.1: J += (|D| − J) / 16, D the change in transit time between consecutive packets.
    fn update_jitter(&mut self, timestamp: u32, arrival_s: f64) {
        let arrival = arrival_s * self.clock_rate as f64;
        if let Some((prev_arrival, prev_timestamp)) = self.previous {
            let d = (arrival - prev_arrival) - timestamp.wrapping_sub(prev_timestamp) as i32 as f64;
            self.stats.jitter += (d.abs() - self.stats.jitter) / 16.0;
        }
        self.previous = Some((arrival, timestamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: u32 = 960; // 20 ms at 48 kHz

    fn packet(buffer: &mut JitterBuffer, seq: u16, arrival_s: f64) {
        buffer.push(seq, seq as u32 * FRAME, vec![seq as u8], arrival_s);
    }

    fn seqs(pops: &[Pop]) -> Vec<String> {
        pops.iter()
            .map(|p| match p {
                Pop::Packet { payload, .. } => format!("{}", payload[0]),
                Pop::Lost { .. } => "lost".into(),
                Pop::Empty => "-".into(),
            })
            .collect()
    }

    #[test]
    fn reordered_packets_come_out_in_order_after_the_start_delay() {
        let mut b = JitterBuffer::new(2, 16, 48_000);
        let mut out = Vec::new();
        for (i, seq) in [1u16, 3, 2, 4, 6, 5].into_iter().enumerate() {
            packet(&mut b, seq, i as f64 * 0.02);
            out.push(b.pop());
        }
        out.extend((0..3).map(|_| b.pop()));
        assert_eq!(seqs(&out), ["-", "1", "2", "3", "4", "5", "6", "-", "-"]);
        assert_eq!(b.stats().lost, 0);
    }

    #[test]
    fn a_missing_packet_is_declared_lost_once_later_ones_pass_it_and_a_late_arrival_is_dropped() {
        let mut b = JitterBuffer::new(2, 16, 48_000);
        for seq in [10u16, 11, 13, 14] {
            packet(&mut b, seq, 0.0);
        }
        let out: Vec<Pop> = (0..5).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), ["10", "11", "lost", "13", "14"]);
        assert_eq!(out[2], Pop::Lost { seq: (1 << 16) + 12 });
        packet(&mut b, 12, 0.1);
        packet(&mut b, 14, 0.1);
        let s = b.stats();
        assert_eq!((s.lost, s.late, s.received), (1, 2, 6), "{s:?}");
    }

    #[test]
    fn duplicates_are_dropped_and_sequence_numbers_wrap() {
        let mut b = JitterBuffer::new(1, 16, 48_000);
        for seq in [65535u16, 65534, 65535, 0, 1] {
            packet(&mut b, seq, 0.0);
        }
        let out: Vec<Pop> = (0..5).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), ["254", "255", "0", "1", "-"]);
        assert_eq!(b.stats().duplicates, 1);
        assert_eq!(b.stats().lost, 0);
    }

    #[test]
    fn a_reader_that_falls_behind_loses_the_oldest_packets_not_memory() {
        let mut b = JitterBuffer::new(2, 4, 48_000);
        for seq in 0..10u16 {
            packet(&mut b, seq, 0.0);
        }
        assert_eq!(b.len(), 4);
        assert_eq!(b.stats().overflow, 6);
        let out: Vec<Pop> = (0..4).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), ["6", "7", "8", "9"]);
    }

    #[test]
    fn jitter_is_zero_for_steady_arrivals_and_grows_with_uneven_ones() {
        let mut steady = JitterBuffer::new(2, 64, 48_000);
        let mut uneven = JitterBuffer::new(2, 64, 48_000);
        for seq in 0..50u16 {
            packet(&mut steady, seq, seq as f64 * 0.02);
            // Every other packet 10 ms late.
            packet(&mut uneven, seq, seq as f64 * 0.02 + if seq % 2 == 1 { 0.01 } else { 0.0 });
        }
        assert!(steady.stats().jitter < 1e-6, "{:?}", steady.stats());
        // |D| = 480 units each time, so J converges towards 480 (10 ms at 48 kHz).
        let j = uneven.stats().jitter;
        assert!(j > 400.0 && j <= 480.0, "{j}");
    }
}
