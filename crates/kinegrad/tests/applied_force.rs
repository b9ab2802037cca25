//! External wrenches on bodies (`Params::body_xfrc`, MuJoCo's `xfrc_applied`): the gradient of
//! a loss after 100 steps with respect to the wrenches, the centres of mass they act at and the
//! initial state, through a hinge chain and a free box landing on the floor, against central
//! differences. (Parity of the forward steps with MuJoCo's xfrc_applied:
//! python/tests/test_external_force.py.)

use kinegrad::fd::{params_axpy, params_dot};
use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, Integrator, ModelBuilder};
use kinegrad::{Model, Params, State};

mod common;

const SCENE: &str = r#"<mujoco><worldbody>
  <geom type="plane" size="2 2 0.1"/>
  <body name="a" pos="0 0 1"><joint type="hinge" axis="0 1 0" damping="0.1"/>
    <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
    <body name="b" pos="0.3 0 0"><joint type="hinge" axis="1 0 0"/>
      <geom type="capsule" fromto="0 0 0 0.25 0.05 0" size="0.03" mass="0.7"/>
    </body></body>
  <body name="box" pos="0.8 0.1 0.12" euler="10 5 20"><freejoint/>
    <geom type="box" size="0.08 0.06 0.05" mass="0.5"/></body>
</worldbody></mujoco>"#;

fn model(integrator: Integrator) -> Model {
    let spec = mjcf::load_str(SCENE, std::path::Path::new("applied.xml"), 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.004;
    b.options.integrator = integrator;
    b.options.tolerance = 1e-14;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

fn loss(
    model: &Model,
    params: &Params,
    s0: &State,
    grad: bool,
) -> (f64, Option<kinegrad::adjoint::rollout::RolloutGrad>) {
    let w: Vec<f64> = (0..model.nq).map(|i| 1.0 - 0.13 * i as f64).collect();
    common::final_loss(model, params, s0, 100, (&w, 0.2), grad)
}

#[test]
fn gradients_through_external_wrenches_match_central_differences() {
    for integrator in [Integrator::Euler, Integrator::ImplicitFast] {
        let model = model(integrator);
        let mut params = model.params0.clone();
        let body = |n: &str| model.body_name.iter().position(|b| b == n).unwrap();
        let moving = [body("a"), body("b"), body("box")];
        // a wrench on every moving body (the box pushed along the floor while it lands)
        params.body_xfrc[moving[0]] = [0.5, -0.3, 1.2, 0.1, 0.2, -0.05];
        params.body_xfrc[moving[1]] = [-0.4, 0.6, 0.3, 0.05, -0.1, 0.2];
        params.body_xfrc[moving[2]] = [1.5, 0.4, -0.5, 0.02, 0.01, 0.1];
        let s0 = State::new(&model);
        let (_, g) = loss(&model, &params, &s0, true);
        let g = g.unwrap();
        let zero = kinegrad::adjoint::params_zeros(&model);
        let mut dirs = Vec::new();
        for b in moving {
            let mut d = zero.clone();
            d.body_xfrc[b] = [0.3, -0.2, 0.5, 0.4, -0.1, 0.2];
            dirs.push((format!("body_xfrc[{b}]"), d));
            // the centre of mass the wrench acts at, on the chain (the box's moves the loss by
            // 6e-4, within the scatter of differences through its landing)
            if b != moving[2] {
                let mut d = zero.clone();
                d.body_ipos[b] = kinegrad::math::Vec3::new(0.02, -0.03, 0.01);
                dirs.push((format!("body_ipos[{b}] under the wrench"), d));
            }
        }
        // (1e-5: the box's landing makes differences at 1e-6 scatter by 2e-5 of its small
        // share, 0.18 against the chain's 2e3; at 1e-4, 1e-5 and 1e-6 they bracket the adjoint)
        let eps = 1e-5;
        for (name, dir) in &dirs {
            let fd = (loss(&model, &params_axpy(&params, eps, dir), &s0, false).0
                - loss(&model, &params_axpy(&params, -eps, dir), &s0, false).0)
                / (2.0 * eps);
            let an = params_dot(dir, &g.params);
            println!("{integrator:?} {name}: fd {fd:.10e} adjoint {an:.10e}");
            assert!(fd.abs() > 1e-4, "{name}: the loss depends on it");
            assert!(
                (fd - an).abs() <= 1e-5 * fd.abs().max(1e-3),
                "{integrator:?} {name}: {an} vs {fd}"
            );
        }
        // the initial velocities, through the wrench's lever arm moving with the bodies
        let mut dv = vec![0.0; model.nv];
        for (i, x) in dv.iter_mut().enumerate() {
            *x = 0.3 - 0.07 * i as f64;
        }
        let at = |s: f64| {
            let mut st = s0.clone();
            st.v.iter_mut().zip(&dv).for_each(|(v, d)| *v += s * d);
            loss(&model, &params, &st, false).0
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * eps);
        let an: f64 = g.v0.iter().zip(&dv).map(|(a, b)| a * b).sum();
        println!("{integrator:?} v0: fd {fd:.10e} adjoint {an:.10e}");
        assert!((fd - an).abs() <= 1e-5 * fd.abs().max(1e-3));
    }
}
