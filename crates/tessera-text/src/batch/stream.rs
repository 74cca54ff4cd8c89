//! Contiguous stream batches (`[batch, bptt]`) for language-model training.

use crate::error::{Error, Result};

/// One window of a token stream: inputs and the next-token targets, row-major `[batch, len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBatch {
    /// Input ids.
    pub input: Vec<u32>,
    /// Target ids (the inputs shifted one step ahead).
    pub target: Vec<u32>,
    /// `[batch, len]`; `len` is `bptt` except perhaps for the last window.
    pub shape: [usize; 2],
}

/// Cuts a token stream into `batch` contiguous rows and walks them `bptt` steps at a time, so
/// row `b` of one window continues row `b` of the previous one (the layout for truncated
/// back-propagation through time). Tokens that do not fill a row are dropped.
///
/// ```
/// use tessera_text::StreamBatches;
/// let ids: Vec<u32> = (0..10).collect();
/// let windows: Vec<_> = StreamBatches::new(&ids, 2, 2).unwrap().collect();
/// assert_eq!(windows[0].input, [0, 1, 5, 6]);
/// assert_eq!(windows[0].target, [1, 2, 6, 7]);
/// assert_eq!(windows[1].shape, [2, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct StreamBatches {
    rows: Vec<u32>,
    batch: usize,
    row_len: usize,
    bptt: usize,
    pos: usize,
}

impl StreamBatches {
    /// Windows over `ids` with `batch` rows and up to `bptt` steps each.
    pub fn new(ids: &[u32], batch: usize, bptt: usize) -> Result<Self> {
        if batch == 0 || bptt == 0 {
            return Err(Error::InvalidArgument { name: "batch/bptt", reason: "both must be at least 1".into() });
        }
        let row_len = ids.len() / batch;
        if row_len < 2 {
            return Err(Error::EmptyInput(format!(
                "{} tokens cannot fill {batch} rows of at least 2 tokens",
                ids.len()
            )));
        }
        Ok(Self { rows: ids[..row_len * batch].to_vec(), batch, row_len, bptt, pos: 0 })
    }

    /// Number of windows.
    pub fn num_batches(&self) -> usize {
        (self.row_len - 1).div_ceil(self.bptt)
    }
}

impl Iterator for StreamBatches {
    type Item = StreamBatch;

    fn next(&mut self) -> Option<StreamBatch> {
        if self.pos + 1 >= self.row_len {
            return None;
        }
        let len = self.bptt.min(self.row_len - 1 - self.pos);
        let mut input = Vec::with_capacity(self.batch * len);
        let mut target = Vec::with_capacity(self.batch * len);
        for b in 0..self.batch {
            let start = b * self.row_len + self.pos;
            input.extend_from_slice(&self.rows[start..start + len]);
            target.extend_from_slice(&self.rows[start + 1..start + 1 + len]);
        }
        self.pos += len;
        Some(StreamBatch { input, target, shape: [self.batch, len] })
    }
}
