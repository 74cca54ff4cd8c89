//! A generated sequence-to-sequence task, with no download: dates written in 21 English and
//! Chinese forms ([`DateForm`]) mapped to ISO `YYYY-MM-DD`.
//!
//! Dates run from 1950-01-01 to 2049-12-31, so that two-digit years are unambiguous, and every
//! form determines its date. The splits are disjoint by source string, and each split's pairs
//! are unique; one date may appear in two splits written in different forms (the model still has
//! to read the form it is given).

mod render;

use std::collections::HashSet;

pub use render::{is_valid_date, iso, render, Date, DateForm, FIRST_YEAR, FORMS, LAST_YEAR};

use super::pairs::PairSet;
use crate::rng::SplitMix;
use crate::{Error, Result};
pub(crate) use render::civil_from_days;
use render::{nth_date, DAYS};

/// How many different source strings the forms give over 1950–2049: 21 forms × 36,525 days,
/// less the strings two forms share (May needs no abbreviation; the padded and unpadded
/// numeric forms agree when day and month both have two digits). A test enumerates them.
pub const DISTINCT_SOURCES: usize = 747_825;

/// The stream of [`SplitMix`] the sources are drawn from; the splits are shuffled from the
/// streams after it.
const DRAW_STREAM: u64 = 0xDA7E_5000;

/// The three splits of the dates task, as (source, ISO target) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatesTask {
    /// Training pairs.
    pub train: Vec<(String, String)>,
    /// Validation pairs.
    pub valid: Vec<(String, String)>,
    /// Test pairs.
    pub test: Vec<(String, String)>,
}

impl DatesTask {
    /// The splits as pair sets named "the dates task (train)", "… (valid)" and "… (test)".
    pub fn into_pair_sets(self) -> (PairSet, PairSet, PairSet) {
        (
            PairSet::from_pairs("the dates task (train)", self.train),
            PairSet::from_pairs("the dates task (valid)", self.valid),
            PairSet::from_pairs("the dates task (test)", self.test),
        )
    }
}

/// Generates the dates task: `train`, `valid` and `test` pairs of a date written in one of
/// the [`FORMS`] and its [`iso`] form. Forms take turns, so each split holds every form in
/// nearly equal numbers (once it has at least 21 pairs); dates are uniform over 1950–2049.
/// No source string appears twice, within a split or across splits. Each split is shuffled.
///
/// The same seed and counts give the same task. The test split depends only on `seed` and
/// `test`, and the validation split only on those and `valid`, so a larger training set
/// keeps the same evaluation data.
///
/// ```
/// use tessera_train::seq2seq::dates_task;
///
/// let task = dates_task(7, 500, 50, 50)?;
/// assert_eq!((task.train.len(), task.valid.len(), task.test.len()), (500, 50, 50));
/// for (source, target) in &task.test {
///     assert!(!task.train.iter().any(|(s, _)| s == source));
///     assert_eq!(target.len(), "1999-03-03".len());
/// }
/// assert_eq!(task, dates_task(7, 500, 50, 50)?);
/// # Ok::<(), tessera_train::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] when the counts add up to more than the [`DISTINCT_SOURCES`] there are.
pub fn dates_task(seed: u64, train: usize, valid: usize, test: usize) -> Result<DatesTask> {
    let total = train.checked_add(valid).and_then(|n| n.checked_add(test)).filter(|&n| n <= DISTINCT_SOURCES);
    let Some(total) = total else {
        return Err(Error::Config(format!(
            "the dates task cannot give {train} training + {valid} validation + {test} test pairs: \
             it has {DISTINCT_SOURCES} distinct source strings"
        )));
    };
    let mut draw = Draw::new(seed, total);
    let mut pool = Vec::with_capacity(total);
    // One form after another; a form whose dates are used up is passed over.
    let mut form = 0;
    let mut used_up = 0;
    while pool.len() < total {
        match draw.next(form) {
            Some(pair) => {
                pool.push(pair);
                used_up = 0;
            }
            None => {
                used_up += 1;
                if used_up == FORMS.len() {
                    return Err(Error::Config(format!(
                        "the dates task ran out of distinct sources after {} of {total}",
                        pool.len()
                    )));
                }
            }
        }
        form = (form + 1) % FORMS.len();
    }
    let mut train_pairs = pool.split_off(test + valid);
    let mut valid_pairs = pool.split_off(test);
    let mut test_pairs = pool;
    for (stream, split) in [&mut train_pairs, &mut valid_pairs, &mut test_pairs].into_iter().enumerate() {
        SplitMix::new(seed, DRAW_STREAM + 1 + stream as u64).shuffle(split);
    }
    Ok(DatesTask { train: train_pairs, valid: valid_pairs, test: test_pairs })
}

/// Draws distinct sources, each form walking its own random order of the days.
struct Draw {
    rng: SplitMix,
    seen: HashSet<String>,
    /// Per form, a permutation of the day numbers of which the first `used` are drawn; empty
    /// until the form is first drawn from.
    orders: Vec<Vec<u32>>,
    used: Vec<usize>,
}

impl Draw {
    fn new(seed: u64, total: usize) -> Self {
        Draw {
            rng: SplitMix::new(seed, DRAW_STREAM),
            seen: HashSet::with_capacity(total),
            orders: vec![Vec::new(); FORMS.len()],
            used: vec![0; FORMS.len()],
        }
    }

    /// A (source, target) pair in form `f` whose source was not drawn before, or `None` when
    /// every day in that form is.
    fn next(&mut self, f: usize) -> Option<(String, String)> {
        let order = &mut self.orders[f];
        if order.is_empty() {
            order.extend(0..DAYS as u32);
        }
        while self.used[f] < DAYS {
            // One step of a lazy Fisher-Yates shuffle.
            let at = self.used[f];
            order.swap(at, at + self.rng.below(DAYS - at));
            self.used[f] += 1;
            let date = nth_date(order[at] as usize);
            let source = render(date, FORMS[f]);
            if self.seen.insert(source.clone()) {
                return Some((source, iso(date)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
