//! The configurations of a search space: every one (grid search), or a seeded sample of them
//! drawn without replacement (random search over the grid).

use super::space::{Config, SearchSpace};
use crate::rng::SplitMix;
use crate::{Error, Result};
use std::collections::BTreeSet;

/// The most configurations a whole grid may hold: beyond it, sample with
/// [`SearchSpace::sample`].
pub const MAX_GRID: usize = 100_000;

/// The configurations a random search runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The configurations drawn, in grid order.
    pub configs: Vec<Config>,
    /// Set when fewer configurations were drawn than asked for because the grid holds fewer:
    /// says so, for the user.
    pub note: Option<String>,
}

impl SearchSpace {
    /// The number of configurations in the grid, or `None` when it does not fit a `usize`.
    pub fn size(&self) -> Option<usize> {
        self.params().iter().try_fold(1usize, |n, p| n.checked_mul(p.values.len()))
    }

    /// Configuration `index` of the grid (`0..size`), counting with the last key fastest, as
    /// nested loops in the order the keys were given would.
    pub fn config(&self, index: usize) -> Config {
        let mut rest = index;
        let mut values = Vec::with_capacity(self.params().len());
        for p in self.params().iter().rev() {
            values.push((p.key, p.values[rest % p.values.len()]));
            rest /= p.values.len();
        }
        values.reverse();
        Config::new(values)
    }

    /// Every configuration of the grid, in grid order (see [`SearchSpace::config`]); a grid of
    /// more than [`MAX_GRID`] configurations is refused.
    pub fn grid(&self) -> Result<Vec<Config>> {
        let n = self.checked_size()?;
        Ok((0..n).map(|i| self.config(i)).collect())
    }

    /// `n` distinct configurations of the grid drawn at random with `seed` (the same ones for the
    /// same seed), in grid order. When the grid holds `n` or fewer, all of it, with a note.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Sample> {
        if n == 0 {
            return Err(Error::SearchSpace(
                "a random search of 0 configurations runs nothing: ask for 1 or more".into(),
            ));
        }
        let size = self.size().unwrap_or(usize::MAX);
        if size <= n {
            self.checked_size()?;
            let note = (size < n).then(|| {
                format!("{n} random configurations were asked for but the grid holds {size}: all of them are run")
            });
            return Ok(Sample { configs: self.grid()?, note });
        }
        // Floyd's algorithm: n distinct indices in 0..size, each subset equally likely.
        let mut rng = SplitMix::new(seed, 0x7475_6e65);
        let mut chosen = BTreeSet::new();
        for j in size - n..size {
            let t = rng.below(j + 1);
            if !chosen.insert(t) {
                chosen.insert(j);
            }
        }
        Ok(Sample { configs: chosen.into_iter().map(|i| self.config(i)).collect(), note: None })
    }

    fn checked_size(&self) -> Result<usize> {
        match self.size() {
            Some(n) if n <= MAX_GRID => Ok(n),
            _ => Err(Error::SearchSpace(format!(
                "the grid `{self}` holds more than {MAX_GRID} configurations: draw some at random instead \
                 (--random N)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::space::{Value, TRAINING_KEYS};
    use super::*;

    fn space(spec: &str) -> SearchSpace {
        SearchSpace::parse(spec, TRAINING_KEYS).unwrap()
    }

    #[test]
    fn the_grid_is_every_combination_last_key_fastest() {
        let s = space("lr=1e-3,3e-4 batch_size=32,64,128");
        assert_eq!(s.size(), Some(6));
        let grid: Vec<String> = s.grid().unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(
            grid,
            [
                "lr=0.001 batch_size=32",
                "lr=0.001 batch_size=64",
                "lr=0.001 batch_size=128",
                "lr=3e-4 batch_size=32",
                "lr=3e-4 batch_size=64",
                "lr=3e-4 batch_size=128"
            ]
        );
        assert_eq!(space("optimizer=adam").grid().unwrap().len(), 1);
    }

    #[test]
    fn random_search_draws_distinct_configurations_reproducibly() {
        let s = space("lr=1,2,3,4,5,6,7,8 batch_size=1,2,3,4,5,6,7,8 epochs=1,2,3,4");
        let a = s.sample(10, 7).unwrap();
        assert_eq!(a.configs.len(), 10);
        assert_eq!(a.note, None);
        assert_eq!(a, s.sample(10, 7).unwrap());
        assert_ne!(a, s.sample(10, 8).unwrap());
        let grid = s.grid().unwrap();
        let mut at: Vec<usize> = a.configs.iter().map(|c| grid.iter().position(|g| g == c).unwrap()).collect();
        let drawn = at.clone();
        at.dedup();
        assert_eq!(at, drawn, "distinct and in grid order");
        assert!(at.windows(2).all(|w| w[0] < w[1]));
        // Every configuration comes up across seeds: the draw covers the grid.
        let seen: BTreeSet<usize> = (0..200)
            .flat_map(|seed| s.sample(3, seed).unwrap().configs)
            .map(|c| grid.iter().position(|g| *g == c).unwrap())
            .collect();
        assert!(seen.len() > 200, "{} of 256 configurations drawn", seen.len());
    }

    #[test]
    fn asking_for_more_than_the_grid_runs_all_of_it_with_a_note() {
        let s = space("lr=1e-3,3e-4 batch_size=32,128");
        let all = s.sample(10, 0).unwrap();
        assert_eq!(all.configs, s.grid().unwrap());
        assert_eq!(
            all.note.unwrap(),
            "10 random configurations were asked for but the grid holds 4: all of them are run"
        );
        assert_eq!(s.sample(4, 0).unwrap().note, None);
        assert!(s.sample(0, 0).unwrap_err().to_string().contains("0 configurations"));
    }

    #[test]
    fn huge_grids_are_sampled_not_enumerated() {
        let values: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
        let spec = format!("batch_size={0} epochs={0} lr={0} weight_decay={0}", values.join(","));
        let s = space(&spec);
        assert_eq!(s.size(), Some(40usize.pow(4)));
        let e = s.grid().unwrap_err().to_string();
        assert!(e.contains("more than 100000 configurations") && e.contains("--random"), "{e}");
        let drawn = s.sample(5, 1).unwrap();
        assert_eq!(drawn.configs.len(), 5);
        assert!(drawn.configs.iter().all(|c| matches!(c.get("epochs"), Some(Value::Count(1..=40)))));
    }
}
