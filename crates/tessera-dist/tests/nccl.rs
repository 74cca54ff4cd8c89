//! NCCL on the GPU this machine has: a world of one process, through the same code path as a
//! world of many (`with_nccl` over the single-process transport, and a rendezvous file). On a
//! machine without a GPU (or with the CUDA host emulator) these tests say so and check only that
//! asking for NCCL is a clear error; on a machine with one, NCCL must be found (see
//! `benches/gpu/run.sh`).
#![cfg(feature = "cuda")]

use std::time::Duration;
use tessera_dist::{all_reduce_bucketed, Backend, Communicator, FlatBucket, Reduce, Topology};
use tessera_tensor::{DType, Device, Tensor};

/// The first GPU, or `None` (saying so) without one. The CUDA host emulator is none: NCCL needs
/// a real GPU.
fn gpu() -> Option<Device> {
    if tessera_kernels::cuda::emulator::enabled() {
        eprintln!("skipped: the CUDA host emulator stands in for device 0, and NCCL needs a GPU");
        return None;
    }
    match Device::cuda(0) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skipped: no CUDA device ({e})");
            None
        }
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

#[test]
fn asking_for_nccl_without_it_is_a_clear_error_and_a_cpu_device_needs_none() {
    let single = Communicator::single();
    let same = single.with_nccl(&Device::Cpu).unwrap();
    same.check_health().expect("without NCCL there is nothing to fail");
    assert_eq!((same.backend(), same.nccl_device()), (Backend::Single, None));
    let path = std::env::temp_dir().join(format!("tessera-nccl-cpu-{}", std::process::id()));
    let e = Communicator::nccl_rendezvous(&path, Topology::SINGLE, &Device::Cpu, Duration::from_secs(1));
    assert!(e.unwrap_err().to_string().contains("NCCL needs a CUDA device, not cpu"));
    if gpu().is_none() {
        // No GPU: either NCCL is missing (the usual case) or the device is; never a panic.
        let e = single.with_nccl(&Device::Cuda(0)).unwrap_err().to_string();
        eprintln!("asking for NCCL without a GPU: {e}");
        assert!(e.contains("NCCL") || e.contains("CUDA"), "{e}");
    }
}

#[test]
fn a_world_of_one_reduces_gpu_tensors_where_they_lie() {
    let Some(dev) = gpu() else { return };
    let comm = Communicator::single().with_nccl(&dev).expect("NCCL on a machine with a GPU");
    assert_eq!(comm.nccl_device(), Some(dev));
    let t = Tensor::from_vec(vec![1.5f32, -2.0, 3.0], [3], &dev).unwrap();
    for op in [Reduce::Sum, Reduce::Average, Reduce::Weighted(1.0)] {
        comm.all_reduce_(&t, op).unwrap();
        assert_eq!(values(&t), vec![1.5, -2.0, 3.0], "{op:?}");
    }
    comm.all_reduce_(&t, Reduce::Weighted(2.0)).unwrap();
    assert_eq!(values(&t), vec![3.0, -4.0, 6.0]);
    for dtype in [DType::F64, DType::F16, DType::BF16] {
        let h = t.to_dtype(dtype).unwrap();
        let r = comm.all_reduced(&h, Reduce::Weighted(0.5)).unwrap();
        assert_eq!((r.dtype(), r.device(), values(&r)), (dtype, &dev, vec![1.5, -2.0, 3.0]));
    }
    // A view is reduced through a copy and written back.
    let m = Tensor::from_vec(vec![1f32, 2., 3., 4.], [2, 2], &dev).unwrap();
    let column = m.narrow(1, 1, 1).unwrap();
    comm.all_reduce_(&column, Reduce::Weighted(10.0)).unwrap();
    comm.broadcast_(&column, 0).unwrap();
    assert_eq!(values(&column), vec![20.0, 40.0]);
    let g = comm.all_gather(&t).unwrap();
    assert_eq!((g.dims(), values(&g)), (&[1usize, 3][..], vec![3.0, -4.0, 6.0]));
    assert!(comm.all_reduced(&Tensor::zeros([2], DType::I64, &dev).unwrap(), Reduce::Sum).is_err());
    // The watchdog followed every collective to its end and found nothing wrong.
    comm.check_health().unwrap();
}

#[test]
fn gpu_buckets_give_what_host_buckets_give() {
    let Some(dev) = gpu() else { return };
    let comm = Communicator::single().with_nccl(&dev).unwrap();
    let host: Vec<Tensor> = vec![
        Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 4.0], [2, 2], &Device::Cpu).unwrap(),
        Tensor::from_vec(vec![3.0f32], [1], &Device::Cpu).unwrap().to_dtype(DType::BF16).unwrap(),
        Tensor::from_vec(vec![1.0f32, 8.0], [2], &Device::Cpu).unwrap(),
    ];
    let on_gpu: Vec<Tensor> = host.iter().map(|t| t.to_device(&dev).unwrap()).collect();
    let mut bucket = FlatBucket::pack(&on_gpu, 2.0).unwrap();
    assert_eq!(bucket.len(), 7);
    bucket.all_reduce(&comm).unwrap();
    let back = bucket.unpack(&on_gpu, 0.25, |i| i != 2).unwrap();
    assert!(back[2].is_none());
    for (b, t) in back.iter().flatten().zip(&host) {
        assert_eq!((b.dtype(), b.device(), b.dims()), (t.dtype(), &dev, t.dims()));
        assert_eq!(values(b), values(t).iter().map(|v| v * 0.5).collect::<Vec<_>>());
    }
    assert_eq!(values(&on_gpu[0]), values(&host[0]), "the packed tensors are left alone");
    let (a, calls) = all_reduce_bucketed(&comm, &on_gpu, Reduce::Average, 12).unwrap();
    let (b, _) = all_reduce_bucketed(&Communicator::single(), &host, Reduce::Average, 12).unwrap();
    assert_eq!(calls, 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.device(), values(x)), (&dev, values(y)));
    }
}

#[test]
fn a_world_of_one_joins_through_a_rendezvous_file() {
    let Some(dev) = gpu() else { return };
    let path = std::env::temp_dir().join(format!("tessera-nccl-rendezvous-{}", std::process::id()));
    let comm = Communicator::nccl_rendezvous(&path, Topology::SINGLE, &dev, Duration::from_secs(30)).unwrap();
    assert_eq!((comm.backend(), comm.nccl_device(), comm.world()), (Backend::Nccl, Some(dev), 1));
    assert!(!path.exists(), "rank 0 removes the file once every rank has joined");
    // Host buffers go through the GPU.
    let mut v = [1.5f64, -2.0];
    comm.all_reduce_f64(&mut v).unwrap();
    assert_eq!(v, [1.5, -2.0]);
    assert!(comm.any(true).unwrap() && !comm.any(false).unwrap());
    assert_eq!(comm.broadcast_bytes(b"abc", 0).unwrap(), b"abc");
    assert_eq!(comm.broadcast_bytes(b"", 0).unwrap(), b"");
    assert_eq!(comm.all_gather_u64(u64::MAX - 1).unwrap(), vec![u64::MAX - 1]);
    comm.barrier().unwrap();
    let t = Tensor::from_vec(vec![2f32, 4.], [2], &dev).unwrap();
    comm.all_reduce_(&t, Reduce::Average).unwrap();
    assert_eq!(values(&t), vec![2.0, 4.0]);
    // This rank's heartbeat beside the rendezvous file while it runs, gone when it ends.
    let heartbeat = std::path::PathBuf::from(format!("{}.alive.0", path.display()));
    assert!(heartbeat.exists(), "{} written", heartbeat.display());
    comm.check_health().unwrap();
    drop(comm);
    assert!(!heartbeat.exists(), "{} removed", heartbeat.display());
}
