//! Argument checks shared by the metrics.

use crate::error::{Error, Result};

/// The largest n-gram order the metrics accept; far above any order in use (BLEU uses 4, chrF 6),
/// it only keeps absurd settings from allocating without bound.
pub const MAX_ORDER: usize = 1024;

/// Checks an n-gram order setting against [`MAX_ORDER`] (and against 0 unless `zero_ok`).
pub(crate) fn order(name: &'static str, value: usize, zero_ok: bool) -> Result<()> {
    if value > MAX_ORDER || (value == 0 && !zero_ok) {
        let low = if zero_ok { 0 } else { 1 };
        return Err(Error::InvalidArgument { name, reason: format!("{value} is not in {low}..={MAX_ORDER}") });
    }
    Ok(())
}

/// Checks a corpus: at least one hypothesis, at least one reference stream, and every stream as
/// long as the hypotheses.
pub(crate) fn corpus_shape(hypotheses: usize, stream_lens: impl ExactSizeIterator<Item = usize>) -> Result<()> {
    if hypotheses == 0 {
        return Err(Error::EmptyInput("the corpus has no hypotheses".into()));
    }
    if stream_lens.len() == 0 {
        return Err(Error::EmptyInput("no reference streams were given".into()));
    }
    for (i, len) in stream_lens.enumerate() {
        if len != hypotheses {
            return Err(Error::InvalidArgument {
                name: "references",
                reason: format!("{hypotheses} hypotheses but reference stream {i} has {len} references"),
            });
        }
    }
    Ok(())
}

/// Checks that two parallel lists are non-empty and equally long.
pub(crate) fn parallel(hypotheses: usize, references: usize) -> Result<()> {
    if hypotheses != references {
        return Err(Error::InvalidArgument {
            name: "references",
            reason: format!("{hypotheses} hypotheses but {references} references"),
        });
    }
    if hypotheses == 0 {
        return Err(Error::EmptyInput("the corpus has no hypotheses".into()));
    }
    Ok(())
}

/// Checks that a sentence-level score has at least one reference.
pub(crate) fn sentence_refs(references: usize) -> Result<()> {
    if references == 0 {
        return Err(Error::EmptyInput("the hypothesis has no references".into()));
    }
    Ok(())
}
