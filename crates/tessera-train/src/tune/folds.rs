//! Stratified resampling: k folds (scikit-learn's `StratifiedKFold` with shuffling) or one
//! validation split, each keeping the class proportions of the whole data, seeded.

use crate::rng::SplitMix;
use crate::{Error, Result};
use std::collections::BTreeMap;
use tessera_tensor::Tensor;

/// One resampling of a dataset: the examples to train on and those held out to score the model,
/// by index, each list ascending; together they are every example once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// The examples trained on.
    pub train: Vec<usize>,
    /// The examples scored.
    pub held_out: Vec<usize>,
}

/// How each configuration of a search is scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resampling {
    /// Stratified k-fold cross-validation: k models per configuration, each scored on the fold
    /// the others trained on.
    KFold(usize),
    /// One stratified validation split: this fraction of the examples held out.
    Holdout(f64),
}

impl Default for Resampling {
    /// A validation split of 10%.
    fn default() -> Self {
        Resampling::Holdout(0.1)
    }
}

impl Resampling {
    /// The folds of examples labelled `labels`, shuffled with `seed`.
    pub fn folds(&self, labels: &[u32], seed: u64) -> Result<Vec<Fold>> {
        match *self {
            Resampling::KFold(k) => stratified_k_fold(labels, k, seed),
            Resampling::Holdout(fraction) => Ok(vec![stratified_split(labels, fraction, seed)?]),
        }
    }
}

/// `targets` as class labels, for stratified folds: a `[n]` tensor of integers, 0 or above.
pub fn class_labels(targets: &Tensor) -> Result<Vec<u32>> {
    let t = targets;
    if t.rank() != 1 || !t.dtype().is_int() {
        return Err(Error::Config(format!(
            "stratified folds need class labels (integers of shape [n]); the targets are {} of shape {}",
            t.dtype(),
            t.shape()
        )));
    }
    let values = t.to_vec_f64()?;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v >= 0.0 && v <= u32::MAX as f64 {
                Ok(v as u32)
            } else {
                Err(Error::Config(format!("label {v} of example {i} is not a class index (0 or above)")))
            }
        })
        .collect()
}

/// The examples of each class, by class, in index order.
fn by_class(labels: &[u32]) -> BTreeMap<u32, Vec<usize>> {
    let mut classes: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &c) in labels.iter().enumerate() {
        classes.entry(c).or_default().push(i);
    }
    classes
}

/// `k` stratified folds of the examples labelled `labels`, shuffled with `seed`, as
/// scikit-learn's `StratifiedKFold(n_splits=k, shuffle=True)` makes them: the held-out parts are
/// disjoint and cover the data, their sizes differ by at most one, and each holds
/// `count(class) / k` examples of every class, rounded up or down. A class with fewer than `k`
/// examples is missing from some folds. Refused: `k` below 2, or more folds than examples.
pub fn stratified_k_fold(labels: &[u32], k: usize, seed: u64) -> Result<Vec<Fold>> {
    let n = labels.len();
    if k < 2 {
        return Err(Error::Config(format!("cross-validation needs at least 2 folds, not {k}")));
    }
    if k > n {
        return Err(Error::Config(format!("{k} folds need at least {k} examples; the data hold {n}")));
    }
    let classes = by_class(labels);
    // Dealing the examples sorted by class to the folds in turn fixes how many of each class
    // every fold holds (scikit-learn's allocation); which ones is then shuffled per class.
    let mut allocation = vec![vec![0usize; classes.len()]; k];
    let mut dealt = 0;
    for (c, members) in classes.values().enumerate() {
        for _ in members {
            allocation[dealt % k][c] += 1;
            dealt += 1;
        }
    }
    let mut rng = SplitMix::new(seed, 0x666f_6c64);
    let mut fold_of = vec![0usize; n];
    for (c, members) in classes.values().enumerate() {
        let mut folds: Vec<usize> = (0..k).flat_map(|f| std::iter::repeat_n(f, allocation[f][c])).collect();
        rng.shuffle(&mut folds);
        for (&i, f) in members.iter().zip(folds) {
            fold_of[i] = f;
        }
    }
    Ok((0..k)
        .map(|f| {
            let (held_out, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold_of[i] == f);
            Fold { train, held_out }
        })
        .collect())
}

/// One stratified validation split: `fraction` of the examples (rounded to whole examples)
/// held out, shuffled with `seed`, each class contributing in proportion to its count (the
/// remainders go to the classes with the largest fractional parts, ties to the lower class).
/// Refused: a fraction outside (0, 1), or one that holds out no example or all of them.
pub fn stratified_split(labels: &[u32], fraction: f64, seed: u64) -> Result<Fold> {
    let n = labels.len();
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::Config(format!("validation fraction {fraction} must be above 0 and below 1")));
    }
    let held = (n as f64 * fraction).round() as usize;
    if held == 0 || held == n {
        let what = if held == 0 { "no example" } else { "every example" };
        return Err(Error::Config(format!(
            "a validation fraction of {fraction} holds out {what} of the {n}: choose another fraction or more data"
        )));
    }
    let classes = by_class(labels);
    let ideal: Vec<f64> = classes.values().map(|m| m.len() as f64 * held as f64 / n as f64).collect();
    let mut counts: Vec<usize> = ideal.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| (ideal[b] - ideal[b].floor()).total_cmp(&(ideal[a] - ideal[a].floor())).then(a.cmp(&b)));
    let short = held - counts.iter().sum::<usize>();
    for &c in order.iter().take(short) {
        counts[c] += 1;
    }
    let mut rng = SplitMix::new(seed, 0x7370_6c69);
    let mut is_held = vec![false; n];
    for (members, &count) in classes.values().zip(&counts) {
        let mut shuffled = members.clone();
        rng.shuffle(&mut shuffled);
        for &i in &shuffled[..count] {
            is_held[i] = true;
        }
    }
    let (held_out, train) = (0..n).partition(|&i| is_held[i]);
    Ok(Fold { train, held_out })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unbalanced labels: 3 classes of 23, 11 and 5 examples, interleaved.
    fn labels() -> Vec<u32> {
        let mut l: Vec<u32> = [(0, 23), (1, 11), (2, 5)].iter().flat_map(|&(c, n)| vec![c; n]).collect();
        SplitMix::new(99, 0).shuffle(&mut l);
        l
    }

    fn count(labels: &[u32], idx: &[usize], class: u32) -> usize {
        idx.iter().filter(|&&i| labels[i] == class).count()
    }

    #[test]
    fn k_folds_are_disjoint_covering_and_stratified() {
        let l = labels();
        for k in [2, 3, 5, 7] {
            let folds = stratified_k_fold(&l, k, 11).unwrap();
            assert_eq!(folds.len(), k);
            let mut seen = vec![0; l.len()];
            for f in &folds {
                assert!(f.held_out.windows(2).all(|w| w[0] < w[1]) && f.train.windows(2).all(|w| w[0] < w[1]));
                assert_eq!(f.train.len() + f.held_out.len(), l.len());
                assert!(f.train.iter().all(|i| !f.held_out.contains(i)));
                for &i in &f.held_out {
                    seen[i] += 1;
                }
                let ideal_size = l.len() as f64 / k as f64;
                assert!((f.held_out.len() as f64 - ideal_size).abs() < 1.0, "k {k}: size {}", f.held_out.len());
                for (class, total) in [(0, 23), (1, 11), (2, 5)] {
                    let ideal = total as f64 / k as f64;
                    let got = count(&l, &f.held_out, class) as f64;
                    assert!((got - ideal).abs() < 1.0, "k {k}, class {class}: {got} held out, ideal {ideal}");
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "every example held out exactly once");
        }
    }

    #[test]
    fn k_folds_are_seeded() {
        let l = labels();
        assert_eq!(stratified_k_fold(&l, 3, 5).unwrap(), stratified_k_fold(&l, 3, 5).unwrap());
        assert_ne!(stratified_k_fold(&l, 3, 5).unwrap(), stratified_k_fold(&l, 3, 6).unwrap());
    }

    #[test]
    fn bad_fold_counts_are_refused() {
        let l = [0u32, 1, 0];
        assert_eq!(
            stratified_k_fold(&l, 1, 0).unwrap_err().to_string(),
            "invalid configuration: cross-validation needs at least 2 folds, not 1"
        );
        assert_eq!(
            stratified_k_fold(&l, 4, 0).unwrap_err().to_string(),
            "invalid configuration: 4 folds need at least 4 examples; the data hold 3"
        );
        assert_eq!(stratified_k_fold(&l, 3, 0).unwrap().len(), 3);
    }

    #[test]
    fn a_split_holds_out_each_class_in_proportion() {
        let l = labels();
        let f = stratified_split(&l, 0.3, 4).unwrap();
        assert_eq!(f.held_out.len(), 12); // round(39 * 0.3)
        assert_eq!(f.train.len() + f.held_out.len(), l.len());
        assert!(f.train.iter().all(|i| !f.held_out.contains(i)));
        for (class, total) in [(0, 23), (1, 11), (2, 5)] {
            let ideal = total as f64 * 12.0 / 39.0;
            let got = count(&l, &f.held_out, class) as f64;
            assert!((got - ideal).abs() < 1.0, "class {class}: {got} held out, ideal {ideal}");
        }
        assert_eq!(f, stratified_split(&l, 0.3, 4).unwrap());
        assert_ne!(f, stratified_split(&l, 0.3, 5).unwrap());
        assert_eq!(Resampling::default().folds(&l, 4).unwrap(), vec![stratified_split(&l, 0.1, 4).unwrap()]);
    }

    #[test]
    fn splits_that_hold_out_nothing_or_everything_are_refused() {
        let l = [0u32, 1, 1, 0];
        for (f, want) in [(0.0, "must be above 0 and below 1"), (1.0, "must be above 0"), (f64::NAN, "must be")] {
            let e = stratified_split(&l, f, 0).unwrap_err().to_string();
            assert!(e.contains(want), "{f}: {e}");
        }
        let e = stratified_split(&l, 0.1, 0).unwrap_err().to_string();
        assert!(e.contains("holds out no example of the 4"), "{e}");
        let e = stratified_split(&l, 0.9, 0).unwrap_err().to_string();
        assert!(e.contains("holds out every example of the 4"), "{e}");
    }
}
