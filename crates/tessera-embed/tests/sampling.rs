//! The training's random tables: the negative-sampling distribution and the subsampling
//! probabilities, against their formulas.

use tessera_embed::train::{keep_probabilities, NoiseTable};

#[test]
fn noise_table_implements_unigram_to_the_three_quarters_exactly() {
    let counts: Vec<u64> = (1..=200u64).map(|i| (i * i * 37) % 1009 + 1).chain([1_000_000, 5, 1]).collect();
    let table = NoiseTable::unigram(&counts, 0.75);
    let total: f64 = counts.iter().map(|&c| (c as f64).powf(0.75)).sum();
    for (p, &c) in table.probabilities().iter().zip(&counts) {
        let expected = (c as f64).powf(0.75) / total;
        assert!((p - expected).abs() < 1e-9, "count {c}: {p} vs {expected}");
    }
}

#[test]
fn noise_table_draws_follow_the_distribution() {
    let counts = [1000u64, 100, 10, 1, 0];
    let table = NoiseTable::unigram(&counts, 0.75);
    let mut seen = [0u64; 5];
    // A simple generator for the bits (splitmix64).
    let mut state = 42u64;
    let draws = 2_000_000;
    for _ in 0..draws {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        seen[table.draw(z ^ (z >> 31)) as usize] += 1;
    }
    let total: f64 = counts.iter().map(|&c| (c as f64).powf(0.75)).sum();
    for (i, &c) in counts.iter().enumerate() {
        let p = (c as f64).powf(0.75) / total;
        let expected = p * draws as f64;
        // Five standard deviations of a binomial count.
        let tolerance = 5.0 * (draws as f64 * p * (1.0 - p)).sqrt() + 1.0;
        assert!((seen[i] as f64 - expected).abs() <= tolerance, "word {i}: {} draws, expected {expected:.0}", seen[i]);
    }
    assert_eq!(seen[4], 0, "a word never seen is never drawn");
}

#[test]
fn subsampling_keeps_words_with_word2vecs_probability() {
    let counts = [50_000u64, 5_000, 500, 50, 5];
    let total: u64 = counts.iter().sum();
    for sample in [1e-3, 1e-4, 1e-5] {
        let keep = keep_probabilities(&counts, sample);
        for (&c, &k) in counts.iter().zip(&keep) {
            let f = c as f64 / total as f64;
            let formula = ((f / sample).sqrt() + 1.0) * sample / f;
            assert!((k - formula.min(1.0)).abs() < 1e-12, "count {c}, sample {sample}");
        }
        assert!(keep.windows(2).all(|w| w[0] <= w[1]), "rarer words are kept more often");
    }
    assert!(keep_probabilities(&counts, 0.0).iter().all(|&k| k == 1.0));
}
