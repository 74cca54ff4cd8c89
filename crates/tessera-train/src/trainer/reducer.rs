//! Gradients averaged over the processes while backward runs: the parameters are cut into
//! buckets in reverse order (the order backward finishes them), and each bucket is handed to a
//! communication thread, which all-reduces it, as soon as backward has finished every gradient
//! in it and every bucket before it (so that all ranks launch the same collectives in the same
//! order, whatever order their gradients became final in).

use crate::Result;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::mpsc::{channel, Receiver, Sender};
use tessera_autograd::{Var, VarId};
use tessera_dist::{plan_buckets, wire_dtype, Communicator, FlatBucket};
use tessera_nn::Parameters;
use tessera_tensor::Tensor;

/// The bucket the last parameters' gradients go out in: small, so that communication starts
/// early in backward (PyTorch's DDP uses 1 MiB too).
const FIRST_BUCKET_BYTES: usize = 1 << 20;

/// The parameters in the order their gradients are sent (reverse registration order), and
/// their buckets.
pub(crate) struct BucketPlan {
    params: Vec<Var>,
    at: HashMap<VarId, usize>,
    buckets: Vec<Range<usize>>,
    bucket_of: Vec<usize>,
}

impl BucketPlan {
    pub(crate) fn new(params: &Parameters, bucket_bytes: usize) -> Result<BucketPlan> {
        let params: Vec<Var> = params.iter().rev().map(|(_, p)| p.clone()).collect();
        let mut items = Vec::with_capacity(params.len());
        for p in &params {
            let wire = wire_dtype(p.dtype())?;
            items.push((wire, p.elem_count() * wire.size_in_bytes()));
        }
        let buckets = plan_buckets(&items, FIRST_BUCKET_BYTES.min(bucket_bytes), bucket_bytes);
        let mut bucket_of = vec![0; params.len()];
        for (b, r) in buckets.iter().enumerate() {
            bucket_of[r.clone()].iter_mut().for_each(|x| *x = b);
        }
        let at = params.iter().enumerate().map(|(i, p)| (p.id(), i)).collect();
        Ok(BucketPlan { params, at, buckets, bucket_of })
    }

    /// The number of buckets.
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }

    fn values(&self, b: usize) -> Vec<Tensor> {
        self.params[self.buckets[b].clone()].iter().map(|p| p.tensor().clone()).collect()
    }

    /// Replaces the gradients of the parameters that have one somewhere (`has[i]` for the
    /// parameter `i` of the optimizer's order) by their reduced sums in `flats` times `factor`.
    pub(crate) fn unpack(&self, flats: &[FlatBucket], factor: f64, has: &[bool]) -> Result<()> {
        let n = self.params.len();
        for (b, flat) in flats.iter().enumerate() {
            let r = self.buckets[b].clone();
            let grads = flat.unpack(&self.values(b), factor, |i| has[n - 1 - (r.start + i)])?;
            for (p, g) in self.params[r].iter().zip(grads) {
                if let Some(g) = g {
                    p.set_grad(g)?;
                }
            }
        }
        Ok(())
    }
}

/// A bucket sent to the communication thread: its gradients (zeros for a parameter without
/// one here) and this process's weight.
struct Job {
    grads: Result<Vec<Tensor>>,
    weight: f64,
}

/// Launches the buckets of one step as backward finishes them (see the module's comment).
pub(crate) struct Reducer<'a> {
    plan: &'a BucketPlan,
    overlap: bool,
    weight: Cell<f64>,
    launch: RefCell<Launch>,
}

struct Launch {
    finished: Vec<bool>,
    left: Vec<usize>,
    next: usize,
    jobs: Option<Sender<Job>>,
}

impl<'a> Reducer<'a> {
    /// A reducer sending to `jobs`; with `overlap` false, nothing is sent before
    /// [`Reducer::finish`].
    fn new(plan: &'a BucketPlan, jobs: Sender<Job>, overlap: bool) -> Reducer<'a> {
        let left = plan.buckets.iter().map(|r| r.len()).collect();
        let launch = Launch { finished: vec![false; plan.params.len()], left, next: 0, jobs: Some(jobs) };
        Reducer { plan, overlap, weight: Cell::new(0.0), launch: RefCell::new(launch) }
    }

    /// This process's weight in the step's average.
    pub(crate) fn set_weight(&self, weight: f64) {
        self.weight.set(weight);
    }

    /// Backward has finished `id`'s gradient (a value that is not a parameter is ignored).
    pub(crate) fn ready(&self, id: VarId) {
        let Some(&i) = self.plan.at.get(&id) else { return };
        let mut l = self.launch.borrow_mut();
        if std::mem::replace(&mut l.finished[i], true) {
            return;
        }
        l.left[self.plan.bucket_of[i]] -= 1;
        while self.overlap && l.next < self.plan.len() && l.left[l.next] == 0 {
            self.send(&mut l);
        }
    }

    fn send(&self, l: &mut Launch) {
        let r = self.plan.buckets[l.next].clone();
        let grads =
            self.plan.params[r].iter().map(|p| p.grad().map_or_else(|| Ok(p.tensor().zeros_like()?), Ok)).collect();
        l.next += 1;
        let job = Job { grads, weight: self.weight.get() };
        if let Some(jobs) = &l.jobs {
            // A closed channel means the communication thread stopped on an error it returns.
            let _ = jobs.send(job);
        }
    }

    /// Sends the buckets not sent yet (with whatever gradients they have) and closes the queue.
    fn finish(&self) {
        let mut l = self.launch.borrow_mut();
        while l.next < self.plan.len() {
            self.send(&mut l);
        }
        l.jobs = None;
    }
}

/// The communication thread: packs, all-reduces and returns every bucket, in order.
fn serve(comm: &Communicator, jobs: Receiver<Job>) -> Result<Vec<FlatBucket>> {
    let mut out = Vec::new();
    for job in jobs {
        let mut flat = FlatBucket::pack(&job.grads?, job.weight)?;
        flat.all_reduce(comm)?;
        out.push(flat);
    }
    Ok(out)
}

/// Runs `step` (a forward and backward given the [`Reducer`] to report finished gradients to)
/// and all-reduces the buckets of `plan`: with `overlap`, on a communication thread while the
/// step runs; without, on this thread after it (no thread to start). Returns the step's result
/// and the reduced buckets (each the sum over the ranks of their gradients times their
/// weights), in order.
pub(crate) fn overlapped<R>(
    comm: &Communicator,
    plan: &BucketPlan,
    overlap: bool,
    step: impl FnOnce(&Reducer<'_>) -> Result<R>,
) -> Result<(R, Vec<FlatBucket>)> {
    let (send, receive) = channel();
    let run = |reducer: Reducer<'_>| {
        let result = step(&reducer);
        reducer.finish();
        result
    };
    if !overlap {
        let result = run(Reducer::new(plan, send, false));
        let flats = serve(comm, receive);
        return Ok((result?, flats?));
    }
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || serve(comm, receive));
        let result = run(Reducer::new(plan, send, true));
        // A panic on the communication thread is a bug: it goes on here, as it would have there.
        let flats = worker.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        Ok((result?, flats?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    fn param(n: usize) -> Var {
        Var::param(Tensor::from_vec(vec![0.5f32; n], [n], &Device::Cpu).unwrap()).unwrap()
    }

    /// Three layers, registered first to last; each parameter a bucket of its own.
    fn layers() -> (Parameters, BucketPlan) {
        let params: Parameters = vec![("a".into(), param(4)), ("b".into(), param(4)), ("c".into(), param(4))];
        let plan = BucketPlan::new(&params, 16).unwrap();
        (params, plan)
    }

    #[test]
    fn buckets_go_out_during_backward_last_layer_first() {
        let (params, plan) = layers();
        assert_eq!(plan.len(), 3);
        let (send, receive) = channel();
        let reducer = Reducer::new(&plan, send, true);
        reducer.set_weight(2.0);
        let (a, b, c) = (&params[0].1, &params[1].1, &params[2].1);
        let loss = a.tanh().unwrap().mul(b).unwrap().tanh().unwrap().mul(c).unwrap().sum_all().unwrap();
        let mut sent_when_named = Vec::new();
        loss.backward_hooked(None, false, &mut |id| {
            reducer.ready(id);
            sent_when_named.push(receive.try_iter().count());
        })
        .unwrap();
        assert_eq!(sent_when_named, vec![1, 1, 1], "each bucket as soon as its gradient is final");
        reducer.finish();
        assert_eq!(receive.try_iter().count(), 0, "nothing left for after backward");
    }

    #[test]
    fn a_bucket_waits_for_the_ones_before_it_and_unfinished_ones_go_out_at_the_end() {
        let (params, plan) = layers();
        let (send, receive) = channel();
        let reducer = Reducer::new(&plan, send, true);
        let (a, b) = (&params[0].1, &params[1].1);
        // c (bucket 0) gets no gradient: b and a are final but wait behind it.
        a.mul(b).unwrap().sum_all().unwrap().backward_hooked(None, false, &mut |id| reducer.ready(id)).unwrap();
        assert_eq!(receive.try_iter().count(), 0);
        reducer.finish();
        let jobs: Vec<Job> = receive.try_iter().collect();
        assert_eq!(jobs.len(), 3);
        let zeros = jobs[0].grads.as_ref().unwrap()[0].to_vec::<f32>().unwrap();
        assert_eq!(zeros, vec![0.0; 4], "c's gradient travels as zeros");
    }

    #[test]
    fn without_overlap_everything_goes_out_at_the_end() {
        let (params, plan) = layers();
        let (send, receive) = channel();
        let reducer = Reducer::new(&plan, send, false);
        let loss = params.iter().fold(None, |acc: Option<Var>, (_, p)| {
            let s = p.sum_all().unwrap();
            Some(acc.map_or(s.clone(), |a| a.add(&s).unwrap()))
        });
        loss.unwrap().backward_hooked(None, false, &mut |id| reducer.ready(id)).unwrap();
        assert_eq!(receive.try_iter().count(), 0);
        reducer.finish();
        assert_eq!(receive.try_iter().count(), 3);
    }

    #[test]
    fn reduced_buckets_come_back_scaled_and_only_where_a_rank_had_a_gradient() {
        let (params, plan) = layers();
        let comm = Communicator::single();
        let (_, flats) = overlapped(&comm, &plan, true, |reducer| {
            reducer.set_weight(3.0);
            let (a, c) = (&params[0].1, &params[2].1);
            a.add(c).unwrap().sum_all().unwrap().backward_hooked(None, false, &mut |id| reducer.ready(id))?;
            Ok(())
        })
        .unwrap();
        plan.unpack(&flats, 1.0 / 3.0, &[true, false, true]).unwrap();
        assert_eq!(params[0].1.grad().unwrap().to_vec::<f32>().unwrap(), vec![1.0; 4]);
        assert!(params[1].1.grad().is_none());
    }
}
