//! Cost of a full backward pass relative to the forward rollout: the gradient of a final-state
//! loss w.r.t. all controls, initial state and parameters of a Menagerie Franka trajectory.
//! `cargo run --release --example grad_cost -- [file.xml] [steps] [pd|force] [reps] [recorded]`
//!
//! - `pd` (default): `panda_no_tendon.xml`, dt 0.01, PD position control around the home pose.
//! - `force`: the issue-5 workload, e.g. with `scene_no_tendon.xml` (Franka with floor): the
//!   file's options (dt 0.002, implicitfast), force control with targets `0.5 sin(k)`,
//!   k = 0..steps*nv-1 in row-major (steps, nv) order, from the home pose at rest.
//!
//! Prints the per-step medians of the forward rollout (recording a tape with each step's
//! results) and of the reverse pass over that tape, with the recorded results and without
//! them (every step recomputed in full; skipped with `recorded`, e.g. for profiling).

use kinegrad::adjoint::rollout::Tape;
use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::pipeline::StepLog;
use kinegrad::{pipeline, Control, CtrlMode, Data, Interrupt, ModelBuilder, State, StepCarry};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> kinegrad::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let file = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(".cache/assets/genesis/xml/franka_emika_panda/panda_no_tendon.xml")
    });
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let force = match args.get(3).map(String::as_str) {
        None | Some("pd") => false,
        Some("force") => true,
        Some(s) => panic!("unknown control mode '{s}' (pd or force)"),
    };
    let reps: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(21);
    let only_recorded = args.get(5).is_some_and(|s| s == "recorded");
    let model = if force {
        kinegrad::model::mjcf::load_model(&file)?
    } else {
        let mut b = ModelBuilder::new();
        b.options.timestep = 0.01;
        b.add_entity(
            kinegrad::model::mjcf::load(&file, 1.0)?,
            Pose::identity(),
            BaseMode::AsIs,
        );
        b.build()?
    };
    let nv = model.nv;
    let params = model.params0.clone();
    let mut init = State::new(&model);
    // the Menagerie "home" keyframe, as written in the model file
    #[allow(clippy::approx_constant)]
    let home = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04];
    init.q[..nv.min(9)].copy_from_slice(&home[..nv.min(9)]);
    let controls: Vec<Control> = (0..steps)
        .map(|t| {
            let mut c = Control::new(&model);
            if force {
                for (i, x) in c.target.iter_mut().enumerate() {
                    *x = 0.5 * ((t * nv + i) as f64).sin();
                }
            } else {
                c.mode.iter_mut().for_each(|m| *m = CtrlMode::Position);
                c.target
                    .iter_mut()
                    .zip(&home)
                    .for_each(|(x, h)| *x = h + 0.3 * (t as f64 * 0.05).sin());
            }
            c
        })
        .collect();
    let mut data = Data::new(&model);
    let (mut carry, mut log) = (StepCarry::new(&model), StepLog::new(&model));
    let (mut tf, mut tb, mut tu) = (vec![], vec![], vec![]);
    let (mut niter, mut nefc, mut ncon) = (0usize, 0usize, 0usize);
    let (mut nbytes, mut bare_nbytes) = (0, 0);
    for rep in 0..reps {
        let t0 = Instant::now();
        let mut tape = Tape::new(params.clone(), 1);
        let mut s = init.clone();
        for c in &controls {
            tape.record_state(&s, &carry);
            let never = Interrupt::never();
            let (p, l) = (&params, Some(&mut log));
            pipeline::step_interruptible(&model, p, &mut s, c, &mut carry, &mut data, never, l)?;
            tape.record_result(&data, &log);
            if rep == 0 {
                niter += data.solver_niter;
                nefc += data.nefc;
                ncon += data.contacts.len();
            }
        }
        tf.push(t0.elapsed().as_secs_f64());
        nbytes = tape.nbytes();
        // the same reverse pass without the recorded results
        let mut bare = tape.clone();
        bare.record_result(&data, &log); // not the result of a new step: the tape drops all results
        assert!(tape.has_results() && !bare.has_results());
        bare_nbytes = bare.nbytes();
        for (tp, times) in [(&tape, &mut tb), (&bare, &mut tu)] {
            if only_recorded && !tp.has_results() {
                times.push(f64::NAN);
                continue;
            }
            let t0 = Instant::now();
            let g = tp.vjp(
                &model,
                &mut data,
                Some(&controls),
                None,
                |t, qb, _| {
                    if t + 1 == steps {
                        qb.iter_mut().for_each(|x| *x = 1.0);
                    }
                },
                |_, g| assert!(g.iter().all(|x| x.is_finite())),
            )?;
            times.push(t0.elapsed().as_secs_f64());
            assert!(g.q0.iter().all(|x| x.is_finite()));
        }
    }
    tf.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    tu.sort_by(f64::total_cmp);
    let per = 1e6 / steps as f64;
    let (f, bw, bu) = (tf[reps / 2] * per, tb[reps / 2] * per, tu[reps / 2] * per);
    println!(
        "{}: {steps} steps, nv={nv}, dt={}, {} control (medians of {reps})",
        file.display(),
        model.opt.timestep,
        if force { "force" } else { "PD" },
    );
    println!(
        "forward {f:.2} us/step, backward {bw:.2} us/step, forward + backward {:.2} us/step; backward without recorded results {bu:.2} us/step",
        f + bw
    );
    println!(
        "per step: {:.2} Newton iterations, {:.2} rows, {:.2} contacts; tape {:.0} bytes/step ({:.0} without results)",
        niter as f64 / steps as f64,
        nefc as f64 / steps as f64,
        ncon as f64 / steps as f64,
        nbytes as f64 / steps as f64,
        bare_nbytes as f64 / steps as f64
    );
    Ok(())
}
