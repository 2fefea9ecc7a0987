//! Stop sequences for streamed text: text that might be the start of a stop sequence is held
//! back until it is clear, so a caller never sees any part of a stop sequence.

#[derive(Debug, Default)]
pub struct StopScanner {
    stops: Vec<String>,
    held: String,
}

impl StopScanner {
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Adds a piece; returns the text now safe to emit and whether a stop sequence was hit.
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.held.push_str(piece);
        let first_stop = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min();
        if let Some(at) = first_stop {
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        let keep = self.longest_partial_stop();
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        (out, false)
    }

    /// Whatever is still held when generation ends without a stop.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Length of the longest suffix of `held` that is a proper prefix of some stop sequence.
    fn longest_partial_stop(&self) -> usize {
        let mut best = 0;
        for (i, _) in self.held.char_indices() {
            let suffix = &self.held[i..];
            if self.stops.iter().any(|s| s.starts_with(suffix)) {
                best = best.max(suffix.len());
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequence_split_across_pieces_is_never_emitted() {
        let mut s = StopScanner::new(&["\nUser:".to_string()]);
        let mut out = String::new();
        let mut stopped = false;
        for piece in ["Hello", " there\n", "Us", "er: hi"] {
            let (text, hit) = s.push(piece);
            out.push_str(&text);
            if hit {
                stopped = true;
                break;
            }
        }
        assert!(stopped);
        assert_eq!(out, "Hello there");
    }

    #[test]
    fn held_text_is_released_when_it_is_not_a_stop() {
        let mut s = StopScanner::new(&["END".to_string()]);
        assert_eq!(s.push("the E").0, "the ");
        assert_eq!(s.push("nd").0, "End");
        assert_eq!(s.push("EN").0, "");
        assert_eq!(s.finish(), "EN");
    }
}
