//! The one error type of the crate.

/// What can go wrong in a distributed run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A launcher variable that is set but not a number.
    #[error("launcher variable {name}={value:?} is not a non-negative integer")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A rank outside the world.
    #[error("rank {rank} is outside a world of {world} processes")]
    RankOutOfRange {
        /// The rank.
        rank: usize,
        /// The world size.
        world: usize,
    },
    /// Launched as several processes, but this build has no backend that can join them.
    #[error(
        "launched as rank {rank} of {world} processes (by {launcher}), but this program was built without the `mpi` feature: rebuild with `--features mpi` or run one process"
    )]
    NoBackend {
        /// The rank the launcher gave.
        rank: usize,
        /// The world size the launcher gave.
        world: usize,
        /// The launcher, named after its variables.
        launcher: &'static str,
    },
    /// MPI could not be initialised (or was initialised twice in one process).
    #[error("MPI could not be initialised: {0}")]
    MpiInit(String),
    /// MPI disagrees with the launcher's variables.
    #[error("the launcher says rank {env_rank} of {env_world}, MPI says rank {rank} of {world}")]
    Inconsistent {
        /// Rank from the environment.
        env_rank: usize,
        /// World size from the environment.
        env_world: usize,
        /// Rank from MPI.
        rank: usize,
        /// World size from MPI.
        world: usize,
    },
    /// A buffer too long for one MPI call (counts are C ints).
    #[error("{op}: {len} elements exceed one MPI call's limit of {max}")]
    TooLong {
        /// The operation.
        op: &'static str,
        /// The buffer length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Buffers whose lengths do not fit the operation.
    #[error("{op}: expected {expected} elements, got {actual}")]
    Length {
        /// The operation.
        op: &'static str,
        /// The length needed.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A tensor of a dtype the communicator does not reduce.
    #[error(
        "{op}: tensors of dtype {dtype:?} are not supported (f32 and f64 are; gradient buckets also take f16 and bf16)"
    )]
    DType {
        /// The operation.
        op: &'static str,
        /// The dtype.
        dtype: tessera_tensor::DType,
    },
    /// Send and receive buffers of different element types.
    #[error("{op}: the send and receive buffers have different element types")]
    Types {
        /// The operation.
        op: &'static str,
    },
    /// The ranks disagree about something that must be the same everywhere.
    #[error("rank {rank} differs from rank 0: {what}")]
    Mismatch {
        /// The first rank found to differ.
        rank: usize,
        /// What differs, naming the values.
        what: String,
    },
    /// NCCL could not be loaded, or rank 0 could not make its id: the same on every rank, so
    /// a job may go on without NCCL (staging GPU tensors through host memory) consistently.
    #[error("NCCL is not available: {0}")]
    NcclUnavailable(String),
    /// An NCCL call failed.
    #[error("NCCL {op}: {msg}")]
    Nccl {
        /// The call, or what was being done.
        op: &'static str,
        /// NCCL's message.
        msg: String,
    },
    /// The watchdog ended the NCCL communicator: a collective failed or could not finish (a rank
    /// lost, or past the timeout); every later call of the communicator returns this.
    #[error("the NCCL communicator was aborted: {0}")]
    Aborted(String),
    /// The rendezvous file that hands NCCL's id to every rank could not be used.
    #[error("rendezvous file {}: {msg}", path.display())]
    Rendezvous {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
}

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
