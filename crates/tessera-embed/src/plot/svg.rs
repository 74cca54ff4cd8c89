//! A labelled scatter plot as SVG, written by hand (the style of `tessera-train`'s curves):
//! each label goes beside its point where it overlaps no other label and no other point; a
//! label with no free place is left out (its point stays) and counted.

use std::fmt::Write;

const W: f64 = 960.0;
const H: f64 = 720.0;
const MARGIN: f64 = 24.0;
const TOP: f64 = 44.0;
const FONT: f64 = 11.0;
const DOT: f64 = 2.5;

/// An axis-aligned box: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect(f64, f64, f64, f64);

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.0 < o.2 && o.0 < self.2 && self.1 < o.3 && o.1 < self.3
    }
}

/// Estimated width of `text` at the label font size: wide (CJK and other East Asian) characters
/// take a full em, others about 0.62 em.
fn text_width(text: &str) -> f64 {
    text.chars().map(|c| if (c as u32) >= 0x1100 && !c.is_ascii() { 1.0 } else { 0.62 }).sum::<f64>() * FONT
}

/// Where a label goes relative to its point: the text's anchor point and `text-anchor`.
struct Placement {
    rect: Rect,
    x: f64,
    y: f64,
    anchor: &'static str,
}

/// The candidate places for a label of width `w` beside the point `(x, y)`, in order of
/// preference: right, left, above, below, then the four diagonals.
fn candidates(x: f64, y: f64, w: f64) -> [Placement; 8] {
    let h = FONT;
    let gap = DOT + 2.0;
    let base = |top: f64| top + h * 0.8;
    let at = |left: f64, top: f64, tx: f64, anchor| Placement {
        rect: Rect(left, top, left + w, top + h),
        x: tx,
        y: base(top),
        anchor,
    };
    [
        at(x + gap, y - h / 2.0, x + gap, "start"),
        at(x - gap - w, y - h / 2.0, x - gap, "end"),
        at(x - w / 2.0, y - gap - h, x, "middle"),
        at(x - w / 2.0, y + gap, x, "middle"),
        at(x + gap, y - gap - h, x + gap, "start"),
        at(x - gap - w, y - gap - h, x - gap, "end"),
        at(x + gap, y + gap, x + gap, "start"),
        at(x - gap - w, y + gap, x - gap, "end"),
    ]
}

/// Picks a place for each label (in order: earlier labels win), or none. Boxes are kept in a
/// coarse grid so that each test looks at nearby boxes only.
fn place_labels(points: &[(f64, f64)], labels: &[&str], area: Rect) -> Vec<Option<Placement>> {
    const CELL: f64 = 48.0;
    let cols = ((area.2 / CELL).ceil() as usize).max(1) + 1;
    let rows = ((area.3 / CELL).ceil() as usize).max(1) + 1;
    let mut grid: Vec<Vec<Rect>> = vec![Vec::new(); cols * rows];
    let cells = |r: &Rect| {
        let c0 = ((r.0 / CELL).floor().max(0.0) as usize).min(cols - 1);
        let c1 = ((r.2 / CELL).floor().max(0.0) as usize).min(cols - 1);
        let r0 = ((r.1 / CELL).floor().max(0.0) as usize).min(rows - 1);
        let r1 = ((r.3 / CELL).floor().max(0.0) as usize).min(rows - 1);
        (r0..=r1).flat_map(move |rr| (c0..=c1).map(move |cc| rr * cols + cc))
    };
    let dots: Vec<Rect> = points.iter().map(|&(x, y)| Rect(x - DOT, y - DOT, x + DOT, y + DOT)).collect();
    for d in &dots {
        for c in cells(d).collect::<Vec<_>>() {
            grid[c].push(*d);
        }
    }
    let mut out = Vec::with_capacity(points.len());
    for (i, (&(x, y), label)) in points.iter().zip(labels).enumerate() {
        let own = dots[i];
        let free = |p: &Placement| {
            let r = Rect(p.rect.0 - 1.0, p.rect.1 - 1.0, p.rect.2 + 1.0, p.rect.3 + 1.0);
            r.0 >= area.0
                && r.1 >= area.1
                && r.2 <= area.2
                && r.3 <= area.3
                && cells(&r).all(|c| grid[c].iter().all(|b| *b == own || !b.overlaps(&r)))
        };
        let chosen = candidates(x, y, text_width(label)).into_iter().find(|p| free(p));
        if let Some(p) = &chosen {
            for c in cells(&p.rect).collect::<Vec<_>>() {
                grid[c].push(p.rect);
            }
        }
        out.push(chosen);
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG scatter plot of 2-D `points` with their `labels` (the most important first: they are
/// placed first). Returns the SVG and how many labels it shows.
///
/// ```
/// let pts = [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0001]];
/// let (svg, shown) = tessera_embed::plot::scatter_svg("words", &pts, &["a", "b", "c"]);
/// assert!(svg.starts_with("<svg") && svg.contains(">a</text>"));
/// assert!(shown >= 2); // "c" sits on "b": it may find no free place
/// ```
pub fn scatter_svg(title: &str, points: &[[f64; 2]], labels: &[&str]) -> (String, usize) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for p in points.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
        (x0, x1, y0, y1) = (x0.min(p[0]), x1.max(p[0]), y0.min(p[1]), y1.max(p[1]));
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let (sx, sy) = ((x1 - x0).max(1e-12), (y1 - y0).max(1e-12));
    // Room for labels around the outermost points.
    let inner = Rect(MARGIN + 70.0, TOP + 20.0, W - MARGIN - 70.0, H - MARGIN - 30.0);
    let to_canvas = |p: &[f64; 2]| {
        (inner.0 + (p[0] - x0) / sx * (inner.2 - inner.0), inner.3 - (p[1] - y0) / sy * (inner.3 - inner.1))
    };
    let canvas: Vec<(f64, f64)> = points.iter().map(to_canvas).collect();
    let area = Rect(MARGIN, TOP, W - MARGIN, H - MARGIN);
    let placed = place_labels(&canvas, labels, area);
    let shown = placed.iter().filter(|p| p.is_some()).count();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="{FONT}"><rect width="100%" height="100%" fill="white"/><text x="{}" y="26" text-anchor="middle" font-size="15">{}</text><rect x="{MARGIN}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#ddd"/>"##,
        W / 2.0,
        escape(title),
        W - 2.0 * MARGIN,
        H - TOP - MARGIN
    );
    for &(x, y) in &canvas {
        let _ = write!(svg, r##"<circle cx="{x:.1}" cy="{y:.1}" r="{DOT}" fill="#1f77b4"/>"##);
    }
    for (p, label) in placed.iter().zip(labels) {
        if let Some(p) = p {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="{}" fill="#222">{}</text>"##,
                p.x,
                p.y,
                p.anchor,
                escape(label)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#888">{shown} of {} labels shown (the rest had no free place)</text></svg>"##,
        W - MARGIN,
        H - 8.0,
        points.len()
    );
    svg.push('\n');
    (svg, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placed_labels_never_overlap_each_other_or_other_points() {
        // A dense cloud: many labels must be dropped, and the rest must be clear.
        let pts: Vec<(f64, f64)> =
            (0..400).map(|i| (100.0 + (i % 20) as f64 * 9.0, 100.0 + (i / 20) as f64 * 7.0)).collect();
        let names: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
        let labels: Vec<&str> = names.iter().map(String::as_str).collect();
        let placed = place_labels(&pts, &labels, Rect(0.0, 0.0, 960.0, 720.0));
        let rects: Vec<(usize, Rect)> =
            placed.iter().enumerate().filter_map(|(i, p)| p.as_ref().map(|p| (i, p.rect))).collect();
        assert!(rects.len() > 20 && rects.len() < 400, "{} placed", rects.len());
        for (a, (i, r)) in rects.iter().enumerate() {
            for (_, s) in &rects[a + 1..] {
                assert!(!r.overlaps(s));
            }
            for (j, &(x, y)) in pts.iter().enumerate() {
                if j != *i {
                    assert!(!r.overlaps(&Rect(x - DOT, y - DOT, x + DOT, y + DOT)), "label {i} covers point {j}");
                }
            }
        }
        // Isolated points always get their label.
        let sparse = place_labels(&[(100.0, 100.0), (500.0, 500.0)], &["a", "b"], Rect(0.0, 0.0, 960.0, 720.0));
        assert!(sparse.iter().all(Option::is_some));
    }
}
