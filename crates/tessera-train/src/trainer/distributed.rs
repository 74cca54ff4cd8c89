//! Data-parallel training: [`DataParallel`] (a [`Communicator`] and a bucket size) makes every
//! process of a job train the same model on its [`Shard`] of each global batch, with gradients
//! averaged over the processes before each optimizer step, so that N processes take the steps
//! one process would take with the same global batch.

use super::backprop::Backprop;
use super::reducer::{overlapped, BucketPlan};
use super::task::{Batches, Means};
use super::Step;
use crate::data::{Batch, DataLoader};
use crate::optim::Optimizer;
use crate::{Error, Result};
use std::ops::Range;
use tessera_dist::{Buf, Communicator, DEFAULT_BUCKET_BYTES};
use tessera_nn::{Module, Parameters};

/// Which part of every global batch this process takes: contiguous part `rank` of `world`
/// nearly equal parts. The default is the whole batch (rank 0 of 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's rank.
    pub rank: usize,
    /// The number of processes.
    pub world: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { rank: 0, world: 1 }
    }
}

impl Shard {
    /// The positions this shard takes of a batch of `len` examples.
    pub fn range(&self, len: usize) -> Range<usize> {
        self.rank * len / self.world..(self.rank + 1) * len / self.world
    }
}

/// The training batches of a [`DataLoader`] cut to one [`Shard`]: every process walks the
/// global batches the single-process run walks (same shuffle, same augmentation) and keeps its
/// part of each. A last batch with fewer examples than processes is skipped (no process may
/// be left without examples).
pub(crate) struct ShardedLoader {
    pub(crate) loader: DataLoader,
    pub(crate) shard: Shard,
}

impl ShardedLoader {
    fn kept(&self) -> usize {
        let (n, bs) = (self.loader.dataset().len(), self.loader.batch_size());
        let full = self.loader.batches_per_epoch();
        let last = n - (full.saturating_sub(1)) * bs;
        if full > 0 && last < self.shard.world {
            full - 1
        } else {
            full
        }
    }
}

impl Batches for ShardedLoader {
    type Batch = Batch;

    fn batches_per_epoch(&self) -> usize {
        self.kept()
    }

    fn epoch(&self, index: usize) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        let shard = self.shard;
        Box::new(self.loader.epoch(index).take(self.kept()).map(move |b| {
            let b = b?;
            let r = shard.range(b.len());
            Ok(Batch { inputs: b.inputs.narrow(0, r.start, r.len())?, targets: b.targets.narrow(0, r.start, r.len())? })
        }))
    }
}

/// A batch of independent rows (windows of a token stream), which data-parallel training splits
/// across the processes by rows.
pub(crate) trait RowBatch: Sized {
    /// The rows of the batch.
    fn rows(&self) -> usize;
    /// The batch of rows `rows` only.
    fn take_rows(&self, rows: Range<usize>) -> Result<Self>;
}

/// Batches cut to one [`Shard`] of their rows: every process walks the global batches (same
/// order, same random windows) and keeps its rows of each (nearly equal parts when a batch is
/// smaller; a batch that leaves this process no row is skipped, which training batches must
/// not do: [`shard_rows`] checks, evaluation batches may: [`shard_eval`]).
struct ShardedRows<B> {
    batches: B,
    shard: Shard,
}

impl<B: Batches> Batches for ShardedRows<B>
where
    B::Batch: RowBatch,
{
    type Batch = B::Batch;

    fn batches_per_epoch(&self) -> usize {
        self.batches.batches_per_epoch()
    }

    fn epoch(&self, index: usize) -> Box<dyn Iterator<Item = Result<B::Batch>> + '_> {
        let shard = self.shard;
        let rows = move |b: B::Batch| -> Option<Result<B::Batch>> {
            let range = shard.range(b.rows());
            (!range.is_empty()).then(|| b.take_rows(range))
        };
        Box::new(self.batches.epoch(index).filter_map(move |b| b.map_or_else(|e| Some(Err(e)), rows)))
    }
}

/// Evaluation batches cut to one [`Shard`] of their rows (nearly equal parts; a batch that
/// leaves this process no row is skipped): each process evaluates its rows of every batch, and
/// the trainer adds the processes' sums up, so the metrics are those of the whole set.
pub(crate) fn shard_eval<B>(batches: B, shard: Shard) -> Box<dyn Batches<Batch = B::Batch>>
where
    B: Batches + 'static,
    B::Batch: RowBatch,
{
    match shard.world {
        1 => Box::new(batches),
        _ => Box::new(ShardedRows { batches, shard }),
    }
}

/// `batches` of `rows` rows each, cut to `shard`'s rows when it is one of several; a batch the
/// processes do not divide evenly is refused.
pub(crate) fn shard_rows<B>(batches: B, rows: usize, shard: Shard) -> Result<Box<dyn Batches<Batch = B::Batch>>>
where
    B: Batches + 'static,
    B::Batch: RowBatch,
{
    if shard.world == 1 {
        return Ok(Box::new(batches));
    }
    if !rows.is_multiple_of(shard.world) {
        return Err(Error::Config(format!(
            "batch size {rows} is not divisible by the {} processes: the global batch is split evenly",
            shard.world
        )));
    }
    Ok(Box::new(ShardedRows { batches, shard }))
}

/// A [`Trainer`](crate::Trainer)'s place in a data-parallel job: the communicator and the size
/// of the buckets gradients are averaged in (one all-reduce per bucket, on a communication
/// thread, started while backward is still running where a core is free for it; see
/// [`DataParallel::overlap`]).
#[derive(Debug)]
pub struct DataParallel {
    comm: Communicator,
    bucket_bytes: usize,
    overlap: Option<bool>,
}

impl From<Communicator> for DataParallel {
    fn from(comm: Communicator) -> Self {
        DataParallel::new(comm)
    }
}

impl DataParallel {
    /// Over `comm`, with 25 MiB buckets.
    pub fn new(comm: Communicator) -> Self {
        DataParallel { comm, bucket_bytes: DEFAULT_BUCKET_BYTES, overlap: None }
    }

    /// Buckets of at most `bytes` of gradients (a larger gradient is a bucket alone). The first
    /// bucket, the last layers' gradients, holds at most 1 MiB (or `bytes` if smaller), so that
    /// communication starts early in backward.
    pub fn bucket_bytes(mut self, bytes: usize) -> Self {
        self.bucket_bytes = bytes.max(1);
        self
    }

    /// Whether a bucket is all-reduced as soon as backward has finished its gradients,
    /// overlapping communication with the rest of backward (PyTorch's DDP), or only after
    /// backward. The result is the same either way. Unless set, it overlaps where the
    /// communication thread has a core of its own: when the parameters live on a GPU, or when
    /// the process may run on more cores than its compute threads use
    /// ([`spare_core`](tessera_tensor::spare_core)). Where every core computes, MPI's polling
    /// takes time from the kernels instead: with 2 processes x 1 thread on 2 cores the GPT step
    /// took 3% longer with overlap than after backward, averaged over 11 runs
    /// (`benches/distributed/step.sh`, 2-vCPU AMD EPYC).
    pub fn overlap(mut self, overlap: bool) -> Self {
        self.overlap = Some(overlap);
        self
    }

    fn overlaps(&self, params: &Parameters) -> bool {
        let on_host = params.iter().all(|(_, p)| p.device().is_cpu());
        self.overlap.unwrap_or(!on_host || tessera_tensor::spare_core())
    }

    /// The communicator.
    pub fn communicator(&self) -> &Communicator {
        &self.comm
    }

    /// This process's shard of every batch.
    pub fn shard(&self) -> Shard {
        Shard { rank: self.comm.rank(), world: self.comm.world() }
    }

    /// Checks that every rank built the same model (parameter names, dtypes and shapes), then
    /// copies rank 0's parameter values to every rank.
    pub fn sync_parameters(&self, module: &dyn Module) -> Result<()> {
        let params = module.parameters();
        let mine: Vec<String> =
            params.iter().map(|(n, p)| format!("{n} {:?} {:?}", p.tensor().dtype(), p.tensor().dims())).collect();
        let root = String::from_utf8_lossy(&self.comm.broadcast_bytes(mine.join("\n").as_bytes(), 0)?).into_owned();
        let theirs: Vec<&str> = if root.is_empty() { Vec::new() } else { root.split('\n').collect() };
        let differs = mine.len() != theirs.len() || mine.iter().zip(&theirs).any(|(a, b)| a != b);
        let flags = self.comm.all_gather_u64(differs as u64)?;
        let bad: Vec<usize> = flags.iter().enumerate().filter(|(_, f)| **f != 0).map(|(r, _)| r).collect();
        if let Some(&first) = bad.first() {
            let what = if differs {
                let at = mine.iter().zip(&theirs).position(|(a, b)| a != b);
                match at {
                    Some(i) => format!("parameter {} here, {} on rank 0", mine[i], theirs[i]),
                    None => format!("{} parameters here, {} on rank 0", mine.len(), theirs.len()),
                }
            } else {
                format!("ranks {bad:?} built a different model (parameter names, dtypes or shapes)")
            };
            let rank = if differs { self.comm.rank() } else { first };
            return Err(tessera_dist::Error::Mismatch { rank, what }.into());
        }
        for (_, p) in &params {
            self.comm.broadcast_(p.tensor(), 0)?;
        }
        Ok(())
    }

    /// Copies rank 0's optimizer state (moments, step count, learning rate, loss scale) to every
    /// rank, so that a run resumed from a checkpoint only rank 0 read continues alike everywhere.
    pub fn sync_optimizer(&self, optimizer: &mut Optimizer) -> Result<()> {
        if self.comm.world() == 1 {
            return Ok(());
        }
        let (tensors, steps) = optimizer.state_dict();
        for (_, t) in &tensors {
            self.comm.broadcast_(t, 0)?;
        }
        let steps = self.comm.broadcast_u64(steps, 0)?;
        optimizer.load_state_dict(&tensors, steps)?;
        let scaler = optimizer.loss_scaler().map_or([0.0; 2], |s| [s.scale(), s.clean_steps() as f64]);
        let mut values = [optimizer.learning_rate(), scaler[0], scaler[1]];
        self.comm.broadcast_buf(Buf::F64(&mut values), 0)?;
        optimizer.set_learning_rate(values[0]);
        if let Some(s) = optimizer.loss_scaler_mut() {
            s.restore(values[1], values[2] as u64)?;
        }
        Ok(())
    }

    /// Gives every rank rank 0's learning rate: rank 0 alone replays a resumed run's epochs
    /// through callbacks such as a plateau schedule, so its epoch-end decisions are the ones
    /// every rank must follow.
    pub(crate) fn sync_learning_rate(&self, optimizer: &mut Optimizer) -> Result<()> {
        if self.comm.world() > 1 {
            let mut lr = [optimizer.learning_rate()];
            self.comm.broadcast_buf(Buf::F64(&mut lr), 0)?;
            optimizer.set_learning_rate(lr[0]);
        }
        Ok(())
    }

    /// A training step's forward and backward (`run`, given the [`Backprop`] to run backward
    /// through) with the gradients averaged over the ranks: each bucket of gradients, weighted
    /// by this rank's step weight, is all-reduced on a communication thread (while backward
    /// goes on, where [`DataParallel::overlap`] says so); then one collective sums the loss
    /// (each rank's value times its weight), the weights, and which parameters have a gradient
    /// anywhere. A parameter with no gradient on any rank keeps none; one that has a gradient
    /// on some ranks only counts zeros on the others. Returns the step and the loss over all
    /// ranks' examples: NaN when it is not finite on some rank, and then the gradients are left
    /// as they are (no rank steps).
    pub(crate) fn step(
        &self,
        params: &Parameters,
        loss_scale: f64,
        run: impl FnOnce(&Backprop<'_>) -> Result<(f64, Step)>,
    ) -> Result<((f64, Step), f64)> {
        let plan = BucketPlan::new(params, self.bucket_bytes)?;
        let ((value, step), flats) = overlapped(&self.comm, &plan, self.overlaps(params), |reducer| {
            run(&Backprop::distributed(loss_scale, reducer))
        })?;
        let mut v = vec![value * step.weight, step.weight];
        v.extend(params.iter().map(|(_, p)| p.grad().is_some() as u8 as f64));
        self.comm.all_reduce_f64(&mut v)?;
        let loss = v[0] / v[1];
        if loss.is_finite() {
            let has: Vec<bool> = v[2..].iter().map(|&h| h > 0.0).collect();
            plan.unpack(&flats, 1.0 / v[1], &has)?;
        }
        Ok(((value, step), loss))
    }

    /// An epoch's (or an evaluation's) means over every rank's batches. A rank that saw no
    /// batch (an evaluation set with fewer rows than processes) has no metrics yet: it takes
    /// their names from a rank that has them.
    pub(crate) fn reduce_means(&self, means: &mut Means) -> Result<()> {
        let counts = self.comm.all_gather_u64(means.names().len() as u64)?;
        let most = counts.iter().copied().max().unwrap_or(0);
        if counts.iter().any(|&c| c != most) {
            let root = counts.iter().position(|&c| c == most).unwrap_or(0);
            let names = self.comm.broadcast_bytes(means.names().join("\n").as_bytes(), root)?;
            let names = String::from_utf8_lossy(&names).into_owned();
            let theirs: Vec<&str> = names.split('\n').collect();
            if let Some(extra) = means.names().into_iter().find(|n| !theirs.contains(n)) {
                let what = format!("metric {extra:?} here, not on rank {root}, which has {theirs:?}");
                return Err(tessera_dist::Error::Mismatch { rank: self.comm.rank(), what }.into());
            }
            theirs.iter().for_each(|n| means.declare(n));
        }
        let mut parts = means.parts();
        self.comm.all_reduce_f64(&mut parts)?;
        means.set_parts(&parts);
        Ok(())
    }

    /// Whether `flag` holds on any rank.
    pub(crate) fn any(&self, flag: bool) -> Result<bool> {
        Ok(self.comm.any(flag)?)
    }
}

/// The error of data that cannot be cut into shards.
pub(crate) fn not_shardable(world: usize) -> Error {
    Error::Config(format!(
        "this training data cannot be split across {world} processes yet (tensor datasets can): run it in one process"
    ))
}
