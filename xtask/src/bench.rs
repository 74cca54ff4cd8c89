//! `cargo xtask bench`: the criterion benchmarks, or with `--compare` every comparison against
//! numpy and PyTorch in one run (`benches/compare_all.py`), in a Python environment that
//! `--install` creates; with `--avx2` too, both sides held to AVX2 (`benches/avx2_cap.sh all`).

use super::{cargo, root, run};
use std::path::PathBuf;
use std::process::Command;

/// The Python packages the comparison scripts import.
const MODULES: &str = "numpy, threadpoolctl, torch";

/// `cargo xtask bench [ARGS]` runs `cargo bench -p tessera-benches [ARGS]`;
/// `cargo xtask bench --compare [--install] [--skip-cargo] [--avx2]` runs the comparison.
pub fn bench(args: &[String]) -> Result<(), String> {
    if !args.iter().any(|a| a == "--compare") {
        return run("benchmarks", cargo(&["bench", "-p", "tessera-benches"]).args(args));
    }
    let known = ["--compare", "--install", "--skip-cargo", "--avx2"];
    if let Some(other) = args.iter().find(|a| !known.contains(&a.as_str())) {
        return Err(format!(
            "bench --compare: unknown argument `{other}` (expected --install, --skip-cargo or --avx2)"
        ));
    }
    let python = python();
    if args.iter().any(|a| a == "--install") {
        install(&python)?;
    }
    if !has_modules(&python) {
        return Err(format!(
            "{} cannot import {MODULES}: run `cargo xtask bench --compare --install`, or set \
             TESSERA_BENCH_PYTHON to a Python that has them",
            python.display()
        ));
    }
    let mut compare = if args.iter().any(|a| a == "--avx2") {
        let mut held = Command::new("bash");
        held.arg(root().join("benches").join("avx2_cap.sh")).arg("all").env("TESSERA_BENCH_PYTHON", &python);
        held
    } else {
        let mut plain = Command::new(&python);
        plain.arg(root().join("benches").join("compare_all.py"));
        plain
    };
    compare.current_dir(root());
    if args.iter().any(|a| a == "--skip-cargo") {
        compare.arg("--skip-cargo");
    }
    run("comparison against numpy and PyTorch", &mut compare)
}

/// `TESSERA_BENCH_PYTHON`, or the environment `--install` makes in `target/bench-venv`.
fn python() -> PathBuf {
    std::env::var_os("TESSERA_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target").join("bench-venv").join("bin").join("python"))
}

fn has_modules(python: &PathBuf) -> bool {
    Command::new(python).args(["-c", &format!("import {MODULES}")]).output().is_ok_and(|o| o.status.success())
}

/// Creates the environment (when it is missing) and installs the packages. PyTorch comes with
/// the CUDA libraries its wheel lists (about 5 GB in all): it loads them when imported, even on a
/// machine without a GPU, so a wheel installed without them cannot be imported.
fn install(python: &PathBuf) -> Result<(), String> {
    if !python.exists() {
        let venv = python.parent().and_then(|bin| bin.parent()).ok_or("no folder for the environment")?;
        run("create the Python environment", Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    run(
        "install numpy, threadpoolctl and torch",
        Command::new(python).args(["-m", "pip", "install", "--quiet", "numpy", "threadpoolctl", "torch"]),
    )
}
