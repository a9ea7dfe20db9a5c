//! Stop strings: text that ends a reply and is never shown.
//!
//! A stop string can arrive split over several tokens ("<|", "end", "|>"), so any tail of the text that could
//! still grow into a stop string is held back until it either completes one (generation stops, the held text
//! is dropped) or stops matching (it is released).

/// What one piece of new text produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopScan {
    /// Text safe to show now.
    pub emit: String,
    /// A stop string was found; nothing after `emit` may be shown.
    pub stopped: bool,
}

/// Watches generated text for stop strings.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    /// Empty stop strings are ignored (they would match before any text).
    pub fn new<S: AsRef<str>>(stops: &[S]) -> Self {
        let stops = stops.iter().map(|s| s.as_ref().to_string()).filter(|s| !s.is_empty()).collect();
        Self { stops, held: String::new() }
    }

    /// Adds new text; returns what can be shown and whether a stop string completed.
    pub fn push(&mut self, text: &str) -> StopScan {
        if self.stops.is_empty() {
            return StopScan { emit: text.to_string(), stopped: false };
        }
        self.held.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let emit = self.held[..at].to_string();
            self.held.clear();
            return StopScan { emit, stopped: true };
        }
        let keep = self.stops.iter().map(|s| longest_suffix_prefix(&self.held, s)).max().unwrap_or(0);
        let emit: String = self.held.drain(..self.held.len() - keep).collect();
        StopScan { emit, stopped: false }
    }

    /// The end of the stream: held text that never became a stop string.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Length of the longest proper prefix of `stop` that `text` ends with.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    (1..stop.len()).rev().find(|&k| stop.is_char_boundary(k) && text.ends_with(&stop[..k])).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(stops);
        let mut out = String::new();
        for p in pieces {
            let scan = m.push(p);
            out.push_str(&scan.emit);
            if scan.stopped {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn a_stop_string_split_across_pieces_is_never_shown() {
        assert_eq!(run(&["\nUser:"], &["Hi", " there", "\n", "Us", "er", ":", " more"]), ("Hi there".into(), true));
    }

    #[test]
    fn a_partial_match_that_diverges_is_released() {
        assert_eq!(run(&["STOP"], &["a ST", "OR", "Y"]), ("a STORY".into(), false));
    }

    #[test]
    fn held_text_is_not_shown_early() {
        let mut m = StopMatcher::new(&["</s>"]);
        assert_eq!(m.push("x </").emit, "x ");
        assert_eq!(m.push("b>").emit, "</b>");
    }

    #[test]
    fn the_earliest_of_several_stops_wins_and_multibyte_is_safe() {
        assert_eq!(run(&["é!", "fin"], &["café!fin"]), ("caf".into(), true));
        assert_eq!(run(&["😀x"], &["a😀", "b"]), ("a😀b".into(), false));
        assert_eq!(run(&[""], &["abc"]), ("abc".into(), false));
    }
}
