//! `cargo xtask`: the single entry point for building, checking and testing Tessera.
//!
//! ```text
//! cargo xtask test              formatting, clippy (warnings denied), every test, a short
//!                               fuzz pass, gradcheck, the kernel compile check, and packaging
//!                               of every crate
//! cargo xtask gradcheck [ARGS]  property-based gradient checks (see --help of the program)
//! cargo xtask bench [ARGS]      criterion benchmarks of the CPU kernels
//! cargo xtask kernels [ARCH..]  compile every CUDA kernel with NVRTC (default sm_80 sm_90),
//!                               report registers, shared memory and spills; fail on errors,
//!                               spills, or a kernel the op registry declares and no module has
//! cargo xtask package           `cargo package --workspace`: every publishable crate packs
//!                               and builds from its package alone
//! cargo xtask fuzz [ARGS]       fuzz the file readers (`--minutes N`, `--target NAME`; see
//!                               crates/tessera-fuzz); failing inputs go to its regressions/
//! ```
//!
//! The developer programs (`gradcheck`, `compile-kernels`) live in `xtask/devtools`, so that the
//! library crates carry none of them.

mod fuzz;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Gradcheck cases per op in `cargo xtask test`: keeps the step within a few minutes on 2 cores.
const TEST_GRADCHECK_CASES: &str = "2000";

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
        "bench" => run("benchmarks", cargo(&["bench", "-p", "tessera-benches"]).args(rest)),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <test|gradcheck|bench|kernels|package|fuzz> [ARGS]");
            Ok(())
        }
        other => Err(format!("unknown task '{other}': expected test, gradcheck, bench, kernels, package or fuzz")),
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
    run("format check", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
    run("clippy", &mut cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run("tests", &mut cargo(&["test", "--workspace"]))?;
    fuzz::short_pass()?;
    run("examples (a few batches each)", &mut cargo(&["test", "-p", "tessera", "--examples"]))?;
    gradcheck(&["--cases".into(), TEST_GRADCHECK_CASES.into(), "--device".into(), "all".into()])?;
    kernels(&[])?;
    package()?;
    // Last: it builds three crates again with the `mpi` feature, which the steps above would
    // otherwise have to rebuild without it (measured on a fresh clone: 86 s for the fuzz runner).
    mpi_tests()
}

/// The MPI backend's tests and `train mlp --distributed` with 2 processes against 1 (feature
/// `mpi`), where OpenMPI's `mpirun` is installed (`.ci/run` installs it); skipped, saying so,
/// where it is not.
fn mpi_tests() -> Result<(), String> {
    if !Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success()) {
        println!("skipped: MPI tests (no `mpirun` on the PATH)");
        return Ok(());
    }
    let mut tests =
        cargo(&["test", "-p", "tessera-dist", "-p", "tessera", "--features", "tessera-dist/mpi,tessera/mpi"]);
    run("MPI tests (2 processes)", tests.args(["--test", "mpi", "--test", "distributed"]))
}

/// A developer program of `tessera-devtools`, built with the test profile (optimised
/// dependencies), whose artifacts `cargo test --workspace` has already built.
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

/// The workspace members that are never published.
const UNPUBLISHED: [&str; 4] = ["tessera-benches", "tessera-devtools", "tessera-fuzz", "xtask"];

/// The crates built from their packages alone: the one that embeds files through a link out of
/// its folder (the CUDA sources), and what it depends on.
const BUILT_FROM_PACKAGE: [&str; 2] = ["tessera-core", "tessera-kernels"];

/// Packs every publishable crate (so a file missing from a package, a dependency without a
/// version or bad metadata fails here) and builds the crates most at risk from their packages
/// alone. Building all of them would double CI's compile time for little more.
fn package() -> Result<(), String> {
    let mut built = cargo(&["package", "--allow-dirty"]);
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
