//! Exact-match and token-accuracy metrics.

use super::validate;
use crate::error::{Error, Result};

/// The fraction (0 to 1) of hypotheses identical to their reference, compared byte for byte
/// (nothing is trimmed or normalised).
///
/// Errors: [`Error::InvalidArgument`] when the two lists differ in length,
/// [`Error::EmptyInput`] when they are empty.
///
/// ```
/// use tessera_text::metrics::exact_match;
/// assert_eq!(exact_match(&["a b", "c", "d "], &["a b", "c", "d"]).unwrap(), 2.0 / 3.0);
/// assert!(exact_match(&["a"], &["a", "b"]).is_err());
/// ```
pub fn exact_match<H: AsRef<str>, R: AsRef<str>>(hypotheses: &[H], references: &[R]) -> Result<f64> {
    validate::parallel(hypotheses.len(), references.len())?;
    let same = hypotheses.iter().zip(references).filter(|(h, r)| h.as_ref() == r.as_ref()).count();
    Ok(same as f64 / hypotheses.len() as f64)
}

/// Position-wise token accuracy (0 to 1) of hypothesis token ids against reference token ids:
///
/// `sum_i |{ j < len(ref_i) : j < len(hyp_i) and hyp_i[j] == ref_i[j] }| / sum_i len(ref_i)`
///
/// Every reference token is one trial: it counts as correct when the hypothesis has the same id
/// at the same position. Reference positions past the end of a shorter hypothesis count as
/// wrong; hypothesis tokens past the end of the reference are not counted at all (they are not
/// penalised). No alignment is done, so one inserted token shifts everything after it.
///
/// Errors: [`Error::InvalidArgument`] when the two lists differ in length,
/// [`Error::EmptyInput`] when they are empty or the references hold no tokens.
///
/// ```
/// use tessera_text::metrics::token_accuracy;
/// let hyp = [vec![1, 2, 3], vec![7]];
/// let reference = [vec![1, 2, 4], vec![7, 8]];
/// // Matches: 1, 2 and 7; reference tokens: 5.
/// assert_eq!(token_accuracy(&hyp, &reference).unwrap(), 3.0 / 5.0);
/// ```
pub fn token_accuracy<H: AsRef<[u32]>, R: AsRef<[u32]>>(hyp_ids: &[H], ref_ids: &[R]) -> Result<f64> {
    validate::parallel(hyp_ids.len(), ref_ids.len())?;
    let (mut correct, mut total) = (0usize, 0usize);
    for (hyp, reference) in hyp_ids.iter().zip(ref_ids) {
        let (hyp, reference) = (hyp.as_ref(), reference.as_ref());
        correct += hyp.iter().zip(reference).filter(|(h, r)| h == r).count();
        total += reference.len();
    }
    if total == 0 {
        return Err(Error::EmptyInput("the references hold no tokens".into()));
    }
    Ok(correct as f64 / total as f64)
}
