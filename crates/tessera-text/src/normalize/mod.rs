//! Text normalisation: composable steps applied in order.

mod aligned;

pub use aligned::NormalizedText;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// One normalisation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalizeStep {
    /// Unicode canonical composition (NFC).
    Nfc,
    /// Unicode compatibility composition (NFKC).
    Nfkc,
    /// Unicode canonical decomposition (NFD).
    Nfd,
    /// Unicode lower case.
    Lowercase,
    /// Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space to their ASCII forms.
    FullwidthToHalfwidth,
    /// Remove accents: decompose (NFD) and drop combining marks.
    StripAccents,
    /// Remove control characters, keeping tab, line feed and carriage return.
    RemoveControl,
}

/// A sequence of normalisation steps, built with chained calls.
///
/// ```
/// use tessera_text::Normalizer;
/// let n = Normalizer::new().fullwidth_to_halfwidth().strip_accents().lowercase();
/// assert_eq!(n.normalize("Ｃａｆé\u{7}ÉTÉ"), "cafe\u{7}ete");
/// let n = n.remove_control();
/// assert_eq!(n.normalize("a\u{7}b"), "ab");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalizer {
    steps: Vec<NormalizeStep>,
}

impl Normalizer {
    /// An empty normaliser (the identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// A normaliser running `steps` in order.
    pub fn from_steps(steps: Vec<NormalizeStep>) -> Self {
        Self { steps }
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[NormalizeStep] {
        &self.steps
    }

    /// Appends a step.
    pub fn then(mut self, step: NormalizeStep) -> Self {
        self.steps.push(step);
        self
    }

    /// Appends NFC.
    pub fn nfc(self) -> Self {
        self.then(NormalizeStep::Nfc)
    }

    /// Appends NFKC.
    pub fn nfkc(self) -> Self {
        self.then(NormalizeStep::Nfkc)
    }

    /// Appends NFD.
    pub fn nfd(self) -> Self {
        self.then(NormalizeStep::Nfd)
    }

    /// Appends lower-casing.
    pub fn lowercase(self) -> Self {
        self.then(NormalizeStep::Lowercase)
    }

    /// Appends full-width to half-width conversion.
    pub fn fullwidth_to_halfwidth(self) -> Self {
        self.then(NormalizeStep::FullwidthToHalfwidth)
    }

    /// Appends accent stripping.
    pub fn strip_accents(self) -> Self {
        self.then(NormalizeStep::StripAccents)
    }

    /// Appends control-character removal.
    pub fn remove_control(self) -> Self {
        self.then(NormalizeStep::RemoveControl)
    }

    /// The normalisation BERT's uncased models use: control removal, lower case, accent
    /// stripping (in that order, so that marks produced by lower-casing, as in `İ`, go too).
    pub fn bert_uncased() -> Self {
        Self::new().remove_control().lowercase().strip_accents()
    }

    /// Applies every step in order.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = text.to_string();
        for step in &self.steps {
            out = apply_step(*step, &out);
        }
        out
    }
}

pub(crate) fn apply_step(step: NormalizeStep, text: &str) -> String {
    match step {
        NormalizeStep::Nfc => text.nfc().collect(),
        NormalizeStep::Nfkc => text.nfkc().collect(),
        NormalizeStep::Nfd => text.nfd().collect(),
        NormalizeStep::Lowercase => text.to_lowercase(),
        NormalizeStep::FullwidthToHalfwidth => text.chars().map(fullwidth_to_halfwidth).collect(),
        NormalizeStep::StripAccents => text.nfd().filter(|c| !is_combining_mark(*c)).collect(),
        NormalizeStep::RemoveControl => {
            text.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect()
        }
    }
}

/// Maps one full-width character to its half-width form; other characters are unchanged.
pub fn fullwidth_to_halfwidth(c: char) -> char {
    match c as u32 {
        0x3000 => ' ',
        code @ 0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_composes_and_nfkc_folds_compatibility() {
        assert_eq!(Normalizer::new().nfc().normalize("e\u{301}"), "\u{e9}");
        assert_eq!(Normalizer::new().nfkc().normalize("ﬁ①"), "fi1");
    }

    #[test]
    fn fullwidth_and_ideographic_space() {
        let n = Normalizer::new().fullwidth_to_halfwidth();
        assert_eq!(n.normalize("ＡＢＣ　１２３！"), "ABC 123!");
        assert_eq!(n.normalize("中文"), "中文");
    }

    #[test]
    fn steps_compose_in_order() {
        let n = Normalizer::bert_uncased();
        assert_eq!(n.normalize("Ölçek\u{0}\tX"), "olcek\tx");
        assert_eq!(Normalizer::new().normalize("As Is"), "As Is");
        let n = Normalizer::bert_uncased();
        assert_eq!(n.normalize("İstanbul"), "istanbul");
    }
}
