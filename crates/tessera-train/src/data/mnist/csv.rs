//! MNIST as CSV: one image per line, its label in the first or the last column, the pixels
//! (integers in 0..=255) in the others, an optional header row.

use super::{dataset, gunzip_if_needed, read_file, LabelColumn, MnistOptions, CLASSES};
use crate::data::TensorDataset;
use crate::{Error, Result};
use std::path::Path;

/// Header names that mark the label column.
const LABEL_NAMES: [&str; 4] = ["label", "labels", "class", "target"];

/// The longest field quoted in full in an error message.
const SHOWN_FIELD_CHARS: usize = 24;

/// The rows of a CSV: every value in one vector, `width` per row.
struct Table {
    /// Fields per row: the label and the pixels.
    width: usize,
    /// The values, row after row.
    values: Vec<u8>,
    /// The line number (1-based) of each row.
    lines: Vec<usize>,
    /// The label column the header names, if it names one.
    header_label: Option<LabelColumn>,
}

/// The values of one candidate label column.
struct ColumnStats {
    /// The largest value.
    max: u8,
    /// The line holding it.
    max_line: usize,
    /// How many distinct values the column holds.
    distinct: usize,
}

impl ColumnStats {
    /// Whether every value is a class (an integer below 10).
    fn are_labels(&self) -> bool {
        self.max < CLASSES
    }
}

/// `f` for an error message: cut short, control and invisible characters escaped.
fn short(f: &str) -> String {
    match f.char_indices().nth(SHOWN_FIELD_CHARS) {
        Some((end, _)) => format!("{}...", f[..end].escape_debug()),
        None => f.escape_debug().to_string(),
    }
}

/// A field as a value in 0..=255, or what is wrong with it.
fn cell(f: &str) -> std::result::Result<u8, String> {
    if let Ok(v) = f.parse::<u8>() {
        return Ok(v);
    }
    let digits = f.strip_prefix('-').unwrap_or(f);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is outside 0..=255", short(f)));
    }
    Err(format!("'{}' is not an integer in 0..=255", short(f)))
}

/// Whether the first line is a header: a field that is not a number.
fn is_header(fields: &[&str]) -> bool {
    fields.iter().any(|f| f.parse::<f64>().is_err())
}

/// The label column a header row names (`label` first or last), if exactly one end does.
fn header_label(fields: &[&str]) -> Option<LabelColumn> {
    let is_label = |f: &&str| LABEL_NAMES.contains(&f.trim_matches('"').to_ascii_lowercase().as_str());
    match (fields.first().is_some_and(is_label), fields.last().is_some_and(is_label)) {
        (true, false) => Some(LabelColumn::First),
        (false, true) => Some(LabelColumn::Last),
        _ => None,
    }
}

/// Checks that a row of `width` fields is a label and a square image, e.g. 785 for 28x28.
fn check_width(width: usize, line: usize, path: &Path) -> Result<()> {
    let pixels = width.saturating_sub(1);
    let side = (pixels as f64).sqrt().round() as usize;
    if pixels == 0 || side * side != pixels {
        return Err(Error::bad_data(
            path,
            format!(
                "line {line}: {width} fields, not a label and the pixels of a square image \
                 (785 for MNIST's 28x28 images)"
            ),
        ));
    }
    Ok(())
}

impl Table {
    /// Parses the text, checking every field and that every row is as long as the first line.
    fn parse(text: &str, path: &Path) -> Result<Table> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rows = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
        let Some((first_line, first)) = rows.next() else {
            return Err(Error::bad_data(path, "no examples: the file is empty"));
        };
        let fields: Vec<&str> = first.split(',').map(str::trim).collect();
        let width = fields.len();
        check_width(width, first_line, path)?;
        let header = is_header(&fields);
        let mut table = Table { width, values: Vec::new(), lines: Vec::new(), header_label: None };
        if header {
            table.header_label = header_label(&fields);
        } else {
            table.push_row(first_line, first, first_line, path)?;
        }
        for (line, row) in rows {
            table.push_row(line, row, first_line, path)?;
        }
        if table.lines.is_empty() {
            return Err(Error::bad_data(path, format!("no examples: only the header on line {first_line}")));
        }
        Ok(table)
    }

    /// Appends the values of `row`, line `line`; the first line (`first_line`) sets the width.
    fn push_row(&mut self, line: usize, row: &str, first_line: usize, path: &Path) -> Result<()> {
        let fields = row.split(',').count();
        if fields != self.width {
            let msg = format!("line {line}: {fields} fields, but line {first_line} has {}", self.width);
            return Err(Error::bad_data(path, msg));
        }
        for (col, f) in row.split(',').enumerate() {
            let v = cell(f.trim())
                .map_err(|why| Error::bad_data(path, format!("line {line}, field {}: {why}", col + 1)))?;
            self.values.push(v);
        }
        self.lines.push(line);
        Ok(())
    }

    /// The index of `column` in a row.
    fn index(&self, column: LabelColumn) -> usize {
        match column {
            LabelColumn::First => 0,
            LabelColumn::Last => self.width - 1,
        }
    }

    /// The values of `column`.
    fn column(&self, column: LabelColumn) -> impl Iterator<Item = u8> + '_ {
        self.values.iter().skip(self.index(column)).step_by(self.width).copied()
    }

    /// The largest value of `column`, where it is, and how many distinct values it holds.
    fn stats(&self, column: LabelColumn) -> ColumnStats {
        let (mut seen, mut max, mut row) = ([false; 256], 0, 0);
        for (i, v) in self.column(column).enumerate() {
            seen[v as usize] = true;
            if v > max {
                (max, row) = (v, i);
            }
        }
        ColumnStats { max, max_line: self.lines[row], distinct: seen.iter().filter(|&&s| s).count() }
    }

    /// The label column: `given` (which a header naming the other may not contradict), else the
    /// one the header names, else the only end column whose
    /// values are all classes (0..=9); when both are, the one with more distinct values (then
    /// the larger maximum: MNIST's corner pixels are all 0), and the last on a tie.
    fn label_column(&self, given: Option<LabelColumn>, path: &Path) -> Result<LabelColumn> {
        let (first, last) = (self.stats(LabelColumn::First), self.stats(LabelColumn::Last));
        if let (Some(given), Some(named)) = (given, self.header_label) {
            if given != named {
                let msg = format!(
                    "the header names the {named} column as the label, but the label column was given as the {given}"
                );
                return Err(Error::bad_data(path, msg));
            }
        }
        let column = match given.or(self.header_label) {
            Some(c) => c,
            None if first.are_labels() && last.are_labels() => {
                if (first.distinct, first.max) > (last.distinct, last.max) {
                    LabelColumn::First
                } else {
                    LabelColumn::Last
                }
            }
            None if first.are_labels() => LabelColumn::First,
            None if last.are_labels() => LabelColumn::Last,
            None => return Err(self.no_label_column(&first, &last, path)),
        };
        let stats = if column == LabelColumn::First { &first } else { &last };
        if !stats.are_labels() {
            let msg = format!(
                "the label column (the {column}, column {}) holds {} on line {}: labels are integers in 0..=9 and \
                 values up to 255 are pixels; if the label is the {other} column, pass `--label-column {other}`",
                self.index(column) + 1,
                stats.max,
                stats.max_line,
                other = column.other(),
            );
            return Err(Error::bad_data(path, msg));
        }
        Ok(column)
    }

    /// The error when neither end column holds labels.
    fn no_label_column(&self, first: &ColumnStats, last: &ColumnStats, path: &Path) -> Error {
        Error::bad_data(
            path,
            format!(
                "no label column: the first column holds {} on line {} and the last {} on line {}, which look like \
                 pixels; labels are integers in 0..=9, in the first or the last column (`--label-column first|last`)",
                first.max, first.max_line, last.max, last.max_line
            ),
        )
    }

    /// The dataset, the label taken from `column`.
    fn into_dataset(self, column: LabelColumn) -> Result<TensorDataset> {
        let label_at = self.index(column);
        let labels: Vec<u8> = self.column(column).collect();
        let mut pixels = Vec::with_capacity(self.values.len() - labels.len());
        for row in self.values.chunks_exact(self.width) {
            pixels.extend(row.iter().enumerate().filter(|&(i, _)| i != label_at).map(|(_, &p)| p));
        }
        dataset(&pixels, labels)
    }
}

/// Parses an MNIST CSV (raw or gzipped) from its bytes; `path` names it in errors.
///
/// One image per line: the label (an integer in 0..=9) and the pixels (integers in 0..=255) of a
/// square image, 785 fields for MNIST. Blank lines are skipped, and so is a header row: a first
/// line with a field that is not a number (Kaggle's `label,pixel0,...,pixel783`). The label
/// column is `options.label_column` when given; else the one a header names `label`; else the
/// end column whose values are all in 0..=9 (when both are, the one with more distinct values,
/// and the last on a tie).
///
/// Errors ([`Error::BadData`], naming the file and the line): an empty file or one with a header
/// only, rows of other lengths than the first, a width that is not a label and a square image,
/// fields that are not integers or not in 0..=255, and a label column holding values above 9
/// (it looks like pixels: the message suggests `--label-column`).
pub fn parse_mnist_csv(bytes: &[u8], path: &Path, options: &MnistOptions) -> Result<TensorDataset> {
    let bytes = gunzip_if_needed(bytes, path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::bad_data(path, format!("not UTF-8 text: {e}")))?;
    let table = Table::parse(text, path)?;
    let column = table.label_column(options.label_column, path)?;
    table.into_dataset(column)
}

/// Reads an MNIST CSV (raw or gzipped), detecting its label column; see [`parse_mnist_csv`].
pub fn load_mnist_csv(path: &Path) -> Result<TensorDataset> {
    load_mnist_csv_with(path, &MnistOptions::default())
}

/// Reads an MNIST CSV (raw or gzipped) as `options` say; see [`parse_mnist_csv`].
pub fn load_mnist_csv_with(path: &Path, options: &MnistOptions) -> Result<TensorDataset> {
    parse_mnist_csv(&read_file(path)?, path, options)
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_dir;
    use super::*;

    fn parse(text: &str, label_column: Option<LabelColumn>) -> Result<TensorDataset> {
        parse_mnist_csv(text.as_bytes(), Path::new("x.csv"), &MnistOptions { label_column })
    }

    fn err(text: &str, label_column: Option<LabelColumn>) -> String {
        parse(text, label_column).unwrap_err().to_string()
    }

    fn labels(d: &TensorDataset) -> Vec<u32> {
        d.targets().to_vec::<u32>().unwrap()
    }

    fn pixels(d: &TensorDataset) -> Vec<u8> {
        d.inputs().to_vec::<f32>().unwrap().iter().map(|p| (p * 255.0).round() as u8).collect()
    }

    /// A 28x28 MNIST row: pixel `i` is `i % 256` but the corners are 0, as in MNIST.
    fn mnist_row(label: u8, label_first: bool) -> String {
        let px = (0..784).map(|i| if i == 0 || i == 783 { 0 } else { i % 256 }).map(|p| p.to_string());
        let mut fields: Vec<String> = px.collect();
        if label_first {
            fields.insert(0, label.to_string());
        } else {
            fields.push(label.to_string());
        }
        fields.join(",")
    }

    #[test]
    fn bad_csv_names_line_and_field() {
        let good = mnist_row(3, false);
        let e = err(&format!("{good}\n{}", good.replacen("0", "abc", 1)), None);
        assert_eq!(e, "x.csv: line 2, field 1: 'abc' is not an integer in 0..=255");
        let e = err(&format!("{good}\n{}", good.replacen(",2,", ",256,", 1)), None);
        assert_eq!(e, "x.csv: line 2, field 3: 256 is outside 0..=255");
        let e = err(&format!("{good}\n{}", good.replacen(",2,", ",-1,", 1)), None);
        assert_eq!(e, "x.csv: line 2, field 3: -1 is outside 0..=255");
        let e = err(&format!("{good}\n\n{}", good.replacen(",2,", ",0.5,", 1)), None);
        assert_eq!(e, "x.csv: line 3, field 3: '0.5' is not an integer in 0..=255");
        let e = err(&format!("{good}\n{}", good.replacen(",2,", ",\u{1}x y,", 1)), None);
        assert_eq!(e, "x.csv: line 2, field 3: '\\u{1}x y' is not an integer in 0..=255");
        let e = err(&format!("{good}\n{}", good.replacen(",2,", &format!(",{},", "9".repeat(40)), 1)), None);
        assert_eq!(e, format!("x.csv: line 2, field 3: {}... is outside 0..=255", "9".repeat(24)));
        let e = err(&good.replace(",3", ",11"), Some(LabelColumn::Last));
        assert!(e.starts_with("x.csv: the label column (the last, column 785) holds 11 on line 1:"), "{e}");
        let e = err("1,2,3", None);
        assert_eq!(
            e,
            "x.csv: line 1: 3 fields, not a label and the pixels of a square image (785 for MNIST's 28x28 images)"
        );
        let e = err(&format!("{good}\n{good}\n{}", &good[2..]), None);
        assert_eq!(e, "x.csv: line 3: 784 fields, but line 1 has 785");
        assert_eq!(err("", None), "x.csv: no examples: the file is empty");
        assert_eq!(err("\n  \n", None), "x.csv: no examples: the file is empty");
        assert_eq!(err("\nlabel,a,b,c,d\n", None), "x.csv: no examples: only the header on line 2");
        let e = parse_mnist_csv(&[b'0', b',', 0xff], Path::new("x.csv"), &MnistOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("x.csv: not UTF-8 text"), "{e}");
    }

    #[test]
    fn kaggle_layout_label_first_with_a_header_is_read() {
        let header = std::iter::once("label".to_string()).chain((0..784).map(|i| format!("pixel{i}")));
        let rows = [mnist_row(7, true), mnist_row(2, true), mnist_row(7, true)];
        let text = format!("{}\n{}\n", header.collect::<Vec<_>>().join(","), rows.join("\n"));
        let d = parse(&text, None).unwrap();
        assert_eq!(d.inputs().dims(), &[3, 784]);
        assert_eq!(labels(&d), [7, 2, 7]);
        assert_eq!(pixels(&d)[..3], [0, 1, 2]);
        // Without the header, the label column is detected from the values: pixel 783 (the
        // last column) is always 0, the first column holds several classes.
        let d = parse(&rows.join("\n"), None).unwrap();
        assert_eq!(labels(&d), [7, 2, 7]);
        // Asserting a column the header contradicts, or one that holds pixels, is an error.
        let e = err(&text, Some(LabelColumn::Last));
        assert_eq!(
            e,
            "x.csv: the header names the first column as the label, but the label column was given as the last"
        );
        let e = err("3,0,0,0,200\n", Some(LabelColumn::Last));
        assert_eq!(
            e,
            "x.csv: the label column (the last, column 5) holds 200 on line 1: labels are integers in 0..=9 and values \
             up to 255 are pixels; if the label is the first column, pass `--label-column first`"
        );
    }

    #[test]
    fn label_last_is_read_and_detected() {
        let rows = [mnist_row(4, false), mnist_row(9, false)];
        for given in [None, Some(LabelColumn::Last)] {
            let d = parse(&rows.join("\r\n"), given).unwrap();
            assert_eq!(labels(&d), [4, 9]);
            assert_eq!(pixels(&d)[..3], [0, 1, 2]);
        }
        let e = err("0,0,0,0,1\n17,0,0,0,2", Some(LabelColumn::First));
        assert!(e.contains("(the first, column 1) holds 17 on line 2") && e.contains("`--label-column last`"), "{e}");
        // Small images: 2x2 pixels and a label; a tie between the end columns goes to the last.
        assert_eq!(labels(&parse("0,0,0,0,0\n1,0,0,0,1\n", None).unwrap()), [0, 1]);
        assert_eq!(labels(&parse("5,0,0,0,0\n", None).unwrap()), [5]);
        assert_eq!(labels(&parse("0,0,0,0,5\n", None).unwrap()), [5]);
        let d = parse("a,b,c,d,label\n9,8,7,6,5\n", None).unwrap();
        assert_eq!((labels(&d), pixels(&d)), (vec![5], vec![9, 8, 7, 6]));
        let d = parse("\u{feff}Label,b,c,d,e\n9,8,7,6,5\n", None).unwrap();
        assert_eq!((labels(&d), pixels(&d)), (vec![9], vec![8, 7, 6, 5]));
    }

    #[test]
    fn pixels_at_both_ends_are_no_label_column() {
        let e = err("30,0,0,0,200\n0,1,2,3,4\n", None);
        assert_eq!(
            e,
            "x.csv: no label column: the first column holds 30 on line 1 and the last 200 on line 1, which look like \
             pixels; labels are integers in 0..=9, in the first or the last column (`--label-column first|last`)"
        );
    }

    #[test]
    fn a_gzipped_csv_file_is_read() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let dir = temp_dir("csv");
        let path = dir.join("small.csv.gz");
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(b"1,2,3,4,5\n1,7,8,9,0\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert_eq!(labels(&load_mnist_csv(&path).unwrap()), [5, 0]);
        let first = MnistOptions { label_column: Some(LabelColumn::First) };
        assert_eq!(labels(&load_mnist_csv_with(&path, &first).unwrap()), [1, 1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
