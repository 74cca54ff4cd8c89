//! A compact list of distinct words with a hash index: one string arena and one slot array, so
//! that millions of words cost a few bytes each beyond their text.

/// Distinct words in insertion order, looked up by text in O(1).
///
/// ```
/// use tessera_embed::WordTable;
/// let mut t = WordTable::new();
/// assert_eq!(t.insert("king"), Ok(0));
/// assert_eq!(t.insert("queen"), Ok(1));
/// assert_eq!(t.insert("king"), Err(0)); // already there: its id
/// assert_eq!(t.id("queen"), Some(1));
/// assert_eq!(t.word(1), "queen");
/// ```
#[derive(Debug, Clone, Default)]
pub struct WordTable {
    text: String,
    /// End of word `i` in `text` (its start is the end of word `i - 1`).
    ends: Vec<usize>,
    /// Open addressing with linear probing: a word id, or `EMPTY`.
    slots: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

/// A fast non-cryptographic hash of the word's bytes (a multiply-rotate mix, 8 bytes at a time).
fn hash(word: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = word.len() as u64;
    let mut chunks = word.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ v).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // Fold the high bits down: the slot index takes the low ones.
    h ^ (h >> 29)
}

impl WordTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table with room for `words` words of `bytes` bytes in all.
    pub fn with_capacity(words: usize, bytes: usize) -> Self {
        let mut t =
            WordTable { text: String::with_capacity(bytes), ends: Vec::with_capacity(words), slots: Vec::new() };
        t.slots = vec![EMPTY; (words.max(4) * 2).next_power_of_two()];
        t
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Word `id` (panics when `id >= len()`, as slice indexing does).
    pub fn word(&self, id: usize) -> &str {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start..self.ends[id]]
    }

    /// The words in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.word(i))
    }

    /// The id of `word`, if present.
    pub fn id(&self, word: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash(word) as usize & mask;
        loop {
            match self.slots[i] {
                EMPTY => return None,
                id if self.word(id as usize) == word => return Some(id),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Adds `word`: `Ok(new id)`, or `Err(existing id)` when it is already present.
    pub fn insert(&mut self, word: &str) -> Result<u32, u32> {
        if (self.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash(word) as usize & mask;
        loop {
            match self.slots[i] {
                EMPTY => break,
                id if self.word(id as usize) == word => return Err(id),
                _ => i = (i + 1) & mask,
            }
        }
        let id = self.len() as u32;
        self.text.push_str(word);
        self.ends.push(self.text.len());
        self.slots[i] = id;
        Ok(id)
    }

    /// Keeps the first `n` words.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        self.text.truncate(if n == 0 { 0 } else { self.ends[n - 1] });
        self.ends.truncate(n);
        self.rebuild(self.slots.len());
    }

    /// Releases spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    fn grow(&mut self) {
        self.rebuild((self.slots.len() * 2).max(8));
    }

    fn rebuild(&mut self, slots: usize) {
        self.slots = vec![EMPTY; slots];
        let mask = slots - 1;
        for id in 0..self.len() {
            let mut i = hash(self.word(id)) as usize & mask;
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = id as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_words_round_trip_and_truncate() {
        let mut t = WordTable::with_capacity(2, 4);
        for i in 0..5000 {
            assert_eq!(t.insert(&format!("w{i}")), Ok(i));
        }
        assert_eq!(t.insert(""), Ok(5000));
        for i in 0..5000u32 {
            assert_eq!(t.id(&format!("w{i}")), Some(i));
            assert_eq!(t.word(i as usize), format!("w{i}"));
        }
        assert_eq!(t.id(""), Some(5000));
        assert_eq!(t.id("nope"), None);
        t.truncate(10);
        assert_eq!((t.len(), t.id("w9"), t.id("w10")), (10, Some(9), None));
        assert_eq!(t.insert("w10"), Ok(10));
    }
}
