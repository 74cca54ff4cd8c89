//! Projections with known answers: PCA finds a planted axis, t-SNE keeps clusters apart.

use tessera_embed::plot::{pca_2d, principal_axes, scatter_svg, tsne_2d, TsneConfig};

/// A deterministic value in [-1, 1).
fn jitter(i: usize) -> f32 {
    ((i as f32 * 12.9898).sin() * 43_758.547).fract()
}

#[test]
fn pca_finds_the_planted_principal_axis() {
    // 60 points spread along u = (1, 2, 0, -2, 4) / 5 by up to ±10, with noise of ±0.1 in
    // every coordinate.
    let u = [0.2f32, 0.4, 0.0, -0.4, 0.8];
    let points: Vec<f32> = (0..60)
        .flat_map(|i| {
            let t = (i as f32 - 30.0) / 3.0;
            (0..5).map(move |d| 7.0 + t * u[d] + 0.1 * jitter(i * 5 + d))
        })
        .collect();
    let (axes, var) = principal_axes(&points, 5, 2);
    let cos: f64 = axes[0].iter().zip(u).map(|(a, b)| a * b as f64).sum();
    assert!(cos.abs() > 0.9999, "first axis {:?} vs {u:?}", axes[0]);
    assert!(var[0] > 1000.0 * var[1], "variances {var:?}");
    let dot: f64 = axes[0].iter().zip(&axes[1]).map(|(a, b)| a * b).sum();
    assert!(dot.abs() < 1e-9, "the axes are orthogonal");
    // The projection's first coordinate is t (up to sign), centred.
    let xy = pca_2d(&points, 5);
    for (i, p) in xy.iter().enumerate() {
        let t = (i as f64 - 30.0) / 3.0 + 0.5 / 3.0;
        assert!((p[0].abs() - t.abs()).abs() < 0.25, "point {i}: {p:?} vs {t}");
    }
}

#[test]
fn tsne_keeps_two_well_separated_clusters_apart() {
    // Two clouds of 25 points in 10-D, 20 apart, each of radius about 1.
    let points: Vec<f32> = (0..50)
        .flat_map(|i| {
            let centre = if i < 25 { 0.0 } else { 20.0 / (10f32).sqrt() };
            (0..10).map(move |d| centre + jitter(i * 10 + d))
        })
        .collect();
    let cfg = TsneConfig { perplexity: 10.0, iterations: 500, threads: 2, ..TsneConfig::default() };
    let y = tsne_2d(&points, 10, &cfg).unwrap();
    let centre = |r: std::ops::Range<usize>| {
        let n = r.len() as f64;
        r.fold([0.0, 0.0], |c, i| [c[0] + y[i][0] / n, c[1] + y[i][1] / n])
    };
    let (ca, cb) = (centre(0..25), centre(25..50));
    let dir = [cb[0] - ca[0], cb[1] - ca[1]];
    let along = |p: [f64; 2]| p[0] * dir[0] + p[1] * dir[1];
    let a_max = (0..25).map(|i| along(y[i])).fold(f64::NEG_INFINITY, f64::max);
    let b_min = (25..50).map(|i| along(y[i])).fold(f64::INFINITY, f64::min);
    assert!(a_max < b_min, "the clusters overlap along the line joining their centres");
    // Every point's nearest neighbour in the picture is from its own cluster.
    for i in 0..50 {
        let d = |j: usize| (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
        let nearest = (0..50).filter(|&j| j != i).min_by(|&a, &b| d(a).total_cmp(&d(b))).unwrap();
        assert_eq!(i < 25, nearest < 25, "point {i}");
    }
}

#[test]
fn svg_escapes_labels_and_counts_what_it_shows() {
    let (svg, shown) = scatter_svg("a <title>", &[[0.0, 0.0], [1.0, 1.0]], &["x&y", "<b>"]);
    assert!(svg.contains("a &lt;title&gt;") && svg.contains(">x&amp;y</text>") && svg.contains(">&lt;b&gt;</text>"));
    assert_eq!(shown, 2);
    assert!(svg.contains("2 of 2 labels shown"));
}
