//! The per-class table of a [`ClassificationReport`], laid out as scikit-learn's
//! `classification_report` prints it (same columns, widths and rows).

use super::{class_labels, ClassMetrics, ClassificationReport};
use crate::Result;
use std::fmt;

impl ClassificationReport {
    /// The table with `labels` naming the classes (one per class; `None`: the class indices)
    /// and `digits` decimals, exactly as scikit-learn's `classification_report(y_true, y_pred,
    /// labels=range(classes), target_names=labels, digits=digits, zero_division=0)` returns it:
    /// a header, one row per class, then `accuracy`, `macro avg` and `weighted avg`.
    pub fn format(&self, labels: Option<&[String]>, digits: usize) -> Result<String> {
        let labels = class_labels(self.classes.len(), labels)?;
        let heading = "weighted avg";
        let name_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let width = name_width.max(heading.len()).max(digits);
        let mut out = format!("{:>width$} ", "");
        for h in ["precision", "recall", "f1-score", "support"] {
            out.push_str(&format!(" {h:>9}"));
        }
        out.push_str("\n\n");
        let row = |out: &mut String, name: &str, m: &ClassMetrics| {
            out.push_str(&format!(
                "{name:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}\n",
                m.precision, m.recall, m.f1, m.support
            ));
        };
        for (name, m) in labels.iter().zip(&self.classes) {
            row(&mut out, name, m);
        }
        out.push('\n');
        let total = self.macro_avg.support;
        out.push_str(&format!("{:>width$}  {:>9} {:>9} {:>9.digits$} {total:>9}\n", "accuracy", "", "", self.accuracy));
        row(&mut out, "macro avg", &self.macro_avg);
        row(&mut out, heading, &self.weighted_avg);
        Ok(out)
    }
}

/// The table with class indices as labels and 2 decimals (scikit-learn's defaults).
impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Labels from the indices always match the class count.
        f.write_str(&self.format(None, 2).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sklearn_case;

    #[test]
    fn table_is_scikit_learns_to_the_character() {
        let report = sklearn_case().report();
        // `classification_report(yt, yp, labels=range(5), zero_division=0)`, scikit-learn 1.9.
        let expected = "              precision    recall  f1-score   support\n\n           0       1.00      0.75      0.86         4\n           1       0.50      0.67      0.57         3\n           2       0.75      0.60      0.67         5\n           3       0.00      0.00      0.00         0\n           4       0.00      0.00      0.00         0\n\n    accuracy                           0.67        12\n   macro avg       0.45      0.40      0.42        12\nweighted avg       0.77      0.67      0.71        12\n";
        assert_eq!(report.to_string(), expected);
        // The same with `target_names` and `digits=4`.
        let names: Vec<String> = ["zero", "one", "two", "three", "four"].map(String::from).to_vec();
        let expected = "              precision    recall  f1-score   support\n\n        zero     1.0000    0.7500    0.8571         4\n         one     0.5000    0.6667    0.5714         3\n         two     0.7500    0.6000    0.6667         5\n       three     0.0000    0.0000    0.0000         0\n        four     0.0000    0.0000    0.0000         0\n\n    accuracy                         0.6667        12\n   macro avg     0.4500    0.4033    0.4190        12\nweighted avg     0.7708    0.6667    0.7063        12\n";
        assert_eq!(report.format(Some(&names), 4).unwrap(), expected);
    }

    #[test]
    fn long_labels_widen_the_first_column_and_a_wrong_count_is_refused() {
        let report = sklearn_case().report();
        let names: Vec<String> = (0..5).map(|i| format!("a rather long class {i}")).collect();
        let text = report.format(Some(&names), 2).unwrap();
        assert!(text.lines().all(|l| l.is_empty() || l.len() == names[0].len() + 1 + 4 * 10), "{text}");
        let e = report.format(Some(&names[..2]), 2).unwrap_err();
        assert!(e.to_string().contains("2 class labels for 5 classes"), "{e}");
    }
}
