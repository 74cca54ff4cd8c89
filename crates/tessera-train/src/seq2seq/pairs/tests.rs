use super::summary::{line_list, thousands};
use super::*;

fn pair_tuples(set: &PairSet) -> Vec<(&str, &str, usize)> {
    set.pairs.iter().map(|p| (p.source.as_str(), p.target.as_str(), p.line)).collect()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-seq2seq-pairs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn parses_pairs_with_line_numbers_and_ignores_blank_lines() {
    let set = PairSet::parse("t.tsv", "a\tb\n\n   \nc d\te f\n");
    assert_eq!(pair_tuples(&set), vec![("a", "b", 1), ("c d", "e f", 4)]);
    assert!(set.skipped.is_empty());
    assert_eq!(set.len(), 2);
}

#[test]
fn every_problem_kind_is_reported_with_its_line() {
    let text = "ok\tfine\nno tab\n\tempty source\nempty target\t\n   \t x\na\tb\tc\nx\t  \n";
    let set = PairSet::parse("t.tsv", text);
    assert_eq!(pair_tuples(&set), vec![("ok", "fine", 1)]);
    assert_eq!(
        set.skipped,
        vec![
            (2, PairProblem::NoTab),
            (3, PairProblem::EmptySource),
            (4, PairProblem::EmptyTarget),
            (5, PairProblem::EmptySource),
            (6, PairProblem::ExtraColumns { columns: 3 }),
            (7, PairProblem::EmptyTarget),
        ]
    );
}

#[test]
fn a_lone_tab_is_an_empty_pair_not_a_blank_line() {
    let set = PairSet::parse("t.tsv", "a\tb\n\t\n");
    assert_eq!(set.skipped, vec![(2, PairProblem::EmptySource)]);
}

#[test]
fn crlf_and_bom_are_stripped_and_nothing_else() {
    let set = PairSet::parse("t.tsv", "\u{feff}Hello \t Bonjour\r\nmid\u{feff}\tx\r\n");
    assert_eq!(pair_tuples(&set), vec![("Hello ", " Bonjour", 1), ("mid\u{feff}", "x", 2)]);
}

#[test]
fn first_two_columns_ignores_the_rest() {
    let text = "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org\nHi.\tSalut !\n";
    let set = PairSet::parse_with("fra.txt", text, Columns::FirstTwo);
    assert_eq!(pair_tuples(&set), vec![("Go.", "Va !", 1), ("Hi.", "Salut !", 2)]);
    let strict = PairSet::parse("fra.txt", text);
    assert_eq!(strict.skipped, vec![(1, PairProblem::ExtraColumns { columns: 3 })]);
}

#[test]
fn from_pairs_numbers_by_position_and_skips_empty_sides() {
    let set =
        PairSet::from_pairs("mem", vec![("a".into(), "b".into()), ("".into(), "c".into()), ("d".into(), " ".into())]);
    assert_eq!(pair_tuples(&set), vec![("a", "b", 1)]);
    assert_eq!(set.skipped, vec![(2, PairProblem::EmptySource), (3, PairProblem::EmptyTarget)]);
}

#[test]
fn screen_moves_failing_pairs_and_keeps_line_order() {
    let mut set = PairSet::parse("t.tsv", "a\tb\nno tab\nlong one here\tx\ncafé\ty\n");
    set.screen(|p| {
        let tokens = p.source.split(' ').count();
        if tokens > 2 {
            Some(PairProblem::TooLong { side: Side::Source, tokens, max: 2 })
        } else {
            p.source.chars().find(|c| !c.is_ascii()).map(|ch| PairProblem::Unencodable { side: Side::Source, ch })
        }
    });
    assert_eq!(pair_tuples(&set), vec![("a", "b", 1)]);
    assert_eq!(
        set.skipped,
        vec![
            (2, PairProblem::NoTab),
            (3, PairProblem::TooLong { side: Side::Source, tokens: 3, max: 2 }),
            (4, PairProblem::Unencodable { side: Side::Source, ch: 'é' }),
        ]
    );
}

#[test]
fn problems_display_as_short_text() {
    assert_eq!(PairProblem::NoTab.to_string(), "no tab between source and target");
    assert_eq!(PairProblem::ExtraColumns { columns: 4 }.to_string(), "4 tab-separated columns where 2 were expected");
    assert_eq!(PairProblem::EmptySource.to_string(), "empty source");
    assert_eq!(PairProblem::EmptyTarget.to_string(), "empty target");
    assert_eq!(
        PairProblem::TooLong { side: Side::Target, tokens: 40, max: 32 }.to_string(),
        "target of 40 tokens, over the limit of 32"
    );
    assert_eq!(
        PairProblem::Unencodable { side: Side::Source, ch: 'é' }.to_string(),
        "source has 'é' (U+00E9), which the tokenizer cannot encode"
    );
    assert_eq!(PairProblem::Other("duplicate of line 4".into()).to_string(), "duplicate of line 4");
}

#[test]
fn summary_counts_each_kind_with_the_first_lines() {
    let mut lines: Vec<String> = (0..19_880).map(|i| format!("s{i}\tt{i}")).collect();
    lines[3] = "no tab".into();
    lines[16] = "also none".into();
    lines[89] = "nor here".into();
    for i in [4, 5, 6, 200, 300] {
        lines[i] = format!("long{i}\ta b c");
    }
    let mut set = PairSet::parse("train.tsv", &lines.join("\n"));
    set.screen(|p| {
        let tokens = p.target.split(' ').count();
        (tokens > 2).then_some(PairProblem::TooLong { side: Side::Target, tokens, max: 2 })
    });
    assert_eq!(
        set.summary(),
        "train.tsv: 19,872 pairs; 8 lines skipped: 3 without a tab (lines 4, 17, 90), \
         5 with a target over 2 tokens (lines 5, 6, 7, … and 2 more)"
    );
}

#[test]
fn summary_of_a_clean_set_and_of_unencodable_characters() {
    assert_eq!(PairSet::parse("x", "a\tb").summary(), "x: 1 pair; no line skipped");
    let mut set = PairSet::parse("x", "é\t1\nß\t2\né\t3\nok\t4\n");
    set.screen(|p| {
        p.source.chars().find(|c| !c.is_ascii()).map(|ch| PairProblem::Unencodable { side: Side::Source, ch })
    });
    assert_eq!(
        set.summary(),
        "x: 1 pair; 3 lines skipped: 3 with a source character the tokenizer cannot encode ('é' 'ß'; lines 1, 2, 3)"
    );
}

#[test]
fn line_lists_shorten_past_four() {
    assert_eq!(line_list(&[7]), "line 7");
    assert_eq!(line_list(&[1, 2, 3, 4]), "lines 1, 2, 3, 4");
    assert_eq!(line_list(&[1, 2, 3, 4, 1234]), "lines 1, 2, 3, … and 2 more");
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

#[test]
fn ensure_clean_names_the_file_the_counts_and_the_lines() {
    assert!(PairSet::parse("t.tsv", "a\tb\n").ensure_clean().is_ok());
    let err = PairSet::parse("t.tsv", "a\tb\nbad\na\tb\tc\n").ensure_clean().unwrap_err();
    assert!(matches!(err, Error::BadData { .. }));
    assert_eq!(
        err.to_string(),
        "t.tsv: 2 lines skipped: 1 without a tab (line 2), 1 with more than 2 columns (line 3) \
         (strict: every non-blank line must be a pair)"
    );
}

#[test]
fn ensure_nonempty_says_why() {
    assert!(PairSet::parse("t.tsv", "a\tb").ensure_nonempty().is_ok());
    assert_eq!(
        PairSet::parse("t.tsv", "\n\n").ensure_nonempty().unwrap_err().to_string(),
        "t.tsv: no pairs: it is empty or only blank lines"
    );
    assert_eq!(
        PairSet::parse("t.tsv", "x\ny").ensure_nonempty().unwrap_err().to_string(),
        "t.tsv: no pairs: 2 lines skipped: 2 without a tab (lines 1, 2)"
    );
}

#[test]
fn read_names_the_path_and_the_bad_line() {
    let good = temp_file("good.tsv", "\u{feff}a\tb\r\nc\td\r\n".as_bytes());
    let set = PairSet::read(&good).unwrap();
    assert_eq!(set.name, good.display().to_string());
    assert_eq!(pair_tuples(&set), vec![("a", "b", 1), ("c", "d", 2)]);

    let latin1 = temp_file("latin1.tsv", b"a\tb\ncaf\xE9\tx\n");
    let err = PairSet::read(&latin1).unwrap_err();
    assert!(matches!(err, Error::BadData { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 2 is not valid UTF-8 (byte 0xE9 at byte 4 of the line); save the file as UTF-8",
            latin1.display()
        )
    );

    let utf16 = temp_file("utf16.tsv", &[0xFF, 0xFE, b'a', 0, b'\t', 0]);
    assert!(PairSet::read(&utf16).unwrap_err().to_string().contains("UTF-16"));

    let missing = good.with_file_name("missing.tsv");
    let err = PairSet::read(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().starts_with(&missing.display().to_string()));
}

fn numbered(n: usize) -> PairSet {
    PairSet::from_pairs("n", (0..n).map(|i| (format!("s{i}"), format!("t{i}"))).collect())
}

#[test]
fn split_is_disjoint_complete_ordered_and_seeded() {
    let (rest, held) = numbered(1000).split(0.1, 7).unwrap();
    assert_eq!((rest.len(), held.len()), (900, 100));
    assert_eq!(held.name, "n (held out)");
    let mut lines: Vec<usize> = rest.pairs.iter().chain(&held.pairs).map(|p| p.line).collect();
    assert!(rest.pairs.windows(2).all(|w| w[0].line < w[1].line));
    assert!(held.pairs.windows(2).all(|w| w[0].line < w[1].line));
    lines.sort_unstable();
    assert_eq!(lines, (1..=1000).collect::<Vec<_>>());

    let (_, again) = numbered(1000).split(0.1, 7).unwrap();
    assert_eq!(again.pairs, held.pairs);
    let (_, other) = numbered(1000).split(0.1, 8).unwrap();
    assert_ne!(other.pairs, held.pairs);
}

#[test]
fn split_keeps_equal_sources_together() {
    let pairs = (0..300).map(|i| (format!("s{}", i % 30), format!("t{i}"))).collect();
    let (rest, held) = PairSet::from_pairs("dup", pairs).split(0.2, 3).unwrap();
    assert_eq!(held.len(), 60);
    assert!(held.pairs.iter().all(|h| rest.pairs.iter().all(|r| r.source != h.source)));
}

#[test]
fn split_edge_cases() {
    let (rest, held) = numbered(3).split(0.01, 1).unwrap();
    assert_eq!((rest.len(), held.len()), (2, 1));
    let (rest, held) = numbered(3).split(0.99, 1).unwrap();
    assert_eq!((rest.len(), held.len()), (1, 2));
    let (rest, held) = numbered(5).split(0.0, 1).unwrap();
    assert_eq!((rest.len(), held.len()), (5, 0));
    let (rest, held) = numbered(5).split(1.0, 1).unwrap();
    assert_eq!((rest.len(), held.len()), (0, 5));
    let mut skipped = PairSet::parse("s", "a\tb\nbad\nc\td\n");
    skipped.screen(|_| None);
    let (rest, held) = skipped.split(0.5, 1).unwrap();
    assert_eq!((rest.skipped.len(), held.skipped.len()), (1, 0));

    for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        assert!(matches!(numbered(5).split(bad, 1), Err(Error::Config(_))));
    }
    assert!(matches!(numbered(1).split(0.5, 1), Err(Error::Config(_))));
    assert!(matches!(numbered(0).split(0.5, 1), Err(Error::Config(_))));
    let same = PairSet::from_pairs("same", vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
    assert_eq!(
        same.split(0.5, 1).unwrap_err().to_string(),
        "invalid configuration: cannot hold out 0.5 of same: it has 2 pairs with 1 distinct source"
    );
}
