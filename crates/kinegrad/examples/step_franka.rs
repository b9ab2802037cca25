//! Time the single-env step of an MJCF scene (default: Menagerie Franka with floor), Rust only.
//! `cargo run --release --example step_franka -- [file.xml] [steps]`

use kinegrad::{pipeline, Control, CtrlMode, Data, State, StepCarry};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> kinegrad::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let file = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(".cache/assets/genesis/xml/franka_emika_panda/scene_no_tendon.xml")
    });
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20000);
    let model = kinegrad::model::mjcf::load_model(&file)?;
    let mut state = State::new(&model);
    let mut control = Control::new(&model);
    // the Menagerie "home" keyframe, as written in the model file
    #[allow(clippy::approx_constant)]
    let home = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04];
    if model.nv == home.len() {
        state.q.copy_from_slice(&home);
        control
            .mode
            .iter_mut()
            .for_each(|m| *m = CtrlMode::Position);
        control.target.copy_from_slice(&home);
    }
    let mut data = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    let t0 = Instant::now();
    for _ in 0..steps {
        pipeline::step(
            &model,
            &model.params0,
            &mut state,
            &control,
            &mut carry,
            &mut data,
        )?;
    }
    let dt = t0.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{}: nv={} ngeom={} {:.2} us/step, {} contacts",
        file.display(),
        model.nv,
        model.ngeom,
        dt * 1e6,
        data.contacts.len()
    );
    Ok(())
}
