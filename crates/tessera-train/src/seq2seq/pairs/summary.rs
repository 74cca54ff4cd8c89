//! The summary of skipped lines: counted per kind of problem with the first line numbers.

use super::PairProblem;

/// "126 lines skipped: 3 without a tab (lines 4, 17, 90), …".
pub(super) fn skipped_text(skipped: &[(usize, PairProblem)]) -> String {
    let mut groups: Vec<Group> = Vec::new();
    for (line, problem) in skipped {
        let label = group_label(problem);
        let i = match groups.iter().position(|g| g.label == label) {
            Some(i) => i,
            None => {
                groups.push(Group { label, lines: Vec::new(), chars: Vec::new() });
                groups.len() - 1
            }
        };
        let group = &mut groups[i];
        group.lines.push(*line);
        if let PairProblem::Unencodable { ch, .. } = problem {
            if !group.chars.contains(ch) {
                group.chars.push(*ch);
            }
        }
    }
    let parts: Vec<String> = groups.iter().map(Group::describe).collect();
    format!("{} skipped: {}", counted(skipped.len(), "line", "lines"), parts.join(", "))
}

/// The skipped lines of one kind, for the summary.
struct Group {
    label: String,
    lines: Vec<usize>,
    chars: Vec<char>,
}

impl Group {
    /// "3 without a tab (lines 4, 17, 90)".
    fn describe(&self) -> String {
        const CHARS_SHOWN: usize = 5;
        let mut inside = String::new();
        if !self.chars.is_empty() {
            let shown: Vec<String> = self.chars.iter().take(CHARS_SHOWN).map(|c| format!("{c:?}")).collect();
            inside.push_str(&shown.join(" "));
            if self.chars.len() > CHARS_SHOWN {
                inside.push_str(" …");
            }
            inside.push_str("; ");
        }
        inside.push_str(&line_list(&self.lines));
        format!("{} {} ({inside})", thousands(self.lines.len()), self.label)
    }
}

/// What follows the count in the summary; problems with the same label are counted together.
fn group_label(problem: &PairProblem) -> String {
    match problem {
        PairProblem::NoTab => "without a tab".into(),
        PairProblem::ExtraColumns { .. } => "with more than 2 columns".into(),
        PairProblem::EmptySource => "with an empty source".into(),
        PairProblem::EmptyTarget => "with an empty target".into(),
        PairProblem::TooLong { side, max, .. } => format!("with a {side} over {max} tokens"),
        PairProblem::Unencodable { side, .. } => format!("with a {side} character the tokenizer cannot encode"),
        PairProblem::Other(reason) => format!("rejected: {reason}"),
    }
}

/// "line 4", "lines 4, 17, 90", "lines 5, 6, 7, … and 117 more".
pub(super) fn line_list(lines: &[usize]) -> String {
    const SHOWN: usize = 3;
    let show = |ls: &[usize]| ls.iter().map(|l| thousands(*l)).collect::<Vec<_>>().join(", ");
    match lines.len() {
        1 => format!("line {}", thousands(lines[0])),
        n if n <= SHOWN + 1 => format!("lines {}", show(lines)),
        n => format!("lines {}, … and {} more", show(&lines[..SHOWN]), thousands(n - SHOWN)),
    }
}

/// "1 pair", "19,874 pairs".
pub(super) fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// 19874 → "19,874".
pub(super) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
