//! Mocap bodies (MJCF `mocap="true"`): a body whose pose is the parameters `mocap_pos` and
//! `mocap_quat`, set between steps. The gradient of a loss after 100 steps with respect to them,
//! through a weld equality (a three-link arm held to the mocap body) and a contact (a ball
//! falling on the mocap body's box), against central differences. (Parity with MuJoCo, the mocap
//! moved every step: python/tests/test_mocap_vs_mujoco.py, on the same file.)

use kinegrad::fd::{params_axpy, params_dot};
use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, Integrator, ModelBuilder};
use kinegrad::{Control, Data, Model, Params, State};

fn model(integrator: Integrator) -> Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/tests/models/mocap_weld.xml");
    let spec = mjcf::load(&path, 1.0).expect("the file loads");
    assert!(
        spec.warnings.iter().all(|w| !w.contains("mocap")),
        "{:?}",
        spec.warnings
    );
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.005;
    b.options.integrator = integrator;
    b.options.tolerance = 1e-14;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().expect("the file builds")
}

mod common;

/// The loss after `steps` steps from rest (a weighted sum of the positions and 0.3 |v|^2; with
/// `arm`, of the arm's joint angles alone: the weld's share, small beside the ball's), and its
/// gradient.
fn loss(
    model: &Model,
    params: &Params,
    steps: usize,
    arm: bool,
) -> (f64, kinegrad::adjoint::rollout::RolloutGrad) {
    let w: Vec<f64> = (0..model.nq)
        .map(|i| {
            if arm && i >= 3 {
                0.0
            } else {
                1.0 + 0.1 * i as f64
            }
        })
        .collect();
    let kv = if arm { 0.0 } else { 0.3 };
    let (l, g) = common::final_loss(model, params, &State::new(model), steps, (&w, kv), true);
    (l, g.expect("with its gradient"))
}

#[test]
fn mocap_pose_gradient_through_a_weld_and_a_contact_matches_central_differences() {
    for integrator in [Integrator::ImplicitFast, Integrator::Euler] {
        let model = model(integrator);
        assert_eq!(model.nmocap(), 1);
        assert_eq!(model.opt.integrator, integrator);
        let steps = 100;
        let params = model.params0.clone();
        // the ball meets the mocap body's box within the run
        let (mut d, mut s, mut carry) = (
            Data::new(&model),
            State::new(&model),
            kinegrad::StepCarry::new(&model),
        );
        let mut touched = false;
        for _ in 0..steps {
            kinegrad::pipeline::step(
                &model,
                &params,
                &mut s,
                &Control::new(&model),
                &mut carry,
                &mut d,
            )
            .unwrap();
            touched |= d.contacts.iter().any(|c| {
                let b = |g: usize| model.body_name[model.geom_body[g]].as_str();
                [b(c.geom1), b(c.geom2)].contains(&"target")
            });
        }
        assert!(touched, "the ball touches the mocap body");
        let zero = kinegrad::adjoint::params_zeros(&model);
        let mut dirs = Vec::new();
        let mut dp = zero.clone();
        dp.mocap_pos[0] = Vec3::new(0.3, -0.5, 0.2);
        dirs.push(("mocap_pos", dp));
        let mut dq = zero.clone();
        dq.mocap_quat[0] = [0.2, -0.4, 0.3, 0.5];
        dirs.push(("mocap_quat", dq));
        for ((name, dir), arm) in dirs
            .iter()
            .flat_map(|d| [(d.clone(), false), (d.clone(), true)])
        {
            let (_, g) = loss(&model, &params, steps, arm);
            let eps = 1e-6;
            let fd = (loss(&model, &params_axpy(&params, eps, &dir), steps, arm).0
                - loss(&model, &params_axpy(&params, -eps, &dir), steps, arm).0)
                / (2.0 * eps);
            let an = params_dot(&dir, &g.params);
            let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
            println!("{integrator:?} {name} (arm only: {arm}): fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
            assert!(fd.abs() > 1e-2, "{name}: the loss depends on it");
            assert!(
                err < 1e-5,
                "{integrator:?} {name}: relative error {err:.2e}"
            );
        }
    }
}
