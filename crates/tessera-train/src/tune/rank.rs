//! The scores of a search and their ranking: mean validation accuracy over the folds, the higher
//! first; ties go to the lower standard deviation, then to the configuration run first.

use super::space::Config;
use super::TrainSettings;
use std::cmp::Ordering;

/// The score of one model on one fold's held-out examples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldScore {
    /// Accuracy on the held-out examples (NaN when training diverged).
    pub accuracy: f64,
    /// Mean loss on the held-out examples (NaN when training diverged).
    pub loss: f64,
}

impl FoldScore {
    /// The score of a model whose loss became NaN or infinite during training.
    pub const DIVERGED: FoldScore = FoldScore { accuracy: f64::NAN, loss: f64::NAN };

    /// Whether training diverged.
    pub fn diverged(&self) -> bool {
        !self.accuracy.is_finite()
    }
}

/// One configuration's scores over the folds.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigScore {
    /// Its position among the configurations run (from 0): the last tie-break.
    pub order: usize,
    /// The configuration.
    pub config: Config,
    /// How it trained.
    pub settings: TrainSettings,
    /// One score per fold, in fold order.
    pub folds: Vec<FoldScore>,
}

/// The mean and the population standard deviation (scikit-learn's `std_test_score`) of
/// `values`; NaN when any is NaN or there are none.
fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl ConfigScore {
    /// Mean accuracy over the folds (NaN when a fold diverged).
    pub fn mean(&self) -> f64 {
        mean_std(self.folds.iter().map(|f| f.accuracy)).0
    }

    /// Population standard deviation of the accuracy over the folds (0 for one fold).
    pub fn std(&self) -> f64 {
        mean_std(self.folds.iter().map(|f| f.accuracy)).1
    }

    /// Mean loss over the folds.
    pub fn mean_loss(&self) -> f64 {
        mean_std(self.folds.iter().map(|f| f.loss)).0
    }

    /// Whether training diverged on some fold (the configuration ranks last).
    pub fn diverged(&self) -> bool {
        self.folds.iter().any(FoldScore::diverged) || self.folds.is_empty()
    }

    /// The order of two scores in a ranking: higher mean first, then lower standard deviation,
    /// then run first; diverged configurations last. Means and deviations are compared to 9
    /// decimals, so that `(0.8 + 0.9) / 2` ties with `0.85`.
    pub fn rank_cmp(&self, other: &ConfigScore) -> Ordering {
        let rounded = |x: f64| (x * 1e9).round() as i64;
        self.diverged()
            .cmp(&other.diverged())
            .then_with(|| match self.diverged() {
                true => Ordering::Equal,
                false => rounded(other.mean())
                    .cmp(&rounded(self.mean()))
                    .then(rounded(self.std()).cmp(&rounded(other.std()))),
            })
            .then(self.order.cmp(&other.order))
    }
}

/// The configurations of a search, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    entries: Vec<ConfigScore>,
    folds: usize,
}

impl Leaderboard {
    /// Ranks `scores` (see [`ConfigScore::rank_cmp`]).
    pub fn rank(mut scores: Vec<ConfigScore>) -> Leaderboard {
        scores.sort_by(ConfigScore::rank_cmp);
        let folds = scores.iter().map(|s| s.folds.len()).max().unwrap_or(0);
        Leaderboard { entries: scores, folds }
    }

    /// The configurations, best first.
    pub fn entries(&self) -> &[ConfigScore] {
        &self.entries
    }

    /// The most folds any configuration was scored on.
    pub fn folds(&self) -> usize {
        self.folds
    }

    /// The best configuration, unless every one diverged.
    pub fn best(&self) -> Option<&ConfigScore> {
        self.entries.first().filter(|s| !s.diverged())
    }

    /// A table for the terminal: rank, the keys, mean ± standard deviation of the accuracy, the
    /// mean loss and each fold's accuracy, in aligned columns.
    pub fn table(&self) -> String {
        let keys = super::report::keys(self);
        let mut header: Vec<String> = vec!["rank".into()];
        header.extend(keys.iter().map(|k| k.to_string()));
        header.extend(["accuracy (mean ± std)".into(), "loss".into()]);
        if self.folds > 1 {
            header.push("per fold".into());
        }
        let mut rows = vec![header];
        for (i, e) in self.entries.iter().enumerate() {
            let mut row = vec![(i + 1).to_string()];
            row.extend(keys.iter().map(|k| e.config.get(k).map_or(String::new(), |v| v.to_string())));
            if e.diverged() {
                row.extend(["diverged".into(), "-".into()]);
            } else {
                row.extend([format!("{:.4} ± {:.4}", e.mean(), e.std()), format!("{:.4}", e.mean_loss())]);
            }
            if self.folds > 1 {
                let per: Vec<String> = e.folds.iter().map(|f| format!("{:.4}", f.accuracy)).collect();
                row.push(per.join(" "));
            }
            rows.push(row);
        }
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for row in rows {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, &w)| format!("{cell:<w$}")).collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::space::Value;
    use super::*;

    pub(crate) fn score(order: usize, lr: f64, accuracies: &[f64]) -> ConfigScore {
        ConfigScore {
            order,
            config: Config::new(vec![("lr", Value::Number(lr)), ("batch_size", Value::Count(32))]),
            settings: TrainSettings::default(),
            folds: accuracies.iter().map(|&a| FoldScore { accuracy: a, loss: 1.0 - a }).collect(),
        }
    }

    #[test]
    fn ranks_by_mean_then_lower_std_then_order() {
        let board = Leaderboard::rank(vec![
            score(0, 0.1, &[0.80, 0.90]),         // mean 0.85, std 0.05
            score(1, 0.2, &[0.85, 0.85]),         // mean 0.85, std 0
            score(2, 0.3, &[0.90, f64::NAN]),     // diverged
            score(3, 0.4, &[0.95, 0.93]),         // the best
            score(4, 0.5, &[0.85, 0.85]),         // ties with 1: run later
            score(5, 0.6, &[f64::NAN, f64::NAN]), // diverged, run later
        ]);
        let order: Vec<usize> = board.entries().iter().map(|e| e.order).collect();
        assert_eq!(order, [3, 1, 4, 0, 2, 5]);
        assert_eq!(board.best().unwrap().order, 3);
        assert!((board.best().unwrap().mean() - 0.94).abs() < 1e-12);
        assert!((board.entries()[3].std() - 0.05).abs() < 1e-12);
        assert_eq!(board.folds(), 2);
    }

    #[test]
    fn nothing_is_best_when_everything_diverged() {
        let board = Leaderboard::rank(vec![score(0, 0.1, &[f64::NAN]), score(1, 0.2, &[f64::INFINITY])]);
        assert!(board.best().is_none());
        assert!(Leaderboard::rank(vec![]).best().is_none());
    }

    #[test]
    fn the_table_aligns_its_columns() {
        let board = Leaderboard::rank(vec![score(0, 0.1, &[0.5, 0.7]), score(1, 3e-4, &[0.9, f64::NAN])]);
        let table = board.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "rank  lr    batch_size  accuracy (mean ± std)  loss    per fold");
        assert_eq!(lines[1], "1     0.1   32          0.6000 ± 0.1000        0.4000  0.5000 0.7000");
        assert_eq!(lines[2], "2     3e-4  32          diverged               -       0.9000 NaN");
    }
}
