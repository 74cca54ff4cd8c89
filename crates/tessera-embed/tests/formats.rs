//! Vector files: every format round-trips exactly, is detected, and is written atomically.

use std::path::PathBuf;
use tessera_embed::{format, Embeddings, Format};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-embed-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Words in several scripts and values across the f32 range (tiny, huge, negative, zero).
fn sample() -> Embeddings {
    let words = ["the", "king", "café", "北京", "naïve", "</s>", "x1"];
    let dim = 5;
    let mut data = Vec::new();
    for i in 0..words.len() {
        for j in 0..dim {
            let k = (i * dim + j) as f32;
            data.push(match j {
                0 => (k * 0.37).sin(),
                1 => -1.0 / (k + 3.0),
                2 => 1.0e-30 * (k + 1.0),
                3 => 3.4e38 / (k + 1.0),
                _ => 0.0,
            });
        }
    }
    Embeddings::from_parts(words, dim, data).unwrap()
}

#[test]
fn every_format_round_trips_bit_for_bit_and_is_detected() {
    let dir = temp_dir("roundtrip");
    let e = sample();
    for (fmt, name) in [(Format::Text, "v.txt"), (Format::Binary, "v.bin"), (Format::Glove, "v.glove")] {
        let path = dir.join(name);
        format::write(&e, &path, fmt).unwrap();
        assert_eq!(Format::detect(&path).unwrap(), fmt, "{name}");
        let back = format::read(&path, None).unwrap();
        assert_eq!(back.format, fmt);
        assert_eq!(back.duplicates, 0);
        let b = &back.embeddings;
        assert_eq!((b.len(), b.dim()), (e.len(), e.dim()));
        assert!(b.words().iter().eq(e.words().iter()), "{name}: word order");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(b.as_slice()), bits(e.as_slice()), "{name}: values");
    }
    // No temporary files are left beside the outputs.
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reads_what_the_original_tools_write() {
    // word2vec's C text output: a space after every value; Windows line ends; a blank line.
    let text = "2 3\nhello 0.5 -1 2 \r\n\nworld 1e-3 0 -0.25 \n";
    let l = format::read_from(text.as_bytes(), Format::Text, "c.txt", None).unwrap();
    assert_eq!(l.embeddings.get("hello"), Some(&[0.5, -1.0, 2.0][..]));
    assert_eq!(l.embeddings.get("world"), Some(&[1e-3, 0.0, -0.25][..]));
    // Binary with the C tool's newline after each vector, and gensim's without.
    for newline in [true, false] {
        let mut bin = b"2 2\n".to_vec();
        for (w, v) in [("a", [1.0f32, 2.0]), ("b", [3.0, -4.0])] {
            bin.extend_from_slice(w.as_bytes());
            bin.push(b' ');
            v.iter().for_each(|x| bin.extend_from_slice(&x.to_le_bytes()));
            if newline {
                bin.push(b'\n');
            }
        }
        let l = format::read_from(&bin[..], Format::Binary, "c.bin", Some(bin.len() as u64)).unwrap();
        assert_eq!(l.embeddings.get("b"), Some(&[3.0, -4.0][..]), "newline {newline}");
    }
    // GloVe: no header, tabs accepted.
    let l = format::read_from("a\t1 2\nb 3 4\n".as_bytes(), Format::Glove, "g.txt", None).unwrap();
    assert_eq!((l.embeddings.len(), l.embeddings.dim()), (2, 2));
}

#[test]
fn a_lying_header_cannot_make_the_reader_allocate_what_the_file_cannot_fill() {
    // A 40-byte file claiming a billion 300-dimensional vectors: an error about the rows, at once.
    let text = "1000000000 300\nonly 1 2 3\n";
    let err = format::read_from(text.as_bytes(), Format::Text, "lie.txt", Some(text.len() as u64)).unwrap_err();
    assert!(
        err.to_string().contains("line 2") && err.to_string().contains("has 3 values, the vectors have 300"),
        "{err}"
    );
    let mut bin = b"1000000000 1000\n".to_vec();
    bin.extend_from_slice(b"w ");
    let err = format::read_from(&bin[..], Format::Binary, "lie.bin", Some(bin.len() as u64)).unwrap_err();
    assert!(err.to_string().contains("the file ends inside record 1"), "{err}");
}

#[test]
fn writing_refuses_words_a_file_cannot_hold_and_keeps_the_old_file() {
    let dir = temp_dir("atomic");
    let path = dir.join("v.txt");
    std::fs::write(&path, "old").unwrap();
    let bad = Embeddings::from_parts(["fine", "two words"], 1, vec![1.0, 2.0]).unwrap();
    let err = format::write(&bad, &path, Format::Text).unwrap_err();
    assert!(err.to_string().contains("word 2 (\"two words\")"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the temporary file is removed");
    let missing = format::write(&sample(), &dir.join("no/such/dir/v.txt"), Format::Text).unwrap_err();
    assert!(missing.to_string().contains("no/such/dir/v.txt"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
