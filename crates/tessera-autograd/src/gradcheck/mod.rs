//! Property-based gradient checks: for every differentiable op (and compositions of them),
//! random shapes (broadcast and non-contiguous inputs included) and values are drawn with
//! proptest, and the gradients `backward` computes are compared with central finite differences
//! in `f64`. The output is reduced to a scalar by a random-weighted sum so that every output
//! element matters.
//!
//! ```
//! use tessera_autograd::gradcheck::{registry, run_check};
//! use tessera_tensor::Device;
//! let exp = registry().into_iter().find(|c| c.name == "exp").unwrap();
//! let report = run_check(&exp, 4, 1, Device::Cpu);
//! assert!(report.failure.is_none(), "{:?}", report.failure);
//! ```
//!
//! Other crates add checks of their own hand-written rules (`tessera_nn::gradcheck::checks`);
//! the `gradcheck` program of `tessera-devtools` runs them all, on the CPU and on CUDA.

mod draw;
mod problem;
mod registry;
mod registry_composite;
mod registry_conv;
mod registry_pooling;
mod registry_structure;
mod registry_transformer;

pub use draw::{tape_strategy, Domain, Draw, Input, Tape, View};
pub use problem::{check_problem, CaseErrors, CheckedFn, Problem};
pub use registry::{registry, NOT_CHECKED};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::Cell;
use std::time::{Duration, Instant};
use tessera_tensor::Device;

/// Draws one case of a check.
pub type CaseBuilder = Box<dyn Fn(&mut Draw) -> crate::Result<Problem> + Send + Sync>;

/// A gradient check: a name (the op's method name, or a composition's) and how to draw a case.
pub struct OpCheck {
    /// The op (or composition) checked.
    pub name: &'static str,
    /// Draws one case.
    pub build: CaseBuilder,
}

impl OpCheck {
    /// A check named `name` whose cases `build` draws.
    pub fn new(
        name: &'static str,
        build: impl Fn(&mut Draw) -> crate::Result<Problem> + Send + Sync + 'static,
    ) -> Self {
        OpCheck { name, build: Box::new(build) }
    }
}

/// The outcome of checking one op over many cases.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The op checked.
    pub op: &'static str,
    /// The device it ran on.
    pub device: String,
    /// Cases run (including shrinking steps after a failure).
    pub cases: u32,
    /// Largest absolute error over all cases.
    pub max_abs: f64,
    /// Largest relative error over all cases.
    pub max_rel: f64,
    /// The (shrunk) failing case and the seed that reproduces it, if one failed.
    pub failure: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// The 32-byte ChaCha seed of `op`'s runner: the user's seed and the op's name, so that one op
/// run alone (`--op`) sees the same cases as in a full run.
fn seed_bytes(seed: u64, op: &str) -> [u8; 32] {
    let mut name_hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in op.bytes() {
        name_hash = (name_hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&name_hash.to_le_bytes());
    bytes
}

/// Checks `check` on `cases` random cases drawn from `seed`, computing on `device` (the finite
/// differences in f64 there too).
pub fn run_check(check: &OpCheck, cases: u32, seed: u64, device: Device) -> CheckReport {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 20_000,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed, check.name));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let (max_abs, max_rel, ran) = (Cell::new(0f64), Cell::new(0f64), Cell::new(0u32));
    let start = Instant::now();
    let result = runner.run(&tape_strategy(), |tape| {
        ran.set(ran.get() + 1);
        let mut draw = Draw::on(&tape, device);
        let problem = (check.build)(&mut draw).map_err(|e| TestCaseError::fail(format!("drawing the case: {e}")))?;
        let errors = check_problem(&problem, &mut draw).map_err(TestCaseError::fail)?;
        max_abs.set(max_abs.get().max(errors.max_abs));
        max_rel.set(max_rel.get().max(errors.max_rel));
        Ok(())
    });
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, _)) => Some(format!("{reason} (reproduce: --op {} --seed {seed})", check.name)),
        Err(TestError::Abort(reason)) => {
            Some(format!("aborted: {reason} (reproduce: --op {} --seed {seed})", check.name))
        }
    };
    CheckReport {
        op: check.name,
        device: device.to_string(),
        cases: ran.get(),
        max_abs: max_abs.get(),
        max_rel: max_rel.get(),
        failure,
        elapsed: start.elapsed(),
    }
}

/// Runs every check of `checks` whose name is `only` (or all, for `None`) with `cases` cases
/// each on `device`.
pub fn run_all(checks: &[OpCheck], only: Option<&str>, cases: u32, seed: u64, device: Device) -> Vec<CheckReport> {
    checks.iter().filter(|c| only.is_none_or(|o| o == c.name)).map(|c| run_check(c, cases, seed, device)).collect()
}

/// The reports as a table: op, device, cases, max errors, status.
pub fn format_table(reports: &[CheckReport]) -> String {
    let mut out = format!(
        "{:<24} {:<6} {:>6} {:>12} {:>12} {:>8}  {}\n",
        "op", "device", "cases", "max abs err", "max rel err", "time ms", "status"
    );
    for r in reports {
        out += &format!(
            "{:<24} {:<6} {:>6} {:>12.3e} {:>12.3e} {:>8.0}  {}\n",
            r.op,
            r.device,
            r.cases,
            r.max_abs,
            r.max_rel,
            r.elapsed.as_secs_f64() * 1e3,
            if r.failure.is_some() { "FAIL" } else { "ok" }
        );
    }
    out
}
