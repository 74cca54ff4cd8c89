//! Attention maps as SVG, written by hand like the other pictures of [`plot`](crate::plot): one
//! heatmap per attention matrix (queries down, keys across), the panels in a grid (e.g. a row
//! per layer, a column per head), tokens along both axes, one colour scale.

use super::{escape, shade};
use crate::{Error, Result};
use std::fmt::Write;
use std::path::Path;

/// One attention matrix to draw: rows are the queries (e.g. target tokens), columns the keys
/// (source tokens).
#[derive(Debug, Clone)]
pub struct AttentionPanel {
    /// Written above the panel (e.g. `layer 0 head 1`).
    pub title: String,
    /// The query tokens, top to bottom.
    pub rows: Vec<String>,
    /// The key tokens, left to right.
    pub cols: Vec<String>,
    /// `rows.len() * cols.len()` weights, row-major: row `i` is what query `i` gives each key.
    pub weights: Vec<f32>,
}

/// The side of a panel's matrix that cells aim for, in pixels.
const TARGET: f64 = 360.0;
/// Cells are never smaller (long sequences give large pictures, not unreadable ones) ...
const MIN_CELL: f64 = 6.0;
/// ... nor larger (a few tokens do not give giant squares).
const MAX_CELL: f64 = 28.0;
/// Labels longer than this many characters are cut, ending in `…`.
const MAX_LABEL: usize = 16;
/// The top of the grid, below the title and the caption.
const TOP: f64 = 56.0;
const MARGIN: f64 = 16.0;
const GAP: f64 = 24.0;
/// Room for a panel's title above its column labels.
const PANEL_TITLE: f64 = 20.0;
const SCALE_WIDTH: f64 = 110.0;
/// The colour of a weight that is NaN or infinite.
const NOT_FINITE: &str = "#e7298a";

/// An SVG of the panels in a grid of `columns` panels a row (at least 1; e.g. one row of panels
/// per layer, one column per head), under `title`. Every panel is a heatmap of its weights
/// (0 white, 1 dark blue, as the colour scale beside the grid shows; NaN and infinities in a
/// colour of their own, explained under the scale when there are any), its title above it, the
/// column tokens written upwards above the matrix and the row tokens to its left. Whitespace in
/// tokens is made visible (`␣` for a space, `⏎` for a newline, `⇥` for a tab, `∅` for an empty
/// token) and tokens longer than 16 characters are cut.
///
/// Cells are 28 pixels for a few tokens, shrinking to fill about 360 pixels, but never below 6
/// (200 tokens make a panel of 1200 pixels); the labels' font shrinks with the cells from 12
/// pixels to 5. All panels share one cell size. Each panel is a `<g class="panel">` with a
/// `data-title` attribute.
///
/// Errors ([`Error::Config`]) when there are no panels, or a panel's weights are not
/// `rows × cols`.
pub fn attention_map_svg(title: &str, panels: &[AttentionPanel], columns: usize) -> Result<String> {
    if panels.is_empty() {
        return Err(Error::Config(format!("attention map `{title}`: no panels to draw")));
    }
    for (i, p) in panels.iter().enumerate() {
        let (r, c) = (p.rows.len(), p.cols.len());
        if p.weights.len() != r * c {
            return Err(Error::Config(format!(
                "attention map: panel {i} `{}` has {} weights for {r} rows × {c} columns ({} expected)",
                p.title,
                p.weights.len(),
                r * c
            )));
        }
    }
    let layout = Layout::new(title, panels, columns);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{:.1}" height="{:.1}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{:.1}" y="24" text-anchor="middle" font-size="15">{}</text><text x="{:.1}" y="42" text-anchor="middle" font-size="11" fill="#555">rows: queries · columns: keys</text>"##,
        layout.width,
        layout.height,
        layout.width / 2.0,
        xml(title),
        layout.width / 2.0,
    );
    for (i, panel) in panels.iter().enumerate() {
        let (x, y) = layout.origin(i);
        layout.draw_panel(&mut svg, panel, x, y);
    }
    let not_finite = panels.iter().any(|p| p.weights.iter().any(|w| !w.is_finite()));
    layout.draw_scale(&mut svg, not_finite);
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// Writes [`attention_map_svg`]'s picture to `path` atomically (a temporary file beside it, then
/// renamed: a reader never sees half a picture).
pub fn write_attention_map(path: &Path, title: &str, panels: &[AttentionPanel], columns: usize) -> Result<()> {
    crate::fs::write_atomic(path, attention_map_svg(title, panels, columns)?.as_bytes())
}

/// Sizes shared by every panel of one picture.
struct Layout {
    columns: usize,
    cell: f64,
    font: f64,
    /// Room for the longest label: left of the matrices, and above them.
    label: f64,
    slot_w: f64,
    slot_h: f64,
    /// The scale's left edge and length.
    scale_x: f64,
    scale_len: f64,
    width: f64,
    height: f64,
}

impl Layout {
    fn new(title: &str, panels: &[AttentionPanel], columns: usize) -> Layout {
        let columns = columns.clamp(1, panels.len());
        let grid_rows = panels.len().div_ceil(columns);
        let max_rows = panels.iter().map(|p| p.rows.len()).max().unwrap_or(0);
        let max_cols = panels.iter().map(|p| p.cols.len()).max().unwrap_or(0);
        let n = max_rows.max(max_cols).max(1) as f64;
        // In tenths of a pixel, so that cells meet exactly where the coordinates are rounded.
        let cell = ((TARGET / n).clamp(MIN_CELL, MAX_CELL) * 10.0).floor() / 10.0;
        let font = (cell * 0.75).clamp(5.0, 12.0);
        let longest = panels
            .iter()
            .flat_map(|p| p.rows.iter().chain(&p.cols))
            .map(|t| visible(t).chars().count())
            .max()
            .unwrap_or(1);
        // About 0.62 of the font size per character of sans-serif text.
        let label = longest as f64 * font * 0.62 + 6.0;
        let slot_w = label + max_cols as f64 * cell + GAP;
        let slot_h = PANEL_TITLE + label + max_rows as f64 * cell + GAP;
        let scale_x = MARGIN + columns as f64 * slot_w;
        let scale_len = (max_rows as f64 * cell).clamp(80.0, 240.0);
        let width = (scale_x + SCALE_WIDTH).max(title.chars().count() as f64 * 8.5 + 40.0);
        let height = (TOP + grid_rows as f64 * slot_h + MARGIN).max(TOP + PANEL_TITLE + label + scale_len + 60.0);
        Layout { columns, cell, font, label, slot_w, slot_h, scale_x, scale_len, width, height }
    }

    /// The top-left corner of panel `i`'s slot.
    fn origin(&self, i: usize) -> (f64, f64) {
        let (row, col) = (i / self.columns, i % self.columns);
        (MARGIN + col as f64 * self.slot_w, TOP + row as f64 * self.slot_h)
    }

    /// Panel `p` in the slot at `(x, y)`: title, labels, matrix.
    fn draw_panel(&self, svg: &mut String, p: &AttentionPanel, x: f64, y: f64) {
        let (cell, font) = (self.cell, self.font);
        let (w, h) = (p.cols.len() as f64 * cell, p.rows.len() as f64 * cell);
        // The matrix's corner, inside the panel's group.
        let (mx, my) = (self.label, PANEL_TITLE + self.label);
        let blank = shade(0.0).0;
        let _ = write!(
            svg,
            r#"<g class="panel" data-title="{}" transform="translate({x:.1} {y:.1})"><text x="{:.1}" y="14" text-anchor="middle" font-weight="bold">{}</text><rect x="{mx:.1}" y="{my:.1}" width="{w:.1}" height="{h:.1}" fill="{blank}"/><g shape-rendering="crispEdges">"#,
            xml(&p.title),
            mx + w / 2.0,
            xml(&p.title),
        );
        let n_cols = p.cols.len().max(1);
        for (i, &v) in p.weights.iter().enumerate() {
            let fill = match v.is_finite() {
                true if v == 0.0 => continue, // the background's colour already
                true => shade(v as f64).0,
                false => NOT_FINITE.to_string(),
            };
            let (r, c) = (i / n_cols, i % n_cols);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{cell}" height="{cell}" fill="{fill}"/>"#,
                mx + c as f64 * cell,
                my + r as f64 * cell
            );
        }
        let _ = write!(
            svg,
            r##"</g><rect x="{mx:.1}" y="{my:.1}" width="{w:.1}" height="{h:.1}" fill="none" stroke="#444"/><g font-size="{font:.1}">"##
        );
        for (r, token) in p.rows.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                mx - 4.0,
                my + (r as f64 + 0.5) * cell + font * 0.35,
                xml(&visible(token))
            );
        }
        for (c, token) in p.cols.iter().enumerate() {
            // Written upwards from just above the matrix.
            let (tx, ty) = (mx + (c as f64 + 0.5) * cell + font * 0.35, my - 4.0);
            let _ = write!(
                svg,
                r#"<text x="{tx:.1}" y="{ty:.1}" transform="rotate(-90 {tx:.1} {ty:.1})">{}</text>"#,
                xml(&visible(token))
            );
        }
        svg.push_str("</g></g>");
    }

    /// The colour scale right of the grid, level with the first row of matrices: 1 (top) to 0,
    /// and the colour of weights that are not finite when there are some.
    fn draw_scale(&self, svg: &mut String, not_finite: bool) {
        let (x, top, len) = (self.scale_x, TOP + PANEL_TITLE + self.label, self.scale_len);
        let (dark, light) = (shade(1.0).0, shade(0.0).0);
        let _ = write!(
            svg,
            r##"<defs><linearGradient id="attention-scale" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{dark}"/><stop offset="1" stop-color="{light}"/></linearGradient></defs><rect x="{x:.1}" y="{top:.1}" width="14" height="{len:.1}" fill="url(#attention-scale)" stroke="#444"/><text x="{:.1}" y="{:.1}">1</text><text x="{:.1}" y="{:.1}">0</text><text x="{cx:.1}" y="{cy:.1}" text-anchor="middle" transform="rotate(90 {cx:.1} {cy:.1})">attention weight</text>"##,
            x + 18.0,
            top + 10.0,
            x + 18.0,
            top + len,
            cx = x + 40.0,
            cy = top + len / 2.0,
        );
        if not_finite {
            let y = top + len + 16.0;
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="14" height="14" fill="{NOT_FINITE}" stroke="#444"/><text x="{:.1}" y="{:.1}" font-size="11">not finite</text>"##,
                x + 18.0,
                y + 11.0
            );
        }
    }
}

/// `token` as a label: whitespace and control characters made visible, an empty token `∅`, at
/// most [`MAX_LABEL`] characters (the last `…` when cut).
fn visible(token: &str) -> String {
    if token.is_empty() {
        return "∅".into();
    }
    let shown: Vec<char> = token
        .chars()
        .map(|c| match c {
            ' ' => '␣',
            '\n' => '⏎',
            '\t' => '⇥',
            // The other C0 controls (not allowed in XML) as their control pictures (U+2400 on).
            c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '␡',
            c if c.is_whitespace() => '␣',
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect();
    match shown.len() > MAX_LABEL {
        true => shown[..MAX_LABEL - 1].iter().chain(['…'].iter()).collect(),
        false => shown.into_iter().collect(),
    }
}

/// `s` escaped for SVG text and attribute values: [`escape`] and both quotes.
fn xml(s: &str) -> String {
    escape(s).replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests;
