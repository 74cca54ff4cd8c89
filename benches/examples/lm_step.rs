//! LM training steps at the issue-8 benchmark size (vocab 5000, embed 128, hidden 256, seq 35,
//! batch 32) on one thread, printing tokens per second: a binary for `perf record`.
//! `cargo run --release -p tessera-benches --example lm_step -- [STEPS]`

use std::time::Instant;
use tessera_nn::Module;
use tessera_tensor::Device;
use tessera_text::StreamBatches;
use tessera_train::lm::{LmTrainer, LstmLm, LstmLmConfig};
use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};

fn main() {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let pool = tessera_benches::pool(1);
    let cfg = LstmLmConfig { vocab: 5000, embed: 128, hidden: 256, layers: 1, dropout: 0.0, seed: 0 };
    let lm = LstmLm::new(&cfg, &Device::Cpu).unwrap();
    let opt = Optimizer::new(lm.parameters(), OptimizerKind::Adam(Adam::default())).unwrap().with_clip(Clip::GlobalNorm(0.5));
    let mut trainer = LmTrainer::new(&lm, opt);
    let ids: Vec<u32> = (0..(steps + 3) * 32 * 35 + 32).map(|i| ((i * 7919) % 5000) as u32).collect();
    let windows: Vec<_> = StreamBatches::new(&ids, 32, 35).unwrap().collect();
    pool.install(|| {
        let mut state = None;
        for w in &windows[..3] {
            state = Some(trainer.train_step(w, state.as_ref()).unwrap().1);
        }
        let start = Instant::now();
        for w in &windows[3..3 + steps] {
            state = Some(trainer.train_step(w, state.as_ref()).unwrap().1);
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{steps} steps: {:.1} ms/step, {:.0} tokens/s", secs * 1e3 / steps as f64, (steps * 32 * 35) as f64 / secs);
    });
}
