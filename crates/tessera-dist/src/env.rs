//! Where this process stands in a job, read from the launcher's environment variables.

use crate::{Error, Result};

/// A process's place in a job: its rank, the number of processes, and its rank among the
/// processes on its own machine (which picks its GPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    /// This process's rank, `0..world`.
    pub rank: usize,
    /// The number of processes.
    pub world: usize,
    /// This process's rank on its machine.
    pub local_rank: usize,
}

impl Topology {
    /// One process alone.
    pub const SINGLE: Topology = Topology { rank: 0, world: 1, local_rank: 0 };
}

/// A launcher's variables: (name, rank, world size, local rank).
const LAUNCHERS: [(&str, &str, &str, &str); 3] = [
    ("OpenMPI's mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("Slurm's srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ("a PMI launcher (MPICH, Intel MPI)", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
];

/// The launcher that started this process and the topology its variables give, read through
/// `get` (the process environment in [`detect`]); `None` when no launcher's rank and size are
/// both set. A local rank that is not set is 0.
pub fn detect_with(get: impl Fn(&str) -> Option<String>) -> Result<Option<(&'static str, Topology)>> {
    for (launcher, rank, world, local) in LAUNCHERS {
        let (Some(r), Some(w)) = (get(rank), get(world)) else { continue };
        let parse = |name: &'static str, value: String| -> Result<usize> {
            value.trim().parse().map_err(|_| Error::BadEnv { name, value })
        };
        let (rank_v, world_v) = (parse(rank, r)?, parse(world, w)?);
        let local_v = get(local).map(|v| parse(local, v)).transpose()?.unwrap_or(0);
        if rank_v >= world_v {
            return Err(Error::RankOutOfRange { rank: rank_v, world: world_v });
        }
        return Ok(Some((launcher, Topology { rank: rank_v, world: world_v, local_rank: local_v })));
    }
    Ok(None)
}

/// [`detect_with`] on this process's environment.
pub fn detect() -> Result<Option<(&'static str, Topology)>> {
    detect_with(|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_each_launcher() {
        let t = detect_with(env(&[
            ("OMPI_COMM_WORLD_RANK", "1"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
            ("OMPI_COMM_WORLD_LOCAL_RANK", "1"),
        ]))
        .unwrap();
        assert_eq!(t, Some(("OpenMPI's mpirun", Topology { rank: 1, world: 4, local_rank: 1 })));
        let t = detect_with(env(&[("SLURM_PROCID", "5"), ("SLURM_NTASKS", "8"), ("SLURM_LOCALID", "1")])).unwrap();
        assert_eq!(t.unwrap().1, Topology { rank: 5, world: 8, local_rank: 1 });
        let t = detect_with(env(&[("PMI_RANK", "2"), ("PMI_SIZE", "3")])).unwrap();
        assert_eq!(t.unwrap().1, Topology { rank: 2, world: 3, local_rank: 0 });
        assert_eq!(detect_with(env(&[("SLURM_PROCID", "0")])).unwrap(), None);
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        let e = detect_with(env(&[("PMI_RANK", "x"), ("PMI_SIZE", "3")])).unwrap_err();
        assert!(e.to_string().contains("PMI_RANK=\"x\""), "{e}");
        let e = detect_with(env(&[("PMI_RANK", "3"), ("PMI_SIZE", "3")])).unwrap_err();
        assert!(e.to_string().contains("rank 3 is outside a world of 3"), "{e}");
    }
}
