//! Whisper's decoding constraints for timestamped transcripts, as a pure function over one step's logits:
//! timestamps come in pairs around each segment's text, never go backwards, the first token is a
//! timestamp no later than 1 s, and a timestamp is forced when the timestamps together are more likely
//! than any single text token.

/// Token ids the rules need.
#[derive(Debug, Clone, Copy)]
pub struct SpecialTokens {
    pub eot: u32,
    pub sot: u32,
    pub no_speech: u32,
    pub no_timestamps: u32,
    /// `<|0.00|>`; timestamp `k` is `timestamp_begin + k`, 20 ms each.
    pub timestamp_begin: u32,
}

impl SpecialTokens {
    pub fn is_timestamp(&self, t: u32) -> bool {
        t >= self.timestamp_begin
    }
}

/// Latest initial timestamp allowed (in 20 ms steps): 1 s, as Whisper's `max_initial_timestamp`.
const MAX_INITIAL_TIMESTAMP: u32 = 50;

/// Masks `logits` (in place, with `-inf`) for the next token after `generated` (tokens after the prompt).
pub fn apply(logits: &mut [f32], generated: &[u32], special: &SpecialTokens) {
    let tb = special.timestamp_begin as usize;
    let eot = special.eot as usize;
    let n = logits.len();
    // Never emit these in a timestamped transcript.
    logits[special.no_timestamps as usize] = f32::NEG_INFINITY;
    logits[special.sot as usize] = f32::NEG_INFINITY;
    logits[special.no_speech as usize] = f32::NEG_INFINITY;

    let last_ts = generated.last().is_some_and(|&t| special.is_timestamp(t));
    let penultimate_ts = generated.len() < 2 || special.is_timestamp(generated[generated.len() - 2]);
    if last_ts {
        if penultimate_ts {
            // A pair just closed: text (or the end) comes next, not another timestamp.
            logits[tb..].fill(f32::NEG_INFINITY);
        } else {
            // Inside a segment: after its closing timestamp only a timestamp or the end.
            logits[..eot].fill(f32::NEG_INFINITY);
        }
    }
    // Timestamps never decrease (and a closing timestamp is strictly after its opening one).
    if let Some(&prev) = generated.iter().rev().find(|&&t| special.is_timestamp(t)) {
        let floor = if last_ts && !penultimate_ts { prev as usize } else { prev as usize + 1 };
        logits[tb..floor.min(n)].fill(f32::NEG_INFINITY);
    }
    if generated.is_empty() {
        logits[..tb].fill(f32::NEG_INFINITY);
        let last_allowed = tb + MAX_INITIAL_TIMESTAMP as usize;
        if last_allowed + 1 < n {
            logits[last_allowed + 1..].fill(f32::NEG_INFINITY);
        }
    }
    // If all timestamps together outweigh the best text token, pick a timestamp.
    let ts_logsumexp = log_sum_exp(&logits[tb..]);
    let text_max = logits[..tb].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if ts_logsumexp > text_max {
        logits[..tb].fill(f32::NEG_INFINITY);
    }
}

fn log_sum_exp(xs: &[f32]) -> f32 {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f32>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: SpecialTokens = SpecialTokens { eot: 10, sot: 11, no_speech: 12, no_timestamps: 13, timestamp_begin: 14 };

    fn argmax(l: &[f32]) -> usize {
        (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap()
    }

    #[test]
    fn starts_with_an_early_timestamp() {
        let mut l = vec![0.0; 100];
        l[3] = 5.0; // text would win
        l[90] = 9.0; // a late timestamp
        apply(&mut l, &[], &S);
        let t = argmax(&l);
        assert!((14..=64).contains(&t), "{t}");
    }

    #[test]
    fn text_after_an_opening_timestamp_and_timestamp_or_end_after_a_closing_one() {
        let mut l = vec![0.0; 100];
        l[3] = 9.0;
        l[20] = 5.0;
        apply(&mut l, &[14, 3, 4, 20], &S); // <0.00> text text <0.12>: closed → next segment's timestamp or end
        assert_eq!(argmax(&l), 20);
        assert!(l[3].is_infinite());
        let mut l = vec![0.0; 100];
        l[25] = 9.0;
        l[3] = 5.0;
        apply(&mut l, &[14, 3, 20, 20], &S); // two timestamps in a row → text
        assert_eq!(argmax(&l), 3);
        let mut l = vec![0.0; 100];
        l[3] = 9.0;
        l[30] = 1.0;
        apply(&mut l, &[14, 3, 4], &S); // still inside: text allowed
        assert_eq!(argmax(&l), 3);
        let mut l = vec![0.0; 100];
        l[12] = 20.0; // no-speech token is never emitted
        l[5] = 1.0;
        apply(&mut l, &[14, 3], &S);
        assert_ne!(argmax(&l), 12);
    }

    #[test]
    fn timestamps_never_go_backwards() {
        let mut l = vec![0.0; 100];
        l[15] = 9.0;
        l[40] = 8.0;
        l[3] = -50.0;
        apply(&mut l, &[14, 3, 30, 4, 5], &S);
        assert!(l[15].is_infinite() && l[29].is_infinite());
        assert!(l[40].is_finite());
    }
}
