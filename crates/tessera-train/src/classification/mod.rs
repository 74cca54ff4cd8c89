//! Classification metrics: a [`ConfusionMatrix`] counted from predictions (or scores) and
//! targets, and from it per-class precision, recall, F1 and support, their macro and weighted
//! averages, and the accuracy ([`ClassificationReport`]), with scikit-learn's conventions (a
//! ratio whose denominator is 0 is 0). `report` formats the table as scikit-learn's
//! `classification_report` prints it; `picture` draws the matrix as SVG.
//!
//! Everything here takes class indices or score tensors, never a model, so it serves any
//! classifier.
//!
//! ```
//! use tessera_train::classification::ConfusionMatrix;
//! let cm = ConfusionMatrix::from_predictions(&[0, 1, 1, 2], &[0, 1, 2, 2], 3)?;
//! assert_eq!(cm.count(2, 1), 1); // one example of class 2 predicted as 1
//! let report = cm.report();
//! assert_eq!(report.accuracy, 0.75);
//! assert_eq!(report.classes[1].precision, 0.5);
//! # Ok::<(), tessera_train::Error>(())
//! ```

mod picture;
mod report;

use crate::{Error, Result};
use tessera_tensor::Tensor;

/// Counts of (true class, predicted class) pairs: row `t`, column `p` holds how many examples of
/// class `t` were predicted as `p` (scikit-learn's `confusion_matrix` layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

/// Precision, recall, F1 and support of one class (or an average of them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassMetrics {
    /// Of the examples predicted as the class, the fraction that belong to it (0 when none was).
    pub precision: f64,
    /// Of the examples of the class, the fraction predicted as it (0 when there are none).
    pub recall: f64,
    /// `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Examples of the class (for an average: all examples).
    pub support: u64,
}

/// What scikit-learn's `classification_report` shows: every class's metrics, the accuracy, and
/// the macro (unweighted mean over classes, absent ones included) and weighted (by support)
/// averages. Its [`Display`](std::fmt::Display) prints the table with class indices as labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// One entry per class, by index.
    pub classes: Vec<ClassMetrics>,
    /// Fraction of all examples predicted correctly (0 when there are none).
    pub accuracy: f64,
    /// The mean over classes of each metric; support is the number of examples.
    pub macro_avg: ClassMetrics,
    /// The mean over classes weighted by their support; support is the number of examples.
    pub weighted_avg: ClassMetrics,
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes (at least 1).
    pub fn new(classes: usize) -> Result<ConfusionMatrix> {
        if classes == 0 {
            return Err(Error::Config("a confusion matrix needs at least 1 class, not 0".into()));
        }
        let counts = classes.checked_mul(classes).map(|n| vec![0; n]);
        let counts = counts.ok_or_else(|| Error::Config(format!("{classes} classes are too many")))?;
        Ok(ConfusionMatrix { classes, counts })
    }

    /// The matrix of `predictions` against `targets` (class indices, one each per example).
    pub fn from_predictions(predictions: &[usize], targets: &[usize], classes: usize) -> Result<ConfusionMatrix> {
        let mut cm = ConfusionMatrix::new(classes)?;
        cm.add_predictions(predictions, targets)?;
        Ok(cm)
    }

    /// The matrix of the classes `scores` (`[n, classes]`: logits or probabilities) rank
    /// highest against `targets` (`[n]` class indices, any dtype holding whole numbers).
    pub fn from_scores(scores: &Tensor, targets: &Tensor) -> Result<ConfusionMatrix> {
        let classes = match scores.dims() {
            [_, c] => *c,
            dims => return Err(Error::Config(format!("scores must be [examples, classes], not {dims:?}"))),
        };
        let mut cm = ConfusionMatrix::new(classes)?;
        cm.add_scores(scores, targets)?;
        Ok(cm)
    }

    /// Counts one batch of `predictions` against `targets`. An example whose target or
    /// prediction is not a class is an error naming the value and the example (counted over
    /// every batch added so far); nothing of the batch is counted then.
    pub fn add_predictions(&mut self, predictions: &[usize], targets: &[usize]) -> Result<()> {
        if predictions.len() != targets.len() {
            return Err(Error::Config(format!(
                "{} predictions but {} targets: one each per example",
                predictions.len(),
                targets.len()
            )));
        }
        let first = self.total() as usize;
        for (i, (&p, &t)) in predictions.iter().zip(targets).enumerate() {
            if t >= self.classes {
                let label = i64::try_from(t).unwrap_or(i64::MAX);
                return Err(Error::LabelOutOfRange { label, index: first + i, classes: self.classes });
            }
            if p >= self.classes {
                return Err(Error::Config(format!(
                    "prediction {p} at example {} is out of range for {} classes",
                    first + i,
                    self.classes
                )));
            }
        }
        for (&p, &t) in predictions.iter().zip(targets) {
            self.counts[t * self.classes + p] += 1;
        }
        Ok(())
    }

    /// Counts one batch: the highest of each row of `scores` (`[n, classes]`, ties to the lower
    /// class) against `targets` (`[n]` class indices). Works on any device.
    pub fn add_scores(&mut self, scores: &Tensor, targets: &Tensor) -> Result<()> {
        match scores.dims() {
            [n, c] if *c == self.classes && targets.dims() == [*n] => {}
            [n, c] if *c == self.classes => {
                return Err(Error::Config(format!(
                    "targets of shape {:?} for scores of {n} examples: one target per example",
                    targets.dims()
                )))
            }
            dims => {
                return Err(Error::Config(format!(
                    "scores of shape {dims:?} for a confusion matrix of {} classes: [examples, {}] expected",
                    self.classes, self.classes
                )))
            }
        }
        if targets.dims() == [0] {
            return Ok(());
        }
        let predictions: Vec<usize> = scores.argmax(-1, false)?.to_vec_f64()?.iter().map(|&p| p as usize).collect();
        let first = self.total() as usize;
        let mut classes = Vec::with_capacity(predictions.len());
        for (i, t) in targets.to_vec_f64()?.into_iter().enumerate() {
            if t.fract() != 0.0 || !(0.0..self.classes as f64).contains(&t) {
                let label = if t.is_finite() { t as i64 } else { i64::MIN };
                return Err(Error::LabelOutOfRange { label, index: first + i, classes: self.classes });
            }
            classes.push(t as usize);
        }
        self.add_predictions(&predictions, &classes)
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Examples of class `target` predicted as `predicted` (0 outside the matrix).
    pub fn count(&self, target: usize, predicted: usize) -> u64 {
        if target < self.classes && predicted < self.classes {
            self.counts[target * self.classes + predicted]
        } else {
            0
        }
    }

    /// The counts of class `target`'s examples by predicted class (empty outside the matrix).
    pub fn row(&self, target: usize) -> &[u64] {
        if target < self.classes {
            &self.counts[target * self.classes..(target + 1) * self.classes]
        } else {
            &[]
        }
    }

    /// All examples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Examples predicted correctly.
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// Fraction of examples predicted correctly (0 before any).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct() as f64, self.total() as f64)
    }

    /// Each row divided by its sum (the fraction of a class's examples predicted as each class;
    /// a row without examples stays 0), row-major.
    pub fn row_normalised(&self) -> Vec<f64> {
        (0..self.classes)
            .flat_map(|t| {
                let row = self.row(t);
                let sum = row.iter().sum::<u64>() as f64;
                row.iter().map(move |&n| ratio(n as f64, sum))
            })
            .collect()
    }

    /// Precision, recall, F1 and support of class `class` (all 0 outside the matrix).
    pub fn class_metrics(&self, class: usize) -> ClassMetrics {
        let tp = self.count(class, class) as f64;
        let support = self.row(class).iter().sum::<u64>();
        let predicted: u64 = (0..self.classes).map(|t| self.count(t, class)).sum();
        let (fp, fn_) = (predicted as f64 - tp, support as f64 - tp);
        ClassMetrics {
            precision: ratio(tp, predicted as f64),
            recall: ratio(tp, support as f64),
            f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
            support,
        }
    }

    /// Every class's metrics, the accuracy and the macro and weighted averages.
    pub fn report(&self) -> ClassificationReport {
        let classes: Vec<ClassMetrics> = (0..self.classes).map(|c| self.class_metrics(c)).collect();
        let total = self.total();
        let mean = |weight: &dyn Fn(&ClassMetrics) -> f64| {
            let den: f64 = classes.iter().map(weight).sum();
            let avg = |f: fn(&ClassMetrics) -> f64| ratio(classes.iter().map(|m| weight(m) * f(m)).sum(), den);
            ClassMetrics {
                precision: avg(|m| m.precision),
                recall: avg(|m| m.recall),
                f1: avg(|m| m.f1),
                support: total,
            }
        };
        ClassificationReport {
            accuracy: self.accuracy(),
            macro_avg: mean(&|_| 1.0),
            weighted_avg: mean(&|m| m.support as f64),
            classes,
        }
    }
}

/// The names of `classes` classes: `labels` (one per class) or the class indices.
pub(crate) fn class_labels(classes: usize, labels: Option<&[String]>) -> Result<Vec<String>> {
    match labels {
        None => Ok((0..classes).map(|c| c.to_string()).collect()),
        Some(l) if l.len() == classes => Ok(l.to_vec()),
        Some(l) => Err(Error::Config(format!("{} class labels for {classes} classes: one label per class", l.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    /// scikit-learn 1.9's case (`labels=range(5)`, `zero_division=0`): class 3 is predicted
    /// once and never true, class 4 appears nowhere.
    pub(super) fn sklearn_case() -> ConfusionMatrix {
        let truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 1, 2];
        let pred = [0, 1, 0, 1, 2, 2, 2, 1, 2, 0, 1, 3];
        ConfusionMatrix::from_predictions(&pred, &truth, 5).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn counts_and_metrics_match_scikit_learn() {
        let cm = sklearn_case();
        let rows: Vec<Vec<u64>> = (0..5).map(|t| cm.row(t).to_vec()).collect();
        assert_eq!(rows, [[3, 1, 0, 0, 0], [0, 2, 1, 0, 0], [0, 1, 3, 1, 0], [0; 5], [0; 5]]);
        let r = cm.report();
        let p = [1.0, 0.5, 0.75, 0.0, 0.0];
        let rc = [0.75, 0.6666666666666666, 0.6, 0.0, 0.0];
        let f = [0.8571428571428571, 0.5714285714285714, 0.6666666666666666, 0.0, 0.0];
        for (c, m) in r.classes.iter().enumerate() {
            assert!(close(m.precision, p[c]) && close(m.recall, rc[c]) && close(m.f1, f[c]), "class {c}: {m:?}");
        }
        assert_eq!(r.classes.iter().map(|m| m.support).collect::<Vec<_>>(), [4, 3, 5, 0, 0]);
        assert!(close(r.accuracy, 0.6666666666666666));
        let (m, w) = (r.macro_avg, r.weighted_avg);
        assert!(close(m.precision, 0.45) && close(m.recall, 0.4033333333333333) && close(m.f1, 0.419047619047619));
        assert!(close(w.precision, 0.7708333333333334) && close(w.recall, 0.6666666666666666));
        assert!(close(w.f1, 0.7063492063492062));
        assert_eq!((m.support, w.support), (12, 12));
    }

    #[test]
    fn hand_computed_binary_case() {
        // tp 2, fp 1, fn 1, tn 1 for class 1.
        let cm = ConfusionMatrix::from_predictions(&[1, 1, 1, 0, 0], &[1, 1, 0, 1, 0], 2).unwrap();
        let one = cm.class_metrics(1);
        assert!(close(one.precision, 2.0 / 3.0) && close(one.recall, 2.0 / 3.0) && close(one.f1, 2.0 / 3.0));
        let zero = cm.class_metrics(0);
        assert!(close(zero.precision, 0.5) && close(zero.recall, 0.5) && zero.support == 2);
        assert_eq!((cm.correct(), cm.total()), (3, 5));
        assert!(close(cm.report().weighted_avg.f1, (0.5 * 2.0 + 2.0 / 3.0 * 3.0) / 5.0));
        let empty = ConfusionMatrix::new(3).unwrap().report();
        assert_eq!((empty.accuracy, empty.macro_avg.f1, empty.weighted_avg.precision), (0.0, 0.0, 0.0));
    }

    #[test]
    fn scores_are_counted_by_their_highest_class_in_batches() {
        let d = Device::Cpu;
        let s = Tensor::from_vec(vec![0.1f32, 0.7, 0.2, 0.5, 0.3, 0.2, 0.3, 0.3, 0.4], [3, 3], &d).unwrap();
        let t = Tensor::from_vec(vec![1i64, 2, 0], [3], &d).unwrap();
        let mut cm = ConfusionMatrix::from_scores(&s, &t).unwrap();
        assert_eq!((cm.count(1, 1), cm.count(2, 0), cm.count(0, 2)), (1, 1, 1));
        assert!(close(cm.accuracy(), crate::metrics::accuracy(&s, &t).unwrap()));
        cm.add_scores(&s, &Tensor::from_vec(vec![1u32, 0, 2], [3], &d).unwrap()).unwrap();
        assert_eq!((cm.total(), cm.correct()), (6, 4));
        let norm = cm.row_normalised();
        assert_eq!(&norm[0..3], &[0.5, 0.0, 0.5]);
    }

    #[test]
    fn bad_input_is_refused_naming_the_value() {
        let e = ConfusionMatrix::from_predictions(&[0, 1, 0], &[0, 1, 3], 3).unwrap_err();
        assert_eq!(e.to_string(), "label 3 at example 2 is out of range for 3 classes");
        let e = ConfusionMatrix::from_predictions(&[0, 5], &[0, 1], 3).unwrap_err();
        assert!(e.to_string().contains("prediction 5 at example 1"), "{e}");
        assert!(ConfusionMatrix::from_predictions(&[0], &[0, 1], 3).unwrap_err().to_string().contains("1 predictions"));
        assert!(ConfusionMatrix::new(0).is_err());
        let d = Device::Cpu;
        let s = Tensor::from_vec(vec![0.1f32, 0.9, 0.8, 0.2], [2, 2], &d).unwrap();
        let mut cm = ConfusionMatrix::from_scores(&s, &Tensor::from_vec(vec![1i64, 0], [2], &d).unwrap()).unwrap();
        let e = cm.add_scores(&s, &Tensor::from_vec(vec![0i64, -1], [2], &d).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "label -1 at example 3 is out of range for 2 classes");
        assert_eq!(cm.total(), 2, "a refused batch counts nothing");
        let e = cm.add_scores(&s, &Tensor::from_vec(vec![0i64], [1], &d).unwrap()).unwrap_err();
        assert!(e.to_string().contains("targets of shape [1]"), "{e}");
        let e = cm.add_scores(&s.reshape([4]).unwrap(), &Tensor::from_vec(vec![0i64], [1], &d).unwrap());
        assert!(e.unwrap_err().to_string().contains("scores of shape [4]"));
        assert!(class_labels(2, Some(&["a".to_string()])).is_err());
    }
}
