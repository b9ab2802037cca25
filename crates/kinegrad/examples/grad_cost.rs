//! Cost of a full backward pass relative to the forward rollout: 100 steps of the Menagerie
//! Franka under PD control, gradient of a final-state loss w.r.t. all controls, initial state
//! and parameters. `cargo run --release --example grad_cost -- [file.xml] [steps]`

use kinegrad::adjoint::rollout::{rollout, rollout_vjp};
use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::{Control, CtrlMode, Data, ModelBuilder, State};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> kinegrad::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let file = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(".cache/assets/genesis/xml/franka_emika_panda/panda_no_tendon.xml")
    });
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let spec = kinegrad::model::mjcf::load(&file, 1.0)?;
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.01;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    let model = b.build()?;
    let params = model.params0.clone();
    let mut init = State::new(&model);
    // the Menagerie "home" keyframe, as written in the model file
    #[allow(clippy::approx_constant)]
    let home = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04];
    init.q[..model.nv.min(9)].copy_from_slice(&home[..model.nv.min(9)]);
    let controls: Vec<Control> = (0..steps)
        .map(|t| {
            let mut c = Control::new(&model);
            c.mode.iter_mut().for_each(|m| *m = CtrlMode::Position);
            c.target
                .iter_mut()
                .zip(&home)
                .for_each(|(x, h)| *x = h + 0.3 * (t as f64 * 0.05).sin());
            c
        })
        .collect();
    let mut data = Data::new(&model);
    let reps = 20;
    let (mut tf, mut tb) = (vec![], vec![]);
    for _ in 0..reps {
        let t0 = Instant::now();
        let states = rollout(&model, &params, &init, &controls, &mut data)?;
        tf.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let g = rollout_vjp(
            &model,
            &params,
            &states,
            &controls,
            &mut data,
            |t, _, qb, _| {
                if t == steps {
                    qb.iter_mut().for_each(|x| *x = 1.0);
                }
            },
        )?;
        tb.push(t0.elapsed().as_secs_f64());
        assert!(g.targets.iter().flatten().all(|x| x.is_finite()));
    }
    tf.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    let (f, bw) = (tf[reps / 2], tb[reps / 2]);
    println!("{}: {steps} steps, nv={}: forward {:.3} ms, backward {:.3} ms, ratio {:.2} (median of {reps})", file.display(), model.nv, f * 1e3, bw * 1e3, bw / f);
    Ok(())
}
