//! What the command-line tests share: running the program in a folder, and small slices of the
//! shipped MNIST sample as CSV files.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the program in `dir`.
pub fn tessera_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).current_dir(dir).args(args).output().expect("running tessera")
}

/// Runs the program in `dir` as `tessera ARGS | head -LINES` would: the first `lines` lines of
/// its standard output, its exit code after the pipe closed (141 for a program that `head`
/// stopped), and how long it took to end after the pipe closed.
pub fn head(dir: &Path, args: &[&str], lines: usize) -> (String, Option<i32>, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running tessera");
    let mut text = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("a piped standard output"));
    for _ in 0..lines {
        reader.read_line(&mut text).expect("reading standard output");
    }
    drop(reader);
    let closed = Instant::now();
    let code = child.wait().expect("waiting for tessera").code();
    (text, code, closed.elapsed())
}

/// Runs a command that must succeed: its standard output and standard error.
pub fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let o = tessera_in(dir, args);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
    assert!(o.status.success(), "tessera {args:?} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Runs a command that must fail with a clear error: its standard error.
pub fn refused(dir: &Path, args: &[&str]) -> String {
    let o = tessera_in(dir, args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(matches!(o.status.code(), Some(1 | 2)), "tessera {args:?}: status {:?}\n{stderr}", o.status);
    assert!(!stderr.contains("panicked"), "tessera {args:?} panicked:\n{stderr}");
    stderr
}

/// An empty folder of its own for the test `name`.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every `step`-th image of the shipped sample as `dir/slice.csv`, the label last.
pub fn write_slice(dir: &Path, step: usize) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tessera-train/data/mnist_5k.csv.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(sample).unwrap()), &mut text)
        .unwrap();
    let slice: Vec<&str> = text.lines().step_by(step).collect();
    std::fs::write(dir.join("slice.csv"), slice.join("\n") + "\n").unwrap();
}

/// The number after `label` in `text` (`"accuracy 91.40%"` gives 91.4 for `"accuracy "`).
pub fn number_after(text: &str, label: &str) -> f64 {
    let rest = &text[text.find(label).unwrap_or_else(|| panic!("no {label:?} in:\n{text}")) + label.len()..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(rest.len());
    rest[..end].parse().unwrap_or_else(|_| panic!("no number after {label:?} in:\n{text}"))
}
