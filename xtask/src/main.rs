//! `cargo xtask`: the single entry point for building, checking and testing Tessera.
//!
//! ```text
//! cargo xtask test              formatting, clippy and the docs (warnings denied), every test (the
//!                               examples, a short fuzz pass and, with `mpirun`, the MPI tests
//!                               among them), the CPU kernel tests again with the instruction
//!                               set capped to AVX2 and to the baseline (`TESSERA_CPU_ISA`),
//!                               gradcheck, the CUDA suite and gradcheck on the
//!                               CUDA host emulator, the kernel compile check, and packaging of
//!                               every crate
//! cargo xtask gradcheck [ARGS]  property-based gradient checks (see --help of the program)
//! cargo xtask bench [ARGS]      criterion benchmarks of the CPU kernels and training steps
//! cargo xtask bench --compare [--install] [--skip-cargo] [--avx2]
//!                               every comparison against numpy and PyTorch in one run, one
//!                               table of ratios for 1 and 2 threads under the CPU model
//!                               (`--install`: a Python environment in target/bench-venv;
//!                               `--avx2`: both sides held to AVX2, benches/avx2_cap.sh)
//! cargo xtask kernels [ARCH..]  compile every CUDA kernel with NVRTC (default sm_80 sm_90),
//!                               report registers, shared memory and spills; fail on errors,
//!                               spills, or a kernel the op registry declares and no module has
//! cargo xtask package           `cargo package --workspace`: every publishable crate packs
//!                               and builds from its package alone
//! cargo xtask gpu [--out DIR] [--dry-run]
//!                               on a GPU machine: release builds, the CUDA tests, gradcheck on
//!                               the device, training on the CPU and the device compared (f32,
//!                               bf16, f16), benchmarks beside PyTorch; report.md/report.json
//! cargo xtask fuzz [ARGS]       fuzz the file readers (`--minutes N` per target, `--target NAME`; see
//!                               crates/tessera-fuzz); failing inputs go to its regressions/
//! ```
//!
//! The developer programs (`gradcheck`, `compile-kernels`) live in `xtask/devtools`, so that the
//! library crates carry none of them.

mod bench;
mod fuzz;
mod gpu;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Gradcheck cases per op in `cargo xtask test`: keeps the step within a few minutes on 2 cores.
const TEST_GRADCHECK_CASES: &str = "2000";
/// Gradcheck cases per op on the CUDA host emulator, which runs each launch's threads one by one.
const EMULATOR_GRADCHECK_CASES: &str = "30";
/// Turns on the CUDA host emulator (`tessera_kernels::cuda::emulator::EMULATOR_VAR`).
const EMULATOR_VAR: &str = "TESSERA_CUDA_EMULATOR";
/// Caps the CPU kernels' instruction set (`tessera_core::ISA_VAR`).
const ISA_VAR: &str = "TESSERA_CPU_ISA";
/// The tests rerun with the instruction set capped: every crate's unit tests, the op tests that
/// compare CPU kernels with references, and word2vec's training (about 30 s a cap on 2 cores).
const CAPPED_ISA_TESTS: [&str; 11] = [
    "families",
    "elementwise",
    "matmul",
    "reductions",
    "lstm_sequence",
    "gru_sequence",
    "lstm_cell",
    "batch_norm",
    "pytorch_parity",
    "transformer_parity",
    "training",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match task {
        "test" | "ci" => test(),
        "gradcheck" => gradcheck(rest),
        "kernels" => kernels(rest),
        "package" => package(),
        "fuzz" => fuzz::fuzz(rest),
        "bench" => bench::bench(rest),
        "gpu" => gpu::gpu(rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <test|gradcheck|bench|gpu|kernels|package|fuzz> [ARGS]");
            Ok(())
        }
        other => Err(format!("unknown task '{other}': expected test, gradcheck, bench, gpu, kernels, package or fuzz")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args).current_dir(root());
    c
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    println!("==> {step}");
    let start = Instant::now();
    let status = cmd.status().map_err(|e| format!("{step}: could not start: {e}"))?;
    println!(
        "<== {step}: {} in {:.1} s",
        if status.success() { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn test() -> Result<(), String> {
    // One feature set for every step: each `cargo` invocation resolves features for the packages
    // it selects, and a step with other features rebuilt the crate graph from `rayon` up (on a
    // clean 2-core machine: 84 s for the fuzz runner, about as long for the examples and the MPI
    // tests). So the examples (`test = true`), the short fuzz pass (a test of the runner crate)
    // and, where `mpirun` is installed, the MPI tests run inside the one `cargo test`.
    let mpi = mpi_features();
    run("format check", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
    run("clippy", cargo(&["clippy", "--workspace", "--all-targets"]).args(&mpi).args(["--", "-D", "warnings"]))?;
    run(
        "docs (broken links denied)",
        cargo(&["doc", "--workspace", "--no-deps"]).args(&mpi).env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    run("tests", cargo(&["test", "--workspace"]).args(&mpi))?;
    // On an AVX-512 machine the tests above run only the AVX-512 copies of the CPU kernels; these
    // run the copies that CPUs without AVX-512 (most laptops) or without AVX2 run. Where the CPU
    // lacks an instruction set, its cap changes nothing and the rerun repeats the tests.
    for cap in ["avx2", "baseline"] {
        let targets = CAPPED_ISA_TESTS.iter().flat_map(|t| ["--test", t]);
        run(
            &format!("CPU kernel tests with {ISA_VAR}={cap}"),
            cargo(&["test", "--workspace", "--lib"]).args(&mpi).args(targets).env(ISA_VAR, cap),
        )?;
    }
    run("gradcheck", built_devtool("gradcheck")?.args(["--cases", TEST_GRADCHECK_CASES, "--device", "all"]))?;
    // The CUDA backend's own code (launch shapes, argument packing, buffers, kernels, cuBLAS
    // parameters) on the host emulator: the CUDA suite (the test binary just built, so the same
    // features) and gradcheck on the emulated device.
    if host_compiler() {
        run(
            "CUDA suite on the host emulator",
            cargo(&["test", "--workspace", "--test", "cuda"]).args(&mpi).env(EMULATOR_VAR, "1"),
        )?;
        run(
            "gradcheck on the host emulator",
            built_devtool("gradcheck")?
                .args(["--cases", EMULATOR_GRADCHECK_CASES, "--device", "cuda"])
                .env(EMULATOR_VAR, "1"),
        )?;
    } else {
        println!("note: no host C++ compiler (g++ or c++): the CUDA host emulator's steps are skipped");
    }
    run("CUDA kernel compile check (NVRTC)", &mut built_devtool("compile-kernels")?)?;
    package()
}

/// A developer program as the `cargo test` just before built it (for `tessera-devtools`'
/// integration tests, with that run's features): `cargo run` would resolve features anew and
/// rebuild the crate graph (100 s on a clean 2-core machine). Only right after that build: a
/// program left from an older one could be stale.
fn built_devtool(program: &str) -> Result<Command, String> {
    let metadata = cargo(&["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cargo metadata: could not start: {e}"))?;
    let json = String::from_utf8_lossy(&metadata.stdout);
    let target = json
        .split("\"target_directory\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("cargo metadata named no target directory")?;
    let exe = Path::new(target).join("debug").join(format!("{program}{}", std::env::consts::EXE_SUFFIX));
    if exe.is_file() {
        Ok(Command::new(exe))
    } else {
        Err(format!("{} is missing: `cargo test --workspace` should have built it", exe.display()))
    }
}

/// Whether a host C++ compiler is installed, which the CUDA host emulator builds the kernels
/// with (`.ci/run` installs g++).
fn host_compiler() -> bool {
    ["g++", "c++"].iter().any(|cxx| Command::new(cxx).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// `--features` for the MPI backend and `--distributed`, whose tests (`tessera-dist`'s `mpi`
/// and `tessera`'s `distributed`, 2 processes against 1) then run with the others, where
/// OpenMPI's `mpirun` is on the PATH (`.ci/run` installs it); none, saying so, where it is not.
fn mpi_features() -> Vec<&'static str> {
    if Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success()) {
        vec!["--features", "tessera-dist/mpi,tessera/mpi"]
    } else {
        println!("note: no `mpirun` on the PATH: the MPI tests are skipped");
        Vec::new()
    }
}

/// A developer program of `tessera-devtools`, built (when out of date) with the test profile
/// (optimised dependencies) and run.
fn devtool(program: &str) -> Command {
    cargo(&["run", "-q", "--profile", "test", "-p", "tessera-devtools", "--bin", program, "--"])
}

/// Compiles every CUDA kernel module with NVRTC through the runtime's own compile path. The
/// program says plainly when it skips because NVRTC cannot be loaded (`.ci/run` installs it).
fn kernels(archs: &[String]) -> Result<(), String> {
    run("CUDA kernel compile check (NVRTC)", devtool("compile-kernels").args(archs))
}

fn gradcheck(args: &[String]) -> Result<(), String> {
    run("gradcheck", devtool("gradcheck").args(args))
}

/// Removes this workspace's crates from where `cargo package` unpacked them on earlier runs.
/// cargo verifies a package against the others through a local registry it builds on each run,
/// but unpacks a crate from it into `$CARGO_HOME/registry/src/-HASH/NAME-VERSION` only where that
/// folder does not exist yet: after `tessera-core` gained a module at the same version, the
/// package of `tessera-kernels` was checked against the old `tessera-core` and failed. The
/// folders are the unnamed (`-HASH`) registries' `tessera*` ones; crates.io's are left alone.
fn forget_unpacked_workspace_crates() -> Result<(), String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let Some(sources) = cargo_home.map(|home| home.join("registry").join("src")) else { return Ok(()) };
    let Ok(registries) = std::fs::read_dir(&sources) else { return Ok(()) };
    for registry in registries.flatten().filter(|r| r.file_name().to_string_lossy().starts_with('-')) {
        remove_entries(&registry.path(), |name| name.starts_with("tessera"))?;
    }
    Ok(())
}

/// Removes the `tessera*` artifacts (fingerprints, libraries, build outputs) from the debug
/// builds in `target_dir`, keeping those of their dependencies.
fn forget_packaged_builds(target_dir: &Path) -> Result<(), String> {
    for folder in [".fingerprint", "deps", "build", "incremental"] {
        let dir = target_dir.join("debug").join(folder);
        remove_entries(&dir, |name| name.starts_with("tessera") || name.starts_with("libtessera"))?;
    }
    Ok(())
}

/// Removes the files and folders in `dir` whose names `doomed` picks (nothing where `dir` is
/// missing).
fn remove_entries(dir: &Path, doomed: impl Fn(&str) -> bool) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten().filter(|e| doomed(&e.file_name().to_string_lossy())) {
        let path = entry.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|e| format!("could not remove {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The workspace members that are never published.
const UNPUBLISHED: [&str; 4] = ["tessera-benches", "tessera-devtools", "tessera-fuzz", "xtask"];

/// The crates built from their packages alone: the one that embeds files through a link out of
/// its folder (the CUDA sources), and what it depends on.
const BUILT_FROM_PACKAGE: [&str; 2] = ["tessera-core", "tessera-kernels"];

/// Packs every publishable crate (so a file missing from a package, a dependency without a
/// version or bad metadata fails here) and builds the crates most at risk from their packages
/// alone. Building all of them would double CI's compile time for little more.
fn package() -> Result<(), String> {
    forget_unpacked_workspace_crates()?;
    // The packages' own builds in a folder of their own, where their `tessera*` artifacts are
    // removed first: cargo takes a registry crate for immutable and would reuse an earlier
    // build of the same version, as it would reuse the unpacked sources.
    let verify = root().join("target").join("package-verify");
    forget_packaged_builds(&verify)?;
    let mut built = cargo(&["package", "--allow-dirty", "--target-dir"]);
    built.arg(&verify);
    for name in BUILT_FROM_PACKAGE {
        built.args(["-p", name]);
    }
    run("package (built from the package)", &mut built)?;
    let mut packed = cargo(&["package", "--workspace", "--allow-dirty", "--no-verify"]);
    for name in UNPUBLISHED {
        packed.args(["--exclude", name]);
    }
    run("package (packed)", &mut packed)
}
