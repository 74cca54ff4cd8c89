//! The single-process backend: every collective through the same code path as a world of 1.

use tessera_dist::{all_reduce_bucketed, Backend, Communicator, Error, Reduce};
use tessera_tensor::{DType, Device, Tensor};

fn t32(v: Vec<f32>, dims: &[usize]) -> Tensor {
    Tensor::from_vec(v, dims.to_vec(), &Device::Cpu).unwrap()
}

#[test]
fn a_world_of_one_leaves_tensors_as_they_are() {
    let comm = Communicator::single();
    assert_eq!((comm.rank(), comm.world(), comm.local_rank(), comm.is_root()), (0, 1, 0, true));
    assert_eq!(comm.backend(), Backend::Single);
    let t = t32(vec![1.5, -2.0, 3.0], &[3]);
    for op in [Reduce::Sum, Reduce::Average, Reduce::Weighted(1.0)] {
        comm.all_reduce_(&t, op).unwrap();
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![1.5, -2.0, 3.0]);
    }
    let w = comm.all_reduced(&t, Reduce::Weighted(0.5)).unwrap();
    assert_eq!(w.to_vec::<f32>().unwrap(), vec![0.75, -1.0, 1.5]);
    comm.broadcast_(&t, 0).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap(), vec![1.5, -2.0, 3.0]);
    let g = comm.all_gather(&Tensor::from_vec(vec![1.0f64, 2.0], [2], &Device::Cpu).unwrap()).unwrap();
    assert_eq!((g.dims(), g.to_vec::<f64>().unwrap()), (&[1usize, 2][..], vec![1.0, 2.0]));
    comm.barrier().unwrap();
    assert_eq!(comm.broadcast_bytes(b"abc", 0).unwrap(), b"abc");
    assert_eq!(comm.broadcast_u64(7, 0).unwrap(), 7);
    assert_eq!(comm.all_gather_u64(9).unwrap(), vec![9]);
    assert!(comm.any(true).unwrap() && !comm.any(false).unwrap());
}

#[test]
fn errors_name_the_value_at_fault() {
    let comm = Communicator::single();
    let e = comm.broadcast_(&t32(vec![1.0], &[1]), 1).unwrap_err();
    assert!(matches!(e, Error::RankOutOfRange { rank: 1, world: 1 }), "{e}");
    let ints = Tensor::from_vec(vec![1u32, 2], [2], &Device::Cpu).unwrap();
    let e = comm.all_reduce_(&ints, Reduce::Sum).unwrap_err();
    assert!(e.to_string().contains("U32") && e.to_string().contains("all_reduce"), "{e}");
}

#[test]
fn bucketed_all_reduce_keeps_shapes_dtypes_and_order() {
    let comm = Communicator::single();
    let ts = vec![
        t32(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]),
        Tensor::from_vec(vec![5.0f64], [1], &Device::Cpu).unwrap(),
        t32(vec![6.0; 6], &[3, 2]),
        t32(vec![7.0], &[1]),
    ];
    let (out, calls) = all_reduce_bucketed(&comm, &ts, Reduce::Average, 16).unwrap();
    // [16 B] [f64] [24 B alone] [4 B]
    assert_eq!(calls, 4);
    for (a, b) in ts.iter().zip(&out) {
        assert_eq!((a.dims(), a.dtype()), (b.dims(), b.dtype()));
        assert_eq!(a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    }
    let (_, calls) = all_reduce_bucketed(&comm, &ts, Reduce::Sum, 1 << 20).unwrap();
    assert_eq!(calls, 3, "the f64 tensor splits the f32 run");
    assert_eq!(ts[1].dtype(), DType::F64);
}

#[test]
fn launcher_variables_give_the_topology() {
    let env = [("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2")];
    let found = tessera_dist::detect_with(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()));
    let (launcher, topology) = found.unwrap().unwrap();
    assert_eq!((launcher, topology.rank, topology.world), ("Slurm's srun", 1, 2));
}
