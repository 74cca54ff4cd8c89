//! The MPI backend with two processes on this machine: `mpirun -np 2` runs this test binary's
//! `worker` test in each process (it does nothing when run directly). Needs the `mpi` feature
//! and `mpirun` on the PATH; skips with a message without `mpirun`.
#![cfg(feature = "mpi")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tessera_dist::{all_reduce_bucketed, Backend, Communicator, Reduce};
use tessera_tensor::{Device, Tensor};

const WORKER: &str = "TESSERA_DIST_MPI_WORKER";

fn mpirun_present() -> bool {
    Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// `mpirun -np 2` as root and on a machine with fewer slots than processes.
fn mpirun(np: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["-np", &np.to_string(), "--allow-run-as-root", "--oversubscribe"]);
    c
}

#[test]
fn worker() {
    let Some(mode) = std::env::var_os(WORKER) else { return };
    let comm = Communicator::from_env().expect("joined the job");
    if mode == "die" {
        // Rank 1 is lost (exits without finalising MPI) while rank 0 waits for it.
        comm.barrier().unwrap();
        if comm.rank() == 1 {
            std::process::exit(3);
        }
        let t = Tensor::from_vec(vec![1.0f32], [1], &Device::Cpu).unwrap();
        let _ = comm.all_reduce_(&t, Reduce::Sum);
        println!("rank 0 returned from an all-reduce without rank 1");
        return;
    }
    assert_eq!(comm.backend(), Backend::Mpi);
    let (r, n) = (comm.rank() as f32, comm.world() as f32);
    let s = n * (n - 1.0) / 2.0;
    let cpu = Device::Cpu;
    let t = Tensor::from_vec(vec![r, 1.0, -2.0 * r], [3], &cpu).unwrap();
    comm.all_reduce_(&t, Reduce::Sum).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap(), vec![s, n, -2.0 * s]);
    let t = Tensor::from_vec(vec![r as f64 * 4.0; 3], [3], &cpu).unwrap();
    comm.all_reduce_(&t, Reduce::Average).unwrap();
    assert_eq!(t.to_vec::<f64>().unwrap(), vec![4.0 * s as f64 / n as f64; 3]);
    let t = Tensor::from_vec(vec![r + 1.0; 5], [5], &cpu).unwrap();
    comm.broadcast_(&t, 1).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap(), vec![2.0; 5]);
    let g = comm.all_gather(&Tensor::from_vec(vec![r, 10.0 * r], [1, 2], &cpu).unwrap()).unwrap();
    assert_eq!(g.dims(), &[comm.world(), 1, 2]);
    let want: Vec<f32> = (0..comm.world()).flat_map(|k| [k as f32, 10.0 * k as f32]).collect();
    assert_eq!(g.to_vec::<f32>().unwrap(), want);
    // A weighted mean: rank r counts (r + 1) / 3 of the whole.
    let w = comm
        .all_reduced(&Tensor::from_vec(vec![3.0 * r], [1], &cpu).unwrap(), Reduce::Weighted((r as f64 + 1.0) / 3.0));
    assert_eq!(w.unwrap().to_vec::<f32>().unwrap(), vec![2.0]);
    // The same in place, on the tensor's own storage: scaled, summed, and seen by its views.
    let t = Tensor::from_vec(vec![3.0 * r, 6.0 * r], [2], &cpu).unwrap();
    let view = t.narrow(0, 1, 1).unwrap();
    comm.all_reduce_(&t, Reduce::Weighted((r as f64 + 1.0) / 3.0)).unwrap();
    assert_eq!((t.to_vec::<f32>().unwrap(), view.to_vec::<f32>().unwrap()), (vec![2.0, 4.0], vec![4.0]));
    let big: Vec<Tensor> =
        (0..5).map(|i| Tensor::from_vec(vec![r + i as f32; 1000], [10, 100], &cpu).unwrap()).collect();
    let (out, calls) = all_reduce_bucketed(&comm, &big, Reduce::Sum, 8000).unwrap();
    assert_eq!(calls, 3);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.to_vec::<f32>().unwrap(), vec![s + n * i as f32; 1000]);
    }
    assert_eq!(comm.broadcast_bytes(format!("rank {}", comm.rank()).as_bytes(), 0).unwrap(), b"rank 0");
    assert_eq!(comm.all_gather_u64(comm.rank() as u64 * 7).unwrap(), vec![0, 7]);
    comm.barrier().unwrap();
    println!("worker {} of {} passed", comm.rank(), comm.world());
}

#[test]
fn two_processes_agree_on_known_values() {
    if !mpirun_present() {
        eprintln!("skipped: no `mpirun` on the PATH (apt-get install openmpi-bin libopenmpi-dev)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = mpirun(2)
        .arg(exe)
        .args(["--exact", "worker", "--nocapture", "--test-threads", "1"])
        .env(WORKER, "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mpirun failed ({}):\n{text}", out.status);
    for rank in 0..2 {
        assert!(text.contains(&format!("worker {rank} of 2 passed")), "{text}");
    }
}

#[test]
fn a_lost_rank_ends_the_job_naming_it() {
    if !mpirun_present() {
        eprintln!("skipped: no `mpirun` on the PATH (apt-get install openmpi-bin libopenmpi-dev)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let dir = std::env::temp_dir().join(format!("tessera-dist-die-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("mpirun.log");
    let mut child = mpirun(2)
        .arg(exe)
        .args(["--exact", "worker", "--nocapture", "--test-threads", "1"])
        .env(WORKER, "die")
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(dir.join("stderr.log")).unwrap()))
        .spawn()
        .unwrap();
    // Not a timing assertion: a hang (the failure this guards against) must not hang the suite.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the job was still running 60 s after rank 1 exited");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).unwrap() + &std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!status.success(), "{text}");
    assert!(!text.contains("returned from an all-reduce"), "{text}");
    // OpenMPI names the process that ended the job: `[[job,1],1]` with its exit code 3.
    assert!(text.contains(",1]") && text.contains("Exit code:    3"), "{text}");
}
