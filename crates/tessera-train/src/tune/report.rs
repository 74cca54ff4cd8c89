//! A search's results as files: a CSV with one row per configuration, and an SVG bar chart of
//! each configuration's mean accuracy ± standard deviation (the style of [`crate::plot`]), both
//! written atomically.

use super::rank::Leaderboard;
use crate::fs::write_atomic;
use crate::plot::{escape, tick};
use crate::Result;
use std::fmt::Write;
use std::path::Path;

/// The keys of the configurations, in the order they first appear.
pub(crate) fn keys(board: &Leaderboard) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Vec::new();
    for (k, _) in board.entries().iter().flat_map(|e| e.config.values()) {
        if !keys.contains(k) {
            keys.push(k);
        }
    }
    keys
}

impl Leaderboard {
    /// The results as CSV, best first: `rank`, a column per key, `mean_accuracy`,
    /// `std_accuracy`, `mean_loss`, then `fold1_accuracy` ... and `fold1_loss` ... (`NaN` where
    /// training diverged).
    pub fn to_csv(&self) -> String {
        let keys = keys(self);
        let mut header: Vec<String> = vec!["rank".into()];
        header.extend(keys.iter().map(|k| k.to_string()));
        header.extend(["mean_accuracy", "std_accuracy", "mean_loss"].map(String::from));
        header.extend((1..=self.folds()).map(|f| format!("fold{f}_accuracy")));
        header.extend((1..=self.folds()).map(|f| format!("fold{f}_loss")));
        let mut out = header.join(",");
        out.push('\n');
        for (i, e) in self.entries().iter().enumerate() {
            let mut row = vec![(i + 1).to_string()];
            row.extend(keys.iter().map(|k| e.config.get(k).map_or(String::new(), |v| v.to_string())));
            row.extend([e.mean(), e.std(), e.mean_loss()].map(|x| x.to_string()));
            let fold = |f: usize, pick: fn(&super::FoldScore) -> f64| {
                e.folds.get(f).map_or(String::new(), |s| pick(s).to_string())
            };
            row.extend((0..self.folds()).map(|f| fold(f, |s| s.accuracy)));
            row.extend((0..self.folds()).map(|f| fold(f, |s| s.loss)));
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }

    /// Writes [`Leaderboard::to_csv`] to `path`, atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// A horizontal bar chart, best at the top: each configuration's mean accuracy as a bar from
    /// the axis' left end, its standard deviation as a whisker, the best bar highlighted;
    /// diverged configurations are listed without a bar.
    pub fn chart_svg(&self, title: &str) -> String {
        const W: f64 = 760.0;
        const ROW: f64 = 26.0;
        const TOP: f64 = 44.0;
        const BOTTOM: f64 = 44.0;
        const RIGHT: f64 = 140.0;
        let labels: Vec<String> = self.entries().iter().map(|e| e.config.to_string()).collect();
        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let left = (16.0 + 6.6 * widest as f64).clamp(80.0, 360.0).round();
        let h = TOP + ROW * self.entries().len().max(1) as f64 + BOTTOM;
        let pw = W - left - RIGHT;
        let (x0, x1) = self.axis();
        let sx = |x: f64| left + (x.clamp(x0, x1) - x0) / (x1 - x0) * pw;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            left + pw / 2.0,
            escape(title)
        );
        let bottom = h - BOTTOM;
        for i in 0..=5 {
            let v = x0 + (x1 - x0) * i as f64 / 5.0;
            let _ = write!(
                svg,
                r##"<line x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom}" stroke="#ddd"/><text x="{x}" y="{}" text-anchor="middle">{}</text>"##,
                bottom + 16.0,
                tick(v),
                x = format!("{:.1}", sx(v)),
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">mean validation accuracy ± std over {} fold{}</text>"#,
            left + pw / 2.0,
            h - 8.0,
            self.folds(),
            if self.folds() == 1 { "" } else { "s" }
        );
        for (i, (e, label)) in self.entries().iter().zip(&labels).enumerate() {
            let y = TOP + ROW * i as f64;
            let mid = y + ROW / 2.0;
            let _ =
                write!(svg, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, left - 8.0, mid + 4.0, escape(label));
            if e.diverged() {
                let _ = write!(svg, r##"<text x="{}" y="{}" fill="#d62728">diverged</text>"##, left + 6.0, mid + 4.0);
                continue;
            }
            let (mean, std) = (e.mean(), e.std());
            let color = if i == 0 { "#ff7f0e" } else { "#1f77b4" };
            let _ = write!(
                svg,
                r#"<rect x="{left}" y="{}" width="{:.1}" height="{}" fill="{color}"/>"#,
                y + 4.0,
                sx(mean) - left,
                ROW - 8.0
            );
            if std > 0.0 {
                let (a, b) = (sx(mean - std), sx(mean + std));
                let _ = write!(
                    svg,
                    r#"<line x1="{a:.1}" x2="{b:.1}" y1="{mid}" y2="{mid}" stroke="black"/><line x1="{a:.1}" x2="{a:.1}" y1="{}" y2="{}" stroke="black"/><line x1="{b:.1}" x2="{b:.1}" y1="{}" y2="{}" stroke="black"/>"#,
                    mid - 5.0,
                    mid + 5.0,
                    mid - 5.0,
                    mid + 5.0
                );
            }
            let best = if i == 0 { " (best)" } else { "" };
            let _ = write!(svg, r#"<text x="{}" y="{}">{mean:.4} ± {std:.4}{best}</text>"#, left + pw + 8.0, mid + 4.0);
        }
        let _ = write!(
            svg,
            r#"<rect x="{left}" y="{TOP}" width="{pw}" height="{}" fill="none" stroke="black"/>"#,
            bottom - TOP
        );
        svg.push_str("</svg>\n");
        svg
    }

    /// Writes [`Leaderboard::chart_svg`] to `path`, atomically.
    pub fn write_svg(&self, path: &Path, title: &str) -> Result<()> {
        write_atomic(path, self.chart_svg(title).as_bytes())
    }

    /// The accuracy axis: five steps of a round size (0.01, 0.02, 0.05, 0.1 or 0.2), the
    /// smallest that spans every whisker with a little room, within [0, 1] where it can, so that
    /// close scores stay apart and the ticks read well.
    fn axis(&self) -> (f64, f64) {
        let scored = self.entries().iter().filter(|e| !e.diverged());
        let lo = scored.clone().map(|e| e.mean() - e.std()).fold(f64::INFINITY, f64::min);
        let hi = scored.map(|e| e.mean() + e.std()).fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() || !hi.is_finite() {
            return (0.0, 1.0);
        }
        for step in [0.01, 0.02, 0.05, 0.1, 0.2] {
            let mut x0 = ((lo - step / 2.0) / step).floor().max(0.0) * step;
            if x0 + 5.0 * step > 1.0 && hi <= 1.0 {
                x0 = (1.0 - 5.0 * step).max(0.0);
            }
            if x0 <= lo && x0 + 5.0 * step >= hi + step / 4.0 {
                return (round(x0), round(x0 + 5.0 * step));
            }
        }
        (lo.min(0.0), hi.max(1.0))
    }
}

/// `x` to 9 decimals (so that steps of 0.05 print as such).
fn round(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

#[cfg(test)]
mod tests {
    use super::super::rank::tests::score;
    use super::*;

    fn board() -> Leaderboard {
        Leaderboard::rank(vec![
            score(0, 0.1, &[0.90, 0.92]),
            score(1, 3e-4, &[0.95, 0.93]),
            score(2, 1.0, &[f64::NAN, 0.1]),
        ])
    }

    #[test]
    fn csv_has_a_row_per_configuration_best_first() {
        let csv = board().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "rank,lr,batch_size,mean_accuracy,std_accuracy,mean_loss,fold1_accuracy,fold2_accuracy,fold1_loss,fold2_loss"
        );
        assert!(lines[1].starts_with("1,3e-4,32,0.94"), "{}", lines[1]);
        assert!(lines[2].starts_with("2,0.1,32,0.91"), "{}", lines[2]);
        assert!(lines[3].starts_with("3,1,32,NaN,NaN,NaN,NaN,0.1,NaN,0.9"), "{}", lines[3]);
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.split(',').count() == 10));
    }

    #[test]
    fn the_chart_has_a_bar_per_scored_configuration_and_highlights_the_best() {
        let svg = board().chart_svg("tune <mlp>");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches(r##"fill="#ff7f0e""##).count(), 1, "one highlighted bar");
        assert_eq!(svg.matches(r##"fill="#1f77b4""##).count(), 1);
        assert!(svg.contains("lr=3e-4 batch_size=32") && svg.contains("0.9400 ± 0.0100 (best)"));
        assert!(svg.contains("diverged") && svg.contains("tune &lt;mlp&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let dir = std::env::temp_dir().join(format!("tessera-tune-report-{}", std::process::id()));
        crate::fs::create_dir(&dir).unwrap();
        board().write_svg(&dir.join("tune.svg"), "t").unwrap();
        board().write_csv(&dir.join("tune.csv")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("tune.csv")).unwrap(), board().to_csv());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_axis_keeps_close_scores_apart() {
        assert_eq!(board().axis(), (0.88, 0.98));
        let close = Leaderboard::rank(vec![score(0, 0.1, &[0.90, 0.91]), score(1, 0.2, &[0.89, 0.89])]);
        assert_eq!(close.axis(), (0.88, 0.93));
        let spread = Leaderboard::rank(vec![score(0, 0.1, &[0.2, 0.9])]);
        assert_eq!(spread.axis(), (0.0, 1.0));
        let all_diverged = Leaderboard::rank(vec![score(0, 0.1, &[f64::NAN])]);
        assert_eq!(all_diverged.axis(), (0.0, 1.0));
        assert!(all_diverged.chart_svg("t").contains("diverged"));
    }
}
