//! A saliency picture as SVG: the image, its attribution heatmap and the heatmap over the image,
//! side by side under a title.

use crate::plot::escape;
use std::fmt::Write;

/// Pixels of each panel's side at most.
const PANEL: f64 = 224.0;
const GAP: f64 = 24.0;
const TOP: f64 = 56.0;

/// An SVG of a grayscale `image` (`height × width` values, any range: shown from its minimum,
/// black, to its maximum, white) beside its `attribution` (same size) as a heatmap (red positive,
/// blue negative, white zero, scaled by the largest magnitude) and as an overlay on the image,
/// with `title` above (e.g. the predicted and true classes).
pub fn saliency_svg(image: &[f32], attribution: &[f32], height: usize, width: usize, title: &str) -> String {
    let cell = (PANEL / height.max(width).max(1) as f64).max(1.0);
    let (pw, ph) = (cell * width as f64, cell * height as f64);
    let total_w = 3.0 * pw + 4.0 * GAP;
    let (lo, hi) = range(image);
    let scale = attribution.iter().fold(0f32, |m, &a| m.max(a.abs())).max(f32::MIN_POSITIVE);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{}" font-family="sans-serif" font-size="13"><rect width="100%" height="100%" fill="white"/><text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        TOP + ph + 16.0,
        total_w / 2.0,
        escape(title)
    );
    let captions = ["image", "attribution", "overlay"];
    for (panel, caption) in captions.iter().enumerate() {
        let x0 = GAP + panel as f64 * (pw + GAP);
        let _ = write!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{caption}</text>"#, x0 + pw / 2.0, TOP - 8.0);
        for r in 0..height {
            for c in 0..width {
                let i = r * width + c;
                let gray = image.get(i).map_or(0.0, |&v| (v - lo) / (hi - lo));
                let a = attribution.get(i).map_or(0.0, |&v| v / scale);
                let fill = match panel {
                    0 => rgb(gray, gray, gray),
                    1 => diverging(a),
                    _ => {
                        // The image dimmed, with the heat mixed in by its strength.
                        let base = 0.6 * gray;
                        let (hr, hg, hb) = diverging_rgb(a);
                        let k = a.abs();
                        rgb(base * (1.0 - k) + hr * k, base * (1.0 - k) + hg * k, base * (1.0 - k) + hb * k)
                    }
                };
                let _ = write!(
                    svg,
                    r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{fill}"/>"#,
                    x0 + c as f64 * cell,
                    TOP + r as f64 * cell,
                    cell + 0.05,
                    cell + 0.05
                );
            }
        }
        let _ = write!(svg, r#"<rect x="{x0}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The minimum and maximum of `values`, apart by at least a tiny amount.
fn range(values: &[f32]) -> (f32, f32) {
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    (lo, if hi > lo { hi } else { lo + 1.0 })
}

/// Blue (-1) through white (0) to red (+1), as fractions.
fn diverging_rgb(a: f32) -> (f32, f32, f32) {
    let a = a.clamp(-1.0, 1.0);
    if a >= 0.0 {
        (1.0, 1.0 - a, 1.0 - a)
    } else {
        (1.0 + a, 1.0 + a, 1.0)
    }
}

fn diverging(a: f32) -> String {
    let (r, g, b) = diverging_rgb(a);
    rgb(r, g, b)
}

fn rgb(r: f32, g: f32, b: f32) -> String {
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    format!("#{:02x}{:02x}{:02x}", byte(r), byte(g), byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_panels_of_every_pixel_and_the_title() {
        let image = [0.0, 0.5, 1.0, 0.25];
        let attr = [1.0, -1.0, 0.0, 0.5];
        let svg = saliency_svg(&image, &attr, 2, 2, "predicted 3 <true 5>");
        assert_eq!(svg.matches("<rect x=").count(), 3 * 4 + 3);
        assert!(svg.contains("predicted 3 &lt;true 5&gt;"));
        // The strongest positive attribution is pure red, the strongest negative pure blue.
        assert!(svg.contains("#ff0000") && svg.contains("#0000ff"));
    }

    #[test]
    fn diverging_colours_are_white_at_zero() {
        assert_eq!(diverging(0.0), "#ffffff");
        assert_eq!(diverging(2.0), "#ff0000");
    }
}
