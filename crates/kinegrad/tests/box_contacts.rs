//! MuJoCo's capsule-box and box-box rules in motion: the gradient of a loss after 100 steps with
//! respect to the initial velocities and the friction, through a capsule landing on a box table
//! (an end first, then lying along its top: the rule's first and second points) and a box
//! landing across the top edge of a box ridge (edge-edge contacts, then face manifolds), against
//! central differences. (Parity with MuJoCo on a similar scene:
//! python/tests/test_contact_resync_vs_mujoco.py.)

use kinegrad::collision::FeatureKind;
use kinegrad::fd::{params_axpy, params_dot};
use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, Integrator, ModelBuilder};
use kinegrad::{Data, Model, State, StepCarry};

mod common;

const SCENE: &str = r#"<mujoco><worldbody>
  <geom type="box" size="0.4 0.3 0.1" pos="0 0 0.1"/>
  <body pos="-0.1 0.05 0.3" euler="75 5 10"><freejoint/><geom type="capsule" size="0.04 0.15"/></body>
  <geom type="box" size="0.3 0.1 0.1" pos="1 0 0.1" euler="45 0 0"/>
  <body pos="1.02 0.01 0.42" euler="3 44 2"><freejoint/><geom type="box" size="0.05 0.15 0.05"/></body>
</worldbody></mujoco>"#;

fn model(integrator: Integrator) -> Model {
    let spec = mjcf::load_str(SCENE, std::path::Path::new("box_contacts.xml"), 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.004;
    b.options.integrator = integrator;
    b.options.tolerance = 1e-14;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

/// The contact kinds met over `steps` steps from `s0`.
fn kinds(model: &Model, s0: &State, steps: usize) -> Vec<&'static str> {
    let (mut d, mut s, mut carry) = (Data::new(model), s0.clone(), StepCarry::new(model));
    let mut seen = Vec::new();
    for _ in 0..steps {
        common::step_unforced(model, &mut s, &mut carry, &mut d);
        for c in &d.contacts {
            let k = match c.point.feature.kind {
                FeatureKind::CapsuleBox { second: false, .. } => "capsule-box first",
                FeatureKind::CapsuleBox { second: true, .. } => "capsule-box second",
                FeatureKind::BoxEdges { .. } => "box-box edges",
                FeatureKind::FacePoint { .. } => "face point",
                _ => "other",
            };
            if !seen.contains(&k) {
                seen.push(k);
            }
        }
    }
    seen
}

#[test]
fn gradients_through_capsule_box_and_box_box_contacts_match_central_differences() {
    for integrator in [Integrator::Euler, Integrator::ImplicitFast] {
        let model = model(integrator);
        let steps = 100;
        let mut s0 = State::new(&model);
        // thrown a little: v0 enters the loss through every contact
        s0.v.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 0.2 * ((i as f64 * 1.7).sin()));
        let seen = kinds(&model, &s0, steps);
        for k in ["capsule-box first", "capsule-box second", "box-box edges"] {
            assert!(seen.contains(&k), "{k} not met: {seen:?}");
        }
        let w: Vec<f64> = (0..model.nq).map(|i| 1.0 + 0.1 * i as f64).collect();
        let loss = |p: &kinegrad::Params, s: &State, grad: bool| {
            common::final_loss(&model, p, s, steps, (&w, 0.3), grad)
        };
        let params = model.params0.clone();
        let (_, g) = loss(&params, &s0, true);
        let g = g.unwrap();
        let eps = 1e-6;
        // initial velocity along a direction
        let dir: Vec<f64> = (0..model.nv).map(|i| ((i * 7 + 3) as f64).cos()).collect();
        let shifted = |h: f64| {
            let mut s = s0.clone();
            s.v.iter_mut().zip(&dir).for_each(|(v, d)| *v += h * d);
            loss(&params, &s, false).0
        };
        let fd = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
        let an: f64 = g.v0.iter().zip(&dir).map(|(a, b)| a * b).sum();
        let err = (fd - an).abs() / fd.abs().max(an.abs());
        println!("{integrator:?} v0: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
        assert!(err < 1e-5, "{integrator:?} v0: relative error {err:.2e}");
        // the friction of every geom
        let mut dp = kinegrad::adjoint::params_zeros(&model);
        dp.geom_friction.iter_mut().for_each(|f| f[0] = 1.0);
        let fd = (loss(&params_axpy(&params, eps, &dp), &s0, false).0
            - loss(&params_axpy(&params, -eps, &dp), &s0, false).0)
            / (2.0 * eps);
        let an = params_dot(&dp, &g.params);
        let err = (fd - an).abs() / fd.abs().max(an.abs());
        println!("{integrator:?} friction: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
        assert!(fd.abs() > 1e-4, "the friction matters");
        assert!(
            err < 1e-5,
            "{integrator:?} friction: relative error {err:.2e}"
        );
    }
}
