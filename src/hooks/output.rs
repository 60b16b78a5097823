//! Bounded capture of a command's output: the head and the tail are kept, what lies between is
//! counted and dropped, so a command that prints gigabytes costs the operator a few kilobytes.

use std::collections::VecDeque;

/// The first and last `half` bytes of a stream, and how many bytes between them were dropped.
#[derive(Debug, Clone)]
pub struct Bounded {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

impl Bounded {
    /// Keeps at most `limit` bytes in all (half at each end).
    pub fn new(limit: usize) -> Self {
        let half = limit / 2;
        Self {
            half,
            head: Vec::with_capacity(half.min(4096)),
            tail: VecDeque::new(),
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8]) {
        let room = self.half - self.head.len();
        if room > 0 {
            let taken = room.min(chunk.len());
            self.head.extend_from_slice(&chunk[..taken]);
            chunk = &chunk[taken..];
        }
        if chunk.len() >= self.half {
            self.dropped += (self.tail.len() + chunk.len() - self.half) as u64;
            self.tail.clear();
            self.tail.extend(&chunk[chunk.len() - self.half..]);
            return;
        }
        self.tail.extend(chunk);
        let excess = self.tail.len().saturating_sub(self.half);
        self.tail.drain(..excess);
        self.dropped += excess as u64;
    }

    /// Bytes dropped between head and tail.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The output as text (invalid UTF-8 replaced), with the cut marked.
    pub fn text(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        if self.dropped == 0 {
            format!("{head}{tail}")
        } else {
            format!("{head}\n… ({} bytes not kept) …\n{tail}", self.dropped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bounded;
    use proptest::prelude::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut b = Bounded::new(10);
        b.push(b"abc");
        b.push(b"de");
        assert_eq!(b.text(), "abcde");
        b.push(b"fghij");
        assert_eq!((b.text().as_str(), b.dropped()), ("abcdefghij", 0));
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_counts_the_rest() {
        let mut b = Bounded::new(8);
        for _ in 0..1000 {
            b.push(b"0123456789");
        }
        assert_eq!(b.dropped(), 10_000 - 8);
        assert_eq!(b.text(), "0123\n… (9992 bytes not kept) …\n6789");
    }

    proptest! {
        #[test]
        fn any_chunking_keeps_the_same_ends(data in prop::collection::vec(any::<u8>(), 0..300), cuts in prop::collection::vec(0usize..300, 0..10), limit in 0usize..64) {
            let mut b = Bounded::new(limit);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut at = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                b.push(&data[at..c]);
                at = c;
            }
            let half = limit / 2;
            let kept = data.len().min(2 * half);
            prop_assert_eq!(b.dropped() as usize, data.len() - kept);
            prop_assert_eq!(&b.head[..], &data[..data.len().min(half)]);
            let tail: Vec<u8> = b.tail.iter().copied().collect();
            prop_assert_eq!(&tail[..], &data[data.len().min(half).max(data.len() - (kept - data.len().min(half)))..]);
        }
    }
}
