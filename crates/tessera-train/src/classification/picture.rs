//! A [`ConfusionMatrix`] drawn as SVG, written by hand like the training curves of
//! [`plot`](crate::plot): one square per (true, predicted) pair shaded by the row-normalised
//! value (the share of the true class's examples), the count written in it, class labels on
//! both axes, a title and a colour scale.

use super::{class_labels, ConfusionMatrix};
use crate::plot::{escape, shade};
use crate::Result;
use std::fmt::Write;
use std::path::Path;

const TOP: f64 = 56.0;
const SCALE_WIDTH: f64 = 110.0;
/// Approximate width of one character of the 12-pixel sans-serif labels.
const CHAR: f64 = 7.0;

impl ConfusionMatrix {
    /// The matrix as an SVG picture titled `title`, with `labels` naming the classes (one per
    /// class; `None`: the class indices). Rows are true classes, columns predicted ones; each
    /// cell carries `data-true`, `data-predicted` and `data-count` attributes. Cells are
    /// 48 pixels down to 10 for many classes; counts are written where a cell is at least 16.
    pub fn to_svg(&self, title: &str, labels: Option<&[String]>) -> Result<String> {
        let labels = class_labels(self.classes(), labels)?;
        let n = self.classes();
        let cell = (480.0 / n as f64).clamp(10.0, 48.0);
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
        // Column labels are turned upright-diagonal when they do not fit under their cell.
        let slanted = longest * CHAR > cell;
        let label_font = if cell < 14.0 { 9.0 } else { 12.0 };
        let bottom = 44.0 + if slanted { longest * CHAR * 0.75 } else { 16.0 };
        let side = cell * n as f64;
        let needed = 44.0 + longest * CHAR + side + SCALE_WIDTH;
        // Wide enough for the title (15-pixel characters), the matrix centred below it.
        let width = needed.max(title.chars().count() as f64 * 8.5 + 40.0).max(320.0);
        let shift = (width - needed) / 2.0;
        let (left, height) = (shift + 44.0 + longest * CHAR, TOP + side + bottom);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            width / 2.0,
            escape(title)
        );
        let norm = self.row_normalised();
        let count_font = (cell * 0.32).min(12.0);
        for t in 0..n {
            for p in 0..n {
                let (x, y) = (left + p as f64 * cell, TOP + t as f64 * cell);
                let count = self.count(t, p);
                let (fill, light) = shade(norm[t * n + p]);
                let _ = write!(
                    svg,
                    r#"<rect class="cell" data-true="{t}" data-predicted="{p}" data-count="{count}" x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"/>"#
                );
                if cell >= 16.0 {
                    let _ = write!(
                        svg,
                        r#"<text x="{}" y="{}" text-anchor="middle" font-size="{count_font:.1}" fill="{}">{count}</text>"#,
                        x + cell / 2.0,
                        y + cell / 2.0 + count_font * 0.35,
                        if light { "white" } else { "black" }
                    );
                }
            }
        }
        let _ =
            write!(svg, r##"<rect x="{left}" y="{TOP}" width="{side}" height="{side}" fill="none" stroke="#444"/>"##);
        for (i, label) in labels.iter().enumerate() {
            let mid = i as f64 * cell + cell / 2.0;
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end" font-size="{label_font}">{}</text>"#,
                left - 6.0,
                TOP + mid + label_font * 0.35,
                escape(label)
            );
            let (x, y) = (left + mid, TOP + side + 16.0);
            let _ = if slanted {
                write!(
                    svg,
                    r#"<text x="{x}" y="{y}" text-anchor="end" font-size="{label_font}" transform="rotate(-45 {x} {y})">{}</text>"#,
                    escape(label)
                )
            } else {
                write!(
                    svg,
                    r#"<text x="{x}" y="{y}" text-anchor="middle" font-size="{label_font}">{}</text>"#,
                    escape(label)
                )
            };
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">predicted class</text><text x="{x}" y="{y}" text-anchor="middle" transform="rotate(-90 {x} {y})">true class</text>"#,
            left + side / 2.0,
            height - 10.0,
            x = shift + 16.0,
            y = TOP + side / 2.0,
        );
        self.write_scale(&mut svg, left + side + 24.0, side.max(60.0));
        svg.push_str("</svg>\n");
        Ok(svg)
    }

    /// The colour scale beside the matrix: a vertical gradient from 100% (top) to 0%.
    fn write_scale(&self, svg: &mut String, x: f64, length: f64) {
        let (top, bottom) = (shade(1.0).0, shade(0.0).0);
        let _ = write!(
            svg,
            r##"<defs><linearGradient id="scale" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{top}"/><stop offset="1" stop-color="{bottom}"/></linearGradient></defs><rect x="{x}" y="{TOP}" width="14" height="{length}" fill="url(#scale)" stroke="#444"/><text x="{}" y="{}">100%</text><text x="{}" y="{}">0%</text><text x="{}" y="{}" text-anchor="middle" transform="rotate(90 {} {})">share of the true class</text>"##,
            x + 18.0,
            TOP + 10.0,
            x + 18.0,
            TOP + length,
            x + 62.0,
            TOP + length / 2.0,
            x + 62.0,
            TOP + length / 2.0,
        );
    }

    /// Writes [`ConfusionMatrix::to_svg`]'s picture to `path` atomically (a temporary file
    /// beside it, then renamed: a reader never sees half a picture).
    pub fn write_svg(&self, path: &Path, title: &str, labels: Option<&[String]>) -> Result<()> {
        crate::fs::write_atomic(path, self.to_svg(title, labels)?.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sklearn_case;
    use super::super::ConfusionMatrix;

    /// The `(true, predicted, count)` of every cell of a picture.
    fn cells(svg: &str) -> Vec<(usize, usize, u64)> {
        let attr = |s: &str, name: &str| -> u64 {
            let start = s.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            s[start..].split('"').next().unwrap().parse().unwrap()
        };
        svg.split("<rect class=\"cell\"")
            .skip(1)
            .map(|s| (attr(s, "data-true") as usize, attr(s, "data-predicted") as usize, attr(s, "data-count")))
            .collect()
    }

    #[test]
    fn picture_has_every_cell_its_count_labels_and_title() {
        let cm = sklearn_case();
        let names: Vec<String> = ["zero", "one", "two", "three", "<four>"].map(String::from).to_vec();
        let svg = cm.to_svg("Confusion & more", Some(&names)).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        let found = cells(&svg);
        assert_eq!(found.len(), 25);
        for (t, p, n) in found {
            assert_eq!(n, cm.count(t, p), "cell ({t}, {p})");
        }
        assert!(svg.contains("Confusion &amp; more") && svg.contains("&lt;four&gt;") && svg.contains(">three</text>"));
        assert!(svg.contains(">predicted class</text>") && svg.contains(">true class</text>"));
        // Row 0 is 3/4 and 1/4: the diagonal cell is darker than the one beside it, with white text.
        assert!(svg.contains(r#"fill="white">3</text>"#), "{svg}");
        assert!(cm.to_svg("x", Some(&names[..1])).is_err());
    }

    #[test]
    fn many_classes_make_small_cells_without_counts() {
        let classes = 100;
        let pred: Vec<usize> = (0..classes).collect();
        let cm = ConfusionMatrix::from_predictions(&pred, &pred, classes).unwrap();
        let svg = cm.to_svg("100 classes", None).unwrap();
        assert_eq!(cells(&svg).len(), classes * classes);
        // Title, two axis titles, three scale labels and the labels of both axes: no counts.
        assert_eq!(svg.matches("<text").count(), 6 + 2 * classes, "no counts in 10-pixel cells");
        let dir = std::env::temp_dir().join(format!("tessera-cm-{}", std::process::id()));
        crate::fs::create_dir(&dir).unwrap();
        let path = dir.join("confusion_matrix.svg");
        cm.write_svg(&path, "t", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), cm.to_svg("t", None).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
