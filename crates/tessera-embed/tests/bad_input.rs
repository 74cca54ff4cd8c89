//! Malformed vector, corpus and evaluation files: clear errors naming the place, never a panic.

use tessera_embed::{eval, format, CorpusBuilder, Format, Lang, Place};

fn text_err(text: &str, fmt: Format) -> String {
    format::read_from(text.as_bytes(), fmt, "v.txt", Some(text.len() as u64)).unwrap_err().to_string()
}

fn binary(header: &str, records: &[(&[u8], Vec<f32>)]) -> Vec<u8> {
    let mut b = header.as_bytes().to_vec();
    for (w, v) in records {
        b.extend_from_slice(w);
        b.push(b' ');
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        b.push(b'\n');
    }
    b
}

fn binary_err(bytes: &[u8]) -> String {
    format::read_from(bytes, Format::Binary, "v.bin", Some(bytes.len() as u64)).unwrap_err().to_string()
}

#[test]
fn header_and_rows_must_agree() {
    assert_eq!(
        text_err("3 2\na 1 2\nb 3 4\n", Format::Text),
        "v.txt: end of file: the header announces 3 words, the file has 2 rows"
    );
    assert_eq!(
        text_err("1 2\na 1 2\nb 3 4\n", Format::Text),
        "v.txt: line 3: more rows than the 1 words the header announces"
    );
    assert_eq!(
        text_err("hello world\n", Format::Text),
        "v.txt: line 1: `hello world` is not a `WORDS DIM` header (two whole numbers, DIM at least 1)"
    );
    assert!(text_err("", Format::Text).contains("line 1: the file is empty"));
    assert!(text_err("2 0\n", Format::Text).contains("is not a `WORDS DIM` header"));
    let err = binary_err(&binary("3 2\n", &[(b"a", vec![1.0, 2.0])]));
    assert_eq!(err, "v.bin: record 2 (byte 15): the file ends inside record 2: the header announces 3 words");
    let mut extra = binary("1 2\n", &[(b"a", vec![1.0, 2.0])]);
    extra.extend_from_slice(b"junk");
    assert_eq!(binary_err(&extra), "v.bin: record 2 (byte 15): data after the 1 records the header announces");
}

#[test]
fn a_header_dimension_larger_than_the_file_sizes_no_buffer() {
    // Found by `tessera-fuzz`: one record of this dimension is 74 GB, which the readers
    // allocated before reading it. Whether the size is known or not, they now read what is there.
    let header = "3 18446741615\n";
    let bytes = binary(header, &[(b"the", vec![0.5, -1.0])]);
    assert!(binary_err(&bytes).contains("the file ends inside record 1"), "{}", binary_err(&bytes));
    let unsized_err = format::read_from(&bytes[..], Format::Binary, "v.bin", None).unwrap_err().to_string();
    assert!(unsized_err.contains("the file ends inside record 1"), "{unsized_err}");
    let text = format!("{header}the 0.5 -1\n");
    assert!(text_err(&text, Format::Text).contains("line 2"), "{}", text_err(&text, Format::Text));
    let unsized_err = format::read_from(text.as_bytes(), Format::Text, "v.txt", None).unwrap_err().to_string();
    assert!(unsized_err.contains("line 2"), "{unsized_err}");
    // The largest dimension a header can write, in both text readers.
    let widest = format!("3 {}\nthe 0.5 -1\n", usize::MAX);
    assert!(text_err(&widest, Format::Text).contains("line 2"), "{}", text_err(&widest, Format::Text));
    // No rows at all: read, and written back, without a buffer of the header's width.
    let none = b"0 4294967295\n";
    let read = format::read_from(&none[..], Format::Text, "v.txt", Some(none.len() as u64)).unwrap();
    assert_eq!((read.embeddings.len(), read.embeddings.dim()), (0, 4294967295));
    for f in [Format::Text, Format::Binary, Format::Glove] {
        format::write_to(&read.embeddings, Vec::new(), f).unwrap();
    }
}

#[test]
fn rows_of_the_wrong_width_or_with_bad_numbers_name_their_line() {
    assert_eq!(text_err("2 3\na 1 2 3\nb 1 2\n", Format::Text), "v.txt: line 3: `b` has 2 values, the vectors have 3");
    assert_eq!(text_err("1 2\na 1 2 3 4\n", Format::Text), "v.txt: line 2: `a` has 4 values, the vectors have 2");
    assert_eq!(text_err("a 1 2\nb 1\n", Format::Glove), "v.txt: line 2: `b` has 1 values, the vectors have 2");
    assert_eq!(text_err("1 2\na 1 x\n", Format::Text), "v.txt: line 2: value 2 of `a` is `x`, not a number");
    assert_eq!(text_err("1 2\na nan 1\n", Format::Text), "v.txt: line 2: value 1 of `a` is `nan`, not a finite number");
    assert_eq!(text_err("1 2\n 1 2\n", Format::Text), "v.txt: line 2: the row starts with a blank: its word is empty");
    assert_eq!(text_err("lonely\n", Format::Glove), "v.txt: line 1: the row `lonely` has no values");
    let err = binary_err(&binary("1 2\n", &[(b"a", vec![1.0, f32::INFINITY])]));
    assert_eq!(err, "v.bin: record 1 (byte 4): value 2 of `a` is inf, not a finite number");
}

#[test]
fn words_that_are_not_utf8_are_errors_with_their_place() {
    let mut text = b"2 1\nok 1\n".to_vec();
    text.extend_from_slice(b"ba\xffd 2\n");
    let err = format::read_from(&text[..], Format::Text, "v.txt", None).unwrap_err();
    assert_eq!(err.to_string(), "v.txt: line 3: not valid UTF-8 (byte 3 of the line)");
    let err = binary_err(&binary("2 1\n", &[(b"ok", vec![1.0]), (b"\xe5\x8c", vec![2.0])]));
    assert_eq!(err, "v.bin: record 2 (byte 12): the word is not valid UTF-8 (byte 1 of the word)");
}

#[test]
fn duplicate_words_keep_the_first_vector_and_are_counted() {
    let text = "4 1\na 1\nb 2\na 3\na 4\n";
    let l = format::read_from(text.as_bytes(), Format::Text, "v.txt", None).unwrap();
    assert_eq!((l.embeddings.len(), l.duplicates), (2, 2));
    assert_eq!(l.embeddings.get("a"), Some(&[1.0][..]));
    assert_eq!(l.first_duplicate, Some(("a".to_string(), Place::Line(4))));
    let b = binary("2 1\n", &[(b"w", vec![1.0]), (b"w", vec![2.0])]);
    let l = format::read_from(&b[..], Format::Binary, "v.bin", None).unwrap();
    assert_eq!((l.embeddings.len(), l.duplicates, l.embeddings.vector(0)[0]), (1, 1, 1.0));
}

#[test]
fn corpus_and_benchmark_files_name_the_bad_line() {
    let mut b = CorpusBuilder::new(Lang::En);
    let err = b.add_reader(&b"fine line\nbad \xff line\n"[..], "corpus.txt").unwrap_err();
    assert_eq!(err.to_string(), "corpus.txt: line 2: not valid UTF-8 (byte 5 of the line)");
    let err = eval::parse_word_pairs("# header\na\tb\t1\nc\td\tmany\n", "ws.tsv").unwrap_err();
    assert_eq!(err.to_string(), "ws.tsv: line 3: the score `many` is not a number");
    let err = eval::parse_analogies(": s\na b c d\na b c\n", "q.txt").unwrap_err();
    assert_eq!(err.to_string(), "q.txt: line 3: expected four words (a b c d) or `: section`, found 3 words");
    let missing = format::read(std::path::Path::new("/nonexistent/v.txt"), None).unwrap_err();
    assert!(missing.to_string().starts_with("/nonexistent/v.txt: "), "{missing}");
}
