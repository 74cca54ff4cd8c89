//! Replays every seed and every saved failure (`regressions/<target>/`) through its target,
//! in-process: none may panic or take more than a second of CPU time. An input that aborts
//! ends this test binary, which fails the test run all the same. The process runs under the
//! workers' address-space cap, so that an input meets the refusals it met when it was found
//! (`tensor_ops` asks for outputs past the cap, which a machine with more memory would grant).

use std::path::Path;
use std::time::Duration;
use tessera_fuzz::exec::{abort_after, execute, Verdict, CPU_LIMIT};
use tessera_fuzz::seeds::{files_in, regression_dir, seeds};
use tessera_fuzz::targets::target;

/// Runs every input of `name`; fails listing each input that panicked or was too slow.
fn replay(name: &str) {
    abort_after(Duration::from_secs(300), "the regression replay");
    tessera_fuzz::sys::limit_address_space(tessera_fuzz::DEFAULT_MEMORY_LIMIT).expect("the address-space cap");
    let target = target(name).expect("a target of that name");
    let mut inputs: Vec<(String, Vec<u8>)> =
        seeds(name).into_iter().enumerate().map(|(i, b)| (format!("seed {i}"), b)).collect();
    inputs.extend(files_in(&regression_dir().join(name)).into_iter().map(|(p, b)| (show(&p), b)));
    let mut failures = Vec::new();
    for (what, input) in &inputs {
        let run = execute(target, input);
        if let Verdict::Panic(p) = &run.verdict {
            failures.push(format!("{what}: panic at {}: {}", p.location, p.message));
        }
        if run.too_slow() {
            failures.push(format!("{what}: {:.2} s of CPU (limit {} s)", run.cpu.as_secs_f64(), CPU_LIMIT.as_secs()));
        }
    }
    tessera_fuzz::input::remove_scratch_dir();
    assert!(
        failures.is_empty(),
        "{name}: {} of {} inputs failed:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

fn show(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).display().to_string()
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { replay(stringify!($name)); })*

        #[test]
        fn every_target_is_replayed() {
            let tested = [$(stringify!($name)),*];
            for t in tessera_fuzz::targets::TARGETS {
                assert!(tested.contains(&t.name), "no replay test for target {}", t.name);
            }
        }
    };
}

replay_tests!(
    idx,
    csv,
    checkpoint,
    tokenizer_json,
    vocab,
    jieba_dict,
    run_folder,
    pairs,
    embeddings,
    embed_eval,
    hf_gpt2,
    model_config,
    tensor_ops,
    fused_ops,
    var_ops,
    optim,
    text_pipeline,
    safetensors_roundtrip,
);
