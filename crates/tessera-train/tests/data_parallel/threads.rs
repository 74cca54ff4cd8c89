//! The in-process transport of `data_parallel.rs`: ranks on threads of one process.

use std::sync::{Arc, Barrier, Mutex};
use tessera_train::dist::{Buf, ReduceOp, Transport};

/// Ranks on threads of one process: each collective posts every rank's buffer (as f64, exact
/// for the values moved here) and reads the others' after a barrier.
pub struct Threads {
    pub rank: usize,
    shared: Arc<(Barrier, Mutex<Vec<Vec<f64>>>)>,
}

/// `world` ranks of one in-process job.
pub fn threads(world: usize) -> Vec<Threads> {
    let shared = Arc::new((Barrier::new(world), Mutex::new(vec![Vec::new(); world])));
    (0..world).map(|rank| Threads { rank, shared: shared.clone() }).collect()
}

fn read(buf: &Buf<'_>) -> Vec<f64> {
    match buf {
        Buf::F32(b) => b.iter().map(|&x| x as f64).collect(),
        Buf::F64(b) => b.to_vec(),
        Buf::U64(b) => b.iter().map(|&x| x as f64).collect(),
        Buf::U8(b) => b.iter().map(|&x| x as f64).collect(),
    }
}

fn write(buf: Buf<'_>, v: &[f64]) {
    match buf {
        Buf::F32(b) => b.iter_mut().zip(v).for_each(|(d, s)| *d = *s as f32),
        Buf::F64(b) => b.copy_from_slice(v),
        Buf::U64(b) => b.iter_mut().zip(v).for_each(|(d, s)| *d = *s as u64),
        Buf::U8(b) => b.iter_mut().zip(v).for_each(|(d, s)| *d = *s as u8),
    }
}

impl Threads {
    /// Posts `mine`, then gives every rank's posts to `f` once all have posted.
    fn exchange<R>(&self, mine: Vec<f64>, f: impl FnOnce(&[Vec<f64>]) -> R) -> R {
        let (barrier, slots) = &*self.shared;
        slots.lock().unwrap()[self.rank] = mine;
        barrier.wait();
        let out = f(&slots.lock().unwrap());
        barrier.wait();
        out
    }
}

impl Transport for Threads {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world(&self) -> usize {
        self.shared.1.lock().unwrap().len()
    }

    fn all_reduce(&self, buf: Buf<'_>, op: ReduceOp) -> tessera_train::dist::Result<()> {
        let out = self.exchange(read(&buf), |all| {
            let mut acc = all[0].clone();
            for other in &all[1..] {
                for (a, b) in acc.iter_mut().zip(other) {
                    *a = if op == ReduceOp::Sum { *a + b } else { a.max(*b) };
                }
            }
            acc
        });
        write(buf, &out);
        Ok(())
    }

    fn broadcast(&self, buf: Buf<'_>, root: usize) -> tessera_train::dist::Result<()> {
        let out = self.exchange(read(&buf), |all| all[root].clone());
        write(buf, &out);
        Ok(())
    }

    fn all_gather(&self, local: Buf<'_>, recv: Buf<'_>) -> tessera_train::dist::Result<()> {
        let out = self.exchange(read(&local), |all| all.concat());
        write(recv, &out);
        Ok(())
    }

    fn barrier(&self) -> tessera_train::dist::Result<()> {
        self.exchange(Vec::new(), |_| ());
        Ok(())
    }
}
