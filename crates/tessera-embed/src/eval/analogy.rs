//! Analogy questions (word2vec's `questions-words.txt` format): accuracy per section, counted as
//! word2vec's `compute-accuracy` counts it.

use super::search::Searcher;
use crate::error::{Error, Place, Result};
use std::path::Path;

/// A section of questions (`: capital-common-countries`).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Its name (after the colon).
    pub name: String,
    /// "a b c d": a is to b as c is to d.
    pub questions: Vec<[String; 4]>,
}

/// Reads an analogy file: `: name` lines start sections, other lines hold four words.
pub fn read_analogies(path: &Path) -> Result<Vec<Section>> {
    let text = tessera_text::io::read_text(path)?;
    parse_analogies(&text, &path.display().to_string())
}

/// [`read_analogies`] on text; `source` names it in errors. Questions before the first section
/// line go into a section named `questions`.
///
/// ```
/// let s = tessera_embed::eval::parse_analogies(": family\nboy girl man woman\n", "q.txt")?;
/// assert_eq!((s[0].name.as_str(), s[0].questions[0][3].as_str()), ("family", "woman"));
/// assert!(tessera_embed::eval::parse_analogies("a b c\n", "q.txt").is_err());
/// # Ok::<(), tessera_embed::Error>(())
/// ```
pub fn parse_analogies(text: &str, source: &str) -> Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(':') {
            sections.push(Section { name: name.trim().to_string(), questions: Vec::new() });
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [a, b, c, d] = words[..] else {
            let reason = format!("expected four words (a b c d) or `: section`, found {} words", words.len());
            return Err(Error::malformed(source, Place::Line(i + 1), reason));
        };
        if sections.is_empty() {
            sections.push(Section { name: "questions".into(), questions: Vec::new() });
        }
        let q = [a, b, c, d].map(str::to_string);
        sections.last_mut().expect("a section exists").questions.push(q);
    }
    Ok(sections)
}

/// Results of one section (or a total).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SectionScore {
    /// The section's name.
    pub name: String,
    /// Questions answered correctly.
    pub correct: usize,
    /// Questions with all four words among the searched ones (the ones asked).
    pub asked: usize,
    /// Questions left out because a word is missing.
    pub oov: usize,
}

impl SectionScore {
    /// `correct / asked` (0 when nothing was asked).
    pub fn accuracy(&self) -> f64 {
        if self.asked == 0 {
            0.0
        } else {
            self.correct as f64 / self.asked as f64
        }
    }

    fn add(&mut self, other: &SectionScore) {
        self.correct += other.correct;
        self.asked += other.asked;
        self.oov += other.oov;
    }
}

/// Accuracy per section and in total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalogyScore {
    /// Each section, in file order.
    pub sections: Vec<SectionScore>,
    /// Sections whose name does not start with `gram` (the original file's semantic half).
    pub semantic: SectionScore,
    /// Sections whose name starts with `gram`.
    pub syntactic: SectionScore,
    /// All sections.
    pub total: SectionScore,
}

/// Answers every question whose four words are among `searcher`'s (matched ignoring case) by
/// 3CosAdd, the three given words excluded; a question counts as correct when the best answer
/// is the fourth word. `threads` threads share the questions.
pub fn evaluate_analogies(searcher: &Searcher<'_>, sections: &[Section], threads: usize) -> AnalogyScore {
    let mut queries = Vec::new();
    let mut expected = Vec::new();
    let mut scores: Vec<SectionScore> = Vec::with_capacity(sections.len());
    for (s, section) in sections.iter().enumerate() {
        let mut score = SectionScore { name: section.name.clone(), ..SectionScore::default() };
        for q in &section.questions {
            let ids: Vec<Option<u32>> = q.iter().map(|w| searcher.id_folded(w)).collect();
            match ids[..] {
                [Some(a), Some(b), Some(c), Some(d)] => {
                    queries.push((searcher.analogy_query(a, b, c), [a, b, c]));
                    expected.push((s, d));
                    score.asked += 1;
                }
                _ => score.oov += 1,
            }
        }
        scores.push(score);
    }
    let answers = searcher.best_batch(&queries, threads);
    for (answer, (s, d)) in answers.into_iter().zip(expected) {
        if answer == Some(d) {
            scores[s].correct += 1;
        }
    }
    let named = |name: &str| SectionScore { name: name.into(), ..SectionScore::default() };
    let (mut semantic, mut syntactic, mut total) = (named("semantic"), named("syntactic"), named("total"));
    for s in &scores {
        if s.name.starts_with("gram") {
            syntactic.add(s);
        } else {
            semantic.add(s);
        }
        total.add(s);
    }
    AnalogyScore { sections: scores, semantic, syntactic, total }
}
