//! Throughput of batched stepping, Rust only: n Franka envs (Menagerie, with floor, PD-held at
//! "home") stepped for a few seconds, in calls of `steps` steps each.
//!
//! `cargo run --release --example batch_scaling -- MODE THREADS [n_envs] [seconds] [steps]`
//! - `rayon`: [`batch::step_all_n`] on a rayon pool of THREADS threads, as `Sim.step` runs;
//! - `free`: THREADS plain threads, each stepping its own fixed share of the envs in a loop of
//!   its own, never waiting for the others. No scheduler can beat it on an even workload: the
//!   gap between the two is what a call's synchronization costs (waking the workers, the wait
//!   for the last env).
//!
//! Prints env-steps per second, the CPU time per env-step and the cores kept busy (CPU time over
//! wall time: rayon's idle workers spin a while before they sleep, which counts as busy). Run
//! the modes in turn, several times: the machine is noisy.

use kinegrad::{batch, CtrlMode, Data, Env, Workers};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> kinegrad::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let mode = args.get(1).map_or("rayon", String::as_str);
    let threads = arg(2, 2.0) as usize;
    let n = arg(3, 1024.0) as usize;
    let secs = arg(4, 3.0);
    let steps = arg(5, 20.0) as usize;
    if threads == 0 || n == 0 || steps == 0 || !matches!(mode, "rayon" | "free") {
        eprintln!("usage: batch_scaling rayon|free THREADS [n_envs] [seconds] [steps] (all >= 1)");
        std::process::exit(2);
    }
    let file = PathBuf::from(".cache/assets/genesis/xml/franka_emika_panda/scene_no_tendon.xml");
    let model = kinegrad::model::mjcf::load_model(&file)?;
    #[allow(clippy::approx_constant)]
    let home = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04];
    let mut envs: Vec<Env> = (0..n)
        .map(|_| {
            let mut e = Env::new(&model);
            e.state.q.copy_from_slice(&home);
            e.control.mode.fill(CtrlMode::Position);
            e.control.target.copy_from_slice(&home);
            e
        })
        .collect();
    let (t0, cpu0) = (Instant::now(), cpu_seconds());
    let count: usize = if mode == "rayon" {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool");
        let workers = Workers::new();
        let mut count = 0;
        pool.install(|| {
            while t0.elapsed().as_secs_f64() < secs {
                batch::step_all_n(&model, &mut envs, &workers, steps)?;
                count += n * steps;
            }
            kinegrad::Result::Ok(())
        })?;
        count
    } else {
        let model = &model;
        std::thread::scope(|s| {
            let handles: Vec<_> = envs
                .chunks_mut(n.div_ceil(threads))
                .map(|mine| {
                    s.spawn(move || {
                        let mut data = Data::new(model);
                        let mut count = 0;
                        while t0.elapsed().as_secs_f64() < secs {
                            for e in mine.iter_mut() {
                                e.step_n(model, &mut data, steps)?;
                            }
                            count += mine.len() * steps;
                        }
                        kinegrad::Result::Ok(count)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a stepping thread panicked"))
                .sum::<kinegrad::Result<usize>>()
        })?
    };
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    println!(
        "{mode} {threads} threads, {n} envs, {steps} steps per call: {:.3} M env-steps/s, {:.2} us CPU per env-step, {:.2} cores busy",
        count as f64 / wall / 1e6,
        cpu / count as f64 * 1e6,
        cpu / wall
    );
    Ok(())
}

/// This process's user + system CPU time, from /proc/self/stat (Linux; clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name (which is in parentheses and may hold spaces)
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, the 12th and 13th after the name
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
