//! sacreBLEU's `13a` tokenizer, the mteval-v13a.pl tokenization WMT reports BLEU with.

use super::pystr;

/// Tokenizes one line as sacreBLEU's `13a` tokenizer does, returning the tokens joined by single
/// spaces.
///
/// The steps, in sacreBLEU's order:
/// 1. remove `<skipped>`, join `-\n` line breaks (`"hy-\nphen"` becomes `"hyphen"`), turn the
///    remaining `\n` into spaces;
/// 2. unescape `&quot;`, `&amp;`, `&lt;`, `&gt;` (in that order, once each);
/// 3. put spaces around the ASCII symbols ``{|}~[\]^_` !"#$%&()*+:;<=>?@/``;
/// 4. split `.` and `,` off unless they sit between digits (`3.14` and `1,000` stay whole);
/// 5. split `-` off after a digit (`1999-03-03` becomes `1999 - 03 - 03`; `well-known` stays);
/// 6. collapse whitespace.
///
/// sacreBLEU's BLEU also strips trailing whitespace (and lowercases, when asked) before calling
/// the tokenizer; [`Bleu`](super::Bleu) does the same.
///
/// ```
/// use tessera_text::metrics::tokenize_13a;
/// assert_eq!(tokenize_13a("It's 3.14, not 1999-03-03!"), "It's 3.14 , not 1999 - 03 - 03 !");
/// assert_eq!(tokenize_13a("Tom &amp; Jerry <skipped>(a well-known cartoon)."), "Tom & Jerry ( a well-known cartoon ) .");
/// ```
pub fn tokenize_13a(line: &str) -> String {
    let mut text = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if text.contains('&') {
        text = text.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }

    // sacreBLEU pads the line with a space on each side before the regex rules, which matters
    // for a `.` or `,` at the very start or end.
    let mut chars = Vec::with_capacity(text.len() + 16);
    for c in std::iter::once(' ').chain(text.chars()).chain(std::iter::once(' ')) {
        if is_symbol(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    // Each rule is a regex matching two characters, applied left to right without overlaps.
    let chars = replace_pairs(&chars, |a| !is_digit(a), is_period_or_comma, |a, b| [a, ' ', b, ' ']);
    let chars = replace_pairs(&chars, is_period_or_comma, |b| !is_digit(b), |a, b| [' ', a, ' ', b]);
    let chars = replace_pairs(&chars, is_digit, |b| b == '-', |a, b| [a, ' ', b, ' ']);

    let text: String = chars.into_iter().collect();
    let mut out = String::with_capacity(text.len());
    for word in pystr::split(&text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The characters of mteval's first rule, `[\{-\~\[-\` -\&\(-\+\:-\@\/]`.
fn is_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_period_or_comma(c: char) -> bool {
    c == '.' || c == ','
}

/// Python's `re.sub` for a pattern `(A)(B)` of two one-character classes: scans left to right,
/// and after a match resumes after its second character.
fn replace_pairs(
    chars: &[char],
    first: impl Fn(char) -> bool,
    second: impl Fn(char) -> bool,
    replacement: impl Fn(char, char) -> [char; 4],
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match chars.get(i + 1) {
            Some(&next) if first(c) && second(next) => {
                out.extend(replacement(c, next));
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_commas_between_digits_stay() {
        assert_eq!(tokenize_13a("1,000.5 and 3.14."), "1,000.5 and 3.14 .");
        assert_eq!(tokenize_13a(".5 5."), ". 5 5 .");
        assert_eq!(tokenize_13a("a..b"), "a . . b");
    }

    #[test]
    fn empty_and_blank_lines() {
        assert_eq!(tokenize_13a(""), "");
        assert_eq!(tokenize_13a(" \t "), "");
        assert_eq!(tokenize_13a("<skipped>"), "");
    }
}
